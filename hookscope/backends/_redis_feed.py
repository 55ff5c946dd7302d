"""``RedisFeed``: the live feed of one server process, over sharded pub/sub (Redis 7).

One subscriber connection per Redis node (per cluster primary that owns a watched bin), for
all the watchers of the process (the hub counts watchers per bin; this class only speaks to
Redis). ``subscribe`` returns once Redis has confirmed the ``SSUBSCRIBE``, so that "subscribe,
then replay history" has no gap; a ``subscribe`` cancelled before that is undone before it
returns. Losing a connection is reported once (``FeedLost`` for the bins it carried) and its
subscriptions are dropped; the next ``subscribe`` connects again. A malformed message is
logged and dropped: it never costs the other streams their feed.

On a cluster the owner of a channel can change. A ``MOVED`` reply to ``SSUBSCRIBE`` sends
the subscription to the new owner; a slot that migrates away makes its node drop the
channel (a ``sunsubscribe`` from the server): ``FeedLost`` for that bin, whose watchers
resume on the new owner. Either, and a lost connection, refresh the slot map.
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
from redis.crc import key_slot
from redis.exceptions import AskError, RedisError

from ._redis_keys import DELETED, RedisKeys
from ._redis_topology import FAILURES, Node, Topology
from ._types import BackendUnavailable, BinDeleted, Captured, FeedEvent, FeedLost

__all__ = ["ChannelMoved", "RedisFeed", "Subscriber"]

log = logging.getLogger("hookscope.redis")

ROUTES = 3
"""Nodes a subscription tries when each says the channel is elsewhere (``MOVED``)."""


class ChannelMoved(BackendUnavailable):
    """The node does not own the channel's slot (any more): subscribe on the new owner."""


class RedisFeed:
    """Routes each bin's channel to the subscriber connection of its node."""

    def __init__(
        self,
        topology: Topology,
        *,
        keys: RedisKeys | None = None,
        confirm_timeout: float = 5.0,
        health_interval: float = 5.0,
    ) -> None:
        self._topology = topology
        self.keys = keys or RedisKeys()
        self._confirm_timeout = confirm_timeout
        self._health_interval = health_interval
        self._on_event: Callable[[FeedEvent], None] = lambda event: None
        self._subscribers: dict[str, Subscriber] = {}
        self._where: dict[str, Subscriber] = {}  # bin id -> the subscriber carrying it

    @property
    def connections(self) -> int:
        """Open subscriber connections (one per node with subscriptions)."""
        return sum(1 for subscriber in self._subscribers.values() if subscriber.connected)

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None:
        self._on_event = on_event

    async def close(self) -> None:
        subscribers, self._subscribers = self._subscribers, {}
        self._where.clear()
        for subscriber in subscribers.values():
            await subscriber.close()

    async def subscribe(self, bin_id: str) -> None:
        channel = self.keys.channel(bin_id)
        for route in range(ROUTES):
            try:
                subscriber = self._subscriber(await self._topology.node_of(channel))
            except FAILURES as error:
                raise BackendUnavailable(f"no Redis node for {channel}: {error}") from None
            try:
                await subscriber.subscribe(channel)
            except ChannelMoved:
                self._topology.stale()
                if route == ROUTES - 1:
                    raise
                continue
            except BackendUnavailable:
                self._topology.stale()  # the node may have gone away
                raise
            self._where[bin_id] = subscriber
            return

    def _subscriber(self, node: Node) -> Subscriber:
        subscriber = self._subscribers.get(node.name)
        if subscriber is None:
            subscriber = self._subscribers[node.name] = Subscriber(
                node.name,
                node.connection,
                on_message=self._on_message,
                on_lost=self._on_lost,
                confirm_timeout=self._confirm_timeout,
                health_interval=self._health_interval,
            )
        return subscriber

    async def unsubscribe(self, bin_id: str) -> None:
        subscriber = self._where.pop(bin_id, None)
        if subscriber is not None:
            await subscriber.unsubscribe(self.keys.channel(bin_id))

    def _on_message(self, channel: str, data: str) -> None:
        bin_id = self.keys.bin_of_channel(channel)
        if bin_id is None:
            return
        if data.startswith('{"id":"'):
            end = data.find('"', 7)
            if end < 0:
                raise ValueError("a capture without a closed id")
            self._on_event(Captured(bin_id, data[7:end], data))
        elif data == DELETED:
            self._on_event(BinDeleted(bin_id))
        else:
            raise ValueError("neither a capture nor a control message")

    def _on_lost(self, subscriber: Subscriber, reason: str, channels: frozenset[str]) -> None:
        self._topology.stale()
        bins = frozenset(
            bin_id for channel in channels if (bin_id := self.keys.bin_of_channel(channel))
        )
        for bin_id in bins:
            if self._where.get(bin_id) is subscriber:
                del self._where[bin_id]
        self._on_event(FeedLost(f"{subscriber.name}: {reason}", bins))


