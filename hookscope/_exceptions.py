"""Exceptions raised by hookscope's clients.

HookscopeError
├── ApiError                 the server answered with an error (has .status and .code)
│   ├── BinNotFound          404: no such bin (deleted, expired, or a typo in the id)
│   ├── Unauthorized         401/403: missing or wrong token / API key
│   ├── RequestNotFound      404: no such request id in the bin
│   └── ServerUnavailable    503: the server's storage is unreachable
├── ConnectionFailed         could not reach the server at all
├── MissingExtra             a feature needs an optional dependency (also an ImportError)
└── WaitTimeout              wait_for() saw no matching request in time (an AssertionError)

No exception stands for a stream that fell behind: when the server closes a slow reader
(4008, "lagging"), or loses its live feed (1012), the stream reconnects with
``since=<last id>`` by itself and loses nothing the bin still holds. What ends a stream
is raised: ``BinNotFound`` (deleted, 4404), ``Unauthorized``, another ``ApiError`` for a
refused handshake, ``ConnectionFailed`` when no connection ever opened.
"""

from __future__ import annotations

__all__ = [
    "ApiError",
    "BinNotFound",
    "ConnectionFailed",
    "HookscopeError",
    "MissingExtra",
    "RequestNotFound",
    "ServerUnavailable",
    "Unauthorized",
    "WaitTimeout",
]


class HookscopeError(Exception):
    """Base class of every error hookscope raises on purpose."""


class ApiError(HookscopeError):
    """The server answered with an error response."""

    def __init__(self, message: str, *, status: int = 0, code: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BinNotFound(ApiError):
    """No such bin: it was deleted, it expired, or the id is wrong."""


class RequestNotFound(ApiError):
    """No request with that id in the bin (it may have been trimmed or cleared)."""


class Unauthorized(ApiError):
    """The bin token or API key is missing or wrong."""


class ServerUnavailable(ApiError):
    """The server is up but its storage backend is not (HTTP 503); retry later."""


class ConnectionFailed(HookscopeError):
    """The server could not be reached (refused, reset, DNS, timeout)."""


class MissingExtra(HookscopeError, ImportError):
    """A feature needs an optional dependency; ``extra`` names what to install.

    ``pip install 'hookscope[pandas]'`` (or ``[redis]``, ``[jupyter]``, ``[all]``).
    """

    def __init__(self, message: str, *, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


class WaitTimeout(HookscopeError, AssertionError):
    """``wait_for`` timed out; the message lists the requests that did arrive."""
