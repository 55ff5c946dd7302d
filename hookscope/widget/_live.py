"""``LiveTable``: a bin's requests streaming into a Jupyter table that is also a DataFrame.

    table = hookscope.LiveTable(bin)     # or bin.live_table(); shows at once and returns
    table.wait_for_rows(3, timeout=10)   # when a cell must wait for arrivals
    table.df                             # every row so far, as bin.dataframe() gives it
    table.stop()                         # the stream ends; the rows stay

One ``LoopThread`` (an asyncio loop in a daemon thread) runs two tasks: the stream (the SDK's
resumable ``open_stream`` cursor, reopened with ``since=<last id>`` should it give up) and
the update loop, which sends the view at most one message every ``interval`` seconds, however
fast requests arrive. The kernel thread is never used, so other cells run while rows keep
coming.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import threading
import time
import weakref
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._exceptions import BinNotFound, Unauthorized, WaitTimeout
from .._extras import require
from .._loop_thread import LoopState, LoopThread
from .._models import CapturedRequest
from .._stream_start import check_stream_start
from ._source import StreamFactory
from ._table import TableModel

if TYPE_CHECKING:
    import pandas as pd

    from ._view import LiveTableView

__all__ = ["LiveTable", "TableState", "stop_all"]

_READY_TIMEOUT = 10.0
_RETRY_FIRST, _RETRY_MAX = 0.5, 5.0
_running: weakref.WeakSet[LiveTable] = weakref.WeakSet()


class TableState(StrEnum):
    """Where the table's stream is."""

    STARTING = "starting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"
    FAILED = "failed"