class Subscriber:
    """One subscriber connection to one Redis node: ``SSUBSCRIBE``, confirmations, messages."""

    def __init__(
        self,
        name: str,
        connection_kwargs: dict[str, Any],
        *,
        on_message: Callable[[str, str], None],
        on_lost: Callable[[Subscriber, str, frozenset[str]], None],
        confirm_timeout: float = 5.0,
        health_interval: float = 5.0,
    ) -> None:
        self.name = name
        self._kwargs = connection_kwargs
        self._on_message = on_message
        self._on_lost = on_lost
        self._confirm_timeout = confirm_timeout
        self._health_interval = health_interval
        self._connection: Connection | None = None
        self._connecting = asyncio.Lock()
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._channels: set[str] = set()  # confirmed, and not unsubscribed since
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
        connection: Connection | None = None
        try:
            connection = await self._send("SSUBSCRIBE", channel)
            async with asyncio.timeout(self._confirm_timeout):
                await future
        except TimeoutError:
            self._lose(self._connection, "no subscribe confirmation")
            raise BackendUnavailable("Redis did not confirm the subscription in time") from None
        except asyncio.CancelledError:
            # Redis may confirm after we stopped waiting: undo it, so that nothing stays
            # subscribed that the hub does not count (in order: same connection, same lock).
            # Also when the cancel came while SSUBSCRIBE was still being written (drain):
            # the bytes may have left, so undo whenever a connection is open.
            if self._connection is not None:
                with contextlib.suppress(BackendUnavailable):
                    await asyncio.shield(self._unsubscribe_sent(channel))
            raise
        finally:
            waiting = self._waiters.get(channel)
            if waiting and future in waiting:
                waiting.remove(future)
        if self._connection is not connection:  # confirmed, then lost before we resumed
            raise BackendUnavailable("the pub/sub connection was lost while subscribing")
        if channel not in self._channels:  # confirmed, then dropped: the slot moved
            raise ChannelMoved(f"{channel} moved to another node while subscribing")

    async def _unsubscribe_sent(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._connection is not None:
            await self._send("SUNSUBSCRIBE", channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._unsubscribe_sent(channel)

    async def _read(self, connection: Connection) -> None:
        try:
            while True:
                try:
                    reply = await connection.read_response(disconnect_on_error=False)
                except AskError as error:  # MOVED: a refused SSUBSCRIBE or SUNSUBSCRIBE
                    self._last_seen = time.monotonic()
                    self._moved(error)
                    continue
                self._last_seen = time.monotonic()
                try:
                    self._dispatch(reply)
                except Exception as error:  # one bad message must not end the feed
                    log.warning("dropped a malformed pub/sub message (%s): %.200r", error, reply)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any failure of the reader means the feed is gone
            self._lose(connection, f"{type(error).__name__}: {error}")

    def _dispatch(self, reply: Any) -> None:
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == "smessage":
            self._on_message(reply[1], reply[2])
        elif kind == "ssubscribe":
            waiting = self._waiters.get(reply[1])
            while waiting:
                future = waiting.popleft()
                if not future.done():
                    # Counted here, not when subscribe() resumes: a sunsubscribe may come
                    # first, and must find it.
                    self._channels.add(reply[1])
                    future.set_result(None)
                    break
            if waiting is not None and not waiting:
                self._waiters.pop(reply[1], None)
        elif kind == "sunsubscribe" and reply[1] in self._channels:
            # Redis dropped it, not us (the slot moved to another node): the watchers of
            # that bin resume through a new subscription.
            self._channels.discard(reply[1])
            self._on_lost(self, "the channel's slot moved", frozenset({reply[1]}))

    def _moved(self, error: AskError) -> None:
        """Fail the subscriptions waiting on the slot that ``error`` says is elsewhere."""
        for channel in [c for c in self._waiters if key_slot(c.encode()) == error.slot_id]:
            for future in self._waiters.pop(channel):
                if not future.done():
                    future.set_exception(
                        ChannelMoved(f"{channel} is served by {error.node_addr}, not {self.name}")
                    )

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
        log.warning("Redis pub/sub connection to %s lost: %s", self.name, reason)
        channels, self._channels = frozenset(self._channels), set()
        self._on_lost(self, reason, channels)

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
