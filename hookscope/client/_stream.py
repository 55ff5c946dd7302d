"""The I/O side of a stream: WebSocket connections driven by ``StreamProtocol``.

``AsyncStream`` is a cursor, not a generator, so that both ``AsyncBin.stream()`` (an async
generator) and ``Bin.stream()`` (a plain iterator on another thread's loop) drive the same
object, and a cancelled ``next()`` leaves it usable.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .._models import CapturedRequest
from .._version import __version__
from ._protocol import StreamProtocol, ws_url

__all__ = ["AsyncStream"]

USER_AGENT = f"hookscope-python/{__version__}"


class AsyncStream:
    """Requests of one bin, resumed across reconnects: ``await stream.next()``."""

    def __init__(
        self, base_url: str, token: str, protocol: StreamProtocol, *, open_timeout: float
    ) -> None:
        self.protocol = protocol
        self._base_url = base_url
        self._token = token
        self._open_timeout = open_timeout
        self._connection: ClientConnection | None = None
        self._closed = False

    async def next(self) -> CapturedRequest:
        """The next request, waiting (and reconnecting) as long as it takes."""
        while True:
            request = self.protocol.pop()
            if request is not None:
                return request
            if self._closed:
                raise RuntimeError("this stream is closed")
            connection = self._connection
            if connection is None:
                await self._connect()
                continue
            try:
                frame = await connection.recv()
            except ConnectionClosed as closed:
                self._connection = None
                if self._closed:  # aclose() while this waited: not an interruption
                    raise RuntimeError("this stream is closed") from None
                received = closed.rcvd
                delay = self.protocol.closed(
                    received.code if received else None, received.reason if received else ""
                )
                await asyncio.sleep(delay)
                continue
            self.protocol.receive(frame)

    async def _connect(self) -> None:
        url = ws_url(self._base_url, self.protocol.bin_id, self.protocol.query())
        try:
            self._connection = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {self._token}"},
                # hypercorn always accepts permessage-deflate, at ~92 KB per connection.
                compression=None,
                # Replays come in batches of up to 500 requests of up to --max-body each.
                max_size=None,
                open_timeout=self._open_timeout,
                user_agent_header=USER_AGENT,
            )
        except InvalidStatus as error:
            delay = self.protocol.rejected(
                error.response.status_code, bytes(error.response.body or b"")
            )
        except (OSError, TimeoutError, WebSocketException) as error:
            delay = self.protocol.failed(error, self._base_url)
        else:
            if self._closed:  # aclose() ran while connecting
                await self._connection.close()
                self._connection = None
            else:
                self.protocol.connected()
            return
        await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the connection; ``next()`` raises afterwards. Idempotent."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
