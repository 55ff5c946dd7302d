"""Browsers are kept out unless invited: Host (DNS rebinding), Origin, cross-site forms.

Each rule is checked against a real embedded server on loopback where the rule can be seen
from outside, and against the ``Guard`` middleware alone for a non-loopback bind (tests
never bind anything but 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from hookscope._config import Settings
from hookscope._embedded import BackgroundServer
from hookscope.server._guard import Guard, host_name


def raw_status(url: str, request: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(
                (
                    line.split(b":")[1]
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                b"0",
            )
        )
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(head.split(b" ")[1]), body


@pytest.fixture(scope="module")
def server(serve_on: Callable[..., Any]) -> Any:
    return serve_on(
        public_url="https://hooks.example.com", allow_origin=["https://app.example.org"]
    )


@pytest.fixture
def bin(server: BackgroundServer) -> dict[str, Any]:
    created = httpx.post(f"{server.url}/api/bins", json={})
    assert created.status_code == 201
    data: dict[str, Any] = created.json()
    return data


@pytest.mark.parametrize("host", ["x..", "a b", "localhost:port", "[::1", ""])
@pytest.mark.parametrize("path", ["/api/bins", "/healthz", "/nothing", "/h/b_x"])
def test_a_malformed_host_is_400_never_500(server: BackgroundServer, host: str, path: str) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    status, body = raw_status(server.url, request)
    assert status == 400
    if body:  # hypercorn itself refuses some before hookscope sees them (empty body)
        assert json.loads(body)["error"]["code"] in ("invalid_host",)


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8080", "10.0.0.1"])
@pytest.mark.parametrize("path", ["/api/bins", "/healthz", "/h/b_x"])
def test_dns_rebinding_is_refused_on_a_loopback_bind(
    server: BackgroundServer, host: str, path: str
) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    status, body = raw_status(server.url, request)
    assert status == 403
    assert json.loads(body)["error"]["code"] == "host_not_allowed"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "LOCALHOST:1", "hooks.example.com"])
def test_loopback_names_and_the_public_host_are_answered(
    server: BackgroundServer, host: str
) -> None:
    status, _ = raw_status(
        server.url, f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )
    assert status == 200


def _ws(server: BackgroundServer, bin: dict[str, Any]) -> str:
    return server.url.replace("http://", "ws://") + f"/api/bins/{bin['id']}/ws"


async def _open_ws(server: BackgroundServer, bin: dict[str, Any], origin: str | None) -> Any:
    return await websockets.connect(
        _ws(server, bin),
        additional_headers={"Authorization": f"Bearer {bin['token']}"},
        origin=origin,  # type: ignore[arg-type]
        compression=None,
    )


def test_websocket_refuses_a_foreign_origin(server: BackgroundServer, bin: dict[str, Any]) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await _open_ws(server, bin, "https://evil.example")
        assert refused.value.response.status_code == 403
        assert b"origin_not_allowed" in (refused.value.response.body or b"")
        for welcome in (None, server.url, "https://hooks.example.com", "https://app.example.org"):
            ws = await _open_ws(server, bin, welcome)
            assert json.loads(await ws.recv()) == {"type": "live"}
            await ws.close()

    asyncio.run(scenario())


def test_sse_refuses_a_foreign_origin(server: BackgroundServer, bin: dict[str, Any]) -> None:
    url = f"{server.url}/api/bins/{bin['id']}/events?token={bin['token']}"
    refused = httpx.get(url, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "origin_not_allowed"
    with httpx.stream("GET", url, headers={"Origin": server.url}, timeout=10) as accepted:
        assert accepted.status_code == 200


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"Origin": "https://evil.example", "Content-Type": "application/json"}, b"{}"),
        ({"Origin": "null", "Content-Type": "application/json"}, b"{}"),
        # A cross-site <form enctype="text/plain"> without an Origin (old browsers):
        ({"Content-Type": "text/plain"}, b'{"name": "x"}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"name=x"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--\r\n"),
    ],
)
def test_bin_creation_refuses_cross_site_requests(
    server: BackgroundServer, headers: dict[str, str], content: bytes
) -> None:
    answer = httpx.post(f"{server.url}/api/bins", headers=headers, content=content)
    assert answer.status_code in (403, 415)
    assert answer.json()["error"]["code"] in ("origin_not_allowed", "unsupported_media_type")


def test_bin_changes_refuse_a_foreign_origin(server: BackgroundServer, bin: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {bin['token']}", "Origin": "https://evil.example"}
    for method in ("PATCH", "DELETE"):
        answer = httpx.request(method, f"{server.url}/api/bins/{bin['id']}", headers=auth, json={})
        assert answer.status_code == 403
    assert (
        httpx.get(
            f"{server.url}/api/bins/{bin['id']}", headers={"Authorization": auth["Authorization"]}
        ).status_code
        == 200
    )


def test_captures_accept_any_origin(server: BackgroundServer, bin: dict[str, Any]) -> None:
    sent = httpx.post(
        f"{server.url}/h/{bin['id']}/beacon", headers={"Origin": "https://evil.example"}
    )
    assert sent.status_code == 200


def test_no_origin_and_json_is_what_the_sdk_sends(server: BackgroundServer) -> None:
    assert httpx.post(f"{server.url}/api/bins", json={"name": "sdk"}).status_code == 201
    assert httpx.post(f"{server.url}/api/bins").status_code == 201  # curl -X POST


# -- the Guard alone, as on a public bind --------------------------------------------------------


def _scope(host: str, origin: str | None = None, method: str = "POST") -> dict[str, Any]:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "http", "method": method, "path": "/api/bins", "headers": headers}


async def _through(guard_settings: Settings, scope: dict[str, Any]) -> tuple[bool, int | None]:
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await Guard(app, guard_settings)(scope, receive, send)
    status = sent[0]["status"] if sent else None
    return bool(reached), status


def test_a_public_bind_answers_any_host_but_still_checks_origins() -> None:
    public = Settings(host="0.0.0.0", api_key="k")
    assert asyncio.run(_through(public, _scope("hooks.example.com"))) == (True, None)
    assert asyncio.run(_through(public, _scope("x.."))) == (False, 400)
    assert asyncio.run(
        _through(public, _scope("hooks.example.com", "https://hooks.example.com"))
    ) == (True, None)
    assert asyncio.run(_through(public, _scope("hooks.example.com", "https://evil.example"))) == (
        False,
        403,
    )
    # A safe method may come from anywhere (the answer is not readable cross-site: no CORS).
    assert asyncio.run(
        _through(public, _scope("hooks.example.com", "https://evil.example", "GET"))
    ) == (True, None)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Example.COM:8080", "example.com"),
        ("[::1]:80", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("x..", None),
        ("host:99999", None),
        ("a/b", None),
        ("", None),
    ],
)
def test_host_name(header: str, name: str | None) -> None:
    assert host_name(header) == name
