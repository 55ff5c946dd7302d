"""The formats of ``hookscope export``: each writes pages of requests as they come.

JSON (jsonl, HAR) escapes what a terminal would act on as ``\\uXXXX`` (``printable``): the
same JSON values, safe to page through. CSV neutralises formulas (``csv_cell``).

writer = WRITERS["har"](out, bin_capture_url)
writer.write(page); writer.write(next_page)
writer.close()
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import IO, Protocol

from .._display import printable
from .._models import CapturedRequest
from .._wire import encode_body, format_timestamp
from ._har import har_entry, har_log_head

__all__ = [
    "FORMULA_STARTS",
    "WRITERS",
    "CsvWriter",
    "HarWriter",
    "JsonLinesWriter",
    "Writer",
    "csv_cell",
]


class Writer(Protocol):
    """Writes one format: ``write`` each page of requests, then ``close`` once."""

    def write(self, requests: list[CapturedRequest]) -> None: ...
    def close(self) -> None: ...


class JsonLinesWriter:
    """One wire-format JSON object per line (``tail --json``'s lines)."""

    def __init__(self, out: IO[bytes], capture_url: str) -> None:
        self.out = out

    def write(self, requests: list[CapturedRequest]) -> None:
        lines = (printable(r.to_json(), json=True) + "\n" for r in requests)
        self.out.write("".join(lines).encode("utf-8"))

    def close(self) -> None:
        pass


class HarWriter:
    """A HAR 1.2 document, written entry by entry."""

    def __init__(self, out: IO[bytes], capture_url: str) -> None:
        self.out = out
        self.capture_url = capture_url
        self.count = 0
        head = json.dumps({"log": {**har_log_head(), "entries": []}}, indent=1)
        self._tail = head[head.index("[]") + 1 :]  # ']\n }\n}'
        self.out.write(head[: head.index("[]") + 1].encode("utf-8"))

    def write(self, requests: list[CapturedRequest]) -> None:
        for request in requests:
            entry = json.dumps(har_entry(request, self.capture_url), ensure_ascii=False)
            entry = printable(entry, json=True)
            self.out.write((",\n  " if self.count else "\n  ").encode("utf-8"))
            self.out.write(entry.encode("utf-8"))
            self.count += 1

    def close(self) -> None:
        self.out.write((("\n " if self.count else "") + self._tail + "\n").encode("utf-8"))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection")."""


def csv_cell(value: object) -> object:
    """A text cell a spreadsheet will not run: ``'`` before a formula's first character.

    Cells that start with ``'`` get one too, so that the rule reverses exactly: drop the
    first character of every cell that starts with ``'``.
    """
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, "'")):
        return "'" + value
    return value


class CsvWriter:
    """The columns of ``hookscope.to_dataframe``, with ``body_encoding`` after ``body``.

    ``received_at`` is RFC 3339 UTC; ``headers`` a JSON list of ``[name, value]`` pairs;
    ``body`` the wire format's text (UTF-8, or base64 as ``body_encoding`` says); ``json``
    the parsed JSON body as JSON text, empty when the body is not JSON; ``signature_valid``
    ``True``, ``False``, or empty when the server gave no verdict.

    Every text cell goes through ``csv_cell`` unless ``raw``. Lines end with CRLF (RFC 4180),
    so that a cell holding a carriage return or a newline is always quoted: a bare CR would
    otherwise start a new row in a spreadsheet, and a formula with it.
    """

    def __init__(self, out: IO[bytes], capture_url: str, *, raw: bool = False) -> None:
        self.out = out
        self.raw = raw
        self.header = True

    def write(self, requests: list[CapturedRequest]) -> None:
        from .._dataframe import to_dataframe

        frame = to_dataframe(requests)
        frame["received_at"] = [format_timestamp(moment) for moment in frame["received_at"]]
        frame["headers"] = [json.dumps(pairs, ensure_ascii=False) for pairs in frame["headers"]]
        encoded = [encode_body(body) for body in frame["body"]]
        frame["body"] = [text for text, _ in encoded]
        frame.insert(
            list(frame.columns).index("body") + 1,
            "body_encoding",
            [encoding for _, encoding in encoded],
        )
        frame["json"] = [
            "" if value is None else json.dumps(value, ensure_ascii=False)
            for value in frame["json"]
        ]
        if not self.raw:
            frame = frame.map(csv_cell)
        text = io.StringIO()
        frame.to_csv(
            text, index=False, header=self.header, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
        )
        self.header = False
        self.out.write(text.getvalue().encode("utf-8"))

    def close(self) -> None:
        if self.header:  # nothing was written: still give the columns
            self.write([])


# Each is built with the output and the bin's capture URL (HAR entries carry full URLs).
WRITERS: dict[str, Callable[[IO[bytes], str], Writer]] = {
    "jsonl": JsonLinesWriter,
    "har": HarWriter,
    "csv": CsvWriter,
}
