"""SDK fixtures: clients and bins on a real server, one per backend.

Tests that take ``server_url`` (or a client or bin built on it) run twice: against the
session's embedded server (memory backend) and against a ``hookscope serve`` process on a
private Redis (marked ``redis``), started once per test session and worker.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from _support import RedisServer, ServerProcess

import hookscope
from hookscope._embedded import BackgroundServer


@pytest.fixture(scope="session")
def redis_backed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server process on a Redis of its own, shared by the session's SDK tests."""
    redis = RedisServer(tmp_path_factory.mktemp("sdk-redis")).start()
    server = ServerProcess(["--redis-url", redis.url]).start(port=0)
    yield server
    server.stop()
    redis.stop()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def server_url(request: pytest.FixtureRequest) -> str:
    if request.param == "redis":
        redis_backed: ServerProcess = request.getfixturevalue("redis_backed_server")
        return redis_backed.url
    embedded: BackgroundServer = request.getfixturevalue("embedded_server")
    return embedded.url


@pytest_asyncio.fixture
async def async_client(server_url: str) -> AsyncIterator[hookscope.AsyncClient]:
    async with hookscope.AsyncClient(server_url) as client:
        yield client


@pytest_asyncio.fixture
async def async_bin(async_client: hookscope.AsyncClient) -> hookscope.AsyncBin:
    return await async_client.create_bin()


@pytest.fixture
def client(server_url: str) -> Iterator[hookscope.Client]:
    with hookscope.Client(server_url) as sync_client:
        yield sync_client


@pytest.fixture
def bin(client: hookscope.Client) -> hookscope.Bin:
    return client.create_bin()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))


@pytest.fixture
def client_log() -> Iterator[list[tuple[int, str]]]:
    """``(level, message)`` of every ``hookscope.client`` record during the test.

    A handler of its own rather than caplog: the CLI may have turned propagation off.
    """
    logger = logging.getLogger("hookscope.client")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler.messages
    logger.removeHandler(handler)
    logger.setLevel(level)
