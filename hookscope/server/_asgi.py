"""The server's ASGI entry: the hot paths served directly, everything else by Quart.

``/h/...`` (capture) and ``/api/bins/{bin}/ws`` (live streams) carry nearly all of the
traffic and hold nearly all of the connections, and the JSON API (``/api/bins...``) is what
every test and client calls; served as raw ASGI they cost a fraction of a Quart handler
(docs/benchmarks.md). SSE, smee, the pages, health and metrics stay Quart routes, and Quart's
lifespan still opens and closes the backend.
"""

from __future__ import annotations

import re
from typing import Any

from ._api import api_route, serve_api
from ._capture import capture
from ._state import AppState
from ._ws import watch

__all__ = ["HotPaths"]

_WS_PATH = re.compile(r"^/api/bins/([^/]+)/ws/?$")


class HotPaths:
    """ASGI middleware: ``app.asgi_app = HotPaths(app.asgi_app, state)``."""

    def __init__(self, fallback: Any, state: AppState) -> None:
        self.fallback = fallback
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "http" and scope["path"].startswith("/h/"):
            await capture(self.state, scope, receive, send)
        elif kind == "http" and (route := api_route(scope["path"])):
            await serve_api(self.state, scope, receive, send, route)
        elif kind == "websocket" and (match := _WS_PATH.match(scope["path"])):
            await watch(self.state, scope, receive, send, match[1])
        else:
            await self.fallback(scope, receive, send)
