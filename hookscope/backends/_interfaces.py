"""The storage interfaces: a ``Store`` (bins and their request logs) and a ``Feed`` (live events).

Server code talks to these only. A backend provides one of each (``Backend``); ``memory`` and
``redis`` pass one contract suite, a half per interface (``tests/backends/``). Every method
may raise ``BackendUnavailable``.

The two halves meet in one place: ``RequestLog.append`` stores a capture AND publishes it in
one atomic step, so that live order is history order and nothing is stored without being
published. The feed only delivers what the store published.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ._types import (
    Appended,
    BinRecord,
    BinSummary,
    FeedEvent,
    Page,
    RateLimited,
    ResponseSpec,
    Usage,
)

__all__ = ["Backend", "Bins", "Cursors", "Feed", "RequestLog", "Store"]


class Bins(Protocol):
    """Bins: created, read, changed and deleted (with their history)."""

    async def create_bin(self, record: BinRecord, *, client: str | None = None) -> None:
        """Store a new bin. ``StorageFull`` over ``--max-bins`` (or the memory budget);
        ``RateLimited`` when ``client`` (an address bucket, ``_rates.address_key``) is over
        its rate."""
        ...

    async def get_bin(self, bin_id: str) -> BinRecord | None: ...

    async def existing(self, bin_ids: Sequence[str]) -> set[str]:
        """Those of ``bin_ids`` that exist now (one round trip: the hub's expiry check)."""
        ...

    async def update_bin(
        self,
        bin_id: str,
        *,
        name: str | None = None,
        response: ResponseSpec | None = None,
        secrets: Mapping[str, str | None] | None = None,
    ) -> BinRecord | None:
        """Change the name, response and/or secrets (merged by scheme; None removes one).

        None when the bin does not exist.
        """
        ...

    async def delete_bin(self, bin_id: str) -> bool:
        """Delete the bin and its history and publish ``BinDeleted`` to every process."""
        ...

    async def list_bins(self, *, limit: int) -> list[BinSummary]:
        """The newest ``limit`` bins (by ``created_at``, newest first), with their counts."""
        ...


class RequestLog(Protocol):
    """Each bin's captured requests, in id order, capped at the bin's ``max_requests``."""

    async def append(
        self, bin_id: str, payload: str, *, client: str | None = None
    ) -> Appended | None:
        """Store a capture (``encode_capture`` text) and publish it, in one atomic step.

        Returns None, storing nothing, when the bin does not exist. Raises ``RateLimited``
        when the bin or ``client`` (an address bucket) is over its rate, ``StorageFull`` when
        the request cannot fit at all, ``QueueFull`` when too many captures wait already:
        in each case nothing is stored.
        """
        ...

    def denied(self, bin_id: str, client: str | None = None) -> RateLimited | None:
        """The rate refusal ``append`` would give now, if this process knows it without asking
        the storage (a cheap check before the body is read). None promises nothing."""
        ...

    async def read(
        self, bin_id: str, *, after: str | None, limit: int, max_bytes: int | None = None
    ) -> Page | None:
        """Up to ``limit`` requests with ids > ``after``, oldest first; None for no such bin.

        With ``max_bytes``, the page also stops before its texts exceed that many bytes (and
        says so: ``cut``), but always holds at least one request, however large. Fewer than
        ``limit`` and not ``cut``: no more follow (replay pages on until such a page).
        """
        ...

    async def tail(self, bin_id: str, count: int, *, max_bytes: int | None = None) -> Page | None:
        """The newest ``count`` requests, oldest first; None for no such bin.

        With ``max_bytes``, only the newest of them whose texts fit (at least one).
        """
        ...

    async def get_request(self, bin_id: str, request_id: str) -> str | None: ...

    async def clear(self, bin_id: str) -> bool:
        """Drop the history (ids keep increasing afterwards); False for no such bin."""
        ...


class Cursors(Protocol):
    """Named read positions in a bin's log, kept for readers that cannot say where they got
    to (a restarted smee-client); they go with the bin."""

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        """Remember ``request_id`` under ``name`` (``""``: take the name, with no position
        yet if it had none); False for no such bin. ``StorageFull`` (``too_many_cursors``)
        for a new name when the bin holds ``MAX_CURSORS`` already."""
        ...

    async def get_cursor(self, bin_id: str, name: str) -> str | None:
        """The id saved under ``name``, or None (no such cursor or bin)."""
        ...


class Store(Bins, RequestLog, Cursors, Protocol):
    """Bins, their request logs and cursors, with a lifecycle."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """True when the storage answers and accepts writes now (``/readyz``)."""
        ...

    def usage(self) -> Usage | None:
        """What counts against a memory budget (``/metrics``); None without one."""
        ...


class Feed(Protocol):
    """Live events of the bins this process watches, delivered to one callback.

    For one bin, ``Captured`` events arrive in id order, the order of the history. A feed
    may deliver events of bins nobody subscribed to; the caller ignores them.
    """

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None: ...

    async def close(self) -> None: ...

    async def subscribe(self, bin_id: str) -> None:
        """Start the events of ``bin_id``; returns once every later capture will be seen.

        If cancelled, the subscription is undone (or will be): nothing stays subscribed
        that the caller does not know about.
        """
        ...

    async def unsubscribe(self, bin_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Backend:
    """A store and the feed its captures are published on, started and closed together."""

    name: str
    store: Store
    feed: Feed

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None:
        await self.store.start()
        await self.feed.start(on_event)

    async def close(self) -> None:
        try:
            await self.feed.close()
        finally:
            await self.store.close()
