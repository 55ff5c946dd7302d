"""When Redis refuses writes (out of memory) or input is odd: 503 or 400 with a code, never 500.

A sender must never get a 2xx for a request that was not stored, and ``/readyz`` must say
that writes fail, so that a load balancer stops sending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
import websockets
from _support import RedisServer, wait_until
from websockets.exceptions import InvalidStatus

from hookscope._embedded import BackgroundServer, serve_in_background

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_and_server(
    redis_factory: Callable[..., RedisServer],
) -> Iterator[tuple[redis.Redis, BackgroundServer]]:
    store = redis_factory()
    admin = redis.Redis.from_url(store.url)
    server = serve_in_background(redis_url=store.url)
    yield admin, server
    server.stop()
    admin.close()


def _fill(admin: redis.Redis) -> None:
    """Cap Redis just above what it uses, refuse writes beyond (noeviction), and fill it."""
    used = int(admin.info("memory")["used_memory"])
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", used + 2_000_000)
    # Small values: a big one counts its own query buffer and is refused before Redis is full.
    chunk = b"x" * 1000
    for n in range(100_000):
        try:
            admin.set(f"filler:{n}", chunk)
        except redis.exceptions.OutOfMemoryError:
            return
    raise AssertionError("Redis never ran out of memory")


def test_out_of_memory_is_503_everywhere_and_readyz_says_so(
    redis_and_server: tuple[redis.Redis, BackgroundServer],
) -> None:
    admin, server = redis_and_server
    http = httpx.Client(base_url=server.url, timeout=10)
    hook: dict[str, Any] = http.post("/api/bins", json={}).json()
    auth = {"Authorization": f"Bearer {hook['token']}"}
    assert http.get("/readyz").status_code == 200

    _fill(admin)
    for answer in (
        http.post("/api/bins", json={}),
        http.patch(f"/api/bins/{hook['id']}", json={"name": "x"}, headers=auth),
        http.post(f"/h/{hook['id']}/paid", json={"n": 1}),
        http.get("/readyz"),
    ):
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "unavailable"
    # Reads still work: the bin and its (empty) history are there.
    assert http.get(f"/api/bins/{hook['id']}/requests", headers=auth).status_code == 200

    admin.config_set("maxmemory", 0)
    wait_until(lambda: http.get("/readyz").status_code == 200, what="readyz back to 200")
    assert http.post(f"/h/{hook['id']}/paid", json={"n": 2}).status_code == 200
    stored = http.get(f"/api/bins/{hook['id']}/requests", headers=auth).json()["requests"]
    assert [r["body"] for r in stored] == ['{"n":2}']  # the refused one was not stored
    http.close()


@pytest.mark.parametrize("query", ["after=1-0%0A", "after=%D9%A1-0", "after=1-%D9%A1"])
def test_odd_ids_are_400_on_redis(
    redis_and_server: tuple[redis.Redis, BackgroundServer], query: str
) -> None:
    _, server = redis_and_server
    hook = httpx.post(f"{server.url}/api/bins", json={}).json()
    answer = httpx.get(
        f"{server.url}/api/bins/{hook['id']}/requests?{query}",
        headers={"Authorization": f"Bearer {hook['token']}"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_after"

    async def watch() -> int:
        since = query.replace("after=", "since=")
        url = server.url.replace("http://", "ws://") + f"/api/bins/{hook['id']}/ws?{since}"
        auth = {"Authorization": f"Bearer {hook['token']}"}
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(url, additional_headers=auth, compression=None)
        return refused.value.response.status_code

    assert asyncio.run(watch()) == 400
