"""Several server processes sharing one real Redis; Redis killed and restarted mid-flight."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis
import websockets
from _support import RedisServer, ServerProcess, wait_until

from hookscope._ids import id_key

pytestmark = [pytest.mark.redis, pytest.mark.slow]


def new_bin(server: ServerProcess) -> dict[str, Any]:
    response = httpx.post(server.url + "/api/bins", timeout=10)
    assert response.status_code == 201
    data: dict[str, Any] = response.json()
    return data


def ws_url(server: ServerProcess, bin_id: str, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + f"/api/bins/{bin_id}/ws{query}"


async def read_ids(ws: Any, count: int, timeout: float = 30) -> list[str]:
    ids: list[str] = []
    async with asyncio.timeout(timeout):
        while len(ids) < count:
            frame = json.loads(await ws.recv())
            if frame["type"] == "request":
                ids.append(frame["request"]["id"])
            elif frame["type"] == "batch":
                ids += [r["id"] for r in frame["requests"]]
    return ids


def test_capture_on_a_reaches_watcher_on_b(
    redis_url: str, server_factory: Callable[..., ServerProcess]
) -> None:
    a = server_factory("--redis-url", redis_url)
    b = server_factory("--redis-url", redis_url)
    hook = new_bin(a)
    auth = {"Authorization": f"Bearer {hook['token']}"}
    total = 500

    async def scenario() -> tuple[list[str], list[str]]:
        async with websockets.connect(
            ws_url(b, hook["id"]), additional_headers=auth, compression=None
        ) as ws:
            assert json.loads(await ws.recv()) == {"type": "live"}
            async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
                semaphore = asyncio.Semaphore(20)

                async def send(n: int) -> str:
                    async with semaphore:
                        response = await http.post(f"/h/{hook['id']}/n/{n}", content=str(n))
                    assert response.status_code == 200
                    return str(response.headers["x-hookscope-request-id"])

                sent = await asyncio.gather(*(send(n) for n in range(total)))
            return sent, await read_ids(ws, total)

    sent, received = asyncio.run(scenario())
    assert received == sorted(sent, key=id_key)
    assert len(set(received)) == total
    page = httpx.get(f"{b.url}/api/bins/{hook['id']}/requests?limit=1000", headers=auth).json()
    assert [r["id"] for r in page["requests"]] == received


def test_deleting_on_a_closes_streams_on_b(
    redis_url: str, server_factory: Callable[..., ServerProcess]
) -> None:
    a = server_factory("--redis-url", redis_url)
    b = server_factory("--redis-url", redis_url)
    hook = new_bin(a)
    auth = {"Authorization": f"Bearer {hook['token']}"}

    async def scenario() -> int:
        async with websockets.connect(
            ws_url(b, hook["id"]), additional_headers=auth, compression=None
        ) as ws:
            assert json.loads(await ws.recv()) == {"type": "live"}
            async with httpx.AsyncClient() as http:
                response = await http.delete(f"{a.url}/api/bins/{hook['id']}", headers=auth)
            assert response.status_code == 204
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["code"] == "bin_deleted"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code

    assert asyncio.run(scenario()) == 4404


def test_one_pubsub_connection_per_process(
    redis_url: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory("--redis-url", redis_url)
    bins = [new_bin(server) for _ in range(5)]
    admin = redis.Redis.from_url(redis_url, decode_responses=True)

    def pubsub_clients() -> list[dict[str, Any]]:
        # Sharded pub/sub: subscriptions show as "ssub".
        return [c for c in admin.client_list() if int(c.get("ssub", 0)) > 0]

    async def scenario() -> None:
        sockets = []
        for hook in bins:
            for _ in range(10):
                ws = await websockets.connect(
                    ws_url(server, hook["id"]),
                    additional_headers={"Authorization": f"Bearer {hook['token']}"},
                    compression=None,
                )
                assert json.loads(await ws.recv()) == {"type": "live"}
                sockets.append(ws)
        clients = pubsub_clients()
        assert len(clients) == 1, clients
        assert int(clients[0]["ssub"]) == 5  # one subscription per watched bin
        for ws in sockets[:10]:  # every watcher of the first bin leaves
            await ws.close()
        await asyncio.to_thread(
            wait_until, lambda: int(pubsub_clients()[0]["ssub"]) == 4, 10, 0.02, "unsubscribe"
        )
        for ws in sockets[10:]:
            await ws.close()

    asyncio.run(scenario())
    admin.close()


def test_redis_killed_while_capturing_loses_nothing_stored(
    redis_factory: Callable[..., RedisServer], server_factory: Callable[..., ServerProcess]
) -> None:
    store = redis_factory(durable=True)
    server = server_factory("--redis-url", store.url)
    hook = new_bin(server)
    auth = {"Authorization": f"Bearer {hook['token']}"}
    ok_ids: list[str] = []
    statuses: list[int] = []

    async def scenario() -> list[str]:
        received: list[str] = []
        close_codes: list[int] = []
        stop = asyncio.Event()

        async def sender(http: httpx.AsyncClient) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    response = await http.post(f"/h/{hook['id']}", content=str(n))
                except httpx.HTTPError:
                    statuses.append(-1)
                    continue
                statuses.append(response.status_code)
                if response.status_code == 200:
                    ok_ids.append(response.headers["x-hookscope-request-id"])
                else:
                    assert response.status_code == 503, response.text
                    assert "x-hookscope-request-id" not in response.headers
                await asyncio.sleep(0.002)

        async def watcher() -> None:
            """Watch forever, resuming with since= after every close, like the SDK does."""
            since = "0-0"  # from the very first capture, which may precede this watcher
            while True:
                query = f"?since={since}"
                try:
                    async with websockets.connect(
                        ws_url(server, hook["id"], query), additional_headers=auth, compression=None
                    ) as ws:
                        async for raw in ws:
                            frame = json.loads(raw)
                            if frame["type"] == "request":
                                received.append(frame["request"]["id"])
                            elif frame["type"] == "batch":
                                received.extend(r["id"] for r in frame["requests"])
                            if received:
                                since = received[-1]
                except websockets.ConnectionClosed as closed:
                    if closed.rcvd is not None:
                        close_codes.append(closed.rcvd.code)
                except websockets.InvalidStatus as refused:
                    assert refused.response.status_code == 503  # Redis still down
                    await asyncio.sleep(0.05)

        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            sending = asyncio.create_task(sender(http))
            watching = asyncio.create_task(watcher())
            await wait_for(lambda: len(ok_ids) >= 50)
            store.kill()
            await wait_for(lambda: statuses[-3:] == [503, 503, 503])
            ready = await http.get("/readyz")
            assert ready.status_code == 503
            assert (await http.get("/healthz")).status_code == 200
            await wait_for(lambda: 1012 in close_codes)
            stored_before_restart = len(ok_ids)
            store.start()
            await wait_for(lambda: len(ok_ids) >= stored_before_restart + 50)
            assert (await http.get("/readyz")).status_code == 200
            stop.set()
            await sending
            await wait_for(lambda: bool(received) and received[-1] == ok_ids[-1])
            watching.cancel()
        return received

    received = asyncio.run(scenario())
    assert 503 in statuses
    history = httpx.get(
        f"{server.url}/api/bins/{hook['id']}/requests?limit=1000", headers=auth
    ).json()["requests"]
    history_ids = [r["id"] for r in history]
    # Every 200 was stored and survived the kill; nothing was streamed twice or skipped.
    assert set(ok_ids) <= set(history_ids)
    assert received == history_ids
    assert len(set(received)) == len(received)


async def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def test_workers_share_the_port(
    redis_url: str, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory("--redis-url", redis_url, "--workers", "2")
    pids: set[int] = set()

    def both_seen() -> bool:
        with httpx.Client() as fresh:  # a new connection each time
            pids.add(fresh.get(server.url + "/healthz").json()["pid"])
        return len(pids) == 2

    wait_until(both_seen, timeout=30, what="two worker pids")
    hook = new_bin(server)
    for n in range(20):
        with httpx.Client() as fresh:
            assert fresh.post(f"{server.url}/h/{hook['id']}", content=str(n)).status_code == 200
    page = httpx.get(
        f"{server.url}/api/bins/{hook['id']}/requests",
        headers={"Authorization": f"Bearer {hook['token']}"},
    ).json()
    assert [r["body"] for r in page["requests"]] == [str(n) for n in range(20)]
    assert server.stop() == 0


def test_sigterm_closes_streams_with_1012_and_exits_cleanly(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory()
    hook = new_bin(server)

    async def scenario() -> int:
        async with websockets.connect(
            ws_url(server, hook["id"]),
            additional_headers={"Authorization": f"Bearer {hook['token']}"},
            compression=None,
        ) as ws:
            assert json.loads(await ws.recv()) == {"type": "live"}
            server.signal(signal.SIGTERM)
            error = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert error["type"] == "error" and error["code"] == "feed_lost"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code

    assert asyncio.run(scenario()) == 1012
    assert server.process is not None
    assert server.process.wait(15) == 0  # the one SIGTERM was enough
