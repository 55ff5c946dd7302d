"""What a backend stores and tells: bins, stored requests, live events, the one error.

Plain data only: no validation of user input (the server's ``_validation`` does that) and
no storage encoding (each backend encodes for itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._contract import MAX_CURSORS, ErrorCode

__all__ = [
    "Appended",
    "BackendUnavailable",
    "BinDeleted",
    "BinRecord",
    "BinSummary",
    "Captured",
    "FeedEvent",
    "FeedLost",
    "LimitReached",
    "Page",
    "QueueFull",
    "RateLimited",
    "ResponseSpec",
    "StorageFull",
    "Stored",
    "Usage",
    "too_many_cursors",
]


class BackendUnavailable(Exception):
    """The storage behind the backend cannot be reached, or refused a write: answer 503."""


class LimitReached(Exception):
    """The store refused a write to stay within a limit; nothing was written.

    ``code`` (an ``ErrorCode``) says which limit: ``RateLimited`` (429), ``StorageFull``
    (507), ``QueueFull`` (503).
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class RateLimited(LimitReached):
    """The bin, or the client's address, is over its rate; ``retry_after`` in seconds."""

    def __init__(self, code: ErrorCode, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class StorageFull(LimitReached):
    """Over ``--max-bins``, or something that cannot fit in the memory budget at all."""


def too_many_cursors() -> StorageFull:
    return StorageFull(
        ErrorCode.TOO_MANY_CURSORS,
        f"this bin keeps {MAX_CURSORS} cursors already; reuse a name",
    )


class QueueFull(LimitReached):
    """Too much is waiting already (captures for the storage, request bodies being read):
    try again shortly."""


@dataclass(frozen=True, slots=True)
class Usage:
    """What a store with a memory budget holds: bytes counted, the budget, requests evicted."""

    used: int
    limit: int
    evicted: int


Stored = tuple[str, str]
"""A stored request: ``(id, wire JSON text)``. The text is encoded once, at capture, and
spliced into responses and frames without being decoded again."""


class Page(list[Stored]):
    """Stored requests, oldest first. ``cut``: a byte budget ended the page, so more may
    follow even though it holds fewer than asked for."""

    __slots__ = ("cut",)

    def __init__(self, stored: list[Stored] | tuple[Stored, ...] = (), *, cut: bool = False):
        super().__init__(stored)
        self.cut = cut


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """What a bin answers to captured requests. ``body=None`` means the default JSON body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"status", "headers", "body", "delay_ms"}``."""
        return {
            "status": self.status,
            "headers": dict(self.headers),
            "body": self.body,
            "delay_ms": self.delay_ms,
        }


@dataclass(frozen=True, slots=True)
class BinRecord:
    """A bin as stored: its secret token, response and limits."""

    id: str
    token: str
    created_at: datetime
    max_requests: int
    ttl_s: float
    name: str | None = None
    response: ResponseSpec = field(default_factory=ResponseSpec)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    """Signing secrets by scheme (``{"stripe": "whsec_..."}``): write-only, never shown."""

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BinSummary:
    """A bin in a listing: its record, how many requests it holds, the newest one's id."""

    record: BinRecord
    requests: int
    last_request_id: str | None


@dataclass(frozen=True, slots=True)
class Appended:
    """The result of storing a capture: its id, its full text and the bin's response."""

    id: str
    text: str
    response: ResponseSpec


@dataclass(frozen=True, slots=True)
class Captured:
    """Live event: a request was stored in ``bin_id``."""

    bin_id: str
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class BinDeleted:
    """Live event: ``bin_id`` was deleted or expired (its streams close with 4404)."""

    bin_id: str


@dataclass(frozen=True, slots=True)
class FeedLost:
    """Live event: this process lost its live feed; its watchers must reconnect (1012).

    ``bin_ids`` None means every bin; otherwise only those (one Redis node of several).
    """

    reason: str
    bin_ids: frozenset[str] | None = None


FeedEvent = Captured | BinDeleted | FeedLost
