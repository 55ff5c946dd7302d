"""The shared backend: any number of server processes and hosts behind one Redis.

History is a Redis Stream per bin (ids are stream ids), capped at the bin's ``max_requests``
and expiring ``ttl_s`` after the last capture. Live fan-out is Redis pub/sub, one
subscriber connection per process (``_redis_feed.PubSubFeed``).

Captures are coalesced: concurrent ``append`` calls go to Redis as one pipeline of atomic
capture scripts (bin exists → XADD → PUBLISH), one round trip for the lot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError, ResponseError

from .._wire import with_id
from . import _redis_scripts as scripts
from ._base import (
    Appended,
    BackendUnavailable,
    BinDeleted,
    BinRecord,
    Captured,
    FeedEvent,
    FeedLost,
    ResponseSpec,
    Stored,
)
from ._redis_feed import PubSubFeed

__all__ = ["RedisBackend"]

log = logging.getLogger("hookscope.redis")

_Pending = tuple[str, str, "asyncio.Future[Appended | None]"]


class RedisBackend:
    """Storage and live feed in Redis (7.0 or newer)."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "hookscope:",
        socket_timeout: float = 2.0,
        connect_timeout: float = 1.0,
        max_connections: int = 64,
        expiry_check: float = 30.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._socket_timeout = socket_timeout
        self._connect_timeout = connect_timeout
        self._max_connections = max_connections
        self._redis: Redis | None = None
        self._feed: PubSubFeed | None = None
        self._on_event: Callable[[FeedEvent], None] = lambda event: None
        self._shas: dict[str, str] = {}
        self._pending: list[_Pending] = []
        self._has_pending = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._channel_prefix = prefix + "ch:"
        # Redis says nothing when a key expires: watched bins are checked every
        # ``expiry_check`` seconds, so that their streams close (4404) as on memory.
        self._expiry_check = expiry_check
        self._watched: set[str] = set()
        self._expiry_checker: asyncio.Task[None] | None = None
        # Background loops also stop on this flag: on Python 3.11 a cancellation that meets
        # redis-py's read timeout can come back as a TimeoutError, and a loop that survives
        # errors would then swallow it and never end.
        self._closing = False

    # -- keys ---------------------------------------------------------------------------------

    def _keys(self, bin_id: str) -> list[str]:
        return [f"{self.prefix}bin:{bin_id}", f"{self.prefix}req:{bin_id}"]

    def _channel(self, bin_id: str) -> str:
        return self._channel_prefix + bin_id

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self, on_event: Callable[[FeedEvent], None]) -> None:
        self._on_event = on_event
        kwargs = parse_url(self.url)
        connection_class = kwargs.pop("connection_class", None)
        common: dict[str, Any] = {
            **kwargs,
            "decode_responses": True,
            # RESP2 everywhere: pub/sub replies are plain arrays on every redis-py version.
            "protocol": 2,
            "socket_connect_timeout": self._connect_timeout,
            # No retries: a capture script that timed out may have run, and running it again
            # would store the request twice. A pooled connection that died with a Redis
            # restart fails one call (503) and is replaced.
            "retry": Retry(NoBackoff(), 0),
        }
        if connection_class is not None:
            common["connection_class"] = connection_class
        pool = BlockingConnectionPool(
            max_connections=self._max_connections,
            timeout=self._socket_timeout,
            socket_timeout=self._socket_timeout,
            **common,
        )
        self._redis = Redis(connection_pool=pool)
        feed_kwargs = {key: value for key, value in common.items() if key != "connection_class"}
        feed_kwargs["retry"] = Retry(NoBackoff(), 0)
        feed_kwargs["socket_timeout"] = None  # reads wait for messages; pings check liveness
        self._feed = PubSubFeed(
            feed_kwargs, on_message=self._on_message, on_lost=self._on_feed_lost
        )
        self._flusher = asyncio.create_task(self._flush_forever(), name="hookscope-redis-writer")
        self._expiry_checker = asyncio.create_task(
            self._check_expiry_forever(), name="hookscope-redis-expiry"
        )
        with contextlib.suppress(BackendUnavailable):
            await self._load_scripts()

    async def close(self) -> None:
        self._closing = True
        for task in (self._flusher, self._expiry_checker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for _, _, future in self._pending:
            if not future.done():
                future.set_exception(BackendUnavailable("server shutting down"))
        self._pending = []
        if self._feed is not None:
            await self._feed.close()
        if self._redis is not None:
            await self._redis.aclose()

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            raise RuntimeError("RedisBackend.start() was not awaited")
        return self._redis

    async def ready(self) -> bool:
        try:
            async with asyncio.timeout(self._socket_timeout):
                return bool(await self.redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except NoScriptError:
            raise
        except (RedisError, OSError) as error:
            if isinstance(error, ResponseError) and not _is_transient(error):
                raise
            raise BackendUnavailable(f"Redis at {self.url}: {error}") from None

    # -- scripts ------------------------------------------------------------------------------

    async def _load_scripts(self) -> None:
        for name in ("CAPTURE", "UPDATE", "DELETE", "CLEAR"):
            self._shas[name] = await self._call(self.redis.script_load(getattr(scripts, name)))

    async def _script(self, name: str, keys: Sequence[str], args: Sequence[str]) -> Any:
        if name not in self._shas:
            await self._load_scripts()
        try:
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))
        except NoScriptError:  # Redis restarted and forgot its scripts
            await self._load_scripts()
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))

    # -- bins ---------------------------------------------------------------------------------

    async def create_bin(self, record: BinRecord) -> None:
        meta_key, _ = self._keys(record.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            fields: dict[Any, Any] = record.to_fields()
            pipe.hset(meta_key, mapping=fields)
            pipe.pexpire(meta_key, int(record.ttl_s * 1000))
            await self._call(pipe.execute())

    async def get_bin(self, bin_id: str) -> BinRecord | None:
        meta_key, _ = self._keys(bin_id)
        fields = await self._call(self.redis.hgetall(meta_key))
        return BinRecord.from_fields(bin_id, fields) if fields else None

    async def update_bin(
        self, bin_id: str, *, name: str | None = None, response: ResponseSpec | None = None
    ) -> BinRecord | None:
        changes: list[str] = []
        if name is not None:
            changes += ["name", name, "has_name", "1"]
        if response is not None:
            changes += ["response", response.to_json()]
        flat = await self._script("UPDATE", self._keys(bin_id), changes)
        if not flat:
            return None
        return BinRecord.from_fields(bin_id, dict(zip(flat[::2], flat[1::2], strict=True)))

    async def delete_bin(self, bin_id: str) -> bool:
        deleted = await self._script("DELETE", self._keys(bin_id), [self._channel(bin_id)])
        return bool(deleted)

    # -- captures: coalesced into one pipeline per round trip ---------------------------------

    async def append(self, bin_id: str, payload: str) -> Appended | None:
        future: asyncio.Future[Appended | None] = asyncio.get_running_loop().create_future()
        self._pending.append((bin_id, payload, future))
        self._has_pending.set()
        return await future

    async def _flush_forever(self) -> None:
        while not self._closing:
            await self._has_pending.wait()
            self._has_pending.clear()
            batch, self._pending = self._pending, []
            try:
                await self._flush(batch)
            except asyncio.CancelledError:
                _fail(batch, BackendUnavailable("server shutting down"))
                raise
            except Exception as error:  # never let the writer die: fail this batch only
                log.exception("capture batch failed")
                _fail(batch, BackendUnavailable(f"Redis at {self.url}: {error}"))

    async def _flush(self, batch: list[_Pending]) -> None:
        if "CAPTURE" not in self._shas:
            try:
                await self._load_scripts()
            except BackendUnavailable as error:
                _fail(batch, error)
                return
        todo = batch
        for _attempt in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                sha = self._shas["CAPTURE"]
                for bin_id, payload, _ in todo:
                    pipe.evalsha(sha, 2, *self._keys(bin_id), payload, self._channel(bin_id))
                try:
                    results = await pipe.execute(raise_on_error=False)
                except (RedisError, OSError) as error:
                    _fail(todo, BackendUnavailable(f"Redis at {self.url}: {error}"))
                    return
            retry: list[_Pending] = []
            for item, result in zip(todo, results, strict=True):
                _, payload, future = item
                if future.done():
                    continue
                if isinstance(result, NoScriptError):
                    retry.append(item)
                elif isinstance(result, Exception):
                    future.set_exception(BackendUnavailable(f"Redis refused the capture: {result}"))
                elif not result:
                    future.set_result(None)
                else:
                    request_id, response_json = result
                    future.set_result(
                        Appended(
                            request_id,
                            with_id(payload, request_id),
                            ResponseSpec.from_json(response_json),
                        )
                    )
            if not retry:
                return
            todo = retry
            try:
                await self._load_scripts()
            except BackendUnavailable as error:
                _fail(todo, error)
                return
        _fail(todo, BackendUnavailable("Redis keeps forgetting the capture script"))

    # -- history ------------------------------------------------------------------------------

    async def read(self, bin_id: str, *, after: str | None, limit: int) -> list[Stored] | None:
        meta_key, stream_key = self._keys(bin_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(meta_key)
            pipe.xrange(stream_key, min=f"({after}" if after else "-", max="+", count=limit)
            exists, entries = await self._call(pipe.execute())
        if not exists:
            return None
        return [(entry_id, with_id(fields["r"], entry_id)) for entry_id, fields in entries]

    async def tail(self, bin_id: str, count: int) -> list[Stored] | None:
        meta_key, stream_key = self._keys(bin_id)
        if count <= 0:
            return [] if await self._call(self.redis.exists(meta_key)) else None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(meta_key)
            pipe.xrevrange(stream_key, max="+", min="-", count=count)
            exists, entries = await self._call(pipe.execute())
        if not exists:
            return None
        return [(entry_id, with_id(fields["r"], entry_id)) for entry_id, fields in entries[::-1]]

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        _, stream_key = self._keys(bin_id)
        entries = await self._call(self.redis.xrange(stream_key, request_id, request_id, count=1))
        if not entries:
            return None
        entry_id, fields = entries[0]
        return with_id(fields["r"], entry_id)

    async def clear(self, bin_id: str) -> bool:
        return bool(await self._script("CLEAR", self._keys(bin_id), []))

    # -- live feed ----------------------------------------------------------------------------

    async def subscribe(self, bin_id: str) -> None:
        assert self._feed is not None
        await self._feed.subscribe(self._channel(bin_id))
        self._watched.add(bin_id)

    async def unsubscribe(self, bin_id: str) -> None:
        assert self._feed is not None
        self._watched.discard(bin_id)
        await self._feed.unsubscribe(self._channel(bin_id))

    async def _check_expiry_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(self._expiry_check)
            watched = sorted(self._watched)
            if not watched:
                continue
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for bin_id in watched:
                        pipe.exists(self._keys(bin_id)[0])
                    exists = await self._call(pipe.execute())
            except BackendUnavailable:
                continue  # the feed's own health check reports an outage
            for bin_id, alive in zip(watched, exists, strict=True):
                if not alive and bin_id in self._watched:
                    self._watched.discard(bin_id)
                    self._on_event(BinDeleted(bin_id))

    def _on_message(self, channel: str, data: str) -> None:
        if not channel.startswith(self._channel_prefix):
            return
        bin_id = channel[len(self._channel_prefix) :]
        if data.startswith('{"id":"'):
            self._on_event(Captured(bin_id, data[7 : data.index('"', 7)], data))
        elif data == "!deleted":
            self._on_event(BinDeleted(bin_id))

    def _on_feed_lost(self, reason: str) -> None:
        self._watched.clear()
        self._on_event(FeedLost(reason))


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)


def _is_transient(error: ResponseError) -> bool:
    text = str(error)
    return text.startswith(("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY", "OOM"))
