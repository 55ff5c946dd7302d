"""The backend interface: storage of bins and requests, and the live feed.

Server code talks to a ``Backend`` only; ``memory`` and ``redis`` implement it and pass one
shared contract suite (``tests/backends/test_contract.py``).

Stored requests travel as ``(id, text)`` where ``text`` is the request's wire JSON: it is
encoded once at capture and spliced into responses and frames without decoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from .._wire import format_timestamp, parse_timestamp

__all__ = [
    "Appended",
    "Backend",
    "BackendUnavailable",
    "BinDeleted",
    "BinRecord",
    "Captured",
    "FeedEvent",
    "FeedLost",
    "ResponseSpec",
    "Stored",
]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field names
_FRAMING = {"content-length", "transfer-encoding", "connection", "x-hookscope-request-id"}


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


Stored = tuple[str, str]
"""A stored request: ``(id, wire JSON text)``."""


class BackendUnavailable(Exception):
    """The storage behind the backend cannot be reached; the caller answers 503."""


@dataclass(frozen=True, slots=True)
class ResponseSpec:
    """What a bin answers to captured requests. ``body=None`` means the default JSON body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    delay_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": dict(self.headers),
            "body": self.body,
            "delay_ms": self.delay_ms,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResponseSpec:
        """Validate and build; raises ``ValueError`` with a message fit for an API error."""
        if not isinstance(data, dict):
            raise ValueError("response must be an object")
        unknown = set(data) - {"status", "headers", "body", "delay_ms"}
        if unknown:
            raise ValueError(f"unknown response field(s): {', '.join(sorted(unknown))}")
        status = data.get("status", 200)
        if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
            raise ValueError("response.status must be an integer from 200 to 599")
        headers = data.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("response.headers must be an object of strings")
        for name, value in headers.items():
            if not _TOKEN.match(name) or any(c in value for c in "\r\n\0"):
                raise ValueError(f"response header {name!r} is not a valid header")
            if not value.isascii() and not _latin1(value):
                raise ValueError(f"response header {name!r}: the value must be ISO-8859-1 text")
            if name.lower() in _FRAMING:
                raise ValueError(f"response header {name!r} is set by the server")
        body = data.get("body")
        if body is not None and not isinstance(body, str):
            raise ValueError("response.body must be a string (sent as UTF-8)")
        delay = data.get("delay_ms", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 60_000:
            raise ValueError("response.delay_ms must be an integer from 0 to 60000")
        return cls(status=status, headers=dict(headers), body=body, delay_ms=delay)

    @staticmethod
    @lru_cache(maxsize=4096)
    def from_json(text: str) -> ResponseSpec:
        """Parse a stored spec (cached: captures hit the same few specs over and over)."""
        return ResponseSpec.from_dict(json.loads(text))


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

    def to_fields(self) -> dict[str, str]:
        """Flat string fields (a Redis hash)."""
        return {
            "token": self.token,
            "created_at": format_timestamp(self.created_at),
            "max_requests": str(self.max_requests),
            "ttl_s": repr(self.ttl_s),
            "name": self.name if self.name is not None else "",
            "has_name": "1" if self.name is not None else "0",
            "response": self.response.to_json(),
        }

    @classmethod
    def from_fields(cls, bin_id: str, data: dict[str, str]) -> BinRecord:
        return cls(
            id=bin_id,
            token=data["token"],
            created_at=parse_timestamp(data["created_at"]),
            max_requests=int(data["max_requests"]),
            ttl_s=float(data["ttl_s"]),
            name=data["name"] if data.get("has_name") == "1" else None,
            response=ResponseSpec.from_json(data["response"]),
        )

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)


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
    """Live event: ``bin_id`` was deleted (its streams close with 4404)."""

    bin_id: str


@dataclass(frozen=True, slots=True)
class FeedLost:
    """Live event: this process lost its live feed; every watcher must reconnect (1012)."""

    reason: str


FeedEvent = Captured | BinDeleted | FeedLost


class Backend(Protocol):
    """Storage and live feed. Every method may raise ``BackendUnavailable``.

    Live events for a bin reach the ``on_event`` callback given to ``start`` while the bin is
    subscribed (the memory backend may deliver events of unsubscribed bins too; the caller
    ignores them). For one bin, events arrive in id order, the order of the history.
    """

    name: str

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        """True when the storage answers now (``/readyz``)."""
        ...

    async def create_bin(self, record: BinRecord) -> None: ...

    async def get_bin(self, bin_id: str) -> BinRecord | None: ...

    async def update_bin(
        self, bin_id: str, *, name: str | None = None, response: ResponseSpec | None = None
    ) -> BinRecord | None:
        """Change the name and/or response; None when the bin does not exist."""
        ...

    async def delete_bin(self, bin_id: str) -> bool:
        """Delete the bin and its history and tell every process (``BinDeleted``)."""
        ...

    async def append(self, bin_id: str, payload: str) -> Appended | None:
        """Store a capture (``encode_capture`` text) and publish it in one atomic step.

        Returns None, storing nothing, when the bin does not exist.
        """
        ...

    async def read(self, bin_id: str, *, after: str | None, limit: int) -> list[Stored] | None:
        """Up to ``limit`` requests with ids > ``after``, oldest first; None for no such bin."""
        ...

    async def tail(self, bin_id: str, count: int) -> list[Stored] | None:
        """The newest ``count`` requests, oldest first; None for no such bin."""
        ...

    async def get_request(self, bin_id: str, request_id: str) -> str | None: ...

    async def clear(self, bin_id: str) -> bool:
        """Drop the history (ids keep increasing afterwards); False for no such bin."""
        ...

    async def subscribe(self, bin_id: str) -> None:
        """Start live events for ``bin_id``; returns once every later capture will be seen."""
        ...

    async def unsubscribe(self, bin_id: str) -> None: ...
