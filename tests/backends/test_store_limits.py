"""The Store's limits, on every backend: byte-bounded pages, ``--max-bins``, rate limits,
stored sizes; the memory budget (memory) and the capture queue (Redis).

Sizes are what the store holds (the memory budget's count, Redis's ``MEMORY USAGE``),
never timings.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis
from conftest import Harness, Limited, payload, record

from hookscope._config import Settings
from hookscope._contract import ErrorCode
from hookscope._ids import id_key
from hookscope.backends import QueueFull, RateLimited, StorageFull, open_backend
from hookscope.backends.memory import ENTRY_OVERHEAD

pytestmark = pytest.mark.asyncio

KB = 1024


async def _fill(harness: Harness, bin_id: str, sizes: list[int]) -> list[str]:
    ids = []
    for size in sizes:
        stored = await harness.store.append(bin_id, payload(bin_id, b"x" * size))
        assert stored is not None
        ids.append(stored.id)
    return ids


def _text_bytes(page: list[tuple[str, str]]) -> int:
    return sum(len(text.encode()) for _, text in page)


async def test_pages_stop_at_the_byte_budget(harness: Harness) -> None:
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    ids = await _fill(harness, rec.id, [10 * KB] * 10)

    first = await store.read(rec.id, after=None, limit=100, max_bytes=35 * KB)
    assert first is not None and first.cut
    assert [i for i, _ in first] == ids[:3]  # a fourth would pass 35 KB
    assert _text_bytes(first) <= 35 * KB
    second = await store.read(rec.id, after=first[-1][0], limit=100, max_bytes=35 * KB)
    assert second is not None and [i for i, _ in second] == ids[3:6]

    # However small the budget, a page holds one request.
    single = await store.read(rec.id, after=None, limit=100, max_bytes=1)
    assert single is not None and [i for i, _ in single] == ids[:1] and single.cut
    # Everything fits: not cut, and a short page means the end.
    whole = await store.read(rec.id, after=ids[6], limit=100, max_bytes=1024 * KB)
    assert whole is not None and [i for i, _ in whole] == ids[7:] and not whole.cut
    assert await store.read(rec.id, after=ids[-1], limit=100, max_bytes=1) == []

    # A tail keeps the newest that fit, oldest first.
    newest = await store.tail(rec.id, 10, max_bytes=35 * KB)
    assert newest is not None and [i for i, _ in newest] == ids[-3:] and newest.cut
    one = await store.tail(rec.id, 10, max_bytes=1)
    assert one is not None and [i for i, _ in one] == ids[-1:]
    assert [i for i, _ in (await store.tail(rec.id, 4, max_bytes=1024 * KB)) or []] == ids[-4:]


async def test_max_bins_refuses_and_creates_nothing(limited: Limited) -> None:
    harness = await limited(max_bins=3)
    store = harness.store
    kept = [record() for _ in range(3)]
    for rec in kept:
        await store.create_bin(rec)
    extra = record()
    with pytest.raises(StorageFull) as refused:
        await store.create_bin(extra)
    assert refused.value.code == ErrorCode.TOO_MANY_BINS
    assert await store.get_bin(extra.id) is None

    assert await store.delete_bin(kept[0].id)
    await store.create_bin(extra)  # a deleted bin no longer counts
    assert await store.get_bin(extra.id) == extra


async def test_expired_bins_do_not_count(limited: Limited) -> None:
    harness = await limited(max_bins=2)
    store = harness.store
    short = [record(ttl_s=0.3) for _ in range(2)]
    for rec in short:
        await store.create_bin(rec)
    async with asyncio.timeout(10):
        while await store.existing([rec.id for rec in short]):
            await asyncio.sleep(0.05)
    fresh = record()
    await store.create_bin(fresh)
    assert await store.get_bin(fresh.id) == fresh


async def test_a_bin_over_its_rate_is_refused_and_nothing_is_stored(limited: Limited) -> None:
    harness = await limited(rate_limit="1/m:3")
    store = harness.store
    rec, other = record(), record()
    await store.create_bin(rec)
    await store.create_bin(other)
    await _fill(harness, rec.id, [1, 1, 1])
    with pytest.raises(RateLimited) as refused:
        await store.append(rec.id, payload(rec.id))
    assert refused.value.code == ErrorCode.BIN_RATE_LIMITED
    assert 50 < refused.value.retry_after <= 60  # one request a minute
    assert len(await store.read(rec.id, after=None, limit=10) or []) == 3
    denied = store.denied(rec.id)  # this process knows now: no round trip for the next
    assert denied is not None and denied.code == ErrorCode.BIN_RATE_LIMITED
    assert await store.append(other.id, payload(other.id)) is not None  # its own bucket


async def test_an_address_over_its_rate_is_refused(limited: Limited, backend_name: str) -> None:
    harness = await limited(ip_rate_limit="1/m:3")
    store = harness.store
    bins = [record(), record()]
    for rec in bins:
        await store.create_bin(rec)
    address = "203.0.113.9"
    for n in range(3):  # the address's captures, spread over two bins
        target = bins[n % 2].id
        assert await store.append(target, payload(target), client=address) is not None
    if backend_name == "redis-cluster":
        # Debited beside the capture, on the bucket's own node: known a round trip later.
        async with asyncio.timeout(5):
            while store.denied(bins[0].id, address) is None:
                await store.append(bins[0].id, payload(bins[0].id), client=address)
    with pytest.raises(RateLimited) as refused:
        await store.append(bins[1].id, payload(bins[1].id), client=address)
    assert refused.value.code == ErrorCode.ADDRESS_RATE_LIMITED
    stored = [len(await store.read(rec.id, after=None, limit=10) or []) for rec in bins]
    if backend_name != "redis-cluster":
        assert sum(stored) == 3  # exact where the bucket is checked with the write
    assert await store.append(bins[0].id, payload(bins[0].id), client="198.51.100.1")
    # Bin creation draws on the same bucket (the memory and Redis buckets alike).
    with pytest.raises(RateLimited):
        await store.create_bin(record(), client=address)


async def test_refused_by_one_bucket_spends_nothing_from_the_other(limited: Limited) -> None:
    harness = await limited(rate_limit="1/m:2", ip_rate_limit="1/m:3")
    store = harness.store
    rec, other = record(), record()
    await store.create_bin(rec)
    await store.create_bin(other)
    address = "203.0.113.7"
    await store.append(rec.id, payload(rec.id), client=address)
    await store.append(rec.id, payload(rec.id), client=address)
    with pytest.raises(RateLimited):  # the bin's bucket is empty; the address has one left
        await store.append(rec.id, payload(rec.id), client=address)
    assert await store.append(other.id, payload(other.id), client=address) is not None


# -- stored size ---------------------------------------------------------------------------

_BODIES = {
    "ascii_json": json.dumps({"event": "paid", "items": ["x" * 60] * 4000}).encode(),
    "binary": os.urandom(256 * KB),
    "emoji_and_control": "\N{GRINNING FACE}".encode() + b"\x01" * (256 * KB),
    "quotes": b'"' * (256 * KB),
}
# 100 headers of 320 bytes: ISO-8859-1 above 127 becomes two bytes of UTF-8.
_HEAVY_HEADERS = [(f"x-h{n:03}", "\xe9" * 314) for n in range(100)]


async def _stored_bytes(harness: Harness, bin_id: str) -> int:
    usage = harness.store.usage()
    if usage is not None:
        return usage.used
    client: Any = harness.backend.store.redis  # type: ignore[attr-defined]
    keys = harness.backend.store.keys  # type: ignore[attr-defined]
    return int(await client.memory_usage(keys.log(bin_id), samples=0) or 0)


@pytest.mark.parametrize("kind", [*sorted(_BODIES), "header_heavy"])
async def test_a_stored_request_costs_about_its_bytes(harness: Harness, kind: str) -> None:
    rec = record()
    await harness.store.create_bin(rec)
    await harness.store.append(rec.id, payload(rec.id, b"{}"))  # the stream's own overhead
    before = await _stored_bytes(harness, rec.id)
    if kind == "header_heavy":
        body, headers = b"{}", _HEAVY_HEADERS
        size = sum(len(n) + len(v) for n, v in headers)
    else:
        body, headers = _BODIES[kind], None
        size = len(body)
    stored = await harness.store.append(rec.id, payload(rec.id, body, headers=headers))
    assert stored is not None
    cost = await _stored_bytes(harness, rec.id) - before
    if kind == "header_heavy":
        assert size < cost <= 2 * size + 8 * len(headers) + 2 * KB  # headers count too
    else:
        # Redis's allocator rounds a large value up to its size class (up to 1/4 more).
        slack = 1.0 if harness.store.usage() is not None else 1.25
        assert cost <= (1.5 * size + ENTRY_OVERHEAD + 2 * KB) * slack, (kind, size, cost)
    print(f"\n[stored size] {harness.backend.name} {kind}: {size} bytes -> {cost}")


# -- memory budget (memory backend) ---------------------------------------------------------


@pytest_asyncio.fixture
async def memory() -> AsyncIterator[Limited]:
    """``await memory(max_memory=...)``: the memory backend only, as ``--max-memory`` is its
    own (Redis has ``maxmemory``)."""
    opened: list[Harness] = []

    async def open_with(**changes: Any) -> Harness:
        settings = Settings(**changes)
        harness = Harness(open_backend(settings), settings)
        await harness.backend.start(harness.on_event)
        opened.append(harness)
        return harness

    yield open_with
    for harness in opened:
        await harness.backend.close()


async def test_the_oldest_requests_of_any_bin_are_evicted_first(memory: Limited) -> None:
    harness = await memory(max_memory=400 * KB)
    store = harness.store
    first, second = record(), record()
    await store.create_bin(first)
    await store.create_bin(second)
    ids: list[tuple[str, str]] = []
    for n in range(40):  # 40 x 10 KB, alternating: about 410 KB with the bins
        target = (first, second)[n % 2].id
        stored = await store.append(target, payload(target, b"x" * (10 * KB)))
        assert stored is not None
        ids.append((target, stored.id))
    usage = store.usage()
    assert usage is not None and usage.used <= usage.limit and usage.evicted > 0
    kept = {
        i
        for rec in (first, second)
        for i, _ in await store.read(rec.id, after=None, limit=100) or []
    }
    gone = [i for _, i in ids if i not in kept]
    assert len(gone) == usage.evicted
    assert sorted(gone, key=id_key) == [i for _, i in ids[: len(gone)]]  # exactly the oldest
    assert await store.get_request(ids[0][0], ids[0][1]) is None


async def test_what_cannot_fit_is_refused_and_nothing_is_evicted(memory: Limited) -> None:
    harness = await memory(max_memory=100 * KB)
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    kept = await _fill(harness, rec.id, [KB] * 5)
    with pytest.raises(StorageFull) as refused:  # over half the budget
        await store.append(rec.id, payload(rec.id, b"x" * (60 * KB)))
    assert refused.value.code == ErrorCode.MEMORY_FULL
    assert [i for i, _ in await store.read(rec.id, after=None, limit=10) or []] == kept

    # Bins (responses included) take at most half the budget.
    with pytest.raises(StorageFull) as full:
        for _ in range(100):
            await store.create_bin(record(name="n" * (10 * KB)))
    assert full.value.code == ErrorCode.MEMORY_FULL
    usage = store.usage()
    assert usage is not None and usage.used <= usage.limit


# -- the capture queue (redis) ---------------------------------------------------------------


@pytest.mark.redis
async def test_the_capture_queue_is_capped(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, capture_queue=2)
    harness = Harness(open_backend(settings), settings)
    await harness.backend.start(harness.on_event)
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    with redis.Redis.from_url(harness.settings.redis_url or "") as admin:
        admin.execute_command("CLIENT", "PAUSE", 5000, "WRITE")  # captures wait for Redis
        try:
            waiting = [asyncio.ensure_future(store.append(rec.id, payload(rec.id))) for _ in "ab"]
            await asyncio.sleep(0)  # both queued
            with pytest.raises(QueueFull) as refused:
                await store.append(rec.id, payload(rec.id))
            assert refused.value.code == ErrorCode.CAPTURE_QUEUE_FULL
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
    assert all(stored is not None for stored in await asyncio.gather(*waiting))
    assert len(await store.read(rec.id, after=None, limit=10) or []) == 2
    assert await store.append(rec.id, payload(rec.id)) is not None  # room again
    await harness.backend.close()
