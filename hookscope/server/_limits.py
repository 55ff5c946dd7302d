"""The outermost door: header limits, checked on every request before anything else runs.

More than ``--max-headers`` header lines, or more than ``--max-header-bytes`` of names and
values, is 431 with a JSON error (``too_many_headers``, ``headers_too_large``) — for
captures, the API and WebSocket handshakes alike, before any lookup or storage work. A
header block too large even to parse is cut by hypercorn's parser first (also 431;
``h11_max_incomplete_size`` in ``_serve.hypercorn_config``), so memory stays bounded too.

    app.asgi_app = HeaderLimits(Guard(...), settings, metrics)
"""

from __future__ import annotations

from itertools import chain
from typing import Any

from .._config import Settings
from .._contract import CAPTURE_PREFIX, ErrorCode
from ._http import ApiProblem, turn_away
from ._metrics import Metrics

__all__ = ["HeaderLimits", "header_problem", "max_frame", "max_head"]

_REQUEST_LINE = 16 * 1024  # room for the method, target and version besides the headers


def max_head(settings: Settings) -> int:
    """The largest request head (request line and headers) hypercorn parses, in bytes."""
    return settings.max_header_bytes + 4 * settings.max_headers + _REQUEST_LINE


def max_frame(settings: Settings) -> int:
    """The largest WebSocket frame a stream may send: a page of ``page_bytes``, or a single
    request larger than that, in bytes (``X-Hookscope-Max-Frame``).

    A stored request is at most its body escaped as text (1.5 times and 64 bytes,
    ``_wire.encode_body``; base64 is 4/3), its head with every byte doubled (ISO-8859-1
    above 127 is two bytes of UTF-8; an escaped tab two characters), 8 bytes of JSON per
    header, and a few fields of known size.
    """
    request = 3 * settings.max_body // 2 + 64 + 2 * max_head(settings) + 8 * settings.max_headers
    page = settings.page_bytes + settings.replay_page  # and a comma between requests
    return max(request + 4096, page) + 1024


def header_problem(
    headers: list[tuple[bytes, bytes]], max_headers: int, max_bytes: int
) -> ApiProblem | None:
    """431 when ``headers`` has too many lines or too many bytes; None when within both."""
    if len(headers) > max_headers:
        return ApiProblem(
            431,
            ErrorCode.TOO_MANY_HEADERS,
            f"{len(headers)} header lines; this server takes at most {max_headers}",
        )
    size = sum(map(len, chain.from_iterable(headers)))
    if size > max_bytes:
        return ApiProblem(
            431,
            ErrorCode.HEADERS_TOO_LARGE,
            f"{size} bytes of headers; this server takes at most {max_bytes}",
        )
    return None


class HeaderLimits:
    """ASGI middleware: ``HeaderLimits(app, settings, metrics)``; see the module docstring."""

    def __init__(self, app: Any, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.max_headers = settings.max_headers
        self.max_bytes = settings.max_header_bytes
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            problem = header_problem(scope["headers"], self.max_headers, self.max_bytes)
            if problem is not None:
                if scope["type"] == "http" and scope["path"].startswith(CAPTURE_PREFIX):
                    self.metrics.rejects.labels(problem.code).inc()
                else:
                    self.metrics.refusals.labels(problem.code).inc()
                await turn_away(scope, receive, send, problem)
                return
        await self.app(scope, receive, send)
