"""The live table's state, free of widgets and I/O: rows, filters, selection, stats, DataFrame.

    model = TableModel(window=50)
    model.ingest(requests)                    # from the stream, in id order
    model.set_filters(method="POST", text="push")
    snapshot = model.snapshot(time.time())    # what the view shows now: bounded, cheap
    model.dataframe()                         # every row, same columns as to_dataframe()

Every method is safe to call from any thread: the stream thread ingests while the kernel thread
filters, selects and reads ``dataframe()``.

Rows are kept as ``Record``s (plain tuples of immutable values, which the garbage collector stops
tracking), not as ``CapturedRequest``s: with 50,000 rows, a full collection in the kernel then
walks about one object per row (the DataFrame's header list) rather than six.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.http import parse_options_header

from .._dataframe import (
    BODY,
    HEADERS,
    ID,
    METHOD,
    PATH,
    QUERY,
    RECEIVED_AT,
    Record,
    from_record,
    to_record,
)
from .._display import (
    body_text,
    clock_time,
    format_size,
    preview,
    printable,
    signature_mark,
    signature_verdict,
)
from .._ids import id_key
from .._models import CapturedRequest
from ._detail import Detail
from ._frame import GrowingFrame

if TYPE_CHECKING:
    import pandas as pd  # imported when a DataFrame is first built: importing stays cheap

__all__ = ["Snapshot", "Stats", "TableModel"]

RATE_WINDOW = 10.0
"""Seconds over which the arrival rate is averaged."""
SEARCH_LIMIT = 65_536
"""Characters of a body that the text filter searches."""
STANDARD_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


CELL_LIMIT = 200
"""Characters of a path or content type sent to the page per row (the detail has them all)."""


def _cut(text: str) -> str:
    return text if len(text) <= CELL_LIMIT else text[: CELL_LIMIT - 1] + "…"


def _signature_cells(request: CapturedRequest) -> dict[str, str]:
    """The signature column, only for a request with a verdict (rows stay small without):
    ``✓ stripe`` / ``✗ stripe: bad_signature``, and its state, by which table.js picks a
    class from a fixed set. The reason in words is in the detail pane."""
    verdict = request.signature
    if verdict is None:
        return {}
    return {
        "signature": f"{signature_mark(verdict)} {signature_verdict(verdict)}",
        "signature_state": "valid" if verdict.valid else "invalid",
    }


def _cells(request: CapturedRequest) -> dict[str, Any]:
    """One row as the page shows it."""
    return {
        "id": request.id,
        "time": clock_time(request.received_at),
        # Plain text for the page (table.js sets textContent), controls and bidi
        # overrides escaped so that a cell shows what was sent.
        "method": printable(request.method),
        "path": _cut(printable(request.target)),
        "type": _cut(printable(request.content_type or "")),
        "size": request.size,
        "size_text": format_size(request.size),
        "preview": preview(request),
        **_signature_cells(request),
    }


def _haystack(record: Record) -> str:
    """What the text filter searches: path, query, content type, the body's text (casefolded).

    Made from the record (rebuilding its request would cost more than the rest).
    """
    # The content type as request.headers.get gives it: repeated headers joined.
    raw = ", ".join(value for name, value in record[HEADERS] if name.lower() == "content-type")
    text = body_text(record[BODY], raw, limit=SEARCH_LIMIT * 4) or ""
    media_type = parse_options_header(raw)[0].lower() if raw else ""
    return "\n".join((record[PATH], record[QUERY], media_type, text[:SEARCH_LIMIT])).casefold()


@dataclass(frozen=True, slots=True)
class Stats:
    """The header line: how many, how fast, how recent."""

    count: int
    """Requests in the table (since it started or was last cleared)."""
    rate: float
    """Requests per second received over the last ``RATE_WINDOW`` seconds."""
    last_received_at: float | None
    """Epoch seconds of the newest request, or None."""
    matching: int
    """Rows that pass the filters (among those shown: frozen while paused)."""
    paused: bool
    pending: int
    """Rows that arrived while paused and are not shown yet."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the view shows at one moment; its size is bounded by the window, not the history."""

    stats: Stats
    rows: list[dict[str, Any]]
    """The newest rows that pass the filters, newest first, at most ``window`` of them."""
    selected: str | None
    methods: list[str]
    method: str | None
    text: str


