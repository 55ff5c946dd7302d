"""The embedded backend: bins and history in this process's memory.

Good for notebooks, tests and a laptop; nothing to install, one process only. Each bin keeps
its newest ``max_requests`` requests and disappears ``ttl_s`` after its last capture or
update. The feed is a direct call: captures reach the hub in the same step that stores them.

Memory is bounded (``--max-memory``): every stored request (its wire text, kept as UTF-8
bytes) and every bin (its record, response and secrets) counts against the budget. When a
capture does not fit, the oldest requests of any bin are evicted first: an inspector's
value is its recent data, and refusing captures would make senders retry and fail. Bins
may take at most half of the budget, so a capture always has room; only a request larger
than what is left for requests is refused (507 ``memory_full``).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import heapq
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .._config import Rate, Settings
from .._contract import MAX_CURSORS, ErrorCode
from .._ids import IdClock, id_key
from .._wire import with_id
from ._interfaces import Backend
from ._rates import AddressBuckets, address_refusal, admit, bin_refusal, wait
from ._types import (
    Appended,
    BinDeleted,
    BinRecord,
    BinSummary,
    Captured,
    FeedEvent,
    Page,
    RateLimited,
    ResponseSpec,
    StorageFull,
    Usage,
    too_many_cursors,
)

__all__ = ["BIN_OVERHEAD", "ENTRY_OVERHEAD", "MemoryFeed", "MemoryStore", "open_memory"]

_Entry = tuple[tuple[int, int], str, bytes]  # (sort key, id, wire text as UTF-8)

ENTRY_OVERHEAD = 240
"""Bytes a stored request costs besides its text: the entry tuple, its id and key."""
BIN_OVERHEAD = 1024
"""Bytes a bin costs besides its strings: the record, the response, the bin's slot."""
_SWEEP_EVERY = 1.0  # at most this often when memory is needed (expired bins go first)


def open_memory(settings: Settings) -> Backend:
    """The ``memory`` backend of the registry."""
    feed = MemoryFeed()
    store = MemoryStore(
        feed,
        max_memory=settings.max_memory,
        max_bins=settings.max_bins,
        bin_rate=settings.rate_limit,
        address_rate=settings.ip_rate_limit,
    )
    return Backend("memory", store, feed)


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
    size: int  # what the record costs in the budget
    entries: list[_Entry] = field(default_factory=list)
    cursors: dict[str, str] = field(default_factory=dict)
    tat: float = 0.0  # the bin's rate bucket (``_rates``)


def record_size(record: BinRecord) -> int:
    """Bytes a bin's record costs: its strings as Python holds them, and ``BIN_OVERHEAD``."""
    strings = [record.token, record.name or "", record.response.body or ""]
    strings += [text for pair in record.response.headers.items() for text in pair]
    strings += [text for pair in record.secrets.items() for text in pair]
    return BIN_OVERHEAD + sum(map(sys.getsizeof, strings))


def _entry_size(entry: _Entry) -> int:
    return len(entry[2]) + ENTRY_OVERHEAD


def _cut(entries: Sequence[_Entry], max_bytes: int | None) -> int:
    """How many of ``entries`` fit in ``max_bytes`` of text (at least one)."""
    if max_bytes is None:
        return len(entries)
    total = 0
    for count, entry in enumerate(entries):
        total += len(entry[2])
        if total > max_bytes and count > 0:
            return count
    return len(entries)


