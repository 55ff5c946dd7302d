"""``RedisStore``: bins as hashes and request logs as Redis Streams (request ids are stream ids).

A log is capped at the bin's ``max_requests`` (exact ``MAXLEN``) and both keys expire ``ttl_s``
after the last capture or update. Captures are coalesced: concurrent ``append`` calls go to
Redis as one pipeline of atomic capture scripts (bin exists → rates → XADD → SPUBLISH) per
node, one round trip per node for the lot, so that a node that fails costs only its own bins.
Writes are never retried: a capture script that timed out may have run, and running it again
would store the request twice. (A ``MOVED`` reply is not a retry: the script did not run.)
Captures waiting for Redis are capped (count and bytes): beyond, ``QueueFull`` (503).

Rate limits are shared by every process: the bin's bucket is checked in its capture script;
the address's bucket too on a single Redis (a fourth key). On a cluster the address's bucket
lives in another slot: the captures a round trip stored are debited from it in one more round
trip, on its own node (a refused capture costs its address nothing); once it is empty, each
process refuses that address until its next request could pass (``Refusals``). So on a
cluster an address may exceed its limit by what each process stores in one round trip; a
sender under its limit is never refused.

The same code serves one Redis (``redis.asyncio.Redis``) and a Redis Cluster
(``RedisCluster``): every command names a bin's keys, all in one slot, and the topology
(``_redis_topology``) says which node serves a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

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

from .._config import Rate
from .._contract import MAX_CURSORS, ErrorCode
from .._ids import is_bin_id
from .._wire import format_timestamp, parse_timestamp, with_id
from . import _redis_scripts as scripts
from ._rates import Refusals, address_refusal, bin_refusal
from ._redis_keys import DELETED, RedisKeys
from ._redis_topology import FAILURES, Topology
from ._types import (
    Appended,
    BackendUnavailable,
    BinRecord,
    BinSummary,
    Page,
    QueueFull,
    RateLimited,
    ResponseSpec,
    StorageFull,
    too_many_cursors,
)

__all__ = ["RedisStore", "is_transient", "unavailable"]

log = logging.getLogger("hookscope.redis")


class _Pending(NamedTuple):
    bin_id: str
    payload: str
    future: asyncio.Future[Appended | None]
    client: str | None


_SCRIPTS = (
    "CAPTURE",
    "CREATE",
    "UPDATE",
    "DELETE",
    "CLEAR",
    "READ",
    "TAIL",
    "RESERVE",
    "ADDRESS",
    "CURSOR",
)
_PRUNE = 1000  # index entries checked at once when --max-bins is reached
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
        max_bins: int = 0,
        bin_rate: Rate | None = None,
        address_rate: Rate | None = None,
        max_queue: int = 10_000,
        max_queue_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        self.redis = redis
        self.topology = topology
        self.keys = keys or RedisKeys()
        self._where = where  # for messages: the URL, without its password
        self._shas: dict[str, str] = {}
        self._max_bins = max_bins
        self._bin_rate = _rate_args(bin_rate)
        self._address_rate = _rate_args(address_rate)
        # A single Redis takes the address bucket in the capture script; a cluster cannot.
        self._debit_addresses = address_rate is not None and isinstance(redis, RedisCluster)
        self._refusals = Refusals()
        self._max_queue = max_queue
        self._max_queue_bytes = max_queue_bytes
        self._queued = 0  # captures appended and not answered yet
        self._queued_bytes = 0
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

    def usage(self) -> None:
        """Redis has its own budget (``maxmemory``); nothing to report here."""
        return None

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

    async def _script(
        self, name: str, bin_id: str, args: Sequence[str], keys: list[str] | None = None
    ) -> Any:
        if name not in self._shas:
            await self._load_scripts()
        keys = self.keys.of(bin_id) if keys is None else keys
        try:
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))
        except NoScriptError:  # Redis restarted and forgot its scripts
            await self._load_scripts()
            return await self._call(self.redis.evalsha(self._shas[name], len(keys), *keys, *args))

    # -- bins ---------------------------------------------------------------------------------

    async def create_bin(self, record: BinRecord, *, client: str | None = None) -> None:
        if client is not None and self._address_rate is not None:
            early = await self._script(
                "ADDRESS", "", [*self._address_rate, "take"], [self.keys.address(client)]
            )
            if float(early) > 0:
                raise address_refusal(float(early) / 1000)
        await self._reserve(record)
        fields = [part for pair in record_fields(record).items() for part in pair]
        try:
            await self._script("CREATE", record.id, [str(int(record.ttl_s * 1000)), *fields])
        except BaseException:
            with contextlib.suppress(*FAILURES):  # else it is pruned once it is due
                await self.redis.zrem(self.keys.bins(), record.id)
            raise

    async def _reserve(self, record: BinRecord) -> None:
        """Count the new bin in the index, within ``--max-bins`` (atomic: no overshoot)."""
        expires = str(int(time.time() * 1000 + record.ttl_s * 1000))
        args = [str(self._max_bins), record.id, expires]
        for attempt in range(2):
            if await self._script("RESERVE", "", args, [self.keys.bins()]):
                return
            if attempt == 0 and not await self._prune_index():
                break
        raise StorageFull(
            ErrorCode.TOO_MANY_BINS,
            f"this server holds its maximum of {self._max_bins} bins (--max-bins); "
            "delete some, or wait for them to expire",
        )

    async def _prune_index(self) -> bool:
        """Drop expired bins from the index, re-score those still alive; True if any went.

        Index scores are expiries as of creation; captures and updates push a bin's real
        expiry later, so a bin past its score is asked for its time to live before it goes.
        """
        index = self.keys.bins()
        now = int(time.time() * 1000)
        due = await self._call(self.redis.zrangebyscore(index, "-inf", now, start=0, num=_PRUNE))
        if not due:
            return False
        async with self.redis.pipeline(transaction=False) as pipe:
            for bin_id in due:
                pipe.pttl(self.keys.meta(bin_id))
            ttls = await self._call(pipe.execute())
        gone = [bin_id for bin_id, ttl in zip(due, ttls, strict=True) if ttl < 0]
        alive = {b: now + ttl for b, ttl in zip(due, ttls, strict=True) if ttl >= 0}
        if gone:
            await self._call(self.redis.zrem(index, *gone))
        if alive:
            await self._call(self.redis.zadd(index, alive, xx=True))
        return bool(gone)

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
        deleted = bool(await self._script("DELETE", bin_id, [DELETED]))
        await self._call(self.redis.zrem(self.keys.bins(), bin_id))
        return deleted

    # -- captures: coalesced into one pipeline per round trip ---------------------------------

    def denied(self, bin_id: str, client: str | None = None) -> RateLimited | None:
        if self._bin_rate is not None and (left := self._refusals.remaining(bin_id)):
            return bin_refusal(left)
        if client is None or self._address_rate is None:
            return None
        left = self._refusals.remaining(self.keys.address(client))
        return address_refusal(left) if left else None

    async def append(
        self, bin_id: str, payload: str, *, client: str | None = None
    ) -> Appended | None:
        refused = self.denied(bin_id, client)
        if refused is not None:
            raise refused
        if self._address_rate is None:
            client = None
        size = sys.getsizeof(payload)
        if self._queued and (
            self._queued >= self._max_queue or self._queued_bytes + size > self._max_queue_bytes
        ):
            raise QueueFull(
                ErrorCode.CAPTURE_QUEUE_FULL,
                f"{self._queued} captures ({self._queued_bytes} bytes) are waiting for Redis "
                "already; try again shortly",
            )
        future: asyncio.Future[Appended | None] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(bin_id, payload, future, client))
        self._queued += 1
        self._queued_bytes += size
        self._has_pending.set()
        try:
            return await future
        finally:
            self._queued -= 1
            self._queued_bytes -= size

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
        if not self._debit_addresses:
            return
        # A cluster: the addresses pay for what was stored, once it is (a capture refused by
        # its bin's bucket, or not stored, costs its address nothing). Their senders have
        # their answers already; the next batch waits for this round trip.
        debits = Counter(
            item.client
            for item in batch
            if item.client is not None
            and item.future.done()
            and not item.future.cancelled()
            and item.future.exception() is None
            and item.future.result() is not None
        )
        if debits:
            try:
                await self._debit(debits)
            except Exception as error:
                log.warning("address rate accounting failed: %s", error)

    async def _debit(self, counts: Counter[str]) -> None:
        """Debit the captures of this batch from their addresses' buckets (a cluster: each
        bucket on its own node, concurrently with the captures); refuse the empty ones."""
        assert self._address_rate is not None
        sha = self._shas["ADDRESS"]
        keys = {client: self.keys.address(client) for client in counts}
        by_node: dict[str, list[str]] = {}
        for client, key in keys.items():
            by_node.setdefault((await self.topology.node_of(key)).name, []).append(client)

        async def node(clients: list[str]) -> None:
            async with self.redis.pipeline(transaction=False) as pipe:
                for client in clients:
                    args = [*self._address_rate, "debit", str(counts[client])]  # type: ignore[misc]
                    pipe.execute_command("EVALSHA", sha, 1, keys[client], *args)
                results = await pipe.execute()
            for client, early in zip(clients, results, strict=True):
                self._refusals.refuse(keys[client], float(early) / 1000)

        await asyncio.gather(*(node(clients) for clients in by_node.values()))

    async def _flush_node(self, batch: list[_Pending]) -> None:
        """One pipeline to the node that serves every bin of ``batch`` (again on NOSCRIPT)."""
        todo = batch
        for _attempt in range(2):
            async with self.redis.pipeline(transaction=False) as pipe:
                sha = self._shas["CAPTURE"]
                for bin_id, payload, _, client in todo:
                    keys = self.keys.of(bin_id)
                    if client is not None and not self._debit_addresses:
                        keys.append(self.keys.address(client))
                    # execute_command: the cluster pipeline refuses its evalsha() method,
                    # though it routes EVALSHA by its keys.
                    pipe.execute_command(
                        "EVALSHA", sha, len(keys), *keys, payload, *self._rate_argv()
                    )
                try:
                    results = await pipe.execute(raise_on_error=False)
                except FAILURES as error:
                    self.topology.stale()  # a node may have gone: ask the cluster again
                    _fail(todo, unavailable(error, self._where))
                    return
            retry: list[_Pending] = []
            for item, result in zip(todo, results, strict=True):
                bin_id, payload, future, client = item
                if future.done():
                    continue
                if isinstance(result, NoScriptError):
                    retry.append(item)
                elif isinstance(result, Exception):
                    future.set_exception(unavailable(result, self._where))
                elif not result:
                    future.set_result(None)
                elif result[0] in ("bin", "address"):
                    future.set_exception(self._refused(result[0], bin_id, client, result[1]))
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

    def _rate_argv(self) -> list[str]:
        return [*(self._bin_rate or ("0", "0")), *(self._address_rate or ("0", "0"))]

    def _refused(self, which: str, bin_id: str, client: str | None, early: str) -> RateLimited:
        """A capture script's refusal, remembered so that the next ones need no round trip."""
        seconds = float(early) / 1000
        if which == "bin":
            self._refusals.refuse(bin_id, seconds)
            return bin_refusal(seconds)
        assert client is not None
        self._refusals.refuse(self.keys.address(client), seconds)
        return address_refusal(seconds)

    # -- history ------------------------------------------------------------------------------

    async def read(
        self, bin_id: str, *, after: str | None, limit: int, max_bytes: int | None = None
    ) -> Page | None:
        start = f"({after}" if after else "-"
        found = await self._script("READ", bin_id, [start, str(limit), str(max_bytes or 0)])
        return None if found is None else _page(found)

    async def tail(self, bin_id: str, count: int, *, max_bytes: int | None = None) -> Page | None:
        found = await self._script("TAIL", bin_id, [str(max(count, 0)), str(max_bytes or 0)])
        return None if found is None else _page(found, reverse=True)

    async def get_request(self, bin_id: str, request_id: str) -> str | None:
        log_key = self.keys.log(bin_id)
        entries = await self._call(self.redis.xrange(log_key, request_id, request_id, count=1))
        if not entries:
            return None
        entry_id, fields = entries[0]
        return with_id(fields["r"], entry_id)

    async def save_cursor(self, bin_id: str, name: str, request_id: str) -> bool:
        saved = await self._script("CURSOR", bin_id, [_CURSOR + name, request_id, str(MAX_CURSORS)])
        if saved == -1:
            raise too_many_cursors()
        return bool(saved)

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


def _rate_args(rate: Rate | None) -> tuple[str, str] | None:
    """A rate as the scripts take it: the interval in ms and the burst."""
    return None if rate is None else (repr(1000.0 / rate.per_second), str(rate.burst))


def _page(found: list[Any], *, reverse: bool = False) -> Page:
    """A READ or TAIL script's ``{cut, {id, text, ...}}`` as a page, oldest first."""
    cut, flat = found
    ids, texts = flat[::2], flat[1::2]
    stored = [(i, with_id(text, i)) for i, text in zip(ids, texts, strict=True)]
    return Page(stored[::-1] if reverse else stored, cut=bool(cut))


def _refuses_writes(info: dict[str, Any]) -> bool:
    """A full Redis that evicts nothing: every write fails with OOM."""
    used, cap = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    policy = str(info.get("maxmemory_policy", "noeviction"))
    return bool(cap and used >= cap and policy == "noeviction")


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for _, _, future, _ in batch:
        if not future.done():
            future.set_exception(error)


_LIST_CHUNK = 1000


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
