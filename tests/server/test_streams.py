"""Live streams: replay, hand-over to live, lagging watchers, deletion; WebSocket and SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import websockets
from _lingering import (
    ESTABLISHED,
    TIME_WAIT,
    owner_of_socket,
    ping_tasks,
    require_checked_hypercorn,
    tcp_sockets,
    tcp_states,
)
from _support import ServerProcess
from websockets.asyncio.client import ClientConnection

from hookscope._embedded import BackgroundServer, serve_in_background
from hookscope._ids import id_key

pytestmark = pytest.mark.asyncio


class Hook:
    def __init__(
        self,
        server: BackgroundServer | ServerProcess,
        client: httpx.AsyncClient,
        data: dict[str, Any],
    ):
        self.server = server
        self.client = client
        self.id: str = data["id"]
        self.token: str = data["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    async def capture(self, body: bytes = b"x", path: str = "/p") -> str:
        response = await self.client.post(f"/h/{self.id}{path}", content=body)
        assert response.status_code == 200, response.text
        return str(response.headers["x-hookscope-request-id"])

    async def history(self) -> list[str]:
        ids, after = [], None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if after:
                params["after"] = after
            page = (
                await self.client.get(
                    f"/api/bins/{self.id}/requests", params=params, headers=self.auth
                )
            ).json()
            ids += [r["id"] for r in page["requests"]]
            after = page["next"]
            if after is None:
                return ids

    def ws_url(self, query: str = "") -> str:
        base = self.server.url.replace("http://", "ws://")
        return f"{base}/api/bins/{self.id}/ws{query}"

    async def watch(self, query: str = "", **kwargs: Any) -> ClientConnection:
        return await websockets.connect(
            self.ws_url(query), additional_headers=self.auth, compression=None, **kwargs
        )


async def make_hook(server: BackgroundServer, client: httpx.AsyncClient, **body: Any) -> Hook:
    response = await client.post("/api/bins", json=body or None)
    assert response.status_code == 201
    return Hook(server, client, response.json())


@pytest_asyncio.fixture
async def client(embedded_server: BackgroundServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=embedded_server.url, timeout=10) as http:
        yield http


@pytest_asyncio.fixture
async def hook(embedded_server: BackgroundServer, client: httpx.AsyncClient) -> Hook:
    return await make_hook(embedded_server, client)


async def frames(ws: ClientConnection, timeout: float = 10) -> AsyncIterator[dict[str, Any]]:
    while True:
        async with asyncio.timeout(timeout):
            raw = await ws.recv()
        yield json.loads(raw)


async def collect_ids(ws: ClientConnection, until: str, timeout: float = 15) -> list[str]:
    """Request ids received (from request and batch frames) until ``until`` arrives."""
    ids: list[str] = []
    async for frame in frames(ws, timeout):
        if frame["type"] == "request":
            ids.append(frame["request"]["id"])
        elif frame["type"] == "batch":
            ids += [r["id"] for r in frame["requests"]]
        if ids and ids[-1] == until:
            return ids
    raise AssertionError("stream ended")


async def test_without_replay_live_comes_first(hook: Hook) -> None:
    async with await hook.watch() as ws:
        assert json.loads(await ws.recv()) == {"type": "live"}
        sent = await hook.capture(b'{"a": 1}')
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "request"
        assert frame["request"]["id"] == sent
        assert frame["request"]["body"] == '{"a": 1}'
        assert frame["request"]["bin"] == hook.id


async def test_since_replays_then_goes_live(hook: Hook) -> None:
    early = [await hook.capture(str(n).encode()) for n in range(5)]
    async with await hook.watch(f"?since={early[1]}") as ws:
        first = json.loads(await ws.recv())
        assert first["type"] == "batch"
        assert [r["id"] for r in first["requests"]] == early[2:]
        assert json.loads(await ws.recv()) == {"type": "live"}
        late = await hook.capture()
        assert await collect_ids(ws, late) == [late]


async def test_since_zero_replays_everything(hook: Hook) -> None:
    sent = [await hook.capture() for _ in range(3)]
    async with await hook.watch("?since=0-0") as ws:
        assert await collect_ids(ws, sent[-1]) == sent


async def test_tail_replays_the_newest(hook: Hook) -> None:
    sent = [await hook.capture() for _ in range(6)]
    async with await hook.watch("?tail=2") as ws:
        assert await collect_ids(ws, sent[-1]) == sent[-2:]
        assert json.loads(await ws.recv()) == {"type": "live"}


@pytest.fixture(scope="module")
def small_page_server() -> Iterator[BackgroundServer]:
    """Replay pages of 7 (``HOOKSCOPE_REPLAY_PAGE``): paging needs a few dozen captures."""
    server = serve_in_background(replay_page=7)
    yield server
    server.stop()


async def test_replay_longer_than_a_page(small_page_server: BackgroundServer) -> None:
    async with httpx.AsyncClient(base_url=small_page_server.url, timeout=10) as http:
        hook = await make_hook(small_page_server, http)
        sent = await asyncio.gather(*(hook.capture(str(n).encode()) for n in range(30)))
        history = await hook.history()
        assert sorted(sent, key=id_key) == history
        async with await hook.watch("?since=0-0") as ws:
            pages: list[list[str]] = []
            async for frame in frames(ws):
                if frame["type"] == "live":
                    break
                assert frame["type"] == "batch"
                pages.append([r["id"] for r in frame["requests"]])
        assert [len(page) for page in pages] == [7, 7, 7, 7, 2]
        assert [i for page in pages for i in page] == history


@pytest.mark.parametrize(
    "query", ["?since=1-0&tail=3", "?since=garbage", "?tail=-1", "?tail=x", "?tail=5000"]
)
async def test_bad_replay_arguments_refuse_the_handshake(hook: Hook, query: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await hook.watch(query)
    assert refused.value.response.status_code == 400


async def test_hand_over_loses_and_repeats_nothing(hook: Hook) -> None:
    """Watchers join with since= while captures keep arriving: each gets exactly the rest."""
    total = 400
    sent: list[str] = []

    async def sender() -> None:
        for n in range(total):
            sent.append(await hook.capture(str(n).encode()))

    async def watcher(start_after: int) -> tuple[str, list[str]]:
        while len(sent) <= start_after:
            await asyncio.sleep(0.001)
        since = sent[start_after]
        async with await hook.watch(f"?since={since}") as ws:
            while len(sent) < total:
                await asyncio.sleep(0.01)
            return since, await collect_ids(ws, sent[-1])

    sending = asyncio.create_task(sender())
    results = await asyncio.gather(*(watcher(k) for k in (0, 50, 150, 300, 390)))
    await sending
    for since, ids in results:
        expected = sent[sent.index(since) + 1 :]
        assert ids == expected, f"since={since}: {len(ids)} ids, expected {len(expected)}"


async def test_reconnecting_with_since_gets_exactly_what_was_missed(hook: Hook) -> None:
    seen: list[str] = []
    async with await hook.watch() as ws:
        assert json.loads(await ws.recv()) == {"type": "live"}
        for n in range(3):
            sent = await hook.capture(str(n).encode())
            seen += await collect_ids(ws, sent)
        unread = await hook.capture(b"3")  # sent, but this watcher hangs up first
    missed = [unread] + [await hook.capture(str(n).encode()) for n in range(4, 10)]
    async with await hook.watch(f"?since={seen[-1]}") as ws:
        assert await collect_ids(ws, missed[-1]) == missed
        assert json.loads(await ws.recv()) == {"type": "live"}
        late = await hook.capture(b"late")
        assert await collect_ids(ws, late) == [late]


async def test_many_watchers_each_get_everything_in_order(hook: Hook) -> None:
    watchers = [await hook.watch() for _ in range(20)]
    try:
        for ws in watchers:
            assert json.loads(await ws.recv()) == {"type": "live"}
        sent = await asyncio.gather(*(hook.capture(str(n).encode()) for n in range(100)))
        ordered = sorted(sent, key=id_key)
        for ws in watchers:
            assert await collect_ids(ws, ordered[-1]) == ordered
    finally:
        for ws in watchers:
            await ws.close()


async def test_deleting_the_bin_closes_streams_with_4404(hook: Hook) -> None:
    async with await hook.watch() as ws:
        assert json.loads(await ws.recv()) == {"type": "live"}
        response = await hook.client.delete(f"/api/bins/{hook.id}", headers=hook.auth)
        assert response.status_code == 204
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error == {"type": "error", "code": "bin_deleted", "message": "the bin was deleted"}
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_watcher_gauge_counts_open_streams(hook: Hook) -> None:
    def gauge(text: str) -> float:
        line = next(
            x for x in text.splitlines() if x.startswith('hookscope_watchers{transport="ws"}')
        )
        return float(line.split()[1])

    before = gauge((await hook.client.get("/metrics")).text)
    async with await hook.watch() as ws:
        await ws.recv()
        assert gauge((await hook.client.get("/metrics")).text) == before + 1
    for _ in range(200):
        if gauge((await hook.client.get("/metrics")).text) == before:
            break
        await asyncio.sleep(0.01)
    assert gauge((await hook.client.get("/metrics")).text) == before


# -- a slow watcher ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def laggy_server() -> Iterator[BackgroundServer]:
    server = serve_in_background(watcher_queue=8, max_body=128 * 1024, max_requests=10_000)
    yield server
    server.stop()


async def test_slow_watcher_is_closed_with_4008_and_resumes_without_loss(
    laggy_server: BackgroundServer,
) -> None:
    async with httpx.AsyncClient(base_url=laggy_server.url, timeout=10) as http:
        hook = await make_hook(laggy_server, http)
        # A one-message client queue: this watcher stops reading while we capture 15 MB,
        # TCP back-pressure reaches the server, and its queue there overflows.
        ws = await hook.watch(max_queue=1, max_size=None)
        assert json.loads(await ws.recv()) == {"type": "live"}
        body = b"y" * (100 * 1024)
        sent = [await hook.capture(body) for _ in range(150)]
        # Counted while the reader is still stuck, not only once it reads again.
        metrics = (await http.get("/metrics")).text
        assert "hookscope_watchers_lagged_total 1.0" in metrics

        received: list[str] = []
        error: dict[str, Any] | None = None
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async for frame in frames(ws):
                if frame["type"] == "request":
                    received.append(frame["request"]["id"])
                elif frame["type"] == "batch":
                    received += [r["id"] for r in frame["requests"]]
                elif frame["type"] == "error":
                    error = frame
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
        assert error is not None and error["code"] == "lagging"
        assert received == sent[: len(received)]
        assert len(received) < len(sent)

        resume_from = received[-1] if received else "0-0"
        async with await hook.watch(f"?since={resume_from}", max_size=None) as again:
            rest = await collect_ids(again, sent[-1])
        assert received + rest == sent


# -- Server-Sent Events ------------------------------------------------------------------------


async def sse_events(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], stop_after: str
) -> list[tuple[str, str, str]]:
    """(event, id, data) tuples until an event with id ``stop_after`` (or named so) arrives."""
    events: list[tuple[str, str, str]] = []
    async with asyncio.timeout(10), client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "event" in event:
                    events.append((event["event"], event.get("id", ""), event.get("data", "")))
                    if stop_after in (event.get("id"), event["event"]):
                        return events
                event = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                event[name] = value
    raise AssertionError("SSE stream ended")


async def test_sse_replays_then_streams_live(hook: Hook) -> None:
    sent = [await hook.capture(str(n).encode()) for n in range(3)]
    url = f"/api/bins/{hook.id}/events?since={sent[0]}"
    events = await sse_events(hook.client, url, hook.auth, "live")
    assert [(e[0], e[1]) for e in events] == [
        ("request", sent[1]),
        ("request", sent[2]),
        ("live", ""),
    ]
    assert json.loads(events[0][2])["body"] == "1"

    # Captured while the stream below connects: since= makes it arrive either way.
    task = asyncio.create_task(hook.capture(b"live one"))
    url = f"/api/bins/{hook.id}/events?since={sent[-1]}"
    events = await sse_events(hook.client, url, hook.auth, "request")
    live_id = await task
    assert events[-1][0] == "request"
    assert json.loads(events[-1][2])["id"] == live_id


async def test_sse_honours_last_event_id(hook: Hook) -> None:
    sent = [await hook.capture() for _ in range(4)]
    headers = {**hook.auth, "Last-Event-ID": sent[1]}
    events = await sse_events(hook.client, f"/api/bins/{hook.id}/events", headers, sent[-1])
    assert [e[1] for e in events] == sent[2:]


async def test_sse_token_in_query(hook: Hook) -> None:
    sent = await hook.capture()
    url = f"/api/bins/{hook.id}/events?since=0-0&token={hook.token}"
    events = await sse_events(hook.client, url, {}, sent)
    assert events[-1][1] == sent


# -- closed connections do not linger --------------------------------------------------------


@pytest.fixture(scope="module")
def slow_ping_server() -> Iterator[BackgroundServer]:
    server = serve_in_background(ping_interval=600)
    yield server
    server.stop()


def _ping_tasks(server: BackgroundServer) -> int:
    """Hypercorn ping loops alive in the server's event loop."""

    async def count() -> int:
        return len(ping_tasks())

    assert server._loop is not None
    return asyncio.run_coroutine_threadsafe(count(), server._loop).result(5)


