"""Every limit of docs/server.md's "Limits", over HTTP: its status, its code, and that nothing
was stored or created when it refused (embedded servers with small limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from _server_http import Bin
from _support import ServerProcess, wait_until
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from hookscope import AsyncClient, HookscopeError
from hookscope._config import Settings
from hookscope._contract import MAX_FRAME_HEADER
from hookscope._embedded import BackgroundServer, serve_in_background
from hookscope._ids import BEGINNING
from hookscope.client._stream import DEFAULT_MAX_FRAME
from hookscope.server._connections import ConnectionGate
from hookscope.server._limits import max_frame

Server = Callable[..., tuple[BackgroundServer, httpx.Client]]


@pytest.fixture
def server(server_name: str) -> Iterator[Server]:
    """``server(**settings)``: a server with those settings on ``server_name`` (hypercorn:
    embedded) and a client of it."""
    started: list[tuple[Any, httpx.Client]] = []

    def start(**settings: Any) -> tuple[Any, httpx.Client]:
        if server_name == "hypercorn":
            running: Any = serve_in_background(**settings)
        else:
            env = {**Settings(**settings).to_env(), "HOOKSCOPE_SERVER": server_name}
            running = ServerProcess(env=env).start(port=0)
            running.settings = Settings(**settings)  # as a BackgroundServer has them
        client = httpx.Client(base_url=running.url, timeout=10)
        started.append((running, client))
        return running, client

    yield start
    for running, client in started:
        client.close()
        running.stop()


def _bin(client: httpx.Client, **body: Any) -> Bin:
    response = client.post("/api/bins", json=body or None)
    assert response.status_code == 201, response.text
    return Bin(client, response.json())


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def _metric(client: httpx.Client, line: str) -> float:
    """The value of one sample of ``/metrics``: ``'hookscope_rejects_total{reason="x"}'``."""
    for sample in client.get("/metrics").text.splitlines():
        if sample.startswith(line + " "):
            return float(sample.rsplit(" ", 1)[1])
    raise AssertionError(f"no {line} in /metrics")


def _ws(base_url: str, path: str, **kwargs: Any) -> ClientConnection:
    return connect(base_url.replace("http://", "ws://") + path, compression=None, **kwargs)


# -- headers -------------------------------------------------------------------------------


def test_too_many_headers_or_header_bytes_are_431_before_anything_is_stored(
    server: Server,
) -> None:
    running, client = server(max_headers=12, max_header_bytes=2048)
    hook = _bin(client)
    many = {f"x-h{n}": "1" for n in range(12)}
    _error(hook.capture("/a", headers=many), 431, "too_many_headers")
    _error(hook.capture("/b", headers={"x-big": "v" * 2100}), 431, "headers_too_large")
    assert hook.requests() == []
    _error(client.get(f"/api/bins/{hook.id}", headers=many), 431, "too_many_headers")
    with pytest.raises(InvalidStatus) as refused:
        _ws(running.url, f"/api/bins/{hook.id}/ws", additional_headers={**hook.auth, **many})
    assert refused.value.response.status_code == 431
    assert hook.capture("/ok", headers={"x-small": "v" * 1000}).status_code == 200
    assert _metric(client, 'hookscope_rejects_total{reason="too_many_headers"}') == 1
    assert _metric(client, 'hookscope_refusals_total{code="too_many_headers"}') == 2


def test_a_head_too_large_to_parse_is_431_from_the_parser(server: Server) -> None:
    running, client = server(max_header_bytes=2048)
    hook = _bin(client)
    head = f"POST /h/{hook.id} HTTP/1.1\r\nHost: localhost\r\nx-big: {'v' * 40_000}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(head.encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 431 ")
    assert hook.requests() == []


def test_a_head_that_never_ends_is_431_before_it_is_whole(server: Server) -> None:
    """The server does not collect a head without end (hypercorn: h11's bound; uvicorn:
    hookscope's, as httptools has none)."""
    running, _ = server(max_header_bytes=2048)
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(b"POST /h/x HTTP/1.1\r\nHost: localhost\r\n")
        line = b"x-more: " + b"v" * 1000 + b"\r\n"
        answer = b""
        with contextlib.suppress(OSError):  # the server may close while we still send
            for _ in range(1000):  # 1 MB, never ended
                sock.sendall(line)
        with contextlib.suppress(OSError):
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 431 ")


# -- bodies in flight ----------------------------------------------------------------------


def _recv_status(sock: socket.socket) -> bytes:
    """The status line of the answer on ``sock``."""
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_bodies_in_flight_over_the_budget_are_503_and_nothing_is_stored(server: Server) -> None:
    """Bodies are held as their bytes arrive; a request whose declared length cannot fit is
    refused before it sends any, one that outgrows the budget as it does (a capture, an API
    call): 503 with Retry-After, nothing stored, and the budget comes back."""
    running, client = server(max_body=1500, bodies_in_flight=2500)
    hook = _bin(client)
    held = "hookscope_bodies_in_flight_bytes"
    assert _metric(client, "hookscope_bodies_in_flight_limit_bytes") == 2500
    declared = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    chunked = socket.create_connection(("127.0.0.1", running.port), timeout=10)
    with declared, chunked:
        declared.sendall(
            f"POST /h/{hook.id}/a HTTP/1.1\r\nHost: localhost\r\n"
            "Content-Length: 1500\r\n\r\n".encode()
            + b"a" * 1400
        )
        wait_until(lambda: _metric(client, held) == 1400, what="what arrived held")
        chunked.sendall(
            f"POST /h/{hook.id}/b HTTP/1.1\r\nHost: localhost\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
            + b"3e8\r\n"
            + b"b" * 1000
            + b"\r\n"
        )
        wait_until(lambda: _metric(client, held) == 2400, what="the chunk held")

        refused = client.post(f"/h/{hook.id}/c", content=b"c" * 200)  # 2600 > 2500
        _error(refused, 503, "bodies_in_flight_full")
        assert refused.headers["retry-after"] == "1"
        api = client.post("/api/bins", json={"name": "n" * 150})
        _error(api, 503, "bodies_in_flight_full")

        chunked.sendall(b"96\r\n" + b"b" * 150 + b"\r\n")  # 2550 > 2500: refused mid-body
        assert _recv_status(chunked).startswith(b"HTTP/1.1 503 ")
        declared.sendall(b"a" * 100)  # the rest: it fits now, and is stored
        assert _recv_status(declared).startswith(b"HTTP/1.1 200 ")

    wait_until(lambda: _metric(client, held) == 0, what="the budget given back")
    assert client.post(f"/h/{hook.id}/c", content=b"c" * 200).status_code == 200
    assert [(r["path"], r["size"]) for r in hook.requests()] == [("/a", 1500), ("/c", 200)]
    assert _metric(client, 'hookscope_rejects_total{reason="bodies_in_flight_full"}') == 2
    assert _metric(client, 'hookscope_refusals_total{code="bodies_in_flight_full"}') == 1


def test_a_declared_length_holds_nothing_until_the_body_arrives(
    server: Server, server_name: str
) -> None:
    """Heads alone hold no budget (else a few header-only requests would refuse everyone's
    bodies), and a length the head declares does not stop a chunked body from being held."""
    running, client = server(max_body=1500, bodies_in_flight=2500)
    hook = _bin(client)
    held = "hookscope_bodies_in_flight_bytes"
    heads = [socket.create_connection(("127.0.0.1", running.port), timeout=10) for _ in range(3)]
    try:
        for sock in heads:
            sock.sendall(
                f"POST /h/{hook.id} HTTP/1.1\r\nHost: localhost\r\n"
                "Content-Length: 1500\r\n\r\n".encode()
            )
        # Three heads of 1500 would be 4500 held; none is, so a body of 1500 fits.
        assert client.post(f"/h/{hook.id}/fits", content=b"f" * 1500).status_code == 200
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as both:
            both.sendall(
                f"POST /h/{hook.id}/both HTTP/1.1\r\nHost: localhost\r\n"
                "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + b"3e8\r\n"
                + b"x" * 1000
                + b"\r\n"
            )
            if server_name == "uvicorn":  # httptools refuses both headers at once
                assert _recv_status(both).startswith(b"HTTP/1.1 400 ")
            else:  # h11 frames the body as chunked: held as such
                wait_until(lambda: _metric(client, held) == 1000, what="the chunk held")
    finally:
        for sock in heads:
            sock.close()
    wait_until(lambda: _metric(client, held) == 0, what="the budget given back")


def test_a_stored_body_is_not_held_through_its_bins_response_delay(server: Server) -> None:
    running, client = server(max_body=1500, bodies_in_flight=2500)
    slow = _bin(client, response={"delay_ms": 3000})
    held = "hookscope_bodies_in_flight_bytes"
    answered: list[int] = []
    sender = threading.Thread(
        target=lambda: answered.append(
            httpx.post(f"{running.url}/h/{slow.id}", content=b"s" * 1500, timeout=10).status_code
        )
    )
    sender.start()
    try:
        wait_until(lambda: len(slow.requests()) == 1, timeout=2.5, what="the capture stored")
        # Still before its answer (3 s): the budget is back, for other senders.
        wait_until(lambda: _metric(client, held) == 0, timeout=2.5, what="the body released")
    finally:
        sender.join(10)
    assert answered == [200]


def test_the_bodies_in_flight_budget_holds_at_least_one_largest_body() -> None:
    assert Settings().body_budget == 128 * 1024 * 1024
    assert Settings(max_body=64 * 1024 * 1024).body_budget == 256 * 1024 * 1024
    assert Settings(bodies_in_flight=5000, max_body=5000).body_budget == 5000
    with pytest.raises(ValueError, match="HOOKSCOPE_BODIES_IN_FLIGHT must be at least"):
        Settings(bodies_in_flight=4999, max_body=5000)
    assert Settings.from_env({"HOOKSCOPE_BODIES_IN_FLIGHT": "64MiB"}).body_budget == 64 << 20
    assert Settings.from_env({"HOOKSCOPE_BODIES_IN_FLIGHT": "auto"}).bodies_in_flight is None


# -- bins and their responses ----------------------------------------------------------------


def test_response_limits_are_400_and_change_nothing(server: Server) -> None:
    _, client = server(max_response_body=100, max_headers=20, max_bins=1)
    too_long = {"response": {"body": "é" * 51}}  # 102 bytes of UTF-8
    _error(client.post("/api/bins", json=too_long), 400, "response_too_large")
    many_headers = {"response": {"headers": {f"x-{n}": "1" for n in range(21)}}}
    _error(client.post("/api/bins", json=many_headers), 400, "response_too_large")
    hook = _bin(client, response={"body": "é" * 50})  # nothing was created: room for one
    _error(hook.api("PATCH", json=too_long), 400, "response_too_large")
    assert hook.api("GET").json()["response"]["body"] == "é" * 50


def test_max_bins_is_507_and_creates_nothing(server: Server) -> None:
    _, client = server(max_bins=2)
    first, _second = _bin(client), _bin(client)
    error = _error(client.post("/api/bins"), 507, "too_many_bins")
    assert "--max-bins" in error["message"]
    assert _metric(client, 'hookscope_refusals_total{code="too_many_bins"}') == 1
    assert first.api("DELETE").status_code == 204
    _bin(client)


# -- rates ---------------------------------------------------------------------------------


def test_a_bin_over_its_rate_gets_429_with_retry_after(server: Server) -> None:
    _, client = server(rate_limit="1/m:3")
    hook, other = _bin(client), _bin(client)
    for n in range(3):
        assert hook.capture(f"/{n}").status_code == 200
    refused = hook.capture("/3")
    _error(refused, 429, "bin_rate_limited")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Known now without storage work: the body is read and dropped, the answer the same.
    _error(hook.capture("/4", content=b"x" * 200_000), 429, "bin_rate_limited")
    assert [r["path"] for r in hook.requests()] == ["/0", "/1", "/2"]
    assert other.capture("/x").status_code == 200
    assert _metric(client, 'hookscope_rejects_total{reason="bin_rate_limited"}') == 2


def test_an_address_over_its_rate_gets_429_for_captures_and_bin_creation(
    server: Server,
) -> None:
    _, client = server(rate_limit="off", ip_rate_limit="1/m:4")
    hook = _bin(client)  # one of the address's four
    for n in range(3):
        assert hook.capture(f"/{n}").status_code == 200
    refused = hook.capture("/3")
    _error(refused, 429, "address_rate_limited")
    assert "retry-after" in refused.headers
    _error(client.post("/api/bins"), 429, "address_rate_limited")
    assert len(hook.requests()) == 3
    assert _metric(client, 'hookscope_refusals_total{code="address_rate_limited"}') == 1


def test_ip_rate_limit_auto_is_off_on_loopback_and_on_elsewhere() -> None:
    assert Settings(host="127.0.0.1").ip_rate_limit is None
    assert Settings(host="0.0.0.0").ip_rate_limit is not None
    assert Settings(host="0.0.0.0", ip_rate_limit="off").ip_rate_limit is None


# -- memory --------------------------------------------------------------------------------


def test_the_memory_budget_evicts_the_oldest_and_refuses_what_cannot_fit(
    server: Server,
) -> None:
    budget = 2 * 1024 * 1024
    _, client = server(max_memory=budget, max_body=2 * 1024 * 1024, rate_limit="off")
    hook = _bin(client)
    _error(hook.capture("/huge", content=b"x" * 1_100_000), 507, "memory_full")
    assert hook.requests() == []
    for n in range(40):
        assert hook.capture(f"/{n}", content=b"x" * 100_000).status_code == 200
    paths = [r["path"] for r in hook.requests(limit=1000)]
    assert paths == [f"/{n}" for n in range(40 - len(paths), 40)]  # the newest are kept
    assert _metric(client, "hookscope_memory_used_bytes") <= budget
    assert _metric(client, "hookscope_memory_limit_bytes") == budget
    assert _metric(client, "hookscope_memory_evictions_total") == 40 - len(paths)
    assert _metric(client, 'hookscope_rejects_total{reason="memory_full"}') == 1


# -- streams -------------------------------------------------------------------------------


def test_watchers_per_bin_are_capped_with_429(server: Server) -> None:
    running, client = server(max_watchers_per_bin=2)
    hook = _bin(client)
    path = f"/api/bins/{hook.id}/ws"
    with _ws(running.url, path, additional_headers=hook.auth) as second:
        with _ws(running.url, path, additional_headers=hook.auth) as first:
            for stream in (first, second):
                assert json.loads(stream.recv(timeout=10)) == {"type": "live"}
            with pytest.raises(InvalidStatus) as refused:
                _ws(running.url, path, additional_headers=hook.auth)
            assert refused.value.response.status_code == 429
            assert b"too_many_watchers" in refused.value.response.body
            _error(hook.api("GET", "/events"), 429, "too_many_watchers")
        wait_until(lambda: _metric(client, 'hookscope_watchers{transport="ws"}') == 1, what="1")
        with _ws(running.url, path, additional_headers=hook.auth) as third:
            assert json.loads(third.recv(timeout=10)) == {"type": "live"}
    assert _metric(client, 'hookscope_refusals_total{code="too_many_watchers"}') == 2


def test_replay_frames_and_list_pages_stop_at_the_byte_budget(server: Server) -> None:
    budget = 20_000
    running, client = server(page_bytes=budget, rate_limit="off")
    hook = _bin(client)
    sent = [
        hook.capture(f"/{n}", content=b"x" * 8000).headers["x-hookscope-request-id"]
        for n in range(9)
    ]
    big = hook.capture("/big", content=b"y" * 60_000).headers["x-hookscope-request-id"]

    limit = max_frame(running.settings)
    with _ws(
        running.url, f"/api/bins/{hook.id}/ws?since=0-0", additional_headers=hook.auth
    ) as stream:
        assert stream.response is not None
        assert stream.response.headers[MAX_FRAME_HEADER] == str(limit)
        frames = []
        while (frame := json.loads(raw := stream.recv(timeout=10)))["type"] != "live":
            assert len(raw.encode()) <= limit
            frames.append([r["id"] for r in frame.get("requests", [frame.get("request")])])
    assert [i for ids in frames for i in ids] == [*sent, big]
    assert frames[:-1] == [sent[0:2], sent[2:4], sent[4:6], sent[6:8], sent[8:9]]
    assert frames[-1] == [big]  # alone, however large

    page = hook.api("GET", "/requests", params={"limit": 100}).json()
    assert [r["id"] for r in page["requests"]] == sent[:2] and page["next"] == sent[1]
    assert hook.requests(after=sent[7], limit=100) == hook.requests(after=sent[7])[:1]
    tail = hook.api("GET", "/requests", params={"tail": 5}).json()
    assert [r["id"] for r in tail["requests"]] == [big]  # the newest that fit


# -- connections ---------------------------------------------------------------------------


def _sse(running: BackgroundServer, hook: Bin) -> socket.socket:
    """A live SSE stream on a raw socket: a connection serving a request, never idle."""
    sock = socket.create_connection(("127.0.0.1", running.port))
    sock.sendall(
        f"GET /api/bins/{hook.id}/events HTTP/1.1\r\nHost: localhost\r\n"
        f"Authorization: Bearer {hook.token}\r\n\r\n".encode()
    )
    sock.settimeout(10)
    received = b""
    while b"event: live" not in received:  # everything the stream sends until a capture
        received += sock.recv(65536)
    return sock


# The connection gate (--max-connections: idle sockets displaced, JSON 503, the
# hookscope_connections gauge) wraps hypercorn's TCPServer; on uvicorn the limit is uvicorn's
# limit_concurrency (docs/server.md, "Choosing the server").
@pytest.mark.servers("hypercorn")
def test_at_the_connection_limit_a_newcomer_replaces_a_socket_that_sent_nothing(
    server: Server,
) -> None:
    running, client = server(max_connections=3, header_timeout=3600)
    hook = _bin(client)
    with _sse(running, hook) as stream:  # busy: never replaced
        idle = socket.create_connection(("127.0.0.1", running.port))
        # Both the idle socket and the client's keep-alive connection wait for a request;
        # the one that never sent any goes first.
        wait_until(lambda: _metric(client, "hookscope_connections") == 3, what="3 connections")
        assert httpx.get(running.url + "/healthz", timeout=10).status_code == 200
        assert _closed_by_server(idle)
        idle.close()
        assert _metric(client, "hookscope_connections_displaced_total") == 1  # kept: works
        stream.settimeout(0.2)
        with pytest.raises(TimeoutError):  # still open: nothing arrives, nothing closed it
            stream.recv(1)


# The connection gate (--max-connections: idle sockets displaced, JSON 503, the
# hookscope_connections gauge) wraps hypercorn's TCPServer; on uvicorn the limit is uvicorn's
# limit_concurrency (docs/server.md, "Choosing the server").
@pytest.mark.servers("hypercorn")
def test_connections_over_the_limit_with_none_idle_get_503(server: Server) -> None:
    running, client = server(max_connections=2)
    hook = _bin(client)
    client.close()  # its keep-alive connection goes: room for two streams
    wait_until(lambda: httpx.get(running.url + "/healthz").status_code == 200, what="ready")
    with _sse(running, hook), _sse(running, hook):
        refused = httpx.get(running.url + "/healthz", timeout=10)
        _error(refused, 503, "too_many_connections")
        assert refused.headers["retry-after"] == "1"
    wait_until(lambda: httpx.get(running.url + "/healthz").status_code == 200, what="room")
    with httpx.Client(base_url=running.url) as again:
        assert _metric(again, 'hookscope_refusals_total{code="too_many_connections"}') == 1


# The connection gate (--max-connections: idle sockets displaced, JSON 503, the
# hookscope_connections gauge) wraps hypercorn's TCPServer; on uvicorn the limit is uvicorn's
# limit_concurrency (docs/server.md, "Choosing the server").
@pytest.mark.servers("hypercorn")
def test_a_connection_whose_client_hung_up_is_released_at_once(server: Server) -> None:
    """Not at its idle timeout (hypercorn's own behaviour): a crowd of closed sockets would
    hold descriptors for that long."""
    running, client = server(header_timeout=3600)
    idle = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(5)]
    wait_until(lambda: _metric(client, "hookscope_connections") == 6, what="6 connections")
    for sock in idle:
        sock.close()
    wait_until(lambda: _metric(client, "hookscope_connections") == 1, what="the client's only")


