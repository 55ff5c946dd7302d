"""The front door: checks every request's ``Host`` and every browser's ``Origin`` first.

- A ``Host`` that is not a host name (``x..``, bad port) is 400 ``invalid_host``.
- On a loopback bind, a ``Host`` other than ``localhost``, a loopback address or the host
  of ``--public-url`` is 403 ``host_not_allowed``: a web page that rebinds its own DNS name
  to 127.0.0.1 (DNS rebinding) cannot talk to a developer's local server (as Jupyter does).
- A browser ``Origin`` on a live stream (WebSocket, SSE) or on a request that changes
  something (any API method but GET and HEAD) must be the server's own origin, the origin of
  ``--public-url`` or one named by ``--allow-origin``; otherwise 403 ``origin_not_allowed``.
  Clients that are not browsers send no ``Origin`` and are not concerned. Captures are not
  checked: anyone may send a webhook, browsers included.

    >>> origin_of("HTTP://Example.com:80/x"), origin_of("https://a.b:8443")
    ('http://example.com', 'https://a.b:8443')
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from .._config import Settings, is_loopback
from .._contract import CAPTURE_PREFIX, ErrorCode
from ._http import ApiProblem, turn_away

__all__ = ["Guard", "origin_of"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]``, lower-cased, default port dropped; None when not a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    shown = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{shown}"


def host_name(host: str) -> str | None:
    """The name in a ``Host`` header (``"Example.com:8080"`` → ``"example.com"``), or None
    when it is not a valid host (what werkzeug would refuse with an exception)."""
    if not host or any(c in host for c in " /\\@?#"):
        return None
    origin = origin_of(f"http://{host}")
    if origin is None:
        return None
    name = urlsplit(origin).hostname or ""
    if name.startswith("[") or ":" in name:
        return name
    try:
        name.encode("idna")
    except UnicodeError:
        return None
    return name


def _header(headers: Iterable[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    for name, value in headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


class Guard:
    """ASGI middleware: ``Guard(app, settings)``; see the module docstring."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.loopback = settings.loopback
        public = origin_of(settings.public_url) if settings.public_url else None
        self.public_host = urlsplit(public).hostname if public else None
        allowed = {origin_of(origin) for origin in settings.allow_origin}
        if public:
            allowed.add(public)
        self.allowed_origins = frozenset(origin for origin in allowed if origin)
        # Each request asks; senders repeat a few Host values.
        self._host_problem = lru_cache(maxsize=1024)(self._judge_host)

    def _judge_host(self, host: str) -> ApiProblem | None:
        name = host_name(host)
        if name is None:
            return ApiProblem(400, ErrorCode.INVALID_HOST, "the Host header is not a host name")
        if self.loopback and not (is_loopback(name) or name == self.public_host):
            return ApiProblem(
                403,
                ErrorCode.HOST_NOT_ALLOWED,
                f"this server listens on loopback and answers only to localhost (or the "
                f"--public-url host), not to {name!r}",
            )
        return None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = self._check(scope)
            if problem is not None:
                await turn_away(scope, receive, send, problem)
                return
        await self.app(scope, receive, send)

    def _check(self, scope: dict[str, Any]) -> ApiProblem | None:
        headers = scope["headers"]
        host = _header(headers, b"host")
        if host is None:  # HTTP/1.0 without Host: the address it reached
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server else "localhost"
        problem = self._host_problem(host)
        if problem is not None:
            return problem
        origin = _header(headers, b"origin")
        if origin is not None and self._origin_checked(scope):
            own = origin_of(f"http://{host}"), origin_of(f"https://{host}")
            found = origin_of(origin)
            if found not in own and found not in self.allowed_origins:
                return ApiProblem(
                    403,
                    ErrorCode.ORIGIN_NOT_ALLOWED,
                    f"browser pages from {origin!r} may not use this server "
                    "(the server's own pages, --public-url and --allow-origin may)",
                )
        return None

    @staticmethod
    def _origin_checked(scope: dict[str, Any]) -> bool:
        if scope["type"] == "websocket":
            return True
        path: str = scope["path"]
        if path.startswith(CAPTURE_PREFIX):
            return False
        return scope["method"] not in _SAFE_METHODS or path.endswith("/events")
