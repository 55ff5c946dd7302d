"""``stream()``: replay then live, resuming across reconnects with nothing lost or repeated.

The reconnect tests run real server processes: one restarted (or killed) mid-stream on the
Redis backend, one that closes a reader that stopped reading with 4008.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from _support import ServerProcess
from client_support import LAGGED, WS_WATCHERS, asend, eventually, metric

import hookscope

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_replay_then_live(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    sent = [await asend(http, async_bin.url_for(f"/{n}")) for n in range(3)]
    stream = async_bin.stream(since="0-0")
    received = [(await anext(stream)).id for _ in range(3)]
    sent.append(await asend(http, async_bin.url_for("/live"), content=b"\xff\x00"))
    live = await anext(stream)
    received.append(live.id)
    assert received == sent
    assert (live.path, live.body) == ("/live", b"\xff\x00")
    await stream.aclose()


async def test_since_and_tail(async_bin: hookscope.AsyncBin, http: httpx.AsyncClient) -> None:
    sent = [await asend(http, async_bin.url, content=str(n)) for n in range(5)]
    since = async_bin.stream(since=sent[2])
    assert [(await anext(since)).id for _ in range(2)] == sent[3:]
    await since.aclose()
    tail = async_bin.stream(tail=2)
    assert [(await anext(tail)).id for _ in range(2)] == sent[3:]
    later = await asend(http, async_bin.url)
    assert (await anext(tail)).id == later
    await tail.aclose()


async def test_stream_from_now_on(
    server_url: str, async_bin: hookscope.AsyncBin, http: httpx.AsyncClient
) -> None:
    await asend(http, async_bin.url, content="old")
    watchers = metric(server_url, WS_WATCHERS)
    stream = async_bin.stream()
    first = asyncio.create_task(anext(stream))
    await eventually(lambda: metric(server_url, WS_WATCHERS) > watchers)
    new = await asend(http, async_bin.url, content="new")
    assert (await asyncio.wait_for(first, 10)).id == new
    await stream.aclose()


async def test_bad_arguments(async_bin: hookscope.AsyncBin) -> None:
    with pytest.raises(ValueError, match="do not combine"):
        await anext(async_bin.stream(since="1-0", tail=1))
    with pytest.raises(ValueError, match="not a request id"):
        await anext(async_bin.stream(since="yesterday"))


async def test_deleting_the_bin_ends_the_stream(
    async_client: hookscope.AsyncClient, http: httpx.AsyncClient
) -> None:
    bin = await async_client.create_bin()
    await asend(http, bin.url)
    stream = bin.stream(since="0-0")
    await anext(stream)
    await bin.delete()
    with pytest.raises(hookscope.BinNotFound, match="deleted while streaming"):
        await asyncio.wait_for(anext(stream), 10)


async def test_refused_streams(
    async_client: hookscope.AsyncClient, async_bin: hookscope.AsyncBin
) -> None:
    # since= skips the HTTP call, so these exercise the WebSocket handshake's refusals.
    with pytest.raises(hookscope.BinNotFound):
        await anext(async_client.bin("b_unknown", "t").stream(since="0-0"))
    with pytest.raises(hookscope.Unauthorized):
        await anext(async_client.bin(async_bin.id, "wrong").stream(since="0-0"))
    with pytest.raises(hookscope.Unauthorized):
        await anext(async_client.bin(async_bin.id, "wrong").stream())


def restart(server: ServerProcess, how: str) -> None:
    if how == "restart":
        server.restart()  # SIGTERM: streams are closed with 1012, then it starts again
    else:
        port = server.port
        server.kill()  # SIGKILL: connections just drop
        server.start(port=port)


@pytest.mark.redis
@pytest.mark.parametrize("how", ["restart", "kill"])
async def test_stream_survives_a_server_restart(
    server_factory: type[ServerProcess],
    redis_url: str,
    http: httpx.AsyncClient,
    client_log: list[tuple[int, str]],
    how: str,
) -> None:
    server = server_factory("--redis-url", redis_url)
    async with hookscope.AsyncClient(server.url) as client:
        bin = await client.create_bin()
        received: list[str] = []

        async def consume() -> None:
            async for request in bin.stream(since="0-0"):
                received.append(request.id)

        consumer = asyncio.create_task(consume())
        sent = [await asend(http, bin.url_for(f"/{n}")) for n in range(30)]
        await eventually(lambda: len(received) >= 10, what="the first requests")
        await asyncio.to_thread(restart, server, how)
        sent += [await asend(http, bin.url_for(f"/{n}")) for n in range(30, 60)]
        await eventually(lambda: len(received) >= len(sent), within=30, what="every request")
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        assert received == sent
        assert any("reconnecting" in message for _, message in client_log)


async def test_stream_resumes_after_lagging(
    server_factory: type[ServerProcess], http: httpx.AsyncClient, client_log: list[tuple[int, str]]
) -> None:
    # One request per frame (no batch window): the client's own buffers hold a fixed number of
    # frames, so batches of several requests each would let it absorb the whole 15 MB.
    server = server_factory(env={"HOOKSCOPE_WATCHER_QUEUE": "5", "HOOKSCOPE_BATCH_WINDOW": "0"})
    async with hookscope.AsyncClient(server.url) as client:
        bin = await client.create_bin()
        stream = bin.stream(since="0-0")
        sent = [await asend(http, bin.url, content="first")]
        received = [(await anext(stream)).id]
        # Stop reading while 15 MB arrive: TCP back-pressure reaches the server, whose queue
        # for this stream (5 requests) overflows, so it gives up on the stream (4008). The
        # server can only say so once the reader drains what the network holds.
        body = b"y" * (100 * 1024)
        sent += [await asend(http, bin.url, content=body) for _ in range(150)]
        sent += [await asend(http, bin.url, content="after") for _ in range(5)]
        # Read again: what was buffered, then the close, then the rest resumed with since=.
        async with asyncio.timeout(60):
            while len(received) < len(sent):
                received.append((await anext(stream)).id)
        assert received == sent
        assert metric(server.url, LAGGED) == 1, "the stream was never closed as lagging"
        assert any("code 4008" in message for _, message in client_log)
        await stream.aclose()