def _closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def test_a_connection_that_sends_no_request_is_closed_after_the_header_timeout(
    server: Server,
) -> None:
    running, _ = server(header_timeout=0.3)
    with socket.create_connection(("127.0.0.1", running.port)) as silent:
        assert _closed_by_server(silent)


def test_headers_trickling_in_do_not_keep_a_connection_open(server: Server) -> None:
    running, _ = server(header_timeout=0.5)
    with socket.create_connection(("127.0.0.1", running.port)) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        stop = threading.Event()

        def trickle() -> None:  # a header byte every 50 ms: slowloris
            while not stop.wait(0.05):
                try:
                    slow.sendall(b"x")
                except OSError:
                    return

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        try:
            assert _closed_by_server(slow)
        finally:
            stop.set()
            sender.join(10)


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive(server: Server) -> None:
    running, _ = server(keep_alive=0.3)
    with socket.create_connection(("127.0.0.1", running.port)) as reused:
        reused.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        reused.settimeout(10)
        answer = b""
        while not answer.endswith(b"}"):  # the whole answer: {"ok":true,"pid":...}
            answer += reused.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        assert _closed_by_server(reused)


# -- the SDK's frame limit -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_sdk_takes_the_frame_limit_the_server_announces(server: Server) -> None:
    running, client = server(max_body=1024 * 1024, page_bytes=64 * 1024)
    hook = _bin(client)
    async with (
        AsyncClient(running.url) as sdk,
        sdk.bin(hook.id, hook.token).open_stream(since=BEGINNING) as stream,
    ):
        assert stream.max_frame == max_frame(running.settings) < DEFAULT_MAX_FRAME
        hook.capture("/big", content=b"z" * 1024 * 1024)  # one request over the page budget
        request = await asyncio.wait_for(stream.next(), 10)
        assert request.body == b"z" * 1024 * 1024