class TableModel:
    """Rows in id order, filters, selection, pause; see the module docstring."""

    def __init__(self, *, window: int = 50, max_rows: int | None = 100_000) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        if max_rows is not None and max_rows < window:
            raise ValueError("max_rows must be at least window")
        self.window = window
        self.max_rows = max_rows
        self._lock = threading.RLock()
        self._rows: list[Record] = []
        self._first = 0  # the number of rows dropped so far: _rows[i] is row number _first + i
        self._numbers: dict[str, int] = {}  # id -> row number
        self._haystacks: list[str | None] = []  # beside _rows, made when a text filter needs one
        self._shown: dict[str, dict[str, Any]] = {}  # id -> cells, of the rows last shown
        self._last_key: tuple[int, int] | None = None
        self._matches: list[int] = []  # indices into _rows that pass the filters
        self._method: str | None = None
        self._text = ""
        self._selected: str | None = None
        self._paused_at: int | None = None  # number of rows shown when paused
        self._methods = set(STANDARD_METHODS)
        self._recent: deque[float] = deque()  # timestamps within the rate window
        self._frame = GrowingFrame()
        self._framed = 0  # rows already in _frame (the first ones of _rows)

    # -- rows ---------------------------------------------------------------------------------

    def ingest(self, requests: Iterable[CapturedRequest]) -> int:
        """Append requests in id order; ids not above the newest one so far are skipped.

        Returns how many were added.
        """
        added = 0
        with self._lock:
            for request in requests:
                key = id_key(request.id)
                if self._last_key is not None and key <= self._last_key:
                    continue
                self._last_key = key
                self._numbers[request.id] = self._first + len(self._rows)
                self._rows.append(to_record(request))
                self._haystacks.append(None)
                if self._passes(len(self._rows) - 1):
                    self._matches.append(len(self._rows) - 1)
                self._methods.add(request.method)
                self._recent.append(request.received_at.timestamp())
                added += 1
            if added:
                self._trim()
        return added

    def _trim(self) -> None:
        # Drop the oldest rows in chunks, so that trimming costs O(1) per row on average.
        if self.max_rows is None or len(self._rows) <= self.max_rows + max(1, self.max_rows // 10):
            return
        drop = len(self._rows) - self.max_rows
        for record in self._rows[:drop]:
            del self._numbers[record[ID]]
        del self._rows[:drop]
        del self._haystacks[:drop]
        self._first += drop
        self._matches = [index - drop for index in self._matches if index >= drop]
        if self._paused_at is not None:
            self._paused_at = max(0, self._paused_at - drop)
        if self._selected is not None and self._selected not in self._numbers:
            self._selected = None
        framed_drop = min(drop, self._framed)
        self._frame.drop_first(framed_drop)
        self._framed -= framed_drop

    def clear(self) -> None:
        """Forget every row; later arrivals still come in (ids already seen never return)."""
        with self._lock:
            self._first += len(self._rows)
            self._rows.clear()
            self._numbers.clear()
            self._haystacks.clear()
            self._shown.clear()
            self._matches.clear()
            self._recent.clear()
            self._selected = None
            if self._paused_at is not None:
                self._paused_at = 0
            self._frame.clear()
            self._framed = 0

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._rows)

    @property
    def last_id(self) -> str | None:
        """The newest id ingested (also after ``clear``): where a resumed stream starts."""
        with self._lock:
            return None if self._last_key is None else f"{self._last_key[0]}-{self._last_key[1]}"

    def requests(self) -> list[CapturedRequest]:
        """Every request in the table, oldest first."""
        with self._lock:
            return [from_record(record) for record in self._rows]

    def dataframe(self) -> pd.DataFrame:
        """Every row, as ``to_dataframe`` gives it; grown in place (``GrowingFrame``), so a
        call costs the rows that are new since the last one, not the whole table."""
        with self._lock:
            if self._framed < len(self._rows):
                self._frame.extend(self._rows[self._framed :])
                self._framed = len(self._rows)
            return self._frame.frame()

    # -- filters, selection, pause ------------------------------------------------------------

    def _passes(self, index: int) -> bool:
        record = self._rows[index]
        if self._method is not None and record[METHOD] != self._method:
            return False
        if not self._text:
            return True
        haystack = self._haystacks[index]
        if haystack is None:
            haystack = self._haystacks[index] = _haystack(record)
        return self._text in haystack

    def set_filters(self, *, method: str | None = None, text: str = "") -> None:
        """Show only ``method`` (None: all) and rows whose path, query or body contain ``text``."""
        method = method.upper() if method else None
        needle = text.strip().casefold()
        with self._lock:
            if (method, needle) == (self._method, self._text):
                return
            self._method, self._text = method, needle
            self._matches = [i for i in range(len(self._rows)) if self._passes(i)]

    @property
    def filters(self) -> tuple[str | None, str]:
        with self._lock:
            return self._method, self._text

    def select(self, request_id: str | None) -> None:
        """Show the detail of ``request_id`` (None: no detail); unknown ids select nothing."""
        with self._lock:
            self._selected = request_id if request_id in self._numbers else None

    @property
    def selected(self) -> str | None:
        with self._lock:
            return self._selected

    def detail(self, request_id: str | None = None, *, base_url: str = "") -> Detail | None:
        """The detail of ``request_id`` (default: the selected row), or None."""
        with self._lock:
            number = self._numbers.get(request_id or self._selected or "")
            if number is None:
                return None
            record = self._rows[number - self._first]
        return Detail.of(from_record(record), base_url=base_url or "http://localhost:8080")

    def pause(self) -> None:
        """Freeze the rows shown; arrivals still reach ``dataframe()`` and the count."""
        with self._lock:
            if self._paused_at is None:
                self._paused_at = len(self._rows)

    def resume(self) -> None:
        with self._lock:
            self._paused_at = None

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused_at is not None

    # -- what the view shows ------------------------------------------------------------------

    def rate(self, now: float) -> float:
        """Requests per second over the last ``RATE_WINDOW`` seconds before ``now``."""
        with self._lock:
            recent = self._recent
            while recent and recent[0] <= now - RATE_WINDOW:
                recent.popleft()
            return sum(1 for stamp in recent if stamp <= now) / RATE_WINDOW

    def snapshot(self, now: float) -> Snapshot:
        """The header, the newest ``window`` matching rows, the selection, the filter choices."""
        with self._lock:
            limit = len(self._rows) if self._paused_at is None else self._paused_at
            end = bisect_left(self._matches, limit)
            shown = self._matches[max(0, end - self.window) : end]
            stats = Stats(
                count=len(self._rows),
                rate=self.rate(now),
                last_received_at=self._rows[-1][RECEIVED_AT].timestamp() if self._rows else None,
                matching=end,
                paused=self._paused_at is not None,
                pending=len(self._rows) - limit,
            )
            return Snapshot(
                stats=stats,
                rows=self._page_rows(reversed(shown)),
                selected=self._selected,
                methods=sorted(self._methods),
                method=self._method,
                text=self._text,
            )

    def _page_rows(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        # Made once per row while it stays on the page; only the rows shown are kept.
        shown, cells = self._shown, []
        for index in indices:
            record = self._rows[index]
            cells.append(shown.get(record[ID]) or _cells(from_record(record)))
        self._shown = {row["id"]: row for row in cells}
        return cells
