"""Server test helpers: the servers under test, HTTP clients on them and fresh bins.

The contract runs on every server ``hookscope serve --server`` offers: ``embedded_server``,
``small_server`` and ``server_factory`` are parametrised here with each of ``SERVERS``
(hypercorn in a thread of the test process as ``serve_in_background`` runs it, the others as
``hookscope serve`` processes). A test about one server's internals says so with
``@pytest.mark.servers("hypercorn")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _server_http import MAX_BODY, Bin
from _support import ServerProcess

from hookscope._config import Settings
from hookscope._embedded import BackgroundServer, serve_in_background
from hookscope._serve import SERVERS

Served = BackgroundServer | ServerProcess  # what tests use of either: .url


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "servers(*names): run only on these servers (default: every one)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "server_name" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("servers")
        names = marker.args if marker else SERVERS
        metafunc.parametrize("server_name", names, scope="session")


@pytest.fixture(scope="session")
def server_name(request: pytest.FixtureRequest) -> str:
    """The server under test: hypercorn, uvicorn (parametrised by pytest_generate_tests)."""
    name: str = request.param
    return name


def _process(name: str, env: dict[str, str] | None = None) -> ServerProcess:
    return ServerProcess(env={"HOOKSCOPE_SERVER": name, **(env or {})}).start(port=0)


@pytest.fixture(scope="session")
def embedded_server(server_name: str, embedded_server: BackgroundServer) -> Iterator[Served]:
    """The session's memory-backed server, on ``server_name``."""
    if server_name == "hypercorn":
        yield embedded_server
        return
    server = _process(server_name)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def small_server(server_name: str) -> Iterator[Served]:
    """A server with small limits, to hit them cheaply."""
    if server_name != "hypercorn":
        server = _process(
            server_name,
            {
                "HOOKSCOPE_MAX_BODY": str(MAX_BODY),
                "HOOKSCOPE_MAX_REQUESTS": "20",
                "HOOKSCOPE_WATCHER_QUEUE": "8",
            },
        )
        yield server
        server.stop()
        return
    embedded = serve_in_background(max_body=MAX_BODY, max_requests=20, watcher_queue=8)
    yield embedded
    embedded.stop()


@pytest.fixture(scope="module")
def serve_on(server_name: str) -> Iterator[Callable[..., Served]]:
    """Start servers with these ``Settings`` on ``server_name`` (as ``serve_in_background``
    takes them); all stopped after the module."""
    started: list[Served] = []

    def start(**settings: Any) -> Served:
        server: Served
        if server_name == "hypercorn":
            server = serve_in_background(**settings)
        else:
            server = _process(server_name, Settings(**settings).to_env())
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_factory(
    server_name: str, server_factory: Callable[..., ServerProcess]
) -> Callable[..., ServerProcess]:
    """``hookscope serve`` processes on ``server_name`` (``HOOKSCOPE_SERVER``)."""

    def start(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> ServerProcess:
        return server_factory(*args, env={"HOOKSCOPE_SERVER": server_name, **(env or {})}, **kwargs)

    return start


@pytest.fixture
def http(embedded_server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def small_http(small_server: Served) -> Iterator[httpx.Client]:
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
