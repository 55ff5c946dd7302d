"""``RedisStore``: bins as hashes and request logs as Redis Streams (request ids are stream ids).

A log is capped at the bin's ``max_requests`` (exact ``MAXLEN``) and both keys expire ``ttl_s``
after the last capture or update. Captures are coalesced: concurrent ``append`` calls go to
Redis as one pipeline of atomic capture scripts (bin exists → XADD → SPUBLISH) per node, one
round trip per node for the lot, so that a node that fails costs only its own bins. Writes
are never retried: a capture script that timed out may have run, and running it again would
store the request twice. (A ``MOVED`` reply is not a retry: the script did not run.)

The same code serves one Redis (``redis.asyncio.Redis``) and a Redis Cluster
(``RedisCluster``): every command names a bin's keys, all in one slot, and the topology
(``_redis_topology``) says which node serves a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
)

from .._ids import is_bin_id
from .._wire import format_timestamp, parse_timestamp, with_id
from . import _redis_scripts as scripts
from ._redis_keys import DELETED, RedisKeys
from ._redis_topology import FAILURES, Topology
from ._types import Appended, BackendUnavailable, BinRecord, BinSummary, ResponseSpec, Stored

__all__ = ["RedisStore", "is_transient", "unavailable"]

log = logging.getLogger("hookscope.redis")

_Pending = tuple[str, str, "asyncio.Future[Appended | None]"]
_SCRIPTS = ("CAPTURE", "CREATE", "UPDATE", "DELETE", "CLEAR", "CURSOR")
# Refusals that say "not now" rather than "never": answered 503, like a lost connection.
_TRANSIENT_CLASSES = (
    BusyLoadingError,
    ClusterDownError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    TryAgainError,
)
_TRANSIENT_PREFIXES = (
    "LOADING",
    "BUSY",
    "MASTERDOWN",
    "TRYAGAIN",
    "READONLY",
    "OOM",
    "CLUSTERDOWN",
)


# -- encoding: a BinRecord as a Redis hash ----------------------------------------------------


_SECRET = "secret:"  # one hash field per signing scheme: "secret:stripe"
_CURSOR = "cursor:"  # one hash field per named cursor: "cursor:probot"


def record_fields(record: BinRecord) -> dict[str, str]:
    """Flat string fields of a bin's hash."""
    return {
        "token": record.token,
        "created_at": format_timestamp(record.created_at),
        "max_requests": str(record.max_requests),
        "ttl_s": repr(record.ttl_s),
        "name": record.name if record.name is not None else "",
        "has_name": "1" if record.name is not None else "0",
        "response": response_json(record.response),
        **{_SECRET + scheme: secret for scheme, secret in record.secrets.items()},
    }


def record_from_fields(bin_id: str, data: dict[str, str]) -> BinRecord:
    return BinRecord(
        id=bin_id,
        token=data["token"],
        created_at=parse_timestamp(data["created_at"]),
        max_requests=int(data["max_requests"]),
        ttl_s=float(data["ttl_s"]),
        name=data["name"] if data.get("has_name") == "1" else None,
        response=response_from_json(data["response"]),
        secrets={
            name[len(_SECRET) :]: value for name, value in data.items() if name.startswith(_SECRET)
        },
    )


def response_json(response: ResponseSpec) -> str:
    return json.dumps(response.to_dict(), separators=(",", ":"))


@lru_cache(maxsize=4096)
def response_from_json(text: str) -> ResponseSpec:
    """A stored response (cached: captures hit the same few specs over and over).

    It was validated when the API accepted it; stored data is trusted as written.
    """
    data = json.loads(text)
    return ResponseSpec(
        status=data["status"], headers=data["headers"], body=data["body"], delay_ms=data["delay_ms"]
    )


def unavailable(error: BaseException, where: str) -> BackendUnavailable:
    """``BackendUnavailable`` for a Redis failure, naming it (OOM says "out of memory")."""
    if isinstance(error, OutOfMemoryError):
        return BackendUnavailable(f"Redis at {where} is out of memory and refuses writes")
    return BackendUnavailable(f"Redis at {where}: {error}")


def is_transient(error: BaseException) -> bool:
    """True for errors that mean "storage unavailable now" (answered 503), False for bugs."""
    if isinstance(error, _TRANSIENT_CLASSES):
        return True
    if isinstance(error, ResponseError):
        # redis-py strips the prefix of the errors it has classes for; the rest keep it.
        return str(error).startswith(_TRANSIENT_PREFIXES)
    return isinstance(error, FAILURES)


