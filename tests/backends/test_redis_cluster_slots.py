"""The redis backend on a Redis Cluster that changes: slots move, a primary forgets scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from _support import LocalCluster, RedisServer
from conftest import Harness, payload, record

from hookscope.backends import FeedLost
from hookscope.backends._redis_keys import RedisKeys

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]

KEYS = RedisKeys()


@pytest.fixture
def backend_name() -> str:
    return "redis-cluster"


@pytest.fixture
def moves(redis_cluster: LocalCluster) -> Iterator[list[tuple[str, RedisServer]]]:
    """Slots the test moved, as (key, first owner): moved back afterwards."""
    moved: list[tuple[str, RedisServer]] = []
    yield moved
    for key, owner in reversed(moved):
        redis_cluster.move_slot(key, owner)


def move(cluster: LocalCluster, moved: list[tuple[str, RedisServer]], key: str) -> RedisServer:
    """Move ``key``'s slot to another node; returns the new owner."""
    owner = cluster.node_of(key)
    target = next(node for node in cluster.nodes if node is not owner)
    moved.append((key, owner))
    cluster.move_slot(key, target)
    return target


def subscribers_on(node: RedisServer, cluster: LocalCluster) -> int:
    with cluster.admin(node) as client:
        return sum(int(c.get("ssub", 0)) for c in client.client_list())


async def test_a_slot_that_migrates_drops_its_bin_and_it_resumes_on_the_new_owner(
    harness: Harness, redis_cluster: LocalCluster, moves: list[tuple[str, RedisServer]]
) -> None:
    rec = record()
    await harness.store.create_bin(rec)
    await harness.feed.subscribe(rec.id)
    assert await harness.store.append(rec.id, payload(rec.id)) is not None
    await harness.wait_events(1)

    target = move(redis_cluster, moves, KEYS.channel(rec.id))
    # The old owner unsubscribes us (a server-initiated sunsubscribe): the bin's feed is lost.
    events = await harness.wait_events(2)
    assert isinstance(events[1], FeedLost) and events[1].bin_ids == {rec.id}

    await harness.feed.subscribe(rec.id)  # routed by the refreshed slot map
    assert subscribers_on(target, redis_cluster) == 1
    assert await harness.store.append(rec.id, payload(rec.id)) is not None
    await harness.wait_events(3)
    assert len(harness.captured(rec.id)) == 2


async def test_a_subscription_sent_to_the_old_owner_follows_moved(
    harness: Harness, redis_cluster: LocalCluster, moves: list[tuple[str, RedisServer]]
) -> None:
    rec = record()
    await harness.store.create_bin(rec)  # the backend's slot map now knows rec's node
    target = move(redis_cluster, moves, KEYS.channel(rec.id))  # ...and is stale

    await harness.feed.subscribe(rec.id)  # -MOVED from the old owner, then the new one
    assert subscribers_on(target, redis_cluster) == 1
    # The capture script is redirected too (it had not run), and is published once.
    assert await harness.store.append(rec.id, payload(rec.id)) is not None
    await harness.wait_events(1)
    assert len(harness.captured(rec.id)) == 1
    assert harness.events == harness.captured(rec.id)


async def test_a_primary_that_forgot_the_scripts_is_given_them_again(
    harness: Harness, redis_cluster: LocalCluster
) -> None:
    by_node: dict[int, str] = {}
    while len(by_node) < len(redis_cluster.nodes):
        rec = record()
        by_node.setdefault(redis_cluster.node_of(KEYS.meta(rec.id)).port, rec.id)
        await harness.store.create_bin(rec)
    forgetful = redis_cluster.nodes[2]
    with redis_cluster.admin(forgetful) as client:
        client.script_flush()  # as after a restart without persistence

    # One batch over every primary: NOSCRIPT from one reloads the scripts on every primary.
    results = await asyncio.gather(
        *(harness.store.append(bin_id, payload(bin_id)) for bin_id in by_node.values())
    )
    assert all(result is not None for result in results)
    with redis_cluster.admin(forgetful) as client:
        assert client.info("memory")["number_of_cached_scripts"] >= 1


async def test_not_ready_while_a_slot_has_no_primary(
    harness: Harness, redis_cluster: LocalCluster
) -> None:
    assert await harness.store.ready()
    node = redis_cluster.nodes[0]
    with redis_cluster.admin(node) as client:
        mine = next(n for n in client.cluster("nodes").values() if "myself" in n["flags"])
        slot = int(mine["slots"][0][0])
        client.execute_command("CLUSTER", "DELSLOTS", slot)
        try:
            async with asyncio.timeout(10):
                while await harness.store.ready():
                    await asyncio.sleep(0.05)
        finally:
            client.execute_command("CLUSTER", "ADDSLOTS", slot)
    async with asyncio.timeout(10):
        while not await harness.store.ready():
            await asyncio.sleep(0.05)
