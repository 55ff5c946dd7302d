"""``hookscope serve --server``: choosing the server, its extra, and refusals without the
``websocket.http.response`` extension.

The contract itself runs on every server through the parametrised fixtures of conftest.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from _support import ServerProcess, wait_until
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

import hookscope
from hookscope._config import Settings
from hookscope._contract import REQUEST_ID_HEADER as ID_HEADER
from hookscope._contract import CloseCode
from hookscope._serve import bind_socket, url_of
from hookscope.server import create_app

pytestmark = pytest.mark.slow


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hookscope", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_an_unknown_server_is_a_usage_error() -> None:
    result = _serve("--server", "gunicorn")
    assert result.returncode == 2
    assert "'gunicorn' is not one of 'hypercorn', 'uvicorn'" in result.stderr
    assert "listening" not in result.stdout


def test_without_the_extra_uvicorn_names_what_to_install(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class Hide:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in ("uvicorn", "httptools", "uvloop"):
                        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

            sys.meta_path.insert(0, Hide())
            """
        )
    )
    import os

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    result = _serve("--server", "uvicorn", env=env)
    assert result.returncode == 1
    assert "--server uvicorn needs uvicorn, which is not installed" in result.stderr
    assert "pip install 'hookscope[uvicorn]'" in result.stderr
    assert "listening" not in result.stdout
    # The variable chooses it as the flag does.
    result = _serve(env={**env, "HOOKSCOPE_SERVER": "uvicorn"})
    assert "pip install 'hookscope[uvicorn]'" in result.stderr


def test_the_address_line_names_the_server(
    server_factory: Callable[..., ServerProcess], server_name: str
) -> None:
    server = server_factory()
    assert f"server: {server_name})" in "".join(server.output)


@pytest.fixture
def server_without_extension() -> Iterator[str]:
    """The app on a server that does not offer ``websocket.http.response`` (granian 2.8, for
    one, answers refusals with upgrade headers): uvicorn with the extension taken out of
    every scope, which is all the app sees of a server without it."""
    app = create_app(Settings())

    async def without(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, "extensions": {}}, receive, send)

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(without, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=30, what="uvicorn to start")
    yield url_of(sock)
    server.should_exit = True
    thread.join(15)
    sock.close()


def test_without_the_extension_a_refusal_is_an_error_frame_and_1008(
    server_without_extension: str,
) -> None:
    """What the SDK turns into the same exceptions as an HTTP refusal (DESIGN.md)."""
    url = server_without_extension
    with hookscope.Client(url) as client:
        bin = client.create_bin()
        ws_base = url.replace("http://", "ws://")
        for query, code in (("?token=wrong", "token_invalid"), ("", "token_required")):
            with connect(f"{ws_base}/api/bins/{bin.id}/ws{query}", open_timeout=5) as ws:
                frame = json.loads(ws.recv(timeout=5))
                assert frame["type"] == "error"
                assert frame["code"] == code
                with pytest.raises(ConnectionClosedError) as closed:
                    ws.recv(timeout=5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.POLICY
        with pytest.raises(hookscope.Unauthorized):
            client.bin(bin.id, "wrong").wait_for(timeout=5)
        with pytest.raises(hookscope.BinNotFound):
            client.bin("b_" + "x" * 22, bin.token).wait_for(timeout=5)
        httpx.post(bin.url_for("/after"), content=b"ok")
        assert bin.wait_for(path="/after", timeout=10).body == b"ok"


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_an_embedded_server_on_either_and_its_stop_tells_streams_1012(server: str) -> None:
    embedded = hookscope.serve_in_background(server=server)
    try:
        assert embedded.server == server
        assert server in repr(embedded)
        with hookscope.Client(embedded.url) as client:
            bin = client.create_bin()
            sent = httpx.post(bin.url_for("/a?x=1"), content=b"\x00raw")
            assert bin.wait_for("POST", "/a", query={"x": "1"}).body == b"\x00raw"
            ws_url = f"{embedded.url.replace('http://', 'ws://')}/api/bins/{bin.id}/ws"
            with connect(f"{ws_url}?since=0-0&token={bin.token}", open_timeout=5) as ws:
                replay = json.loads(ws.recv(timeout=5))  # one batch of history
                assert [r["id"] for r in replay["requests"]] == [sent.headers[ID_HEADER]]
                assert json.loads(ws.recv(timeout=5)) == {"type": "live"}
                embedded.stop()
                assert json.loads(ws.recv(timeout=10))["code"] == "feed_lost"
                with pytest.raises(ConnectionClosedError) as closed:
                    ws.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CloseCode.FEED_LOST
        assert not embedded.running
    finally:
        embedded.stop()


def test_an_embedded_server_names_the_servers() -> None:
    with pytest.raises(ValueError, match="one of hypercorn, uvicorn, not 'gunicorn'"):
        hookscope.serve_in_background(server="gunicorn")


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_an_embedded_server_that_fails_to_start_raises_and_does_not_exit(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hookscope.server._hub import Hub

    async def broken(self: Hub) -> None:
        raise RuntimeError("no hub today")

    monkeypatch.setattr(Hub, "start", broken)
    with pytest.raises(Exception) as raised:  # noqa: PT011 (each server words it its own way)
        hookscope.serve_in_background(server=server)
    assert not isinstance(raised.value, SystemExit)
