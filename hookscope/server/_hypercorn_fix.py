"""Make hypercorn's WebSocket ping task end when its connection closes.

Hypercorn (0.17, 0.18) pings each WebSocket with ``while not closed: ping; sleep(interval)``
inside the connection's task group, so a closed connection keeps its socket (CLOSE-WAIT)
and task until the next ping — up to ``websocket_ping_interval`` — and shutdown waits for
them. This wraps ``WSStream`` so that the ping loop wakes as soon as the stream closes.
Applied once, only when hypercorn's ``WSStream`` has the expected shape; otherwise hookscope
runs with hypercorn's own behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

__all__ = ["apply"]

log = logging.getLogger("hookscope.server")
_applied = False


def apply() -> bool:
    """Patch ``hypercorn.protocol.ws_stream.WSStream``; True when the fix is active."""
    global _applied
    if _applied:
        return True
    try:
        from hypercorn.protocol import ws_stream
        from wsproto.events import Ping
    except ImportError:
        return False
    stream_class = ws_stream.WSStream
    needed = ("_send_pings", "handle", "app_send", "_send_wsproto_event")
    if not all(callable(getattr(stream_class, name, None)) for name in needed):
        log.debug("hypercorn's WSStream changed shape; its ping loop is left as it is")
        return False

    original_handle = stream_class.handle
    original_app_send = stream_class.app_send

    def _wake_if_closed(stream: Any) -> None:
        wake: asyncio.Event | None = stream.__dict__.get("_hookscope_closed")
        if wake is not None and stream.closed:
            wake.set()

    async def handle(self: Any, event: Any) -> None:
        try:
            await original_handle(self, event)
        finally:
            _wake_if_closed(self)

    async def app_send(self: Any, message: Any) -> None:
        try:
            await original_app_send(self, message)
        finally:
            _wake_if_closed(self)

    async def _send_pings(self: Any) -> None:
        wake = self.__dict__.setdefault("_hookscope_closed", asyncio.Event())
        interval = self.config.websocket_ping_interval
        while not self.closed:
            await self._send_wsproto_event(Ping())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), interval)

    setattr(stream_class, "handle", handle)  # noqa: B010 (mypy forbids assigning methods)
    setattr(stream_class, "app_send", app_send)  # noqa: B010
    setattr(stream_class, "_send_pings", _send_pings)  # noqa: B010
    _applied = True
    return True