def _fake_stream_server(announced: int, frame: str) -> Any:
    """A bare websockets server that announces ``announced`` and sends ``frame`` at once."""

    def announce(connection: Any, request: Any, response: Any) -> None:
        response.headers[MAX_FRAME_HEADER] = str(announced)

    async def send_frame(connection: Any) -> None:
        await connection.send(frame)
        await connection.wait_closed()

    return serve(send_frame, "127.0.0.1", 0, process_response=announce)


def _wire_request(body: bytes) -> dict[str, Any]:
    return {
        "id": "5-0", "bin": "b_x", "received_at": "2026-01-01T00:00:00.000000Z",
        "method": "POST", "path": "/", "query": "", "headers": [],
        "body": body.decode(), "body_encoding": "utf-8", "size": len(body),
        "remote_addr": None, "http_version": "1.1",
    }  # fmt: skip


@pytest.mark.asyncio
async def test_a_frame_over_the_announced_limit_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("hookscope.client._stream.DEFAULT_MAX_FRAME", 1000)
    frame = json.dumps({"type": "request", "request": _wire_request(b"x" * 5000)})
    async with _fake_stream_server(1000, frame) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        async with AsyncClient(f"http://127.0.0.1:{port}") as sdk:
            stream = sdk.bin("b_x", "t").open_stream(since=BEGINNING)
            with pytest.raises(HookscopeError, match="over this client's limit of 1000 bytes"):
                async with stream:
                    await asyncio.wait_for(stream.next(), 10)


