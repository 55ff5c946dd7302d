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

from ._types import Appended, BinRecord, BinSummary, FeedEvent, ResponseSpec, Stored

__all__ = ["Backend", "Bins", "Cursors", "Feed", "RequestLog", "Store"]


class Bins(Protocol):
    """Bins: created, read, changed and deleted (with their history)."""

    async def create_bin(self, record: BinRecord) -> None: ...

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

    async def append(self, bin_id: str, payload: str) -> Appended | None:
        """Store a capture (``encode_capture`` text) and publish it, in one atomic step.

        Returns None, storing nothing, when the bin does not exist.
        """
        ...

    async def read(self, bin_id: str, *, after: str | None, limit: int) -> list[Stored] | None:
        """Up to ``limit`` requests with ids > ``after``, oldest first; None for no such bin.

        Fewer than ``limit`` only when no more follow (replay pages on until a short page).
        """
        ...

    async def tail(self, bin_id: str, count: int) -> list[Stored] | None:
        """The newest ``count`` requests, oldest first; None for no such bin."""
        ...

    async def get_request(self, bin_id: str, request_id: str) -> str | None: ...

    async def clear(self, bin_id: str) -> bool:
        """Drop the history (ids keep increasing afterwards); False for no such bin."""
        ...


class Cursors(Protocol):
    """Named read positions in a bin's log, kept for readers that cannot say where they got
    to (a restarted smee-client); they go with the bin."""

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        """Remember ``request_id`` under ``name``; False for no such bin."""
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
