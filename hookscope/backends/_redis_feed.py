"""The live feed of one server process: ONE Redis pub/sub connection for all its watchers.

``subscribe`` returns only once Redis has confirmed the subscription, so that "subscribe,
then replay history" has no gap. Losing the connection is reported once (``on_lost``) and
every subscription is dropped; the next ``subscribe`` connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from redis.asyncio.connection import Connection
from redis.exceptions import RedisError

from ._base import BackendUnavailable

__all__ = ["PubSubFeed"]

log = logging.getLogger("hookscope.redis")


class PubSubFeed:
    """Reference counting lives in the server's hub; this class only speaks to Redis."""

    def __init__(
        self,
        connection_kwargs: dict[str, Any],
        *,
        on_message: Callable[[str, str], None],
        on_lost: Callable[[str], None],
        confirm_timeout: float = 5.0,
        health_interval: float = 5.0,
    ) -> None:
        self._kwargs = connection_kwargs
        self._on_message = on_message
        self._on_lost = on_lost
        self._confirm_timeout = confirm_timeout
        self._health_interval = health_interval
        self._connection: Connection | None = None
        self._connecting = asyncio.Lock()
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._last_seen = 0.0
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._connection is not None

    async def _ensure(self) -> Connection:
        async with self._connecting:
            if self._connection is not None:
                return self._connection
            connection = Connection(**self._kwargs)
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
            except (RedisError, OSError) as error:
                raise BackendUnavailable(f"cannot open the pub/sub connection: {error}") from None
            self._connection = connection
            self._last_seen = time.monotonic()
            self._tasks = [
                asyncio.create_task(self._read(connection), name="hookscope-feed-reader"),
                asyncio.create_task(self._keepalive(connection), name="hookscope-feed-ping"),
            ]
            return connection

    async def _send(self, *args: str) -> Connection:
        connection = await self._ensure()
        try:
            await connection.send_command(*args, check_health=False)
        except (RedisError, OSError) as error:
            self._lose(connection, f"send failed: {error}")
            raise BackendUnavailable(f"pub/sub connection failed: {error}") from None
        return connection

    async def subscribe(self, channel: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(channel, deque()).append(future)
        try:
            await self._send("SUBSCRIBE", channel)
            async with asyncio.timeout(self._confirm_timeout):
                await future
        except TimeoutError:
            self._lose(self._connection, "no subscribe confirmation")
            raise BackendUnavailable("Redis did not confirm the subscription in time") from None
        finally:
            waiting = self._waiters.get(channel)
            if waiting and future in waiting and not future.done():
                waiting.remove(future)

    async def unsubscribe(self, channel: str) -> None:
        if self._connection is not None:
            await self._send("UNSUBSCRIBE", channel)

    async def _read(self, connection: Connection) -> None:
        try:
            while True:
                reply = await connection.read_response(disconnect_on_error=False)
                self._last_seen = time.monotonic()
                self._dispatch(reply)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any failure of the reader means the feed is gone
            self._lose(connection, f"{type(error).__name__}: {error}")

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == "message":
            self._on_message(reply[1], reply[2])
        elif kind == "subscribe":
            waiting = self._waiters.get(reply[1])
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                    break
            if waiting is not None and not waiting:
                self._waiters.pop(reply[1], None)

    async def _keepalive(self, connection: Connection) -> None:
        """PING now and then: a Redis that vanished without a FIN is noticed in seconds."""
        while self._connection is connection:
            await asyncio.sleep(self._health_interval)
            if time.monotonic() - self._last_seen > 3 * self._health_interval:
                self._lose(connection, "Redis stopped answering pings")
                return
            try:
                await connection.send_command("PING", check_health=False)
            except (RedisError, OSError) as error:
                self._lose(connection, f"ping failed: {error}")
                return

    def _lose(self, connection: Connection | None, reason: str) -> None:
        if connection is None or connection is not self._connection:
            return  # already handled
        self._connection = None
        waiters, self._waiters = self._waiters, {}
        for queue in waiters.values():
            for future in queue:
                if not future.done():
                    future.set_exception(BackendUnavailable(f"pub/sub connection lost: {reason}"))
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        self._tasks = []
        closing = asyncio.get_running_loop().create_task(_disconnect(connection))
        self._closing.add(closing)  # keep a reference until it is done
        closing.add_done_callback(self._closing.discard)
        log.warning("Redis pub/sub connection lost: %s", reason)
        self._on_lost(reason)

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if connection is not None:
            await _disconnect(connection)


async def _disconnect(connection: Connection) -> None:
    with contextlib.suppress(Exception):
        await connection.disconnect(nowait=True)
