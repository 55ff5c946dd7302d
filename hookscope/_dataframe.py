"""Captured requests as a pandas DataFrame, one row per request.

    df = hookscope.to_dataframe(bin.requests())
    df[df.method == "POST"].groupby("path").size()

Columns, always in this order and with these dtypes (also for an empty input):

================ ===================== ==================================================
column           dtype                 value
================ ===================== ==================================================
id               string                the request id (``"1764366000123-0"``)
received_at      datetime64[us, UTC]   when the server received it
method           string                ``"POST"``
path             string                after ``/h/{bin}``, still percent-encoded
query            string                raw query string without ``?`` (``""`` for none)
content_type     string                media type without parameters, or <NA>
size             int64                 body size in bytes
remote_addr      string                the sender's address, or <NA>
signature_valid  boolean               the server's verdict on the signature: True, False,
                                       or <NA> when there is none (the bin held no signing
                                       secret when the request arrived)
signature_scheme string                the scheme of the verdict (``"stripe"``), or <NA>
signature_reason string                why it is invalid (``"bad_signature"``...), or <NA>
                                       (reasons and their meaning: docs/signatures.md)
headers          object                tuple of ``(name, value)`` pairs, in arrival order,
                                       duplicates kept, names as received
body             object                the exact body ``bytes``
json             object                the parsed JSON body, or None when not JSON
                                       (``hookscope._display.parse_json`` says which
                                       bodies are JSON; the live table uses it too)
================ ===================== ==================================================

``expand_json=True`` adds one ``json.<key>`` column per key of the JSON objects (nested keys
joined with dots, like ``json.data.amount``), via ``pandas.json_normalize``.

A ``Record`` is what one row is made of: a request as a plain tuple of immutable values
(``to_record``, ``from_record``). CPython's collector stops tracking such a tuple at its first
collection, so a live table that keeps 100,000 of them adds nothing to a full collection's walk
(a ``CapturedRequest`` with its ``httpx.Headers`` is four tracked objects).
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from werkzeug.http import parse_options_header

from ._display import parse_json
from ._extras import require
from ._models import CapturedRequest, _new_headers
from ._signatures import Reason, Verification

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLUMNS",
    "Record",
    "from_record",
    "record_columns",
    "records_to_dataframe",
    "to_dataframe",
    "to_record",
    "with_json_columns",
]

COLUMNS: dict[str, str] = {
    "id": "string",
    "received_at": "datetime64[us, UTC]",
    "method": "string",
    "path": "string",
    "query": "string",
    "content_type": "string",
    "size": "int64",
    "remote_addr": "string",
    "signature_valid": "boolean",
    "signature_scheme": "string",
    "signature_reason": "string",
    "headers": "object",
    "body": "object",
    "json": "object",
}
"""Every column of ``to_dataframe``'s result and its dtype, in order (pandas is imported
only when a frame is built: ``import hookscope`` stays quick for the CLI)."""


Record = tuple[
    str,  # id
    str,  # bin
    datetime,  # received_at
    str,  # method
    str,  # path
    str,  # query
    tuple[tuple[str, str], ...],  # headers: (name, value) pairs in arrival order
    bytes,  # body
    str | None,  # remote_addr
    str,  # http_version
    tuple[str, bool, str | None] | None,  # signature: (scheme, valid, reason)
]
"""A request as a plain tuple of immutable values (the collector untracks it); see the module
docstring. ``ID``, ``METHOD``... index it."""
ID: Final = 0
RECEIVED_AT: Final = 2
METHOD: Final = 3
PATH: Final = 4
QUERY: Final = 5
HEADERS: Final = 6
BODY: Final = 7


def to_record(request: CapturedRequest) -> Record:
    """``request`` as a ``Record``; ``from_record`` gives it back, equal."""
    verdict = request.signature
    return (
        request.id,
        request.bin,
        request.received_at,
        request.method,
        request.path,
        request.query,
        tuple(request.header_pairs),
        request.body,
        request.remote_addr,
        request.http_version,
        None if verdict is None else (verdict.scheme, verdict.valid, verdict.reason),
    )


def from_record(record: Record) -> CapturedRequest:
    """The ``CapturedRequest`` that ``to_record`` made ``record`` from."""
    id, bin, received_at, method, path, query, headers, body, remote_addr, version, verdict = record
    return CapturedRequest(
        id=id,
        bin=bin,
        received_at=received_at,
        method=method,
        path=path,
        query=query,
        headers=_new_headers(headers),
        body=body,
        remote_addr=remote_addr,
        http_version=version,
        signature=None
        if verdict is None
        else Verification(verdict[0], verdict[1], cast("Reason | None", verdict[2])),
    )


@functools.lru_cache(maxsize=256)
def _media_type(raw: str) -> str | None:
    """The media type of a content-type header; webhooks repeat a few."""
    return parse_options_header(raw)[0].lower() or None


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
    """One row per request, with the same columns in the same order, even for no requests.

        df = hookscope.to_dataframe(bin.requests(), expand_json=True)
        df["json.action"].value_counts()

    The columns: ``id``, ``received_at`` (UTC), ``method``, ``path``, ``query``,
    ``content_type``, ``size``, ``remote_addr``, the signature verdict (``signature_valid``:
    True, False or <NA>; ``signature_scheme``, ``signature_reason``), ``headers`` (``(name,
    value)`` pairs), ``body`` (the exact bytes) and ``json`` (the parsed body, or None); their
    dtypes are in docs/sdk.md ("DataFrames"). ``expand_json=True`` adds a ``json.<key>``
    column per key of the JSON objects, nested keys joined with dots.
    """
    require("pandas", "to_dataframe()")
    with _gc_paused():
        return records_to_dataframe(
            [to_record(request) for request in requests], expand_json=expand_json
        )


def records_to_dataframe(records: Sequence[Record], *, expand_json: bool = False) -> pd.DataFrame:
    """``to_dataframe`` of the requests that ``records`` were made from."""
    import pandas as pd

    if not records:
        return pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in COLUMNS.items()})
    with _gc_paused():
        frame = _frame(records)
        if expand_json:
            frame = with_json_columns(frame)
    return frame


def _frame(records: Sequence[Record]) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, Any] = record_columns(records)
    columns["received_at"] = pd.to_datetime(columns["received_at"], utc=True)
    return pd.DataFrame(
        {name: pd.Series(values, dtype=COLUMNS[name]) for name, values in columns.items()}
    )


def record_columns(records: Sequence[Record]) -> dict[str, list[Any]]:
    """The columns of ``records`` as plain lists, in ``COLUMNS`` order (``received_at``: the
    ``datetime`` values; missing values None): what a frame is built from."""
    # Plain loops, one pass for the header-derived columns: 100,000 rows in about half a
    # second of CPU on a small machine (bench/dataframe.py); header pairs and JSON dominate.
    ids, _, times, methods, paths, queries, pair_tuples, bodies, addrs, _, verdicts = zip(
        *records, strict=True
    )
    content_types: list[str | None] = []
    parsed: list[Any] = []
    valid: list[bool | None] = []
    schemes: list[str | None] = []
    reasons: list[str | None] = []
    for pairs, body, verdict in zip(pair_tuples, bodies, verdicts, strict=True):
        media_type = None
        for name, value in pairs:
            if name.lower() == "content-type":
                media_type = _media_type(value)
                break
        content_types.append(media_type)
        parsed.append(parse_json(body, media_type)[1])
        if verdict is None:
            valid.append(None)
            schemes.append(None)
            reasons.append(None)
        else:
            schemes.append(verdict[0])
            valid.append(verdict[1])
            reasons.append(verdict[2])
    return {
        "id": list(ids),
        "received_at": list(times),
        "method": list(methods),
        "path": list(paths),
        "query": list(queries),
        "content_type": content_types,
        "size": [len(body) for body in bodies],
        "remote_addr": list(addrs),
        "signature_valid": valid,
        "signature_scheme": schemes,
        "signature_reason": reasons,
        # The record's own tuple: immutable all the way down, so the collector stops
        # tracking it and a big frame adds nothing to a full collection's walk.
        "headers": list(pair_tuples),
        "body": list(bodies),
        "json": parsed,
    }


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
