"""Fixtures that start real things: private redis-servers, hookscope servers.

Redis tests are marked ``redis``. Without a ``redis-server`` binary they are skipped with a
reason, except under ``CI=true``, where a missing Redis is an error: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore  # noqa: F401
import pytest
import websockets.asyncio.client  # noqa: F401
from _support import REDIS_BINARY, LocalCluster, RedisServer, ServerProcess

from hookscope._embedded import BackgroundServer, serve_in_background

pytest_plugins = ["pytester"]  # the plugin tests run user-like test files

# In-process pytester runs forget the modules they import. The outer session's plugin bins do
# not use the network (they call the embedded server's app in-process), so what a networked
# client needs is imported here, before any inner run: an inner run that imported httpcore
# first would leave httpx (kept) mapping that forgotten httpcore's errors, and a later run's
# errors would escape as raw httpcore exceptions.


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if REDIS_BINARY is not None:
        return
    if os.environ.get("CI") == "true":
        raise pytest.UsageError("CI=true but redis-server is missing: Redis tests must run in CI")
    skip = pytest.mark.skip(reason="redis-server not installed (apt-get install -y redis-server)")
    for item in items:
        if "redis" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private redis-server for the session (use ``redis_url`` for a clean database)."""
    server = RedisServer(tmp_path_factory.mktemp("redis-session")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's private Redis, emptied before the test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A local 3-master Redis Cluster for the session (each xdist worker starts its own).

    Tests may migrate slots but must leave every slot served; ``redis_cluster_url`` gives
    an empty one.
    """
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster")).start()
    print(f"\n[redis-cluster] 3 masters ready in {cluster.started_in:.2f} s")
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster_url(redis_cluster: LocalCluster) -> str:
    """A seed node URL of the session's cluster, emptied (FLUSHALL on every primary)."""
    redis_cluster.flushall()
    return redis_cluster.url


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-servers the test may kill and restart; all stopped afterwards."""
    started: list[RedisServer] = []

    def start(*, durable: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(started)}", durable=durable).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    """Start ``hookscope serve`` processes (``--port 0``); all stopped afterwards."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> ServerProcess:
        server = ServerProcess(args, env=env).start(**kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[BackgroundServer]:
    """A memory-backed server in a thread of the test process, for the whole session."""
    server = serve_in_background()
    yield server
    server.stop()