@pytest.mark.asyncio
async def test_a_larger_announced_limit_is_used_even_for_the_first_frames(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A frame right behind the handshake may be read with the default limit: the stream
    then reconnects at once with the announced one, and nothing is lost."""
    monkeypatch.setattr("hookscope.client._stream.DEFAULT_MAX_FRAME", 1000)
    frame = json.dumps({"type": "request", "request": _wire_request(b"x" * 5000)})
    async with _fake_stream_server(10_000, frame) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        async with (
            AsyncClient(f"http://127.0.0.1:{port}") as sdk,
            sdk.bin("b_x", "t").open_stream(since=BEGINNING) as stream,
        ):
            request = await asyncio.wait_for(stream.next(), 10)
            assert request.body == b"x" * 5000 and stream.max_frame == 10_000


def test_the_gate_replaces_sockets_that_sent_nothing_before_kept_connections() -> None:
    gate = ConnectionGate(limit=2)
    closed: list[str] = []

    def closer(name: str) -> Any:
        async def close() -> None:
            closed.append(name)

        return close

    assert gate.admit() is True and gate.admit() is True
    assert gate.admit() is False  # full, and nobody is waiting for a request
    with (
        gate.waiting("kept", closer("kept"), kept=True),
        gate.waiting("fresh", closer("fresh"), kept=False),
    ):
        for _ in range(2):
            replace = gate.admit()
            assert callable(replace)
            asyncio.run(replace())
    assert closed == ["fresh", "kept"]  # the one that never sent a request first
    assert gate.open == 4  # until the two replaced connections end and are released
