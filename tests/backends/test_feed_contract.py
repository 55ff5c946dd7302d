"""The Feed half of the backend contract: live events, on every backend."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Harness, payload, record

from hookscope.backends import BinDeleted

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
