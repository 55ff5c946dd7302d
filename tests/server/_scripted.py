"""A scripted store and feed for unit tests of the stream core (``Hub``, ``Watcher``, ``chunks``).

Real backends cannot lose their feed in the middle of a subscribe, or fail the third page of a
replay, on demand; these can. They implement ``hookscope.backends``' ``Bins``, ``RequestLog`` and
``Feed``, and keep to the parts of the contract the hub relies on (a cancelled subscribe leaves
nothing subscribed; a capture is stored and published in one step). The real backends are held
to the whole contract by ``tests/backends``.

    feed = ScriptedFeed()
    gate, joining = await feed.held("subscribe", "b_1", hub.join("b_1"))  # waits at the gate
    feed.emit(FeedLost("node down"))        # what a real feed cannot be made to do right now
    gate.open()
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from hookscope.backends import (
    Appended,
    BinDeleted,
    BinRecord,
    Bins,
    Captured,
    Feed,
    FeedEvent,
    Page,
    RateLimited,
    RequestLog,
    ResponseSpec,
    Stored,
)
from hookscope.server._hub import Hub

__all__ = [
    "A",
    "B",
    "Core",
    "Gate",
    "ScriptedFeed",
    "ScriptedStore",
    "scripted_core",
    "wait_for",
]

A, B = "b_a", "b_b"  # the bins every scripted store starts with
T = TypeVar("T")


async def wait_for(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Let the loop run until ``condition()`` holds; fail after ``timeout`` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.001)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class Gate:
    """Holds one call until the test opens it (or fails it)."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()  # the call is waiting at the gate
        self._passage: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def open(self) -> None:
        if not self._passage.done():
            self._passage.set_result(None)

    def fail(self, error: BaseException) -> None:
        if not self._passage.done():
            self._passage.set_exception(error)

    async def wait(self) -> None:
        self.entered.set()
        await asyncio.shield(self._passage)  # a cancelled caller leaves the gate as it is


class ScriptedFeed:
    """A ``Feed`` whose calls are recorded and, when a test says so, held at a gate.

    ``subscribed`` is what the feed really holds: a subscribe counts once it has passed its
    gate, so a subscribe cancelled at the gate leaves nothing subscribed (the Feed contract).
    """

    def __init__(self) -> None:
        self.subscribed: set[str] = set()
        self.calls: list[tuple[str, str]] = []  # ("subscribe" | "unsubscribe", bin id), in order
        self._gates: dict[tuple[str, str], Gate] = {}
        self._on_event: Callable[[FeedEvent], None] = lambda event: None

    def hold(self, call: str, bin_id: str) -> Gate:
        """The next ``call`` ("subscribe" or "unsubscribe") of ``bin_id`` waits at this gate."""
        gate = self._gates[call, bin_id] = Gate()
        return gate

    async def held(
        self, call: str, bin_id: str, coroutine: Coroutine[object, object, T]
    ) -> tuple[Gate, asyncio.Task[T]]:
        """Run ``coroutine`` in a task until its ``call`` of ``bin_id`` waits at a gate."""
        gate = self.hold(call, bin_id)
        task = asyncio.create_task(coroutine)
        await gate.entered.wait()
        return gate, task

    def emit(self, event: FeedEvent) -> None:
        """Deliver an event now, as the feed's reader would."""
        self._on_event(event)

    def calls_of(self, bin_id: str) -> list[str]:
        return [call for call, called in self.calls if called == bin_id]

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None:
        self._on_event = on_event

    async def close(self) -> None:
        self._on_event = lambda event: None

    async def subscribe(self, bin_id: str) -> None:
        await self._called("subscribe", bin_id)
        self.subscribed.add(bin_id)

    async def unsubscribe(self, bin_id: str) -> None:
        await self._called("unsubscribe", bin_id)
        self.subscribed.discard(bin_id)

    async def _called(self, call: str, bin_id: str) -> None:
        self.calls.append((call, bin_id))
        gate = self._gates.pop((call, bin_id), None)
        if gate is not None:
            await gate.wait()


ReadHook = Callable[[int], Awaitable[None]]
"""Called before each ``read`` with its number (1, 2, ...): may capture, wait or raise."""