class LiveTable:
    """A live table of a bin's requests, which is also a DataFrame (``df``).

        table = hookscope.LiveTable(bin, tail=100)   # or bin.live_table(tail=100)
        table.wait_for_rows(1)
        table.df.groupby("path").size()

    ``bin`` is a ``Bin`` or ``AsyncBin``. ``since`` and ``tail`` say where the rows start, as
    in ``bin.open_stream``: ``since=ID`` after that request id (``"0-0"``: the whole
    history), ``tail=N`` the newest N (up to 1000) first, neither: from now on. ``window``:
    rows shown on the page (every row is in ``df``). ``max_rows``: the oldest rows are
    dropped beyond it (None: keep all). ``interval``: seconds between page updates (0.1: at
    most 10 per second). ``display``: show the view now (default: when in a Jupyter kernel).
    """

    def __init__(
        self,
        bin: Any,
        *,
        since: str | None = None,
        tail: int | None = None,
        window: int = 50,
        max_rows: int | None = 100_000,
        interval: float = 0.1,
        display: bool | None = None,
        _stream: StreamFactory | None = None,
    ) -> None:
        check_stream_start(since, tail)
        if interval <= 0:
            raise ValueError("interval must be positive")
        require("jupyter", "LiveTable")
        from ._source import stream_factory
        from ._view import LiveTableView

        self.bin = bin
        self.url: str = str(getattr(bin, "url", ""))
        self.interval = interval
        self._since, self._tail = since, tail
        self._stream = _stream or stream_factory(bin)
        self._model = TableModel(window=window, max_rows=max_rows)
        self._arrived = threading.Condition()
        self._state = TableState.STARTING
        self._error: BaseException | None = None
        self._wake = asyncio.Event()  # set from the loop only
        self._ready = threading.Event()
        self.updates = 0
        """Page updates sent so far (each is at most one comm message)."""
        self._sent_count = 0  # how many rows the table held at its last page update
        self.view: LiveTableView = LiveTableView(
            self._model, self.url, on_change=self._changed, on_close=self.stop
        )
        self._loop = LoopThread("hookscope-live-table", closed="this live table is stopped")
        self._loop.on_stop(self._stopped)
        # Started in an empty context, not this cell's: ipykernel then attributes the
        # table's widget messages to the cell running when each is sent, as it does for
        # threads, so that tools that keep widget state per executing cell (nbclient,
        # nbconvert --execute, papermill, the docs site) see its latest rows.
        blank = contextvars.Context()
        blank.run(self._loop.submit, self._pump)
        blank.run(self._loop.submit, self._update_loop)
        _running.add(self)
        # Return once the stream's start is fixed: whatever is sent from here on is shown.
        self._ready.wait(_READY_TIMEOUT)
        if self._state is TableState.FAILED and self._error is not None:
            self.close()  # a deleted bin or a wrong token: say so now, show nothing
            raise self._error
        self._shown_in: int | None = None
        if display is None:
            display = _in_kernel()
        if display:
            self.show()

    # -- public API ---------------------------------------------------------------------------

    @property
    def smee_url(self) -> str:
        """The bin as a smee channel (docs/smee.md); the detail pane marks the requests
        smee-client would not forward byte-exact."""
        return str(self.bin.smee_url(cursor="smee"))

    @property
    def df(self) -> pd.DataFrame:
        """Every row in the table now, with the columns and dtypes of ``to_dataframe``."""
        return self._model.dataframe()

    def dataframe(self, *, expand_json: bool = False) -> pd.DataFrame:
        """Like ``df``; ``expand_json=True`` adds ``json.<key>`` columns, as in ``to_dataframe``."""
        if not expand_json:
            return self.df
        from .._dataframe import with_json_columns

        return with_json_columns(self.df)

    @property
    def requests(self) -> list[CapturedRequest]:
        """Every request in the table, oldest first."""
        return self._model.requests()

    @property
    def count(self) -> int:
        return self._model.count

    @property
    def state(self) -> TableState:
        return self._state

    @property
    def error(self) -> BaseException | None:
        """Why the stream failed (``state`` is ``FAILED``), or the last error it recovered from."""
        return self._error

    @property
    def running(self) -> bool:
        """True until the table's thread has ended (after ``stop()``, or a failure)."""
        return self._loop.state is not LoopState.STOPPED

    def wait_for_rows(self, count: int, *, timeout: float = 10.0) -> pd.DataFrame:
        """Block until the table holds at least ``count`` rows, and the page has been sent
        them (at most ``interval`` later); return ``df``.

        Raises ``WaitTimeout`` after ``timeout`` seconds, and the stream's error if it failed.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self._model.count < count or self._sent_count < count:
                if self._state is TableState.FAILED and self._error is not None:
                    raise self._error
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._state is TableState.STOPPED:
                    raise WaitTimeout(
                        f"the live table holds {self._model.count} rows, not {count}, "
                        f"after {timeout} s (state: {self._state.value})"
                    )
                self._arrived.wait(remaining)
        return self.df

    def filter(self, method: str | None = None, text: str = "") -> None:
        """Show only ``method`` and rows whose path, query or body contain ``text``."""
        self._model.set_filters(method=method, text=text)
        self.view.sync_controls()
        self._changed()

    def select(self, request_id: str | None) -> None:
        """Show the detail of one request (None: hide it)."""
        self._model.select(request_id)
        self._changed()

    def pause(self) -> None:
        """Freeze the rows on the page; arrivals still reach ``df`` and the count."""
        self._model.pause()
        self.view.sync_controls()
        self._changed()

    def resume(self) -> None:
        self._model.resume()
        self.view.sync_controls()
        self._changed()

    def clear(self) -> None:
        """Empty the table (and ``df``); the bin's history on the server is untouched."""
        self._model.clear()
        self._changed()

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream and the update loop and wait for the thread (idempotent).

        The rows stay in ``df`` and on the page.
        """
        self._loop.stop(timeout)
        _running.discard(self)

    def close(self) -> None:
        """``stop()`` and remove the view from the page."""
        self.stop()
        self.view.close()

    def show(self) -> None:
        """Display the view (again) in the notebook."""
        from IPython.display import display

        self._shown_in = _execution_count()
        display(self.view)  # type: ignore[no-untyped-call]

    def _ipython_display_(self) -> None:
        # ``bin.live_table()`` as a cell's last line: shown once by __init__, not twice.
        if self._shown_in is not None and self._shown_in == _execution_count():
            return
        self.show()

    def __enter__(self) -> LiveTable:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LiveTable {self.url} {self.count} rows {self._state.value}>"

    # -- the background thread ----------------------------------------------------------------

    def _changed(self) -> None:
        """Something the page shows changed: have the update loop send it (soon, coalesced)."""
        try:
            self._loop.submit(self._wake_up)
        except RuntimeError:  # stopped: nobody else writes the view now
            self._send()

    async def _wake_up(self) -> None:
        self._wake.set()

    def _send(self) -> None:
        snapshot = self._model.snapshot(time.time())
        self.view.show(snapshot, self._state.value)
        self.updates += 1
        with self._arrived:
            self._sent_count = snapshot.stats.count
            self._arrived.notify_all()

    async def _stopped(self) -> None:
        # On the loop, once the stream and the update loop have ended: the last update.
        if self._state is not TableState.FAILED:
            self._state = TableState.STOPPED
        self._send()
        with self._arrived:
            self._arrived.notify_all()

    async def _update_loop(self) -> None:
        while True:
            # Wake for changes; once a second anyway, so that the rate decays when idle.
            # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            self._wake.clear()
            self._send()
            await asyncio.sleep(self.interval)  # the coalescing: one update per interval at most

    async def _pump(self) -> None:
        since, tail = self._since, self._tail
        delay = _RETRY_FIRST
        while True:
            try:
                self._state = TableState.STREAMING
                self._wake.set()
                async for request in self._stream(since, tail, self._ready.set):
                    if self._model.ingest((request,)):
                        with self._arrived:
                            self._arrived.notify_all()
                        self._wake.set()
                    delay = _RETRY_FIRST
            except (BinNotFound, Unauthorized) as error:
                self._fail(error)
                return
            except Exception as error:  # anything but a refusal: try again
                self._error = error
                self._ready.set()  # unreachable for now: the constructor need not wait
            # The SDK's stream resumes by itself; this covers it giving up or ending.
            self._state = TableState.RECONNECTING
            self._wake.set()
            last = self._model.last_id
            if last is not None:
                since, tail = last, None
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._state = TableState.FAILED
        self._ready.set()  # after the state: the constructor reads it once woken
        self._loop.stop()  # from the loop's own thread: ends the update loop, then _stopped


def _shell() -> Any:
    """The running IPython shell, or None (plain Python, or IPython not installed)."""
    try:
        from IPython.core.getipython import get_ipython
    except ImportError:
        return None
    # Typed in IPython 9, untyped before: called through Any so both check.
    getter: Any = get_ipython
    return getter()


def _in_kernel() -> bool:
    return getattr(_shell(), "kernel", None) is not None


def _execution_count() -> int | None:
    shell = _shell()
    return None if shell is None else int(shell.execution_count)


@atexit.register
def stop_all(timeout: float = 2.0) -> None:
    """Stop every running live table of this process (re-running a cell makes a new one).

    Also run at interpreter exit, when the kernel shuts down or restarts: every stream ends
    cleanly rather than with daemon threads killed mid-I/O.
    """
    for table in list(_running):
        table.stop(timeout=timeout)
