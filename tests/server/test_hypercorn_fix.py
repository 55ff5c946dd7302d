"""The hypercorn fix: only hookscope's servers, hypercorn's own ping loop, checked versions only.

The lingering tests on real hookscope servers (embedded, and ``--workers 2``) are in
``test_streams.py``; here a bare ASGI app is served by hypercorn in the test's own loop, once
with hookscope's config and once with a plain one, in the same process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
import websockets
from _lingering import TIME_WAIT, ping_tasks, require_checked_hypercorn, tcp_states
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.protocol.ws_stream import WSStream

from hookscope._config import Settings
from hookscope._serve import bind_socket, hypercorn_config, url_of
from hookscope.server import _hypercorn_fix

PING_INTERVAL = 600.0  # far beyond any test: a ping loop that ends did not end by pinging


def test_the_installed_hypercorn_was_checked() -> None:
    """Fails when a new hypercorn is installed: re-check the fix, then add it to CHECKED."""
    require_checked_hypercorn()
    assert _hypercorn_fix.install() is True


def test_an_unchecked_hypercorn_is_left_alone_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    methods = {name: WSStream.__dict__[name] for name in ("handle", "_send_pings")}
    monkeypatch.setattr(_hypercorn_fix, "_active", None)  # as in a fresh process
    monkeypatch.setattr(_hypercorn_fix, "metadata", SimpleNamespace(version=lambda _: "0.99.0"))
    with caplog.at_level(logging.WARNING, logger="hookscope.server"):
        assert _hypercorn_fix.install() is False
        assert _hypercorn_fix.install() is False
        _hypercorn_fix.own(Config())
    [warning] = caplog.records
    assert "hypercorn 0.99.0" in warning.getMessage()
    assert "hookscope/server/_hypercorn_fix.py" in warning.getMessage()
    assert {name: WSStream.__dict__[name] for name in methods} == methods


class EchoApp:
    """Accepts a WebSocket and waits for the client to go."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while (await receive())["type"] != "websocket.disconnect":
                pass
            self.gone.set()


class Served:
    def __init__(self, app: EchoApp, owned: bool, url: str, port: int) -> None:
        self.app = app
        self.owned = owned
        self.url = url
        self.port = port


def _config(owned: bool) -> tuple[Config, str, int]:
    sock = bind_socket("127.0.0.1", 0)
    url, port = url_of(sock), sock.getsockname()[1]
    if owned:
        config = hypercorn_config(Settings(ping_interval=PING_INTERVAL), sock)
    else:
        config = Config()
        config.bind = [f"fd://{sock.detach()}"]
        config.websocket_ping_interval = PING_INTERVAL
        config.accesslog = None
    config.graceful_timeout = 0.2  # the plain server's ping loop is cut at shutdown
    return config, url, port


@pytest_asyncio.fixture(params=["hookscope's", "plain"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    owned = request.param == "hookscope's"
    config, url, port = _config(owned)
    app = EchoApp()
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
    try:
        yield Served(app, owned, url, port)
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await serving


@pytest.mark.asyncio
@pytest.mark.parametrize("goodbye", ["close handshake", "dropped connection"])
async def test_only_hookscopes_servers_end_the_ping_loop_on_close(
    served: Served, goodbye: str
) -> None:
    require_checked_hypercorn()
    ws = await websockets.connect(served.url.replace("http://", "ws://"), compression=None)
    async with asyncio.timeout(10):
        while not ping_tasks():
            await asyncio.sleep(0.01)
    [pinger] = ping_tasks()
    client_port = ws.local_address[1]
    if goodbye == "close handshake":
        await ws.close()
    else:
        ws.transport.close()  # FIN without a close frame
    async with asyncio.timeout(10):
        await served.app.gone.wait()
    if served.owned:
        async with asyncio.timeout(10):  # the ping interval is 600 s
            while not pinger.done() or tcp_states(served.port, client_port) - {TIME_WAIT}:
                await asyncio.sleep(0.01)
        assert not pinger.cancelled()  # it ended quietly, not by a cancel that leaked out
    else:
        # hypercorn's own behaviour: the app is done, yet the loop sleeps until its next ping.
        assert not pinger.done()
        assert pinger.cancelling() == 0