@pytest.mark.parametrize("goodbye", ["close handshake", "dropped connection"])
async def test_server_lets_go_when_a_watcher_leaves(
    slow_ping_server: BackgroundServer, goodbye: str
) -> None:
    """Hypercorn's ping loop used to hold a closed connection until its next ping."""
    require_checked_hypercorn()
    async with httpx.AsyncClient(base_url=slow_ping_server.url) as http:
        hook = await make_hook(slow_ping_server, http)
        ws = await hook.watch()
        assert json.loads(await ws.recv()) == {"type": "live"}
        assert _ping_tasks(slow_ping_server) == 1
        client_port = ws.local_address[1]
        assert tcp_states(slow_ping_server.port, client_port) == {ESTABLISHED}
        await _say(goodbye, ws)
        async with asyncio.timeout(10):  # the ping interval is 600 s
            while _ping_tasks(slow_ping_server) or (
                tcp_states(slow_ping_server.port, client_port) - {TIME_WAIT}
            ):
                await asyncio.sleep(0.02)


async def _say(goodbye: str, ws: ClientConnection) -> None:
    if goodbye == "close handshake":
        await ws.close()
    else:
        ws.transport.close()  # FIN without a close frame


@pytest.mark.redis
@pytest.mark.slow
async def test_worker_processes_let_go_when_watchers_leave(
    redis_url: str, server_factory: Callable[..., ServerProcess]
) -> None:
    """The same with ``--workers 2``: each worker is a fresh interpreter with the fix."""
    require_checked_hypercorn()
    server = server_factory(
        "--redis-url", redis_url, "--workers", "2", env={"HOOKSCOPE_PING_INTERVAL": "600"}
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        hook = Hook(server, http, (await http.post("/api/bins")).json())
        workers: set[int] = set()  # both serve once each has answered (a new connection each)
        async with asyncio.timeout(30):
            while len(workers) < 2:
                health = await http.get("/healthz", headers={"Connection": "close"})
                workers.add(health.json()["pid"])
        # Watch until both workers hold some of the streams (the kernel picks the acceptor).
        streams: list[tuple[ClientConnection, int]] = []
        owners: set[int] = set()
        try:
            while len(owners) < 2:
                assert len(streams) < 60, f"every stream went to worker(s) {owners}"
                ws = await hook.watch()
                assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "live"}
                client_port = ws.local_address[1]
                [inode] = tcp_sockets(server.port, client_port)
                owner = owner_of_socket(inode, workers)
                assert owner is not None, "a stream's socket belongs to no worker"
                owners.add(owner)
                streams.append((ws, client_port))
            for n, (ws, _) in enumerate(streams):
                await _say("close handshake" if n % 2 else "dropped connection", ws)

            def lingering() -> dict[int, set[str]]:
                states = {port: tcp_states(server.port, port) - {TIME_WAIT} for _, port in streams}
                return {port: state for port, state in states.items() if state}

            try:
                async with asyncio.timeout(10):  # the ping interval is 600 s
                    while lingering():
                        await asyncio.sleep(0.02)
            except TimeoutError:
                raise AssertionError(
                    f"closed streams still hold server sockets (client port: states): {lingering()}"
                ) from None
        finally:
            for ws, _ in streams:
                ws.transport.abort()