class MemoryStore:
    """In-process bins and request logs, publishing to a ``MemoryFeed``.

    ``max_memory`` (bytes, 0: none) and ``max_bins`` (0: none) bound what it holds;
    ``bin_rate`` and ``address_rate`` limit captures (and bin creation, per address).
    """

    def __init__(
        self,
        feed: MemoryFeed,
        *,
        sweep_interval: float = 60.0,
        max_memory: int = 0,
        max_bins: int = 0,
        bin_rate: Rate | None = None,
        address_rate: Rate | None = None,
    ) -> None:
        self._feed = feed
        self._bins: dict[str, _Bin] = {}
        self._clock = IdClock()
        self._sweep_interval = sweep_interval
        self._sweeper: asyncio.Task[None] | None = None
        self._max_memory = max_memory
        self._max_bins = max_bins
        self._bin_rate = bin_rate
        self._addresses = AddressBuckets(address_rate) if address_rate else None
        self._bin_bytes = 0  # records
        self._request_bytes = 0  # entries
        self._evicted = 0
        # (key, bin id): the next eviction's candidates. Every bin with requests has an item
        # here no newer than its oldest request (trimming leaves an older one: still a lower
        # bound); a popped item older than its bin's oldest is replaced by the oldest.
        self._heads: list[tuple[tuple[int, int], str]] = []
        self._last_sweep = 0.0

    async def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="hookscope-memory-sweep")

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    async def ready(self) -> bool:
        return True

    def usage(self) -> Usage:
        """Bytes counted against ``--max-memory``, the budget, and requests evicted so far."""
        return Usage(self._bin_bytes + self._request_bytes, self._max_memory, self._evicted)

    # -- bins --------------------------------------------------------------------------------

    def _live(self, bin_id: str) -> _Bin | None:
        stored = self._bins.get(bin_id)
        if stored is not None and stored.expires_at <= time.monotonic():
            self._expire(bin_id)
            return None
        return stored

    def _expire(self, bin_id: str) -> None:
        stored = self._bins.pop(bin_id, None)
        if stored is not None:
            self._bin_bytes -= stored.size
            self._request_bytes -= sum(map(_entry_size, stored.entries))
            self._feed.publish(BinDeleted(bin_id))

    def _sweep(self) -> None:
        now = self._last_sweep = time.monotonic()
        for bin_id in [b for b, stored in self._bins.items() if stored.expires_at <= now]:
            self._expire(bin_id)

    def _sweep_if_due(self) -> None:
        """Sweep when a limit needs room, at most once per ``_SWEEP_EVERY`` (it reads every
        bin: a flood of refused writes must not sweep once each)."""
        if time.monotonic() - self._last_sweep >= _SWEEP_EVERY:
            self._sweep()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval)
            self._sweep()

    async def create_bin(self, record: BinRecord, *, client: str | None = None) -> None:
        now = time.monotonic()
        address_tat = None
        if self._addresses is not None and client is not None:
            address_tat = self._addresses.admit(client, now)
            if address_tat is None:
                raise address_refusal(self._addresses.wait(client, now))
        if self._max_bins and len(self._bins) >= self._max_bins:
            self._sweep_if_due()
            if len(self._bins) >= self._max_bins:
                raise StorageFull(
                    ErrorCode.TOO_MANY_BINS,
                    f"this server holds its maximum of {self._max_bins} bins (--max-bins); "
                    "delete some, or wait for them to expire",
                )
        size = record_size(record)
        self._fit_bin(size)
        if address_tat is not None and client is not None:
            self._addresses.commit(client, address_tat)  # type: ignore[union-attr]
        self._bins[record.id] = _Bin(record, time.monotonic() + record.ttl_s, size)
        self._bin_bytes += size

    def _fit_bin(self, growth: int) -> None:
        """Make room for ``growth`` more bytes of bins, or refuse (bins get half the budget)."""
        if not self._max_memory or growth <= 0:
            return
        if self._bin_bytes + growth > self._max_memory // 2:
            self._sweep_if_due()
            if self._bin_bytes + growth > self._max_memory // 2:
                raise StorageFull(
                    ErrorCode.MEMORY_FULL,
                    "the server's memory for bins is full (bins may use half of --max-memory); "
                    "delete bins or make their responses smaller",
                )
        self._make_room(growth)

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
        size = record_size(record)
        self._fit_bin(size - stored.size)
        if self._bins.get(bin_id) is not stored:  # swept while making room
            return None
        self._bin_bytes += size - stored.size
        stored.record, stored.size = record, size
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

    # -- the budget --------------------------------------------------------------------------

    def _make_room(self, size: int) -> None:
        """Evict the oldest requests (of any bin) until ``size`` more bytes fit."""
        if not self._max_memory:
            return
        if self._bin_bytes + self._request_bytes + size <= self._max_memory:
            return
        self._sweep_if_due()  # expired bins go before anyone's requests
        while self._bin_bytes + self._request_bytes + size > self._max_memory:
            if not self._evict_oldest():
                break

    def _evict_oldest(self) -> bool:
        while self._heads:
            key, bin_id = heapq.heappop(self._heads)
            stored = self._bins.get(bin_id)
            if stored is None or not stored.entries:
                continue  # the bin or its requests went meanwhile
            if stored.entries[0][0] != key:  # trimmed meanwhile: its oldest now
                self._push_head(bin_id, stored)
                continue
            self._request_bytes -= _entry_size(stored.entries.pop(0))
            self._evicted += 1
            self._push_head(bin_id, stored)
            return True
        return False

    def _push_head(self, bin_id: str, stored: _Bin) -> None:
        if not stored.entries:
            return
        heapq.heappush(self._heads, (stored.entries[0][0], bin_id))
        if len(self._heads) > 2 * len(self._bins) + 64:  # mostly outdated items: rebuild
            self._heads = [(b.entries[0][0], i) for i, b in self._bins.items() if b.entries]
            heapq.heapify(self._heads)

    # -- requests ----------------------------------------------------------------------------

    def denied(self, bin_id: str, client: str | None = None) -> RateLimited | None:
        """The refusal a capture would get now for its rate, without spending anything."""
        now = time.monotonic()
        stored = self._bins.get(bin_id)
        bin_rate, addresses = self._bin_rate, self._addresses
        if bin_rate and stored is not None and admit(stored.tat, now, bin_rate) is None:
            return bin_refusal(wait(stored.tat, now, bin_rate))
        if addresses and client is not None and addresses.admit(client, now) is None:
            return address_refusal(addresses.wait(client, now))
        return None

    async def append(
        self, bin_id: str, payload: str, *, client: str | None = None
    ) -> Appended | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        now = time.monotonic()
        bin_tat = address_tat = None
        if self._bin_rate is not None:
            bin_tat = admit(stored.tat, now, self._bin_rate)
            if bin_tat is None:
                raise bin_refusal(wait(stored.tat, now, self._bin_rate))
        if self._addresses is not None and client is not None:
            address_tat = self._addresses.admit(client, now)
            if address_tat is None:
                raise address_refusal(self._addresses.wait(client, now))
        request_id = self._clock.next()
        text = with_id(payload, request_id)
        entry = (id_key(request_id), request_id, text.encode())
        size = _entry_size(entry)
        if self._max_memory and size > self._max_memory // 2:
            raise StorageFull(
                ErrorCode.MEMORY_FULL,
                f"a request of {size} bytes cannot fit in this server's memory budget "
                f"(--max-memory {self._max_memory}); nothing was stored",
            )
        self._make_room(size)
        if self._bins.get(bin_id) is not stored:  # expired while making room
            return None
        entries = stored.entries
        entries.append(entry)
        self._request_bytes += size
        if len(entries) > stored.record.max_requests:
            self._request_bytes -= _entry_size(entries.pop(0))
        elif len(entries) == 1:
            self._push_head(bin_id, stored)
        if bin_tat is not None:
            stored.tat = bin_tat
        if address_tat is not None and client is not None:
            self._addresses.commit(client, address_tat)  # type: ignore[union-attr]
        stored.expires_at = time.monotonic() + stored.record.ttl_s
        # Stored and published in one synchronous step: live order is history order.
        self._feed.publish(Captured(bin_id, request_id, text))
        return Appended(request_id, text, stored.record.response)

    async def read(
        self, bin_id: str, *, after: str | None, limit: int, max_bytes: int | None = None
    ) -> Page | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        entries = stored.entries
        start = 0
        if after is not None:
            start = bisect.bisect_right(entries, id_key(after), key=lambda entry: entry[0])
        chosen = entries[start : start + limit]
        kept = _cut(chosen, max_bytes)
        return Page([(e[1], e[2].decode()) for e in chosen[:kept]], cut=kept < len(chosen))

    async def tail(self, bin_id: str, count: int, *, max_bytes: int | None = None) -> Page | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        newest_first = stored.entries[-count:][::-1] if count > 0 else []
        kept = _cut(newest_first, max_bytes)  # the newest that fit
        page = [(e[1], e[2].decode()) for e in reversed(newest_first[:kept])]
        return Page(page, cut=kept < len(newest_first))

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        stored = self._live(bin_id)
        if stored is None:
            return None
        key = id_key(request_id)
        entries = stored.entries
        index = bisect.bisect_left(entries, key, key=lambda entry: entry[0])
        if index < len(entries) and entries[index][0] == key:
            return entries[index][2].decode()
        return None

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        stored = self._live(bin_id)
        if stored is None:
            return False
        if name in stored.cursors:
            if not request_id:
                return True  # taking a name it has: its position stays
        elif len(stored.cursors) >= MAX_CURSORS:
            raise too_many_cursors()
        stored.cursors[name] = request_id
        return True

    async def get_cursor(self, bin_id: str, name: str) -> str | None:
        stored = self._live(bin_id)
        return None if stored is None else stored.cursors.get(name)

    async def clear(self, bin_id: str) -> bool:
        stored = self._live(bin_id)
        if stored is None:
            return False
        self._request_bytes -= sum(map(_entry_size, stored.entries))
        stored.entries.clear()
        return True
