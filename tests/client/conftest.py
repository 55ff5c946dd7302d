"""SDK fixtures: clients and bins on the session's embedded server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

import hookscope
from hookscope._embedded import BackgroundServer


@pytest_asyncio.fixture
async def async_client(embedded_server: BackgroundServer) -> AsyncIterator[hookscope.AsyncClient]:
    async with hookscope.AsyncClient(embedded_server.url) as client:
        yield client


@pytest_asyncio.fixture
async def async_bin(async_client: hookscope.AsyncClient) -> hookscope.AsyncBin:
    return await async_client.create_bin()


@pytest.fixture
def client(embedded_server: BackgroundServer) -> Iterator[hookscope.Client]:
    with hookscope.Client(embedded_server.url) as sync_client:
        yield sync_client


@pytest.fixture
def bin(client: hookscope.Client) -> hookscope.Bin:
    return client.create_bin()
