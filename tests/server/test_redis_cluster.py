"""Server processes on a local 3-master Redis Cluster (``--redis-cluster``).

Bins spread over every master; captures sent to one process reach the watchers of another
exactly once and in order; ``since`` resumes; each process holds at most one subscriber
connection per master; a master that dies costs only its own bins, whose watchers get 1012
and resume once it is back. Run with ``-s`` for the figures (fixture start time, captures/s).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import websockets
from _support import LocalCluster, RedisServer, ServerProcess
from test_redis_processes import new_bin, read_ids, wait_for, ws_url

from hookscope._ids import id_key
from hookscope.backends._redis_keys import RedisKeys

pytestmark = [pytest.mark.redis, pytest.mark.slow]

KEYS = RedisKeys()
Hook = dict[str, Any]


@pytest.fixture(scope="module")
def pair(redis_cluster: LocalCluster) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two ``hookscope serve --redis-cluster`` processes, seeded by different nodes."""
    a = ServerProcess(["--redis-url", redis_cluster.nodes[0].url, "--redis-cluster"]).start()
    b = ServerProcess(["--redis-url", redis_cluster.nodes[1].url, "--redis-cluster"]).start()
    yield a, b
    a.stop()
    b.stop()


def bins_on_every_master(
    server: ServerProcess, cluster: LocalCluster, at_least: int
) -> dict[int, list[Hook]]:
    """New bins, created until each master (by port) holds ``at_least`` of them."""
    placed: dict[int, list[Hook]] = {node.port: [] for node in cluster.nodes}
    for _ in range(200):
        if all(len(hooks) >= at_least for hooks in placed.values()):
            return placed
        hook = new_bin(server)
        placed[cluster.node_of(KEYS.meta(hook["id"])).port].append(hook)
    raise AssertionError(f"200 bins and still a master short of {at_least}: {placed}")


def auth(hook: Hook) -> dict[str, str]:
    return {"Authorization": f"Bearer {hook['token']}"}


async def watch(server: ServerProcess, hook: Hook, query: str = "") -> Any:
    ws = await websockets.connect(
        ws_url(server, hook["id"], query), additional_headers=auth(hook), compression=None
    )
    return ws


async def capture(http: httpx.AsyncClient, hook: Hook, body: str) -> str:
    response = await http.post(f"/h/{hook['id']}", content=body)
    assert response.status_code == 200, response.text
    return str(response.headers["x-hookscope-request-id"])


def subscriber_connections(node: RedisServer, cluster: LocalCluster) -> list[int]:
    """The ``ssub`` count of each connection to ``node`` that holds shard subscriptions."""
    with cluster.admin(node) as client:
        return sorted(int(c["ssub"]) for c in client.client_list() if int(c.get("ssub", 0)))


class Spread(NamedTuple):
    a: ServerProcess
    b: ServerProcess
    placed: dict[int, list[Hook]]  # bins by the port of the master that holds them


@pytest.fixture
def spread(
    redis_cluster: LocalCluster, redis_cluster_url: str, pair: tuple[ServerProcess, ServerProcess]
) -> Spread:
    """The two processes on an empty cluster, and bins created on A, two or more per master."""
    placed = bins_on_every_master(pair[0], redis_cluster, at_least=2)
    print(f"\n[redis-cluster] bins per master: {[len(h) for h in placed.values()]}")
    return Spread(*pair, placed)


def test_captures_on_a_reach_watchers_on_b_exactly_once_for_bins_on_every_master(
    redis_cluster: LocalCluster, spread: Spread
) -> None:
    a, b, placed = spread
    hooks = [hook for hooks in placed.values() for hook in hooks]
    per_bin = 30

    async def scenario() -> None:
        on_b = [await watch(b, hook) for hook in hooks]
        firsts = [hooks_of_master[0] for hooks_of_master in placed.values()]
        on_a = [await watch(a, hook) for hook in firsts]  # a local watcher too, per master
        for ws in on_a + on_b:
            assert json.loads(await ws.recv()) == {"type": "live"}
        # One subscriber connection per process on each master, carrying that process's bins.
        for node in redis_cluster.nodes:
            assert subscriber_connections(node, redis_cluster) == sorted(
                [1, len(placed[node.port])]
            )

        async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
            semaphore = asyncio.Semaphore(20)

            async def send(hook: Hook, n: int) -> str:
                async with semaphore:
                    return await capture(http, hook, f"{hook['id']} {n}")

            # Interleaved over every bin, so that each batch holds bins of every master.
            sent = await asyncio.gather(*(send(hook, n) for n in range(per_bin) for hook in hooks))
            expected = {
                hook["id"]: sorted(sent[index :: len(hooks)], key=id_key)
                for index, hook in enumerate(hooks)
            }
            for hook, ws in zip(hooks, on_b, strict=True):
                assert await read_ids(ws, per_bin) == expected[hook["id"]], hook["id"]
                # Nothing was queued twice: the next frame is the next capture.
                last = await capture(http, hook, "last")
                assert await read_ids(ws, 1) == [last]
                expected[hook["id"]].append(last)
            for hook, ws in zip(firsts, on_a, strict=True):
                assert await read_ids(ws, per_bin + 1) == expected[hook["id"]], hook["id"]
        for ws in on_a + on_b:
            await ws.close()

    asyncio.run(scenario())


