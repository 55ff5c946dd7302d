"""``AsyncStream``: the cursor over a bin's live stream; WebSocket connections driven by
``StreamProtocol``.

    async with bin.open_stream(tail=5) as stream:   # fixes where it starts, connects
        first = await stream.next()                 # waits (and reconnects) as long as it takes
        async for req in stream:                    # or iterate: it never ends by itself
            print(req.method, req.path)

A cursor, not a generator: ``AsyncBin.stream()``, the sync ``Stream``, the live table and the
CLI all drive the same object, and a cancelled ``next()`` leaves it usable.

Frames are limited: the server says in its handshake (``X-Hookscope-Max-Frame``) how large a
frame it may send, and that is the limit from then on; before it is known, ``DEFAULT_MAX_FRAME``
(enough for a server's defaults, ``--max-body`` up to about 40 MiB). A frame over the limit
closes the connection (1009): if the server announced more meanwhile, the stream reconnects
at once with that limit; otherwise it raises ``HookscopeError``.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import TYPE_CHECKING

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .._contract import MAX_FRAME_HEADER, ws_url
from .._exceptions import HookscopeError
from .._ids import BEGINNING
from .._models import CapturedRequest
from .._stream_start import check_stream_start
from .._version import __version__
from ._protocol import StreamProtocol

if TYPE_CHECKING:
    from ._async import AsyncBin

__all__ = ["DEFAULT_MAX_FRAME", "USER_AGENT", "AsyncStream"]

USER_AGENT = f"hookscope-python/{__version__}"
DEFAULT_MAX_FRAME = 64 * 1024 * 1024
"""The frame limit (bytes) until a server announces its own."""
_MESSAGE_TOO_BIG = 1009


class AsyncStream:
    """The requests of one bin, resumed across reconnects: ``await stream.next()``.

    Made by ``AsyncBin.open_stream()``; ``start()`` (or entering ``async with``) fixes where
    it starts and opens the first connection, so that a refused token or a deleted bin
    raises there, and everything captured afterwards is certain to come.
    """

    def __init__(self, bin: AsyncBin, *, since: str | None = None, tail: int | None = None) -> None:
        check_stream_start(since, tail)
        self.bin = bin
        self.last_id: str | None = None
        """The id of the last request ``next()`` returned (None before the first)."""
        self._since = since
        self._tail = tail
        self._protocol: StreamProtocol | None = None
        self._connection: ClientConnection | None = None
        self._closed = False
        self.max_frame = DEFAULT_MAX_FRAME
        """The largest frame accepted: what the server announced, or ``DEFAULT_MAX_FRAME``."""
        self._frame_limit = DEFAULT_MAX_FRAME  # the limit the current connection opened with

    async def start(self) -> AsyncStream:
        """Fix where the stream starts and connect (once; later calls return at once).

        Without ``since``, one HTTP call finds the newest stored id, where "from now on"
        begins: a reconnect before anything arrives then resumes from there instead of
        losing what came meanwhile.
        """
        if self._protocol is None:
            since, initial = self._since, []
            if since is None:
                wanted = self._tail or 0
                newest = await self.bin.tail(max(wanted, 1))
                since = newest[-1].id if newest else BEGINNING
                initial = newest[len(newest) - wanted :]
            self._protocol = StreamProtocol(self.bin.id, since, initial)
        while self._connection is None:
            self._check_open()
            await self._connect(self._protocol)
        return self

    async def next(self) -> CapturedRequest:
        """The next request, waiting (and reconnecting) as long as it takes."""
        protocol = self._protocol
        if protocol is None:
            await self.start()
            protocol = self._protocol
            assert protocol is not None
        while True:
            request = protocol.pop()
            if request is not None:
                self.last_id = request.id
                return request
            self._check_open()
            connection = self._connection
            if connection is None:
                await self._connect(protocol)
                continue
            try:
                frame = await connection.recv()
            except ConnectionClosed as closed:
                self._connection = None
                self._check_open()  # aclose() while this waited: not an interruption
                if closed.sent is not None and closed.sent.code == _MESSAGE_TOO_BIG:
                    self._too_big()
                    continue  # the server announced a larger limit: use it at once
                received = closed.rcvd
                delay = protocol.closed(
                    received.code if received else None, received.reason if received else ""
                )
                await asyncio.sleep(delay)
                continue
            protocol.receive(frame)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this stream is closed")

    def _too_big(self) -> None:
        """A frame was over this connection's limit: fine if the server announced a larger
        one meanwhile (the next connection uses it), else an error no retry can mend."""
        if self.max_frame > self._frame_limit:
            return
        raise HookscopeError(
            f"the stream of {self.bin.id} sent a frame over this client's limit of "
            f"{self.max_frame} bytes (the server announced no larger one): is the server "
            "older than this client, with a --max-body over about 40 MiB?"
        )

    def _adopt_frame_limit(self, connection: ClientConnection) -> None:
        """Take the frame limit the server announced in its handshake, from now on."""
        announced = (
            connection.response.headers.get(MAX_FRAME_HEADER) if connection.response else None
        )
        if announced is None or not announced.isdigit():
            return
        self.max_frame = int(announced)
        protocol = connection.protocol
        # websockets 15+ calls it max_message_size; 13 and 14, max_size. Read per frame.
        name = "max_message_size" if hasattr(protocol, "max_message_size") else "max_size"
        setattr(protocol, name, self.max_frame)

    async def _connect(self, protocol: StreamProtocol) -> None:
        client = self.bin.client
        url = ws_url(client.url, self.bin.id, protocol.query())
        try:
            self._connection = await connect(
                url,
                additional_headers={"Authorization": f"Bearer {self.bin.token}"},
                # hypercorn always accepts permessage-deflate, at ~92 KB per connection.
                compression=None,
                # Until the handshake says otherwise (frames may follow it at once).
                max_size=self.max_frame,
                open_timeout=client.timeout,
                user_agent_header=USER_AGENT,
            )
        except InvalidStatus as error:
            delay = protocol.rejected(error.response.status_code, bytes(error.response.body or b""))
        except (OSError, TimeoutError, WebSocketException) as error:
            delay = protocol.failed(error, client.url)
        else:
            self._frame_limit = self.max_frame
            if self._closed:  # aclose() ran while connecting
                await self._connection.close()
                self._connection = None
            else:
                self._adopt_frame_limit(self._connection)
                protocol.connected()
            return
        await asyncio.sleep(delay)

    async def aclose(self) -> None:
        """Close the connection; ``next()`` raises afterwards. Idempotent."""
        self._closed = True
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def __aenter__(self) -> AsyncStream:
        try:
            return await self.start()
        except BaseException:
            await self.aclose()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> CapturedRequest:
        return await self.next()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open" if self._connection else "not connected"
        return f"<AsyncStream {self.bin.id} {state} last_id={self.last_id}>"
