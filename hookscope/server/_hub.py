"""Live fan-out inside one server process.

Every watcher (a WebSocket or SSE stream) joins the ``Hub``; the hub holds ONE feed
subscription per bin however many watchers it has (reference-counted), and hands each live
event to every watcher of that bin. Frames are encoded once per event, not once per watcher.

Events are handed over in batches (``LiveBatch``): with a ``batch_window`` (seconds), the
first event of a quiet bin goes out at once, and what arrives within the window after a
hand-over waits for the window's end and goes out together, as one frame per watcher. One
frame carrying several events costs a watcher little more than a frame carrying one (the
write, the task's wake-up and the server's WebSocket framing are per frame), so a busy bin
costs a fraction per event, at the price of up to ``batch_window`` of delay. With no window
(0), every event is handed over as it comes.
A watcher whose backlog reaches its limit (a count, and bytes of request text) is closed as
lagging instead of buffering without bound; a bin takes at most ``max_watchers`` watchers per
process (429 ``too_many_watchers`` beyond). Every ``expiry_check`` seconds the hub asks the
store which watched bins still exist and closes the streams of the others (4404): a store
need not say when a bin expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator

from .._contract import CloseCode, ErrorCode, batch_frame, request_frame, sse_request
from .._ids import id_key
from ..backends import BackendUnavailable, BinDeleted, Bins, Captured, Feed, FeedEvent, FeedLost
from ._direct import DirectWriter, text_frame
from ._http import ApiProblem

__all__ = ["CloseCode", "Hub", "LiveBatch", "LiveItem", "Watcher", "WatcherClosed"]

log = logging.getLogger("hookscope.server")


class LiveItem:
    """One live request; its frames are built on first use and then shared by all watchers."""

    __slots__ = ("_size", "_sse", "_ws", "id", "key", "text")

    def __init__(self, request_id: str, text: str) -> None:
        self.id = request_id
        self.key = id_key(request_id)
        self.text = text
        self._ws: str | None = None
        self._sse: str | None = None
        self._size: int | None = None

    @property
    def size(self) -> int:
        """The text's length in UTF-8 bytes (what a frame limit counts)."""
        if self._size is None:
            self._size = len(self.text) if self.text.isascii() else len(self.text.encode())
        return self._size

    @property
    def ws_frame(self) -> str:
        if self._ws is None:
            self._ws = request_frame(self.text)
        return self._ws

    @property
    def sse_frame(self) -> str:
        if self._sse is None:
            self._sse = sse_request(self.id, self.text)
        return self._sse


