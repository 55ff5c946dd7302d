"""``AsyncClient`` and ``AsyncBin`` against a real (embedded) server: every method."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pandas as pd
import pytest
import pytest_asyncio
from client_support import WS_WATCHERS, asend, eventually, metric

import hookscope
from hookscope._embedded import BackgroundServer, serve_in_background

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_create_bin_with_options(
    async_client: hookscope.AsyncClient, http: httpx.AsyncClient
) -> None:
    bin = await async_client.create_bin(
        name="stripe",
        response={"status": 202, "headers": {"x-reply": "yes"}, "body": "accepted"},
        max_requests=3,
        ttl_s=600,
    )
    assert bin.id.startswith("b_")
    assert len(bin.token) >= 32
    assert bin.url == f"{async_client.url}/h/{bin.id}"
    assert bin.name == "stripe"
    info = await bin.info()
    assert (info["id"], info["name"], info["max_requests"], info["ttl_s"]) == (
        bin.id,
        "stripe",
        3,
        600,
    )
    assert info["response"]["status"] == 202
    reply = await http.post(bin.url)
    assert (reply.status_code, reply.text, reply.headers["x-reply"]) == (202, "accepted", "yes")
    for _ in range(4):
        await asend(http, bin.url)
    assert len(await bin.requests()) == 3  # max_requests keeps the newest


async def test_bin_opens_an_existing_bin(
    async_client: hookscope.AsyncClient, async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    sent = await asend(http, async_bin.url)
    again = async_client.bin(async_bin.id, async_bin.token)
    assert again.name is None  # unknown until asked
    assert again.url == async_bin.url
    assert [r.id for r in await again.requests()] == [sent]
    await again.info()
    assert again.name is None
    assert repr(again) == f"<AsyncBin {async_bin.id} {async_bin.url}>"


async def test_url_for(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    assert async_bin.url_for("/github/push?x=1") == f"{async_bin.url}/github/push?x=1"
    assert async_bin.url_for("stripe") == f"{async_bin.url}/stripe"
    await asend(http, async_bin.url_for("/github/push?x=1"))
    [req] = await async_bin.requests()
    assert (req.path, req.query) == ("/github/push", "x=1")


@pytest.fixture(scope="module")
def roomy_server() -> Iterator[BackgroundServer]:
    with serve_in_background(max_requests=3000) as server:
        yield server


async def test_requests_pages_through_everything(
    roomy_server: BackgroundServer, http: httpx.AsyncClient
) -> None:
    async with hookscope.AsyncClient(roomy_server.url) as client:
        bin = await client.create_bin(max_requests=2000)
        sent = [await asend(http, bin.url, content=str(n)) for n in range(1050)]
        everything = await bin.requests()
        assert [r.id for r in everything] == sent  # two server pages
        assert await bin.requests(limit=5) == everything[:5]
        assert await bin.requests(since=everything[99].id, limit=1200) == everything[100:]
        assert await bin.requests(since=everything[-1].id) == []
        assert await bin.requests(limit=0) == []
        with pytest.raises(ValueError, match="limit"):
            await bin.requests(limit=-1)


async def test_tail_and_get(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    sent = [await asend(http, async_bin.url, content=str(n)) for n in range(5)]
    assert [r.id for r in await async_bin.tail(2)] == sent[-2:]
    assert [r.id for r in await async_bin.tail()] == sent
    req = await async_bin.get(sent[1])
    assert (req.id, req.body) == (sent[1], b"1")
    with pytest.raises(hookscope.RequestNotFound):
        await async_bin.get("1-0")


async def test_clear_and_delete(
    async_client: hookscope.AsyncClient, http: httpx.AsyncClient
) -> None:
    bin = await async_client.create_bin()
    before = await asend(http, bin.url)
    await bin.clear()
    assert await bin.requests() == []
    after = await asend(http, bin.url)
    assert tuple(map(int, after.split("-"))) > tuple(map(int, before.split("-")))
    await bin.delete()
    with pytest.raises(hookscope.BinNotFound):
        await bin.info()
    assert (await http.post(bin.url)).status_code == 404


async def test_respond_with(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    await async_bin.respond_with(503, body="try later", headers={"retry-after": "1"}, delay_ms=50)
    reply = await http.post(async_bin.url)
    assert (reply.status_code, reply.text, reply.headers["retry-after"]) == (503, "try later", "1")
    assert reply.elapsed.total_seconds() >= 0.05
    assert len(await async_bin.requests()) == 1  # a 503 reply still stores the request
    await async_bin.respond_with(202, json={"queued": True})
    reply = await http.post(async_bin.url)
    assert (reply.status_code, reply.json()) == (202, {"queued": True})
    assert reply.headers["content-type"] == "application/json"
    with pytest.raises(ValueError, match="body= or json="):
        await async_bin.respond_with(body="x", json={})
    await async_bin.respond_with()
    reply = await http.post(async_bin.url)
    assert reply.status_code == 200
    assert reply.json() == {"ok": True, "id": reply.headers["x-hookscope-request-id"]}


async def test_wait_for_sees_history_and_live(
    async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    early = await asend(http, async_bin.url_for("/early"), json={"event": "paid"})
    assert (await async_bin.wait_for(path="/early", json={"event": "paid"}, timeout=5)).id == early

    waiter = asyncio.create_task(
        async_bin.wait_for("PUT", "/late/*", headers={"x-n": "2"}, timeout=10)
    )
    await asend(http, async_bin.url_for("/late/1"), method="PUT", headers={"x-n": "1"})
    late = await asend(http, async_bin.url_for("/late/2"), method="PUT", headers={"x-n": "2"})
    assert (await waiter).id == late


async def test_wait_for_count(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    sent = [await asend(http, async_bin.url, json={"n": n % 2}) for n in range(6)]
    found = await async_bin.wait_for(json={"n": 1}, count=3, timeout=5)
    assert isinstance(found, list)
    assert [r.id for r in found] == sent[1::2]
    with pytest.raises(ValueError, match="count"):
        await async_bin.wait_for(count=0)


async def test_wait_for_goes_from_history_to_live(
    async_bin: hookscope.AsyncBin, http: httpx.AsyncClient, server_url: str
) -> None:
    # History first (HTTP), then a stream resuming after the last request seen: the matches
    # come in order, none twice; the timeout's list has every arrival once.
    first = await asend(http, async_bin.url, json={"n": 1})
    other = await asend(http, async_bin.url, json={"n": 0})
    before = metric(server_url, WS_WATCHERS)
    waiter = asyncio.create_task(async_bin.wait_for(json={"n": 1}, count=3, timeout=10))
    await eventually(lambda: metric(server_url, WS_WATCHERS) > before, what="a live stream")
    later = [await asend(http, async_bin.url, json={"n": n}) for n in (1, 0, 1)]
    found = await waiter
    assert [r.id for r in found] == [first, later[0], later[2]]

    waiter = asyncio.create_task(async_bin.wait_for(json={"n": 2}, timeout=2))
    await eventually(lambda: metric(server_url, WS_WATCHERS) > before, what="a live stream")
    last = await asend(http, async_bin.url, json={"n": 3})
    with pytest.raises(hookscope.WaitTimeout) as caught:
        await waiter
    listed = [line.split()[0] for line in str(caught.value).splitlines()[1:]]
    assert listed == [first, other, *later, last]


async def test_wait_for_timeout_lists_what_arrived(
    async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    sent = await asend(http, async_bin.url_for("/stripe"), json={"event": "paid"})
    with pytest.raises(hookscope.WaitTimeout) as caught:
        await async_bin.wait_for("POST", "/stripe", json={"event": "failed"}, timeout=0.3)
    message = str(caught.value)
    assert "waited 0.3 s for a request matching POST /stripe json={'event': 'failed'}" in message
    assert f"{sent} POST /stripe  (json.event: 'paid' != 'failed')" in message
    assert isinstance(caught.value, AssertionError)


async def test_wait_for_takes_a_match(
    async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    paid = hookscope.Match("POST", "/stripe", json={"event": "paid"})
    sent = await asend(http, async_bin.url_for("/stripe"), json={"event": "paid", "n": 1})
    assert (await async_bin.wait_for(paid, timeout=5)).id == sent
    with pytest.raises(TypeError, match="not both"):
        await async_bin.wait_for(paid, json={}, timeout=5)


async def test_open_stream_is_a_cursor(
    async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    sent = [await asend(http, async_bin.url, content=str(n)) for n in range(3)]
    cursor = async_bin.open_stream(tail=2)
    assert cursor.last_id is None
    async with cursor:
        assert (await cursor.next()).id == sent[1]
        assert cursor.last_id == sent[1]
        later = await asend(http, async_bin.url)
        assert [req.id async for req in _take(cursor, 2)] == [sent[2], later]
    with pytest.raises(RuntimeError, match="closed"):
        await cursor.next()


async def _take(cursor: hookscope.AsyncStream, n: int) -> AsyncIterator[hookscope.CapturedRequest]:
    async for request in cursor:
        yield request
        n -= 1
        if n == 0:
            return


async def test_a_refused_cursor_raises_when_entered(async_bin: hookscope.AsyncBin) -> None:
    wrong = async_bin.client.bin(async_bin.id, "not-the-token")
    with pytest.raises(hookscope.Unauthorized):
        async with wrong.open_stream(since="0-0"):
            pass  # never reached: entering connects, and the handshake is refused
    with pytest.raises(ValueError, match="tail must be from 0 to 1000"):
        async_bin.open_stream(tail=1001)


async def test_wait_for_in_an_empty_bin(async_bin: hookscope.AsyncBin) -> None:
    with pytest.raises(hookscope.WaitTimeout, match="no request arrived at all"):
        await async_bin.wait_for(timeout=0.2)


async def test_dataframe(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    await asend(http, async_bin.url_for("/a"), json={"event": "paid", "data": {"amount": 3}})
    await asend(http, async_bin.url_for("/b"), content=b"\xff")
    frame = await async_bin.dataframe()
    assert frame["path"].tolist() == ["/a", "/b"]
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
    assert frame["body"].iloc[1] == b"\xff"
    expanded = await async_bin.dataframe(expand_json=True)
    assert expanded["json.data.amount"].iloc[0] == 3
    assert pd.isna(expanded["json.event"].iloc[1])


async def test_client_context_manager_closes(embedded_server: BackgroundServer) -> None:
    async with hookscope.AsyncClient(embedded_server.url + "/") as client:
        assert client.url == embedded_server.url
        assert repr(client) == f"<AsyncClient {embedded_server.url}>"
        await client.create_bin()
    with pytest.raises(RuntimeError):
        await client.create_bin()