class RedisStore:
    """Bins and request logs in Redis (7.0 or newer); see the module docstring.

    The store owns ``redis`` and ``topology`` and closes them.
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        topology: Topology,
        where: str,
        keys: RedisKeys | None = None,
    ) -> None:
        self.redis = redis
        self.topology = topology
        self.keys = keys or RedisKeys()
        self._where = where  # for messages: the URL, without its password
        self._shas: dict[str, str] = {}
        self._pending: list[_Pending] = []
        self._has_pending = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        # The writer also stops on this flag: on Python 3.11 a cancellation that meets
        # redis-py's read timeout can come back as a TimeoutError, and a loop that survives
        # errors would then swallow it and never end.
        self._closing = False

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="hookscope-redis-writer")
        try:
            await self._load_scripts()
        except BackendUnavailable as error:  # not fatal: every call tries again
            log.warning("%s; answering 503 until it is reachable", error)

    async def close(self) -> None:
        self._closing = True
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        _fail(self._pending, BackendUnavailable("server shutting down"))
        self._pending = []
        await self.topology.close()
        await self.redis.aclose()

    async def ready(self) -> bool:
        """Redis answers, every slot is served, and no primary is full (OOM refuses writes)."""
        try:
            async with asyncio.timeout(2.0):
                infos = await self.topology.memory()
        except (*FAILURES, TimeoutError, ValueError, KeyError):
            return False
        return infos is not None and not any(map(_refuses_writes, infos))

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except NoScriptError:
            raise
        except FAILURES as error:
            if not is_transient(error):
                raise
            raise unavailable(error, self._where) from None

    # -- scripts ------------------------------------------------------------------------------

    async def _load_scripts(self) -> None:
        for name in _SCRIPTS:
            self._shas[name] = await self._call(self.redis.script_load(getattr(scripts, name)))

    async def _script(self, name: str, bin_id: str, args: Sequence[str]) -> Any:
        if name not in self._shas:
            await self._load_scripts()
        keys = self.keys.of(bin_id)
        try:
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))
        except NoScriptError:  # Redis restarted and forgot its scripts
            await self._load_scripts()
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))

    # -- bins ---------------------------------------------------------------------------------

    async def create_bin(self, record: BinRecord) -> None:
        fields = [part for pair in record_fields(record).items() for part in pair]
        await self._script("CREATE", record.id, [str(int(record.ttl_s * 1000)), *fields])

    async def get_bin(self, bin_id: str) -> BinRecord | None:
        fields = await self._call(self.redis.hgetall(self.keys.meta(bin_id)))
        return record_from_fields(bin_id, fields) if fields else None

    async def existing(self, bin_ids: Sequence[str]) -> set[str]:
        if not bin_ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for bin_id in bin_ids:
                pipe.exists(self.keys.meta(bin_id))
            found = await self._call(pipe.execute())
        return {bin_id for bin_id, alive in zip(bin_ids, found, strict=True) if alive}

    async def update_bin(
        self,
        bin_id: str,
        *,
        name: str | None = None,
        response: ResponseSpec | None = None,
        secrets: Mapping[str, str | None] | None = None,
    ) -> BinRecord | None:
        changes: list[str] = []
        removed: list[str] = []
        if name is not None:
            changes += ["name", name, "has_name", "1"]
        if response is not None:
            changes += ["response", response_json(response)]
        for scheme, secret in (secrets or {}).items():
            if secret is None:
                removed.append(_SECRET + scheme)
            else:
                changes += [_SECRET + scheme, secret]
        flat = await self._script("UPDATE", bin_id, [str(len(changes)), *changes, *removed])
        if not flat:
            return None
        return record_from_fields(bin_id, dict(zip(flat[::2], flat[1::2], strict=True)))

    async def delete_bin(self, bin_id: str) -> bool:
        return bool(await self._script("DELETE", bin_id, [DELETED]))

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
                _fail(batch, unavailable(error, self._where))

    async def _flush(self, batch: list[_Pending]) -> None:
        if "CAPTURE" not in self._shas:
            try:
                await self._load_scripts()
            except BackendUnavailable as error:
                _fail(batch, error)
                return
        by_node: dict[str, list[_Pending]] = {}
        for item in batch:
            try:
                node = await self.topology.node_of(self.keys.meta(item[0]))
            except FAILURES as error:
                _fail([item], unavailable(error, self._where))
            else:
                by_node.setdefault(node.name, []).append(item)
        groups = list(by_node.values())
        outcomes = await asyncio.gather(
            *(self._flush_node(items) for items in groups), return_exceptions=True
        )
        for items, outcome in zip(groups, outcomes, strict=True):
            if isinstance(outcome, Exception):  # a bug: fail this node's captures only
                log.error("capture batch failed", exc_info=outcome)
                _fail(items, unavailable(outcome, self._where))

    async def _flush_node(self, batch: list[_Pending]) -> None:
        """One pipeline to the node that serves every bin of ``batch`` (again on NOSCRIPT)."""
        todo = batch
        for _attempt in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                sha = self._shas["CAPTURE"]
                for bin_id, payload, _ in todo:
                    # execute_command: the cluster pipeline refuses its evalsha() method,
                    # though it routes EVALSHA by its keys.
                    pipe.execute_command("EVALSHA", sha, 3, *self.keys.of(bin_id), payload)
                try:
                    results = await pipe.execute(raise_on_error=False)
                except FAILURES as error:
                    self.topology.stale()  # a node may have gone: ask the cluster again
                    _fail(todo, unavailable(error, self._where))
                    return
            retry: list[_Pending] = []
            for item, result in zip(todo, results, strict=True):
                _, payload, future = item
                if future.done():
                    continue
                if isinstance(result, NoScriptError):
                    retry.append(item)
                elif isinstance(result, Exception):
                    future.set_exception(unavailable(result, self._where))
                elif not result:
                    future.set_result(None)
                else:
                    request_id, response_json = result
                    future.set_result(
                        Appended(
                            request_id,
                            with_id(payload, request_id),
                            response_from_json(response_json),
                        )
                    )
            if not retry:
                return
            todo = retry
            try:
                await self._load_scripts()  # on every primary: a new node may not have them
            except BackendUnavailable as error:
                _fail(todo, error)
                return
        _fail(todo, BackendUnavailable("Redis keeps forgetting the capture script"))

    # -- history ------------------------------------------------------------------------------

    async def read(self, bin_id: str, *, after: str | None, limit: int) -> list[Stored] | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self.keys.meta(bin_id))
            pipe.xrange(self.keys.log(bin_id), min=f"({after}" if after else "-", count=limit)
            exists, entries = await self._call(pipe.execute())
        if not exists:
            return None
        return [(entry_id, with_id(fields["r"], entry_id)) for entry_id, fields in entries]

    async def tail(self, bin_id: str, count: int) -> list[Stored] | None:
        if count <= 0:
            return [] if await self._call(self.redis.exists(self.keys.meta(bin_id))) else None
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(self.keys.meta(bin_id))
            pipe.xrevrange(self.keys.log(bin_id), count=count)
            exists, entries = await self._call(pipe.execute())
        if not exists:
            return None
        return [(entry_id, with_id(fields["r"], entry_id)) for entry_id, fields in entries[::-1]]

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        log_key = self.keys.log(bin_id)
        entries = await self._call(self.redis.xrange(log_key, request_id, request_id, count=1))
        if not entries:
            return None
        entry_id, fields = entries[0]
        return with_id(fields["r"], entry_id)

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        return bool(await self._script("CURSOR", bin_id, [_CURSOR + name, request_id]))

    async def get_cursor(self, bin_id: str, name: str) -> str | None:
        found: str | None = await self._call(
            self.redis.hget(self.keys.meta(bin_id), _CURSOR + name)
        )
        return found

    async def clear(self, bin_id: str) -> bool:
        return bool(await self._script("CLEAR", bin_id, []))

    # -- listing (GET /api/bins) --------------------------------------------------------------

    async def list_bins(self, *, limit: int) -> list[BinSummary]:
        """The newest ``limit`` bins: SCAN for their hashes (on every primary of a cluster:
        ``scan_iter`` does that), their creation times, then the chosen few in full."""
        bin_ids = await self._call(self._scan_bin_ids())
        created: list[str | None] = []
        for start in range(0, len(bin_ids), _LIST_CHUNK):
            async with self.redis.pipeline(transaction=False) as pipe:
                for bin_id in bin_ids[start : start + _LIST_CHUNK]:
                    pipe.hget(self.keys.meta(bin_id), "created_at")
                created += await self._call(pipe.execute())
        newest = sorted(
            ((when, bin_id) for when, bin_id in zip(created, bin_ids, strict=True) if when),
            reverse=True,
        )[:limit]
        if not newest:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for _, bin_id in newest:
                pipe.hgetall(self.keys.meta(bin_id))
                pipe.xlen(self.keys.log(bin_id))
                pipe.xrevrange(self.keys.log(bin_id), count=1)
            found = await self._call(pipe.execute())
        summaries = []
        for (_, bin_id), fields, count, last in zip(
            newest, found[::3], found[1::3], found[2::3], strict=True
        ):
            if fields:  # else it expired meanwhile
                record = record_from_fields(bin_id, fields)
                summaries.append(BinSummary(record, count, last[0][0] if last else None))
        return summaries

    async def _scan_bin_ids(self) -> list[str]:
        head, tail = self.keys.meta("\0").split("\0")
        pattern = _glob_escape(head) + "*" + _glob_escape(tail)
        found: set[str] = set()
        async for key in self.redis.scan_iter(match=pattern, count=1000):
            bin_id = key[len(head) : -len(tail)]
            if is_bin_id(bin_id):
                found.add(bin_id)
        return sorted(found)


def _refuses_writes(info: dict[str, Any]) -> bool:
    """A full Redis that evicts nothing: every write fails with OOM."""
    used, cap = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    policy = str(info.get("maxmemory_policy", "noeviction"))
    return bool(cap and used >= cap and policy == "noeviction")


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(error)


_LIST_CHUNK = 1000


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
