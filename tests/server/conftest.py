"""Server test helpers: HTTP clients on embedded servers and fresh bins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _server_http import MAX_BODY, Bin

from hookscope._embedded import BackgroundServer, serve_in_background


@pytest.fixture(scope="module")
def small_server() -> Iterator[BackgroundServer]:
    """An embedded server with small limits, to hit them cheaply."""
    server = serve_in_background(max_body=MAX_BODY, max_requests=20, watcher_queue=8)
    yield server
    server.stop()


@pytest.fixture
def http(embedded_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def small_http(small_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small_server.url, timeout=10) as client:
        yield client


def _make_bin(client: httpx.Client, **body: Any) -> Bin:
    response = client.post("/api/bins", json=body or None)
    assert response.status_code == 201, response.text
    return Bin(client, response.json())


@pytest.fixture
def new_bin(http: httpx.Client) -> Callable[..., Bin]:
    return lambda **body: _make_bin(http, **body)


@pytest.fixture
def new_small_bin(small_http: httpx.Client) -> Callable[..., Bin]:
    return lambda **body: _make_bin(small_http, **body)