# -- review fixes --------------------------------------------------------------------------


async def test_sse_last_event_id_wins_over_the_urls_since_and_tail(hook: Hook) -> None:
    """An EventSource reconnects to the URL it was opened with and adds Last-Event-ID."""
    a, b, c = [await hook.capture() for _ in range(3)]
    headers = {**hook.auth, "Last-Event-ID": b}
    for query in (f"?since={a}", "?tail=3"):
        url = f"/api/bins/{hook.id}/events{query}"
        events = await sse_events(hook.client, url, headers, "live")
        assert [e[1] for e in events if e[0] == "request"] == [c], query


async def test_since_is_exclusive_for_live_requests_too(hook: Hook) -> None:
    async with await hook.watch("?since=99999999999999-0") as ws:  # an id from the future
        assert json.loads(await ws.recv()) == {"type": "live"}
        await hook.capture(b"older than since")
        await hook.client.delete(f"/api/bins/{hook.id}", headers=hook.auth)
        # Frames keep their order: had the capture been sent, it would come first.
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "error"
        assert frame["code"] == "bin_deleted"


async def test_ids_beyond_64_bits_are_refused(hook: Hook) -> None:
    huge = "99999999999999999999-0"
    response = await hook.client.get(
        f"/api/bins/{hook.id}/requests", params={"after": huge}, headers=hook.auth
    )
    assert response.status_code == 400
    one = await hook.client.get(f"/api/bins/{hook.id}/requests/{huge}", headers=hook.auth)
    assert one.status_code == 404
    with pytest.raises(websockets.InvalidStatus) as refused:
        await hook.watch(f"?since={huge}")
    assert refused.value.response.status_code == 400


