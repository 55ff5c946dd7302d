"""Captured requests as a pandas DataFrame, one row per request.

    df = hookscope.to_dataframe(bin.requests())
    df[df.method == "POST"].groupby("path").size()

Columns, always in this order and with these dtypes (also for an empty input):

============== ======================= ==================================================
column         dtype                   value
============== ======================= ==================================================
id             string                  the request id (``"1764366000123-0"``)
received_at    datetime64[us, UTC]     when the server received it
method         string                  ``"POST"``
path           string                  after ``/h/{bin}``, still percent-encoded
query          string                  raw query string without ``?`` (``""`` for none)
content_type   string                  media type without parameters, or <NA>
size           int64                   body size in bytes
remote_addr    string                  the sender's address, or <NA>
headers        object                  list of ``(name, value)`` pairs, in arrival order,
                                       duplicates kept, names as received
body           object                  the exact body ``bytes``
json           object                  the parsed JSON body, or None when not JSON
============== ======================= ==================================================

``expand_json=True`` adds one ``json.<key>`` column per key of the JSON objects (nested keys
joined with dots, like ``json.data.amount``), via ``pandas.json_normalize``.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import json.scanner
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from werkzeug.http import parse_options_header

from ._extras import require
from ._models import CapturedRequest

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "to_dataframe", "with_json_columns"]

COLUMNS: dict[str, str] = {
    "id": "string",
    "received_at": "datetime64[us, UTC]",
    "method": "string",
    "path": "string",
    "query": "string",
    "content_type": "string",
    "size": "int64",
    "remote_addr": "string",
    "headers": "object",
    "body": "object",
    "json": "object",
}
"""Every column of ``to_dataframe``'s result and its dtype, in order (pandas is imported
only when a frame is built: ``import hookscope`` stays quick for the CLI)."""

_decoder = json.JSONDecoder()
# The decoder's own scanner, called directly: a third faster than json.loads on small bodies.
_scan_json = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]  # typeshed
_JSON_SPACE = " \t\n\r"


@functools.lru_cache(maxsize=256)
def _content_type(raw: str) -> tuple[str | None, bool]:
    """``(media type, is it JSON?)`` of a content-type header; webhooks repeat a few."""
    media_type = parse_options_header(raw)[0].lower() or None
    is_json = media_type is not None and (
        media_type == "application/json" or media_type.endswith(("+json", "/json"))
    )
    return media_type, is_json


def _parse_json(body: bytes) -> Any:
    """What ``json.loads(body)`` gives, or None where it would raise."""
    try:
        text = body.decode("utf-8")
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:  # nothing at offset 0: leading whitespace, or not JSON
            return _decoder.decode(text)
    except (ValueError, RecursionError):  # not JSON after all, or absurdly nested
        return None
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return None  # more than one document
    return value


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    # Building a million small lists and tuples triggers full collections that walk every
    # object alive; nothing here makes cycles, so pausing the collector halves the time.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_dataframe(requests: Iterable[CapturedRequest], *, expand_json: bool = False) -> pd.DataFrame:
    """One row per request; see the module docstring for the columns and their dtypes.

    df = hookscope.to_dataframe(bin.requests(), expand_json=True)
    df["json.action"].value_counts()
    """
    require("pandas", "to_dataframe()")
    import pandas as pd

    requests = list(requests)
    if not requests:
        return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in COLUMNS.items()})
    with _gc_paused():
        frame = _frame(requests)
        if expand_json:
            frame = with_json_columns(frame)
    return frame


def _frame(requests: list[CapturedRequest]) -> pd.DataFrame:
    import pandas as pd

    # Plain loops, one pass for the header-derived columns: 100,000 rows in about half a
    # second of CPU on a small machine (bench/dataframe.py); header pairs and JSON dominate.
    headers: list[list[tuple[str, str]]] = []
    content_types: list[str | None] = []
    parsed: list[Any] = []
    for request in requests:
        pairs = request.header_pairs
        media_type, is_json = None, False
        for name, value in pairs:
            if name.lower() == "content-type":
                media_type, is_json = _content_type(value)
                break
        headers.append(pairs)
        content_types.append(media_type)
        body = request.body
        parsed.append(_parse_json(body) if is_json and body else None)
    bodies = [request.body for request in requests]
    columns: dict[str, Any] = {
        "id": [request.id for request in requests],
        "received_at": pd.to_datetime([request.received_at for request in requests], utc=True),
        "method": [request.method for request in requests],
        "path": [request.path for request in requests],
        "query": [request.query for request in requests],
        "content_type": content_types,
        "size": [len(body) for body in bodies],
        "remote_addr": [request.remote_addr for request in requests],
        "headers": headers,
        "body": bodies,
        "json": parsed,
    }
    return pd.DataFrame(
        {name: pd.Series(values, dtype=COLUMNS[name]) for name, values in columns.items()}
    )


def _flatten(value: dict[str, Any], prefix: str, into: dict[str, Any]) -> dict[str, Any]:
    for key, item in value.items():
        if isinstance(item, dict) and item:
            _flatten(item, f"{prefix}{key}.", into)
        else:
            into[f"{prefix}{key}"] = item
    return into


def with_json_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (from ``to_dataframe``) plus its ``json.*`` columns: nested keys joined with
    dots; lists stay whole values."""
    import pandas as pd

    parsed = frame["json"]
    rows = [_flatten(value, "json.", {}) if isinstance(value, dict) else {} for value in parsed]
    return pd.concat([frame, pd.DataFrame(rows, index=parsed.index)], axis=1)
