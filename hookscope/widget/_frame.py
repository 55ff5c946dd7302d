"""``GrowingFrame``: the live table's DataFrame, grown in place instead of rebuilt.

    frame = GrowingFrame()
    frame.extend(records)           # the new rows' cells, written into spare capacity
    frame.drop_first(10)            # the oldest rows leave (max_rows)
    df = frame.frame()              # every row kept, in O(columns): no row is copied

Each column lives in an array with room to spare (doubled when full, compacted when the
dropped rows fill half of it); a pandas frame holds those arrays without copying them, and
``frame()`` is a slice of it. Appending writes only past the rows any earlier ``frame()``
shows, so what a caller holds never changes under it; and pandas' copy-on-write copies a
column before a caller's edit reaches it. ``received_at`` is kept as microseconds and made a
datetime column per call (one vectorised pass). Before this, each ``table.df`` after new
arrivals concatenated the whole cached frame: about 20 ms at 56,000 rows (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._dataframe import COLUMNS, Record, record_columns, records_to_dataframe

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["GrowingFrame"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FIRST_CAPACITY = 1024
_STRINGS = [name for name, dtype in COLUMNS.items() if dtype == "string"]
_OBJECTS = [name for name, dtype in COLUMNS.items() if dtype == "object"]


class GrowingFrame:
    """``records_to_dataframe`` of the records extended, less those dropped; see the module."""

    def __init__(self) -> None:
        self._start = 0  # the first kept row's index in the arrays
        self._end = 0  # one past the last row written
        self._capacity = 0
        self._arrays: dict[str, np.ndarray[Any, Any]] = {}
        self._held: pd.DataFrame | None = None  # the arrays as one frame (no received_at)

    def __len__(self) -> int:
        return self._end - self._start

    def extend(self, records: Sequence[Record]) -> None:
        """Append the rows of ``records``."""
        import pandas as pd

        if not records:
            return
        self._reserve(len(self) + len(records))
        columns = record_columns(records)
        columns["received_at"] = [(at - _EPOCH) // _MICROSECOND for at in columns["received_at"]]
        start, end = self._end, self._end + len(records)
        arrays = self._arrays
        for name, values in columns.items():
            if name == "signature_valid":
                arrays["_valid"][start:end] = [value is True for value in values]
                arrays["_unknown"][start:end] = [value is None for value in values]
            elif name in _STRINGS:
                arrays[name][start:end] = [pd.NA if value is None else value for value in values]
            else:
                arrays[name][start:end] = values
        self._end = end

    def drop_first(self, count: int) -> None:
        """Forget the ``count`` oldest rows."""
        self._start = min(self._end, self._start + count)
        if self._start >= self._capacity // 2:
            self._reserve(len(self), compact=True)

    def clear(self) -> None:
        """Forget every row."""
        self.__init__()  # type: ignore[misc]

    def frame(self) -> pd.DataFrame:
        """Every row kept, with ``records_to_dataframe``'s columns and dtypes."""
        import pandas as pd

        if self._held is None:
            return records_to_dataframe([])
        rows = slice(self._start, self._end)
        frame = self._held.iloc[rows]
        micros = self._arrays["received_at"][rows]
        received_at = pd.array(micros.view("M8[us]")).tz_localize("UTC")
        frame.insert(1, "received_at", received_at)
        strings = pd.StringDtype()
        if strings.storage != "python":  # pyarrow's, as records_to_dataframe's then are
            for name in _STRINGS:  # a conversion per read: O(rows) in that set-up only
                frame[name] = pd.array(self._arrays[name][rows], dtype=strings)
        frame.index = pd.RangeIndex(len(frame))
        return frame

    def _reserve(self, rows: int, *, compact: bool = False) -> None:
        """Room for ``rows`` rows from the first kept one: new arrays when there is not (or
        when ``compact``), holding the kept rows from index 0."""
        if not compact and self._start + rows <= self._capacity:
            return
        import numpy as np
        import pandas as pd

        capacity = max(_FIRST_CAPACITY, 2 * rows) if not compact else max(_FIRST_CAPACITY, rows)
        kept = slice(self._start, self._end)
        fresh: dict[str, np.ndarray[Any, Any]] = {}
        for name in _STRINGS:
            fresh[name] = np.full(capacity, pd.NA, dtype=object)
        for name in _OBJECTS:
            fresh[name] = np.full(capacity, None, dtype=object)
        fresh["received_at"] = np.zeros(capacity, dtype=np.int64)
        fresh["size"] = np.zeros(capacity, dtype=np.int64)
        fresh["_valid"] = np.zeros(capacity, dtype=bool)
        fresh["_unknown"] = np.ones(capacity, dtype=bool)
        for name, array in self._arrays.items():
            fresh[name][: len(self)] = array[kept]
        self._arrays = fresh
        self._end -= self._start
        self._start = 0
        self._capacity = capacity
        held: dict[str, Any] = {}
        for name, dtype in COLUMNS.items():
            if name == "received_at":
                continue
            if name in _STRINGS:
                held[name] = pd.arrays.StringArray(fresh[name])
            elif name == "signature_valid":
                held[name] = pd.arrays.BooleanArray(fresh["_valid"], fresh["_unknown"], copy=False)
            else:
                assert dtype in ("object", "int64"), dtype
                held[name] = fresh[name]
        self._held = pd.DataFrame(held, copy=False)