class ScriptedStore:
    """Bins and request logs in a dict, publishing captures to a ``ScriptedFeed``.

    Ids are ``"<n>-0"``, increasing across the store. ``on_read`` and ``on_existing`` script
    what happens around the calls the stream core makes.
    """

    def __init__(self, feed: ScriptedFeed) -> None:
        self.feed = feed
        self.records: dict[str, BinRecord] = {}
        self.logs: dict[str, list[Stored]] = {}
        self.reads: list[tuple[str, str | None, int]] = []  # (bin, after, limit) of each read
        self.existing_calls: list[list[str]] = []
        self.on_read: ReadHook | None = None
        self.on_existing: Callable[[], Awaitable[None]] | None = None
        self._next = 0

    def add_bin(self, bin_id: str) -> str:
        self.records[bin_id] = BinRecord(
            id=bin_id, token="t", created_at=datetime.now(UTC), max_requests=10_000, ttl_s=3600
        )
        self.logs[bin_id] = []
        return bin_id

    def capture(self, bin_id: str) -> str:
        """Store a capture and publish it, as ``append`` does; returns its id."""
        self._next += 1
        request_id = f"{self._next}-0"
        text = f'{{"id":"{request_id}","bin":"{bin_id}"}}'
        self.logs[bin_id].append((request_id, text))
        self.feed.emit(Captured(bin_id, request_id, text))
        return request_id

    def ids(self, bin_id: str) -> list[str]:
        return [request_id for request_id, _ in self.logs[bin_id]]

    # -- Bins --------------------------------------------------------------------------------

    async def create_bin(self, record: BinRecord, *, client: str | None = None) -> None:
        self.records[record.id] = record
        self.logs[record.id] = []

    async def get_bin(self, bin_id: str) -> BinRecord | None:
        return self.records.get(bin_id)

    async def existing(self, bin_ids: Sequence[str]) -> set[str]:
        self.existing_calls.append(list(bin_ids))
        if self.on_existing is not None:
            await self.on_existing()
        return {bin_id for bin_id in bin_ids if bin_id in self.records}

    async def update_bin(
        self, bin_id: str, *, name: str | None = None, response: ResponseSpec | None = None
    ) -> BinRecord | None:
        return self.records.get(bin_id)

    async def delete_bin(self, bin_id: str) -> bool:
        if self.records.pop(bin_id, None) is None:
            return False
        del self.logs[bin_id]
        self.feed.emit(BinDeleted(bin_id))
        return True

    # -- RequestLog --------------------------------------------------------------------------

    async def append(
        self, bin_id: str, payload: str, *, client: str | None = None
    ) -> Appended | None:
        if bin_id not in self.records:
            return None
        request_id = self.capture(bin_id)
        return Appended(request_id, self.logs[bin_id][-1][1], ResponseSpec())

    def denied(self, bin_id: str, client: str | None = None) -> RateLimited | None:
        return None

    async def read(
        self, bin_id: str, *, after: str | None, limit: int, max_bytes: int | None = None
    ) -> Page | None:
        self.reads.append((bin_id, after, limit))
        if self.on_read is not None:
            await self.on_read(len(self.reads))
        log = self.logs.get(bin_id)
        if log is None:
            return None
        floor = _key(after) if after else (-1, -1)
        found = [entry for entry in log if _key(entry[0]) > floor][:limit]
        kept = _fitting(found, max_bytes)
        return Page(found[:kept], cut=kept < len(found))

    async def tail(self, bin_id: str, count: int, *, max_bytes: int | None = None) -> Page | None:
        log = self.logs.get(bin_id)
        if log is None:
            return None
        newest = log[-count:][::-1] if count > 0 else []
        kept = _fitting(newest, max_bytes)
        return Page(newest[:kept][::-1], cut=kept < len(newest))

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        return dict(self.logs.get(bin_id, [])).get(request_id)

    async def clear(self, bin_id: str) -> bool:
        if bin_id not in self.logs:
            return False
        self.logs[bin_id] = []
        return True


@dataclass
class Core:
    """A started ``Hub`` on a scripted feed and store; ``lagged`` counts lagging watchers."""

    feed: ScriptedFeed
    store: ScriptedStore
    hub: Hub
    lagged: list[None] = field(default_factory=list)


@contextlib.asynccontextmanager
async def scripted_core(
    *,
    watcher_limit: int = 100,
    watcher_bytes: int | None = None,
    max_watchers: int | None = None,
    lag_grace: float = 10.0,
    expiry_check: float = 3600.0,
    batch_window: float = 0.0,
) -> AsyncIterator[Core]:
    """A hub started as the app starts it (the feed's events to ``hub.on_event``), then closed."""
    feed = ScriptedFeed()
    store = ScriptedStore(feed)
    store.add_bin(A)
    store.add_bin(B)
    lagged: list[None] = []
    hub = Hub(
        feed,
        store,
        watcher_limit=watcher_limit,
        watcher_bytes=watcher_bytes,
        max_watchers=max_watchers,
        lag_grace=lag_grace,
        expiry_check=expiry_check,
        batch_window=batch_window,
        on_lagged=lambda: lagged.append(None),
    )
    await feed.start(hub.on_event)
    await hub.start()
    try:
        yield Core(feed, store, hub, lagged)
    finally:
        await hub.close()


def _fitting(stored: list[Stored], max_bytes: int | None) -> int:
    """How many of ``stored`` fit in ``max_bytes`` of text (at least one)."""
    total = 0
    for count, (_, text) in enumerate(stored):
        total += len(text.encode())
        if max_bytes is not None and total > max_bytes and count > 0:
            return count
    return len(stored)


def _key(request_id: str) -> tuple[int, int]:
    ms, seq = request_id.split("-")
    return int(ms), int(seq)


def _conforms(store: ScriptedStore, feed: ScriptedFeed) -> tuple[Bins, RequestLog, Feed]:
    """Never called: mypy checks here that the fakes implement the Protocols."""
    return store, store, feed
