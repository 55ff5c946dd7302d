"""Server test helpers: HTTP clients on embedded servers and fresh bins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hookscope._embedded import BackgroundServer, serve_in_background

MAX_BODY = 4096


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


class Bin:
    """A bin created over the API, with a client that carries its token."""

    def __init__(self, client: httpx.Client, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id: str = data["id"]
        self.token: str = data["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def capture(self, path: str = "", **kwargs: Any) -> httpx.Response:
        method = kwargs.pop("method", "POST")
        return self.client.request(method, f"/h/{self.id}{path}", **kwargs)

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/bins/{self.id}/requests", params=params, headers=self.auth
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["requests"]
        return found

    def api(self, method: str, suffix: str = "", **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.client.request(
            method, f"/api/bins/{self.id}{suffix}", headers=headers, **kwargs
        )


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
