"""The backend contract: every backend in the registry, started as the server starts it.

``harness`` gives a started ``Backend`` (built by ``open_backend``, as ``hookscope serve``
builds it) whose feed events land in ``harness.events``. The Store half of the contract is
``test_store_contract.py``, the Feed half ``test_feed_contract.py``; each test runs once per
backend (``redis-cluster``: the redis backend on a local 3-master cluster).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from hookscope._config import Settings
from hookscope._ids import new_bin_id, new_token
from hookscope._wire import encode_capture
from hookscope.backends import (
    Backend,
    BinRecord,
    Captured,
    Feed,
    FeedEvent,
    Store,
    open_backend,
)


@dataclass
class Harness:
    backend: Backend
    settings: Settings
    events: list[FeedEvent] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def feed(self) -> Feed:
        return self.backend.feed

    def on_event(self, event: FeedEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait_events(self, count: int, timeout: float = 5.0) -> list[FeedEvent]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events

    def captured(self, bin_id: str) -> list[Captured]:
        return [e for e in self.events if isinstance(e, Captured) and e.bin_id == bin_id]


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis),
    ]
)
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend_settings(backend_name: str, request: pytest.FixtureRequest) -> Settings:
    if backend_name == "redis":
        return Settings(redis_url=request.getfixturevalue("redis_url"))
    if backend_name == "redis-cluster":
        url = request.getfixturevalue("redis_cluster_url")
        return Settings(redis_url=url, redis_cluster=True)
    return Settings(backend=backend_name)


@pytest_asyncio.fixture
async def harness(backend_settings: Settings) -> AsyncIterator[Harness]:
    backend = open_backend(backend_settings)
    harness = Harness(backend, backend_settings)
    await backend.start(harness.on_event)
    yield harness
    await backend.close()


Limited = Callable[..., Awaitable[Harness]]


@pytest_asyncio.fixture
async def limited(backend_settings: Settings) -> AsyncIterator[Limited]:
    """``await limited(max_bins=3, ...)``: a started backend whose settings have those changes
    (as ``harness``, once per backend); closed afterwards."""
    opened: list[Backend] = []

    async def open_with(**changes: object) -> Harness:
        settings = backend_settings.replace(**changes)
        backend = open_backend(settings)
        started = Harness(backend, settings)
        await backend.start(started.on_event)
        opened.append(backend)
        return started

    yield open_with
    for backend in opened:
        await backend.close()


def record(**changes: object) -> BinRecord:
    values: dict[str, object] = {
        "id": new_bin_id(),
        "token": new_token(),
        "created_at": datetime.now(UTC),
        "max_requests": 100,
        "ttl_s": 3600.0,
    }
    values.update(changes)
    return BinRecord(**values)  # type: ignore[arg-type]


def payload(
    bin_id: str,
    body: bytes = b"{}",
    path: str = "/",
    headers: list[tuple[str, str]] | None = None,
) -> str:
    return encode_capture(
        bin_id=bin_id,
        received_at=datetime.now(UTC),
        method="POST",
        path=path,
        query="",
        headers=[("content-type", "application/json")] if headers is None else headers,
        body=body,
        remote_addr="127.0.0.1",
        http_version="1.1",
    )
