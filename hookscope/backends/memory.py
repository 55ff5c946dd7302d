"""The embedded backend: bins and history in this process's memory.

Good for notebooks, tests and a laptop; nothing to install, one process only. Each bin keeps
its newest ``max_requests`` requests and disappears ``ttl_s`` after its last capture or
update. The feed is a direct call: captures reach the hub in the same step that stores them.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .._config import Settings
from .._ids import IdClock, id_key
from .._wire import with_id
from ._interfaces import Backend
from ._types import (
    Appended,
    BinDeleted,
    BinRecord,
    BinSummary,
    Captured,
    FeedEvent,
    ResponseSpec,
    Stored,
)

__all__ = ["MemoryFeed", "MemoryStore", "open_memory"]

_Entry = tuple[tuple[int, int], str, str]  # (sort key, id, text)


def open_memory(settings: Settings) -> Backend:
    """The ``memory`` backend of the registry."""
    feed = MemoryFeed()
    return Backend("memory", MemoryStore(feed), feed)


class MemoryFeed:
    """Hands each event to the hub at once; nothing to subscribe to, nothing to lose."""

    def __init__(self) -> None:
        self._on_event: Callable[[FeedEvent], None] = lambda event: None

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None:
        self._on_event = on_event

    async def close(self) -> None:
        self._on_event = lambda event: None

    def publish(self, event: FeedEvent) -> None:
        self._on_event(event)

    async def subscribe(self, bin_id: str) -> None:
        return None

    async def unsubscribe(self, bin_id: str) -> None:
        return None


@dataclass(slots=True)
class _Bin:
    record: BinRecord
    expires_at: float
    entries: list[_Entry] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)


class MemoryStore:
    """In-process bins and request logs, publishing to a ``MemoryFeed``."""

    def __init__(self, feed: MemoryFeed, *, sweep_interval: float = 60.0) -> None:
        self._feed = feed
        self._bins: dict[str, _Bin] = {}
        self._clock = IdClock()
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="hookscope-memory-sweep")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def ready(self) -> bool:
        return True

    # -- bins --------------------------------------------------------------------------------

    def _live(self, bin_id: str) -> _Bin | None:
        stored = self._bins.get(bin_id)
        if stored is not None and stored.expires_at <= time.monotonic():
            self._expire(bin_id)
            return None
        return stored

    def _expire(self, bin_id: str) -> None:
        if self._bins.pop(bin_id, None) is not None:
            self._feed.publish(BinDeleted(bin_id))

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            now = time.monotonic()
            for bin_id in [b for b, stored in self._bins.items() if stored.expires_at <= now]:
                self._expire(bin_id)

    async def create_bin(self, record: BinRecord) -> None:
        self._bins[record.id] = _Bin(record, time.monotonic() + record.ttl_s)

    async def get_bin(self, bin_id: str) -> BinRecord | None:
        stored = self._live(bin_id)
        return stored.record if stored else None

    async def existing(self, bin_ids: Sequence[str]) -> set[str]:
        return {bin_id for bin_id in bin_ids if self._live(bin_id) is not None}

    async def update_bin(
        self,
        bin_id: str,
        *,
        name: str | None = None,
        response: ResponseSpec | None = None,
        secrets: Mapping[str, str | None] | None = None,
    ) -> BinRecord | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        record = stored.record
        if name is not None:
            record = replace(record, name=name)
        if response is not None:
            record = replace(record, response=response)
        if secrets is not None:
            merged = {**record.secrets, **secrets}
            kept = {scheme: secret for scheme, secret in merged.items() if secret is not None}
            record = replace(record, secrets=kept)
        stored.record = record
        stored.expires_at = time.monotonic() + record.ttl_s
        return record

    async def delete_bin(self, bin_id: str) -> bool:
        if self._live(bin_id) is None:
            return False
        self._expire(bin_id)
        return True

    async def list_bins(self, *, limit: int) -> list[BinSummary]:
        live = [stored for bin_id in list(self._bins) if (stored := self._live(bin_id))]
        live.sort(key=lambda stored: (stored.record.created_at, stored.record.id), reverse=True)
        summaries = []
        for stored in live[:limit]:
            newest = stored.entries[-1][1] if stored.entries else None
            summaries.append(BinSummary(stored.record, len(stored.entries), newest))
        return summaries

    # -- requests ----------------------------------------------------------------------------

    async def append(self, bin_id: str, payload: str) -> Appended | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        request_id = self._clock.next()
        text = with_id(payload, request_id)
        entries = stored.entries
        entries.append((id_key(request_id), request_id, text))
        excess = len(entries) - stored.record.max_requests
        if excess > 0:
            del entries[:excess]
        stored.expires_at = time.monotonic() + stored.record.ttl_s
        # Stored and published in one synchronous step: live order is history order.
        self._feed.publish(Captured(bin_id, request_id, text))
        return Appended(request_id, text, stored.record.response)

    async def read(self, bin_id: str, *, after: str | None, limit: int) -> list[Stored] | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        entries = stored.entries
        start = 0
        if after is not None:
            start = bisect.bisect_right(entries, id_key(after), key=lambda entry: entry[0])
        return [(entry[1], entry[2]) for entry in entries[start : start + limit]]

    async def tail(self, bin_id: str, count: int) -> list[Stored] | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        chosen = stored.entries[-count:] if count > 0 else []
        return [(entry[1], entry[2]) for entry in chosen]

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        key = id_key(request_id)
        entries = stored.entries
        index = bisect.bisect_left(entries, key, key=lambda entry: entry[0])
        if index < len(entries) and entries[index][0] == key:
            return entries[index][2]
        return None

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        stored = self._live(bin_id)
        if stored is None:
            return False
        stored.cursors[name] = request_id
        return True

    async def get_cursor(self, bin_id: str, name: str) -> str | None:
        stored = self._live(bin_id)
        return None if stored is None else stored.cursors.get(name)

    async def clear(self, bin_id: str) -> bool:
        stored = self._live(bin_id)
        if stored is None:
            return False
        stored.entries.clear()
        return True