class LiveBatch:
    """Live items handed to watchers together, in order; iterating it gives the items.

    The hub gives every watcher of a bin the same batch, so its frames are built on first
    use and then shared, like a ``LiveItem``'s.
    """

    __slots__ = ("_bytes", "_sse", "_ws", "items", "size")

    def __init__(self, items: list[LiveItem]) -> None:
        self.items = items
        self.size = sum(item.size for item in items)
        self._ws: str | None = None
        self._sse: str | None = None
        self._bytes: bytes | None = None

    def __iter__(self) -> Iterator[LiveItem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def ws_frame(self) -> str:
        """One ``request`` frame, or one ``batch`` frame for several items."""
        if self._ws is None:
            items = self.items
            self._ws = items[0].ws_frame if len(items) == 1 else batch_frame(i.text for i in items)
        return self._ws

    @property
    def ws_bytes(self) -> bytes:
        """``ws_frame`` as a whole WebSocket frame, for ``DirectWriter``."""
        if self._bytes is None:
            self._bytes = text_frame(self.ws_frame)
        return self._bytes

    @property
    def sse_frame(self) -> str:
        """The items' SSE events, concatenated (one write)."""
        if self._sse is None:
            self._sse = "".join(item.sse_frame for item in self.items)
        return self._sse


class WatcherClosed(Exception):
    """The hub closed this watcher; ``code`` and ``reason`` say why."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Watcher:
    """One stream's inbox: live batches queued for it, up to ``limit`` items and ``max_bytes``
    of their texts (at least one batch, however large)."""

    __slots__ = (
        "_bytes",
        "_closed",
        "_count",
        "_parked",
        "_pending",
        "_wake",
        "bin_id",
        "finished",
        "limit",
        "max_bytes",
        "owner",
        "sent_key",
        "sink",
        "skip",
        "writer",
    )

    def __init__(self, bin_id: str, limit: int, max_bytes: int | None = None) -> None:
        self.bin_id = bin_id
        self.limit = limit
        self.max_bytes = max_bytes
        self._bytes = 0
        self._count = 0  # items in _pending
        # The task serving this watcher, and whether it has finished with it: a reader that
        # stopped reading leaves that task blocked in a send, which the hub may cancel.
        self.owner: asyncio.Task[object] | None = None
        self.finished = False
        self._pending: list[LiveBatch] = []
        self._wake = asyncio.Event()
        self._closed: WatcherClosed | None = None  # why the hub closed it, once it has
        self.skip = 0  # items of the hub's next hand-over that were captured before it joined
        # The newest id sent (a key), so that nothing goes twice across the replay hand-over.
        self.sent_key: tuple[int, int] = (-1, -1)
        # Set by a live WebSocket stream on hypercorn: while its task waits with nothing
        # queued (parked), batches are written straight to its socket (``_direct``).
        self.writer: DirectWriter | None = None
        self._parked = False
        # Set for a watcher in this process (the pytest plugin's): the hub hands it each
        # capture at once, in the step that stored it; nothing is queued or batched.
        self.sink: Callable[[LiveBatch], object] | None = None

    @property
    def closed(self) -> bool:
        """True once the hub has closed it (``next_items`` then raises, when drained)."""
        return self._closed is not None

    def push(self, batch: LiveBatch) -> bool:
        """Queue a batch; False (and the watcher closed as lagging) when the backlog is full."""
        if self._closed is not None or self.sink is not None:
            return True  # a sink is handed each capture by the hub as it comes (on_event)
        writer = self.writer
        if self._parked and writer is not None:
            items = batch.items
            if (
                items[0].key > self.sent_key
                and (writer.max_text is None or batch.size <= writer.max_text)
                and writer.write(batch.ws_bytes)
            ):
                self.sent_key = items[-1].key
                return True
            self._parked = False  # its task takes over from here, in order
        pending = self._pending
        if pending:
            count = len(batch.items)
            too_many = self._count + count > self.limit
            too_large = self.max_bytes is not None and self._bytes + batch.size > self.max_bytes
            if too_many or too_large:
                queued = f"{self.limit} requests" if too_many else f"{self.max_bytes} bytes"
                self.close(
                    CloseCode.LAGGING,
                    f"lagging: more than {queued} queued; reconnect with since=<last id> to resume",
                )
                return False
            self._count += count
        else:
            self._count = len(batch.items)
            self._wake.set()
        pending.append(batch)
        self._bytes += batch.size
        return True

    def abandon_later(self, delay: float) -> None:
        """Cancel the owner task if it has not finished with this watcher ``delay`` s from now.

        The close frame of a lagging watcher waits behind what its reader does not read; if
        the reader does not catch up within the grace period, its task is cancelled, which
        frees the watcher, its queue and its share of the bin's subscription.
        """
        owner = self.owner
        if owner is None:
            return

        def abandon() -> None:
            if not self.finished and not owner.done():
                owner.cancel()

        asyncio.get_running_loop().call_later(delay, abandon)

    def close(self, code: CloseCode, reason: str) -> None:
        """Close it: ``next_items`` raises ``WatcherClosed`` once nothing is left to deliver.

        A deleted bin's watcher still gets what was captured before the deletion (no history
        is left to resume from); any other close drops what is queued (a lagging watcher's
        backlog is what must be freed; a resuming client reads the rest from history).
        """
        if self._closed is None:
            self._closed = WatcherClosed(code, reason)
            self._parked = False
            if code != CloseCode.BIN_DELETED:
                self._pending, self._bytes, self._count = [], 0, 0
            self._wake.set()

    def raise_if_closed(self) -> None:
        if self._closed is not None:
            raise self._closed

    async def next_batch(self) -> LiveBatch:
        """Everything queued since the last call, as one batch (waits for at least one item).

        Raises ``WatcherClosed`` once the hub closed this watcher and nothing is left for it.
        Safe to cancel.
        """
        if not self._pending and self._closed is None:
            self._parked = True
            try:
                await self._wake.wait()
            finally:
                self._parked = False
        if not self._pending:
            self.raise_if_closed()
        self._wake.clear()
        pending, self._pending, self._bytes, self._count = self._pending, [], 0, 0
        if len(pending) == 1:
            return pending[0]  # shared with the other watchers, frames and all
        return LiveBatch([item for batch in pending for item in batch.items])

    async def next_items(self) -> list[LiveItem]:
        """``next_batch``'s items."""
        return (await self.next_batch()).items