@pytest.fixture(scope="module")
def impatient_server() -> Iterator[BackgroundServer]:
    server = serve_in_background(watcher_queue=8, max_body=128 * 1024, lag_grace=0.2)
    yield server
    server.stop()


async def test_a_reader_that_never_reads_again_is_let_go(
    impatient_server: BackgroundServer,
) -> None:
    """Its close frame cannot get through, so after the grace period its stream task ends."""

    def gauge(text: str) -> float:
        line = next(
            x for x in text.splitlines() if x.startswith('hookscope_watchers{transport="ws"}')
        )
        return float(line.split()[1])

    async with httpx.AsyncClient(base_url=impatient_server.url, timeout=10) as http:
        hook = await make_hook(impatient_server, http)
        ws = await hook.watch(max_queue=1, max_size=None)
        try:
            assert json.loads(await ws.recv()) == {"type": "live"}
            assert gauge((await http.get("/metrics")).text) == 1
            for _ in range(150):
                await hook.capture(b"z" * (100 * 1024))
            async with asyncio.timeout(10):
                while gauge((await http.get("/metrics")).text) != 0:
                    await asyncio.sleep(0.02)
            assert "hookscope_watchers_lagged_total 1.0" in (await http.get("/metrics")).text
        finally:
            ws.transport.abort()


async def test_plain_and_deflate_watchers_both_get_every_live_request_once_in_order(
    hook: Hook,
) -> None:
    # Without an extension, hypercorn's watchers get live batches written straight to their
    # socket (_direct.py); permessage-deflate ones get them through ASGI sends.
    plain = [await hook.watch() for _ in range(5)]
    deflate = [
        await websockets.connect(hook.ws_url(), additional_headers=hook.auth) for _ in range(5)
    ]
    try:
        assert all(ws.protocol.extensions for ws in deflate)
        for ws in plain + deflate:
            assert json.loads(await ws.recv()) == {"type": "live"}
        sent = []
        for burst in range(4):  # bursts: a window's batch, then the next window's
            sent += await asyncio.gather(*(hook.capture(b"%d" % burst) for _ in range(25)))
        ordered = sorted(sent, key=id_key)
        for ws in plain + deflate:
            assert await collect_ids(ws, ordered[-1]) == ordered
    finally:
        for ws in plain + deflate:
            await ws.close()
