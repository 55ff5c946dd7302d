"""The shared backend: any number of server processes and hosts behind one Redis (7.0+),
or one Redis Cluster (``Settings.redis_cluster``).

``RedisStore`` (``_redis_store``) keeps bins as hashes and request logs as Redis Streams;
``RedisFeed`` (``_redis_feed``) fans captures out over sharded pub/sub, one subscriber
connection per Redis node per process. Keys and channels (``_redis_keys``) are hash-tagged
per bin. Both are written once; the topology (``_redis_topology``) says which node serves a
key. Needs the ``redis`` extra: ``pip install 'hookscope[redis]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .._extras import require
from ._interfaces import Backend

if TYPE_CHECKING:
    from .._config import Settings

__all__ = ["open_redis", "redacted"]

SOCKET_TIMEOUT = 2.0
"""Seconds a Redis command may take before the capture answers 503."""
CONNECT_TIMEOUT = 1.0
MAX_CONNECTIONS = 64
"""Per process (per primary on a cluster)."""


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


def open_redis(settings: Settings) -> Backend:
    """The ``redis`` backend of the registry, for ``settings.redis_url`` (a cluster node with
    ``settings.redis_cluster``)."""
    require("redis", "the redis backend")
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.connection import SSLConnection, parse_url
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from ._redis_feed import RedisFeed
    from ._redis_keys import RedisKeys
    from ._redis_store import RedisStore
    from ._redis_topology import ClusterNodes, Node, SingleNode, Topology

    url = settings.redis_url or "redis://127.0.0.1:6379/0"
    kwargs = parse_url(url)
    common: dict[str, Any] = {
        **kwargs,
        "decode_responses": True,
        # RESP2 everywhere: pub/sub replies are plain arrays on every redis-py version.
        "protocol": 2,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        # No retries: a capture script that timed out may have run, and running it again
        # would store the request twice. A pooled connection that died with a Redis restart
        # fails one call (503) and is replaced. (A cluster still follows MOVED and ASK:
        # the command did not run.)
        "retry": Retry(NoBackoff(), 0),
    }
    plain = {key: value for key, value in common.items() if key != "connection_class"}
    # Reads wait for messages; pings check liveness.
    subscriber = {**plain, "socket_timeout": None}
    redis: Redis | RedisCluster
    topology: Topology
    if settings.redis_cluster:
        options = {**plain, "ssl": kwargs.get("connection_class") is SSLConnection}
        if options.pop("db", 0):
            raise ValueError("Redis Cluster has database 0 only: drop the /N from --redis-url")
        # Any node is a seed; the client learns the others from it. Per node: at most
        # MAX_CONNECTIONS, and a command beyond that fails at once (503) instead of waiting.
        redis = RedisCluster(
            **options, max_connections=MAX_CONNECTIONS, socket_timeout=SOCKET_TIMEOUT
        )
        topology = ClusterNodes(redis, subscriber)
    else:
        pool = BlockingConnectionPool(
            max_connections=MAX_CONNECTIONS,
            timeout=SOCKET_TIMEOUT,
            socket_timeout=SOCKET_TIMEOUT,
            **common,
        )
        redis = Redis(connection_pool=pool)
        node = f"{kwargs.get('host', '127.0.0.1')}:{kwargs.get('port', 6379)}"
        topology = SingleNode(redis, Node(node, subscriber))
    keys = RedisKeys()
    store = RedisStore(
        redis,
        topology=topology,
        where=redacted(url),
        keys=keys,
        max_bins=settings.max_bins,
        bin_rate=settings.rate_limit,
        address_rate=settings.ip_rate_limit,
        max_queue=settings.capture_queue,
        max_queue_bytes=settings.capture_queue_bytes,
    )
    return Backend("redis", store, RedisFeed(topology, keys=keys))