def test_a_watcher_on_b_resumes_with_since_and_gets_exactly_what_it_missed(
    spread: Spread,
) -> None:
    a, b, placed = spread
    hooks = [hooks[0] for hooks in placed.values()]

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
            for hook in hooks:
                ws = await watch(b, hook)
                assert json.loads(await ws.recv()) == {"type": "live"}
                seen = [await capture(http, hook, str(n)) for n in range(5)]
                assert await read_ids(ws, 5) == seen
                await ws.close()
                missed = [await capture(http, hook, str(n)) for n in range(5, 15)]
                ws = await watch(b, hook, f"?since={seen[-1]}")
                assert await read_ids(ws, len(missed)) == missed
                assert json.loads(await ws.recv()) == {"type": "live"}
                live = await capture(http, hook, "live")
                assert await read_ids(ws, 1) == [live]
                await ws.close()

    asyncio.run(scenario())


def test_captures_per_second_cluster_and_standalone(
    redis_cluster_url: str,
    pair: tuple[ServerProcess, ServerProcess],
    redis_url: str,
    server_factory: Callable[..., ServerProcess],
) -> None:
    """A figure for the docs, not a benchmark: one process, 20 senders, 300 captures."""
    total, senders = 300, 20

    async def rate(server: ServerProcess) -> float:
        hooks = [new_bin(server) for _ in range(6)]
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            for hook in hooks:  # warm up: connections, scripts
                await capture(http, hook, "warm")
            queue = iter(range(total))

            async def sender() -> None:
                for n in queue:
                    await capture(http, hooks[n % len(hooks)], str(n))

            began = time.perf_counter()
            await asyncio.gather(*(sender() for _ in range(senders)))
            return total / (time.perf_counter() - began)

    cluster = asyncio.run(rate(pair[0]))
    single = asyncio.run(rate(server_factory("--redis-url", redis_url)))
    print(f"\n[redis-cluster] captures/s through one process: cluster {cluster:.0f}, ", end="")
    print(f"standalone {single:.0f} ({senders} senders, {total} captures, 6 bins)")


@pytest.fixture
def durable_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster of its own whose nodes survive SIGKILL (append-only file), for killing."""
    cluster = LocalCluster(tmp_path / "cluster", durable=True).start()
    yield cluster
    cluster.stop()


def test_a_master_that_dies_costs_only_its_bins_whose_watchers_resume(
    durable_cluster: LocalCluster, server_factory: Callable[..., ServerProcess]
) -> None:
    cluster = durable_cluster
    server = server_factory("--redis-url", cluster.url, "--redis-cluster")
    placed = bins_on_every_master(server, cluster, at_least=1)
    victim = cluster.nodes[1]
    hooks = [hooks[0] for hooks in placed.values()]
    doomed = placed[victim.port][0]
    received: dict[str, list[str]] = {hook["id"]: [] for hook in hooks}
    closes: dict[str, list[int]] = {hook["id"]: [] for hook in hooks}
    live: dict[str, asyncio.Event] = {}

    async def watcher(hook: Hook) -> None:
        """Watch forever, resuming with since= after every close, as the SDK does."""
        ids = received[hook["id"]]
        while True:
            query = f"?since={ids[-1]}" if ids else ""
            try:
                async with await watch(server, hook, query) as ws:
                    async for raw in ws:
                        frame = json.loads(raw)
                        if frame["type"] == "live":
                            live[hook["id"]].set()
                        elif frame["type"] == "request":
                            ids.append(frame["request"]["id"])
                        elif frame["type"] == "batch":
                            ids.extend(r["id"] for r in frame["requests"])
            except websockets.ConnectionClosed as closed:
                if closed.rcvd is not None:
                    closes[hook["id"]].append(closed.rcvd.code)
            except websockets.InvalidStatus as refused:
                assert refused.response.status_code == 503  # the master is still down
                await asyncio.sleep(0.05)  # a reconnect backoff, as the SDK's

    async def scenario() -> dict[str, list[str]]:
        sent: dict[str, list[str]] = {hook["id"]: [] for hook in hooks}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            for hook in hooks:
                live[hook["id"]] = asyncio.Event()
            watching = [asyncio.create_task(watcher(hook)) for hook in hooks]
            for event in live.values():
                await asyncio.wait_for(event.wait(), 10)
            for hook in hooks:
                sent[hook["id"]] += [await capture(http, hook, "before") for _ in range(3)]

            victim.kill()
            await wait_for(lambda: 1012 in closes[doomed["id"]])
            response = await http.post(f"/h/{doomed['id']}", content="while down")
            assert response.status_code == 503
            assert (await http.get("/readyz")).status_code == 503
            for hook in hooks:  # the other masters' bins go on, live
                if hook is not doomed:
                    sent[hook["id"]].append(await capture(http, hook, "while down"))

            live[doomed["id"]].clear()
            victim.start()  # same port, same node id; its append-only file has its data
            await wait_for(lambda: live[doomed["id"]].is_set(), timeout=30)
            assert (await http.get("/readyz")).status_code == 200
            for hook in hooks:
                sent[hook["id"]] += [await capture(http, hook, "after") for _ in range(3)]
            await wait_for(lambda: all(received[k][-1:] == v[-1:] for k, v in sent.items()))
            for task in watching:
                task.cancel()
            await asyncio.gather(*watching, return_exceptions=True)
        return sent

    sent = asyncio.run(scenario())
    for hook in hooks:
        assert received[hook["id"]] == sent[hook["id"]], hook["id"]  # once each, in order
        assert closes[hook["id"]] == ([1012] if hook is doomed else []), hook["id"]