class _Order:
    """One lock per bin, kept only while someone holds or waits for it.

    Each bin's subscribe and unsubscribe reach the feed in order; other bins do not wait (a
    Redis node that does not answer holds up only the bins it carries).
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def of(self, bin_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(bin_id) or (asyncio.Lock(), 0)
        self._locks[bin_id] = lock, users + 1
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[bin_id]
            if users == 1:
                del self._locks[bin_id]
            else:
                self._locks[bin_id] = lock, users - 1


class Hub:
    """Per-process registry of watchers, with one feed subscription per watched bin."""

    def __init__(
        self,
        feed: Feed,
        bins: Bins,
        *,
        watcher_limit: int,
        watcher_bytes: int | None = None,
        max_watchers: int | None = None,
        lag_grace: float = 10.0,
        expiry_check: float = 30.0,
        batch_window: float = 0.0,
        on_lagged: Callable[[], object] = lambda: None,
    ) -> None:
        self._feed = feed
        self._store_bins = bins
        self._watcher_limit = watcher_limit
        self._watcher_bytes = watcher_bytes
        self._max_watchers = max_watchers
        self._lag_grace = lag_grace
        self._expiry_check = expiry_check
        self._on_lagged = on_lagged
        self._batch_window = batch_window
        self._bins: dict[str, set[Watcher]] = {}  # the watchers of each subscribed bin
        self._sinks: dict[str, list[Watcher]] = {}  # those of them in this process (join)
        # Items of each bin waiting for their hand-over (a timer is set), and when each bin
        # with a window still open last had one.
        self._queued: dict[str, list[LiveItem]] = {}
        self._handed: dict[str, float] = {}
        self._order = _Order()
        # Bins with a subscribe in flight, and whether the feed was lost for them meanwhile.
        self._subscribing: dict[str, bool] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # unsubscribes, run by the hub itself
        self._expiry_task: asyncio.Task[None] | None = None

    @property
    def watched(self) -> frozenset[str]:
        """The subscribed bins (each once, however many watchers it has)."""
        return frozenset(self._bins)

    async def start(self) -> None:
        """Start checking watched bins for expiry."""
        self._expiry_task = asyncio.create_task(self._check_expiry(), name="hookscope-expiry")

    async def close(self) -> None:
        """Stop the expiry check and any unsubscribe still under way."""
        tasks = [*self._tasks, *([self._expiry_task] if self._expiry_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def join(
        self, bin_id: str, *, sink: Callable[[LiveBatch], object] | None = None
    ) -> Watcher:
        """A new watcher of ``bin_id``; once this returns, every later capture reaches it.

        ``sink``: a watcher in this process, handed each capture as the feed delivers it,
        outside the batch window (in step with the history where the store publishes as it
        stores, as the memory store does), and not counted against ``max_watchers``.
        Raises ``BackendUnavailable`` when the feed cannot subscribe (503), and
        ``ApiProblem`` 429 ``too_many_watchers`` when the bin has ``max_watchers`` already.
        """
        if sink is None:
            self._check_room(bin_id)
        watchers = self._bins.get(bin_id)
        if watchers is None:
            async with self._order.of(bin_id):
                watchers = self._bins.get(bin_id)
                if watchers is None:
                    watchers = await self._subscribe(bin_id)
        if sink is None:
            self._check_room(bin_id)  # others may have joined while this one subscribed
        watcher = Watcher(bin_id, self._watcher_limit, self._watcher_bytes)
        if sink is not None:
            watcher.sink = sink
            self._sinks.setdefault(bin_id, []).append(watcher)
        watcher.skip = len(self._queued.get(bin_id, ()))  # captured before it joined
        watchers.add(watcher)
        return watcher

    def _check_room(self, bin_id: str) -> None:
        most = self._max_watchers
        watchers = self._bins.get(bin_id, ())
        if most is not None and sum(w.sink is None for w in watchers) >= most:
            raise ApiProblem(
                429,
                ErrorCode.TOO_MANY_WATCHERS,
                f"this bin has {most} live streams on this server already "
                "(--max-watchers-per-bin); close one, or retry later",
                retry_after=5,
            )

    async def _subscribe(self, bin_id: str) -> set[Watcher]:
        """Subscribe ``bin_id`` (its lock held); its new, empty set of watchers."""
        self._subscribing[bin_id] = False
        try:
            await self._feed.subscribe(bin_id)  # if cancelled, the feed undoes it
        finally:
            lost = self._subscribing.pop(bin_id)
        if lost:
            # The loss may have voided what the feed confirmed, or not: undo it either way,
            # so that nothing stays subscribed that the hub does not count.
            self._spawn(self._unsubscribe_unwatched(bin_id, None))
            raise BackendUnavailable("the live feed was lost while subscribing")
        watchers: set[Watcher] = set()
        self._bins[bin_id] = watchers
        return watchers

    async def leave(self, watcher: Watcher) -> None:
        """Forget ``watcher``; the last watcher of a bin unsubscribes it. Idempotent."""
        watcher.close(CloseCode.NORMAL, "left")
        if watcher.sink is not None:
            sinks = self._sinks.get(watcher.bin_id, [])
            if watcher in sinks:
                sinks.remove(watcher)
            if not sinks:
                self._sinks.pop(watcher.bin_id, None)
        watchers = self._bins.get(watcher.bin_id)
        if watchers is None:
            return  # the feed was lost for this bin: nothing to unsubscribe
        watchers.discard(watcher)
        if not watchers:
            # In a task of the hub's: a caller cancelled meanwhile (shutdown, an abandoned
            # stream) must not leave the bin subscribed and uncounted. (wait() neither cancels
            # the task with its caller nor raises what ended the task: close() cancelling it.)
            unsubscribing = self._spawn(self._unsubscribe_unwatched(watcher.bin_id, watchers))
            await asyncio.wait([unsubscribing])

    async def _unsubscribe_unwatched(self, bin_id: str, watchers: set[Watcher] | None) -> None:
        """Unsubscribe ``bin_id`` unless it is watched again meanwhile.

        ``watchers`` is the set that emptied, or None for a subscribe the hub never counted.
        """
        async with self._order.of(bin_id):
            if self._bins.get(bin_id) is not watchers or watchers:
                return  # joined again, or lost and subscribed anew
            self._bins.pop(bin_id, None)
            self._handed.pop(bin_id, None)
            try:
                await self._feed.unsubscribe(bin_id)
            except Exception:  # the feed reset on reconnect drops it anyway
                log.warning("could not unsubscribe from %s", bin_id, exc_info=True)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def close_all(self, code: CloseCode, reason: str) -> None:
        """Close every stream of this process (shutdown: 1012, so that clients resume)."""
        for watchers in self._bins.values():
            for watcher in watchers:
                watcher.close(code, reason)

    def _close_bin(self, bin_id: str, code: CloseCode, reason: str) -> None:
        self._hand_over(bin_id)  # what was captured before goes first (no history is left)
        for watcher in self._bins.get(bin_id, ()):
            watcher.close(code, reason)

    def on_event(self, event: FeedEvent) -> None:
        """The feed's callback: runs on the server's event loop."""
        if isinstance(event, Captured):
            bin_id = event.bin_id
            if bin_id not in self._bins:
                return
            item = LiveItem(event.id, event.text)
            for sink in tuple(self._sinks.get(bin_id, ())):
                if sink.sink is not None and not sink.closed:
                    try:
                        sink.sink(LiveBatch([item]))
                    except Exception:
                        # Its failure is its own: the streams still get the capture.
                        log.exception("a sink watching %s failed: closed", bin_id)
                        sink.close(CloseCode.FEED_LOST, "its sink failed")
            queued = self._queued.get(bin_id)
            if queued is not None:
                queued.append(item)  # its hand-over is set already
                return
            if not self._batch_window:
                self._give(bin_id, LiveBatch([item]))
                return
            self._queued[bin_id] = [item]
            loop = asyncio.get_running_loop()
            handed = self._handed.get(bin_id)
            due = loop.time() if handed is None else handed + self._batch_window
            if loop.time() >= due:
                # A quiet bin: at once, yet after what the same loop turn brings.
                loop.call_soon(self._hand_over, bin_id)
            else:
                loop.call_at(due, self._hand_over, bin_id)
        elif isinstance(event, BinDeleted):
            self._close_bin(event.bin_id, CloseCode.BIN_DELETED, "the bin was deleted")
        elif isinstance(event, FeedLost):
            lost = set(self._bins) if event.bin_ids is None else event.bin_ids & set(self._bins)
            for bin_id in self._subscribing:
                if event.bin_ids is None or bin_id in event.bin_ids:
                    self._subscribing[bin_id] = True
            log.warning(
                "live feed lost (%s): closing the streams of %d bin(s) with 1012",
                event.reason,
                len(lost),
            )
            for bin_id in lost:
                self._queued.pop(bin_id, None)  # resumed from history, like what was queued
                self._handed.pop(bin_id, None)
                for watcher in self._bins.pop(bin_id):
                    watcher.close(
                        CloseCode.FEED_LOST, "live feed lost; reconnect with since=<last id>"
                    )

    def _hand_over(self, bin_id: str) -> None:
        """Give the items queued for ``bin_id`` to its watchers (none queued: nothing)."""
        items = self._queued.pop(bin_id, None)
        if items is None:
            return
        if bin_id in self._bins:
            self._handed[bin_id] = asyncio.get_running_loop().time()
            self._give(bin_id, LiveBatch(items))
        else:
            self._handed.pop(bin_id, None)

    def _give(self, bin_id: str, batch: LiveBatch) -> None:
        watchers = self._bins[bin_id]
        lagging = []
        for watcher in watchers:
            if watcher.skip:
                late = batch.items[watcher.skip :]
                watcher.skip = 0
                if not late or watcher.push(LiveBatch(late)):
                    continue
            elif watcher.push(batch):
                continue
            lagging.append(watcher)
        for watcher in lagging:
            # Counted now, not when its stream notices: a reader that stopped reading
            # may sit in a blocked send for a long time.
            watchers.discard(watcher)
            watcher.abandon_later(self._lag_grace)
            self._on_lagged()

    async def _check_expiry(self) -> None:
        while True:
            await asyncio.sleep(self._expiry_check)
            watched = sorted(self._bins)
            if not watched:
                continue
            try:
                alive = await self._store_bins.existing(watched)
            except BackendUnavailable:
                continue  # the feed reports an outage itself
            except Exception:  # one failed check must not end the checks
                log.warning("the expiry check failed", exc_info=True)
                continue
            for bin_id in watched:
                if bin_id not in alive:
                    self._close_bin(bin_id, CloseCode.BIN_DELETED, "the bin expired")
