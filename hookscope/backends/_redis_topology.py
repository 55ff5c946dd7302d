"""Where a key lives: one Redis, or the primary that owns its slot in a Redis Cluster.

``RedisStore`` and ``RedisFeed`` are written once for both deployments; what differs is
here. ``SingleNode`` is one Redis. ``ClusterNodes`` reads the slot map of a
``RedisCluster`` client, refreshes it once (in the background) when something says it is
stale (a ``MOVED`` reply, a slot that migrated, a node that went away), and makes every
lookup wait for that refresh, so that the next subscription goes to the new owner.

    node = await topology.node_of(keys.channel(bin_id))   # Node("127.0.0.1:7001", {...})
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

__all__ = ["FAILURES", "ClusterNodes", "Node", "SingleNode", "Topology"]

log = logging.getLogger("hookscope.redis")

HASH_SLOTS = 16384
FAILURES = (RedisError, RedisClusterException, OSError)
"""What a Redis call raises when it fails (``RedisClusterException``: no usable slot map)."""


@dataclass(frozen=True, slots=True)
class Node:
    """A Redis node: its name (``host:port``) and the settings of a connection to it."""

    name: str
    connection: dict[str, Any]


class Topology(Protocol):
    async def node_of(self, key: str) -> Node:
        """The primary that serves ``key`` (a key or a shard channel), after any refresh."""
        ...

    def stale(self) -> None:
        """The map may be out of date: refresh it once, in the background."""
        ...

    async def memory(self) -> list[dict[str, Any]] | None:
        """``INFO memory`` of every primary; None when a slot has no serving primary."""
        ...

    async def close(self) -> None: ...


class SingleNode:
    """One Redis: every key lives on it, and its map never goes stale."""

    def __init__(self, redis: Redis, node: Node) -> None:
        self._redis = redis
        self._node = node

    async def node_of(self, key: str) -> Node:
        return self._node

    def stale(self) -> None:
        pass

    async def memory(self) -> list[dict[str, Any]] | None:
        return [await self._redis.info("memory")]

    async def close(self) -> None:
        pass


class ClusterNodes:
    """The primaries of a Redis Cluster, by the slot map of ``cluster`` (the store's client).

    ``connection`` holds the settings of a connection to any node (auth, timeouts); the
    host and port come from the map.
    """

    def __init__(self, cluster: RedisCluster, connection: dict[str, Any]) -> None:
        self._cluster = cluster
        self._connection = connection
        self._nodes: dict[str, Node] = {}
        self._refreshing: asyncio.Task[None] | None = None

    async def node_of(self, key: str) -> Node:
        if self._refreshing is not None and not self._refreshing.done():
            # Shielded: a caller that gives up must not cancel the refresh for the others.
            await asyncio.shield(self._refreshing)
        await self._cluster.initialize()  # a no-op unless redis-py has no map (yet, or now)
        primary = self._cluster.nodes_manager.get_node_from_slot(self._cluster.keyslot(key))
        node = self._nodes.get(primary.name)
        if node is None:
            connection = {**self._connection, "host": primary.host, "port": primary.port}
            node = self._nodes[primary.name] = Node(primary.name, connection)
        return node

    def stale(self) -> None:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.get_running_loop().create_task(
                self._refresh(), name="hookscope-redis-slots"
            )

    async def _refresh(self) -> None:
        try:
            await self._cluster.nodes_manager.initialize()
        except Exception as error:  # keep the old map; the next failure asks again
            log.warning("could not refresh the Redis Cluster slot map: %s", error)

    async def memory(self) -> list[dict[str, Any]] | None:
        await self._cluster.initialize()
        primaries = self._cluster.get_primaries()
        states = await asyncio.gather(
            *(self._cluster.cluster_info(target_nodes=node) for node in primaries)
        )
        for state in states:
            if (
                state.get("cluster_state") != "ok"
                or int(state.get("cluster_slots_ok", 0)) < HASH_SLOTS
            ):
                return None
        return list(
            await asyncio.gather(
                *(self._cluster.info("memory", target_nodes=node) for node in primaries)
            )
        )

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refreshing
