"""Live frames written straight to a WebSocket's socket, when hypercorn serves it.

An ASGI ``websocket.send`` costs hypercorn a path per frame and per watcher: ``WSStream``'s
checks, wsproto framing (the text encoded again), ``H11Protocol``, then ``TCPServer``'s lock,
write and drain; and the watcher's task must wake up to make the call. For a batch of live
requests the frame is the same bytes for every watcher that negotiated no extension, so the
hub builds it once (``LiveBatch.ws_bytes``, framed by wsproto) and writes it to each such
watcher's transport itself, from the feed's callback, while that watcher's task waits with
nothing queued. A watcher whose socket has more than ``BUFFER`` bytes unsent, or whose task is
busy, gets the batch the ASGI way (its task drains the socket; a reader that stopped reading
ends as lagging, as before).

Only where it was checked: hypercorn of ``_hypercorn_fix.CHECKED`` over HTTP/1.1, without
permessage-deflate. Any other server, version or connection has no ``DirectWriter`` and its
watchers use plain ASGI sends only.
"""

from __future__ import annotations

import asyncio
from importlib import metadata
from typing import Any

from ._hypercorn_fix import CHECKED

__all__ = ["BUFFER", "DirectWriter", "direct_writer", "text_frame"]

BUFFER = 64 * 1024
"""Bytes a socket may hold unsent before live frames go the ASGI way (asyncio's high water)."""

_checked: bool | None = None
_OPEN: Any = None  # wsproto's ConnectionState.OPEN, once imported


def _hypercorn_checked() -> bool:
    global _checked
    if _checked is None:
        try:
            _checked = metadata.version("hypercorn") in CHECKED
        except metadata.PackageNotFoundError:
            _checked = False
    return _checked


class DirectWriter:
    """The transport of one hypercorn WebSocket, and its wsproto connection (open or not: a
    close sent or received ends the direct path).

    ``max_text``: the most request text one frame may carry (``HOOKSCOPE_PAGE_BYTES``); a
    larger batch goes the ASGI way, which cuts it into frames of that size.
    """

    __slots__ = ("_connection", "_transport", "max_text")

    def __init__(
        self, connection: Any, transport: asyncio.WriteTransport, max_text: int | None
    ) -> None:
        self._connection = connection
        self._transport = transport
        self.max_text = max_text

    def write(self, frame: bytes) -> bool:
        """Write ``frame`` now; False (nothing written) when it must go the ASGI way."""
        transport = self._transport
        if (
            transport.is_closing()
            or transport.get_write_buffer_size() > BUFFER
            or self._connection.state is not _OPEN
        ):
            return False
        transport.write(frame)
        return True


def direct_writer(send: Any, max_text: int | None) -> DirectWriter | None:
    """A ``DirectWriter`` for an accepted WebSocket whose ASGI ``send`` is hypercorn's, else None.

    Walks hypercorn's objects from ``send`` (``WSStream.app_send``) to the socket; every step is
    checked, and anything unexpected means None (plain ASGI).
    """
    global _OPEN
    if not _hypercorn_checked():
        return None
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.protocol.h11 import H11Protocol
    from hypercorn.protocol.ws_stream import WSStream
    from wsproto.connection import ConnectionState

    _OPEN = ConnectionState.OPEN

    stream = getattr(send, "__self__", None)
    if not isinstance(stream, WSStream):
        return None
    protocol = getattr(stream.send, "__self__", None)
    if not isinstance(protocol, H11Protocol):
        return None  # HTTP/2 WebSockets share a connection: frames are h2 DATA there
    server = getattr(protocol.send, "__self__", None)
    if not isinstance(server, TCPServer):
        return None
    connection = getattr(stream, "connection", None)
    proto = getattr(connection, "_proto", None)
    if proto is None or getattr(proto, "extensions", None):
        return None  # permessage-deflate: each watcher compresses with its own state
    transport = server.writer.transport
    if not isinstance(transport, asyncio.WriteTransport):
        return None
    return DirectWriter(connection, transport, max_text)


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked text frame (server to client) carrying ``text``."""
    from wsproto.frame_protocol import FrameProtocol

    return bytes(FrameProtocol(client=False, extensions=[]).send_data(text, fin=True))
