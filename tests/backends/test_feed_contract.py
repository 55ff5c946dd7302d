"""The Feed half of the backend contract: live events, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis
from _support import wait_until
from conftest import Harness, payload, record

from hookscope._config import Settings
from hookscope._ids import new_bin_id
from hookscope.backends import Backend, BinDeleted, open_backend
from hookscope.server._hub import Hub

pytestmark = pytest.mark.asyncio


async def test_live_events_follow_history_order(harness: Harness) -> None:
    store, feed = harness.store, harness.feed
    rec = record(max_requests=1000)
    await store.create_bin(rec)
    await feed.subscribe(rec.id)
    results = await asyncio.gather(
        *(store.append(rec.id, payload(rec.id, str(n).encode())) for n in range(300))
    )
    assert all(result is not None for result in results)
    await harness.wait_events(300)
    history = await store.read(rec.id, after=None, limit=1000)
    assert history is not None
    live = harness.captured(rec.id)
    assert [(e.id, e.text) for e in live] == history
    assert len({e.id for e in live}) == 300


async def test_live_events_only_for_subscribed_bins_after_unsubscribe(
    harness: Harness, backend_name: str
) -> None:
    store, feed = harness.store, harness.feed
    watched, other = record(), record()
    await store.create_bin(watched)
    await store.create_bin(other)
    await feed.subscribe(watched.id)
    await store.append(other.id, payload(other.id))
    await store.append(watched.id, payload(watched.id))
    await harness.wait_events(1)
    assert harness.captured(watched.id)
    if backend_name != "memory":  # memory may deliver everything; the hub filters
        assert not harness.captured(other.id)
        await feed.unsubscribe(watched.id)
        await feed.subscribe(other.id)  # a round trip after the unsubscribe
        await store.append(watched.id, payload(watched.id))
        await store.append(other.id, payload(other.id))
        await harness.wait_events(2)
        assert len(harness.captured(watched.id)) == 1


async def test_delete_tells_subscribers(harness: Harness) -> None:
    rec = record()
    await harness.store.create_bin(rec)
    await harness.feed.subscribe(rec.id)
    await harness.store.delete_bin(rec.id)
    events = await harness.wait_events(1)
    assert BinDeleted(rec.id) in events


async def test_subscribe_returns_only_when_later_captures_will_arrive(harness: Harness) -> None:
    # What "subscribe, then replay" relies on: nothing published after subscribe()
    # returned can be missed, even with many subscriptions racing.
    store, feed = harness.store, harness.feed
    records = [record() for _ in range(20)]
    for rec in records:
        await store.create_bin(rec)
    await asyncio.gather(*(feed.subscribe(rec.id) for rec in records))
    for rec in records:
        assert await store.append(rec.id, payload(rec.id)) is not None
    await harness.wait_events(20)
    assert all(len(harness.captured(rec.id)) == 1 for rec in records)


# -- Redis only: what one subscriber connection must survive -----------------------------------


@pytest_asyncio.fixture
async def redis_backend(redis_url: str) -> AsyncIterator[Backend]:
    backend = open_backend(Settings(redis_url=redis_url))
    yield backend
    await backend.close()


def shard_subscribers(admin: redis.Redis, channel: str) -> int:
    _, count = admin.execute_command("PUBSUB", "SHARDNUMSUB", channel)
    return int(count)


@pytest.mark.redis
async def test_a_malformed_message_on_a_bins_channel_costs_no_stream(
    redis_backend: Backend, redis_url: str
) -> None:
    """Garbage published on a bin's channel is dropped; the streams of the process live on."""
    hub = Hub(redis_backend.feed, redis_backend.store, watcher_limit=100)
    await redis_backend.start(hub.on_event)
    watched, other = record(), record()
    for rec in (watched, other):
        await redis_backend.store.create_bin(rec)
    watcher, bystander = await hub.join(watched.id), await hub.join(other.id)
    channel = redis_backend.feed.keys.channel(watched.id)  # type: ignore[attr-defined]
    with redis.Redis.from_url(redis_url) as admin:
        for garbage in ("garbage", "", '{"id":"unterminated', '{"id":"not-an-id","bin":"x"}'):
            admin.execute_command("SPUBLISH", channel, garbage)
    appended = await redis_backend.store.append(watched.id, payload(watched.id))
    elsewhere = await redis_backend.store.append(other.id, payload(other.id))
    assert appended is not None and elsewhere is not None
    async with asyncio.timeout(5):
        assert [item.id for item in await watcher.next_items()] == [appended.id]
        assert [item.id for item in await bystander.next_items()] == [elsewhere.id]
    assert hub.watched == {watched.id, other.id}  # no feed loss: nothing closed with 1012
    await hub.close()


@pytest.mark.redis
async def test_a_subscribe_cancelled_before_redis_confirms_is_undone(
    redis_backend: Backend, redis_url: str
) -> None:
    feed = redis_backend.feed
    await redis_backend.start(lambda event: None)
    await feed.subscribe(new_bin_id())  # the subscriber connection is open
    bin_id = new_bin_id()
    channel = feed.keys.channel(bin_id)  # type: ignore[attr-defined]
    # A blocking client: while it polls, this loop cannot read Redis's confirmation.
    with redis.Redis.from_url(redis_url) as admin:
        subscribing = asyncio.create_task(feed.subscribe(bin_id))
        await asyncio.sleep(0)  # its first step sends SSUBSCRIBE, then waits for the reply
        wait_until(lambda: shard_subscribers(admin, channel) == 1, timeout=5, what="SSUBSCRIBE")
        assert not subscribing.done()  # Redis has confirmed; the feed has not read it yet
        subscribing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await subscribing
        async with asyncio.timeout(5):
            while shard_subscribers(admin, channel):
                await asyncio.sleep(0.01)
        await feed.subscribe(bin_id)  # and the bin can be subscribed afterwards
        assert shard_subscribers(admin, channel) == 1
        await feed.unsubscribe(bin_id)
