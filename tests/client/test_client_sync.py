"""``Client`` and ``Bin``: the async API, blocking; in scripts and inside a running loop."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from _support import wait_until
from client_support import WS_WATCHERS, metric, send

import hookscope
from hookscope._embedded import BackgroundServer


def client_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hookscope-client" and t.is_alive()]


def test_every_bin_method(client: hookscope.Client) -> None:
    bin = client.create_bin(name="sync", response={"status": 201}, max_requests=50, ttl_s=60)
    assert (bin.name, bin.client) == ("sync", client)
    assert bin.url == f"{client.url}/h/{bin.id}"
    assert bin.url_for("/x?y=1") == f"{bin.url}/x?y=1"
    assert bin.info()["max_requests"] == 50

    first = send(bin.url_for("/a"), json={"event": "paid"})
    second = send(bin.url_for("/b"), method="PUT", content=b"\x00\xff")
    assert [r.id for r in bin.requests()] == [first, second]
    assert [r.id for r in bin.requests(since=first)] == [second]
    assert [r.id for r in bin.requests(limit=1)] == [first]
    assert [r.id for r in bin.tail(1)] == [second]
    assert bin.get(second).body == b"\x00\xff"
    assert bin.wait_for("POST", "/a", json={"event": "paid"}, timeout=5).id == first
    both = bin.wait_for(path="/*", count=2, timeout=5)
    assert [r.id for r in both] == [first, second]
    with pytest.raises(hookscope.WaitTimeout, match=r"\(method: 'POST' != 'DELETE'\)"):
        bin.wait_for("DELETE", timeout=0.2)
    frame = bin.dataframe(expand_json=True)
    assert frame["json.event"].iloc[0] == "paid"

    bin.respond_with(418, body="teapot")
    assert bin.info()["response"]["status"] == 418
    bin.clear()
    assert bin.requests() == []
    again = client.bin(bin.id, bin.token)
    assert again.info()["name"] == "sync"
    assert again.name == "sync"
    assert repr(again) == f"<Bin {bin.id} 'sync' {bin.url}>"
    bin.delete()
    with pytest.raises(hookscope.BinNotFound):
        again.requests()


def test_live_table(bin: hookscope.Bin) -> None:
    sent = send(bin.url)
    with bin.live_table(since="0-0", display=False) as table:
        assert table.bin is bin
        assert list(table.wait_for_rows(1).id) == [sent]


def test_stream_is_a_plain_iterator(bin: hookscope.Bin) -> None:
    sent = [send(bin.url, content=str(n)) for n in range(3)]
    stream = bin.stream(since="0-0")
    assert [next(stream).id for _ in range(3)] == sent
    later = send(bin.url)
    assert next(stream).id == later
    stream.close()

    tail = bin.stream(tail=2)
    assert [next(tail).id for _ in range(2)] == [sent[2], later]
    tail.close()


def test_open_stream_is_a_blocking_cursor(bin: hookscope.Bin) -> None:
    sent = [send(bin.url, content=str(n)) for n in range(3)]
    with bin.open_stream(since=sent[0]) as cursor:
        assert cursor.next().id == sent[1]
        assert cursor.last_id == sent[1]
        later = send(bin.url)
        assert [next(cursor).id, next(cursor).id] == [sent[2], later]
    with pytest.raises(RuntimeError, match="closed"):
        cursor.next()
    wrong = bin.client.bin(bin.id, "not-the-token")
    with pytest.raises(hookscope.Unauthorized), wrong.open_stream(tail=0):
        pass  # never reached: entering connects, and the handshake is refused


def test_stream_from_now_on(server_url: str, bin: hookscope.Bin) -> None:
    send(bin.url, content="old")
    stream = bin.stream()
    watchers = metric(server_url, WS_WATCHERS)
    received: list[hookscope.CapturedRequest] = []
    reader = threading.Thread(target=lambda: received.append(next(stream)))
    reader.start()
    # Once its WebSocket is open the stream has fixed where "now" is: later sends are new.
    wait_until(lambda: metric(server_url, WS_WATCHERS) > watchers, what="the stream")
    new = send(bin.url, content="new")
    reader.join(10)
    assert [r.id for r in received] == [new]
    stream.close()


def test_stream_ends_when_the_bin_is_deleted(client: hookscope.Client) -> None:
    bin = client.create_bin()
    send(bin.url)
    stream = bin.stream(since="0-0")
    next(stream)
    bin.delete()
    with pytest.raises(hookscope.BinNotFound, match="deleted"):
        next(stream)


def test_sync_client_inside_a_running_event_loop(embedded_server: BackgroundServer) -> None:
    async def notebook_cell() -> list[str]:
        # What Jupyter does: a loop runs in this thread while sync code calls the client.
        asyncio.get_running_loop()
        with hookscope.Client(embedded_server.url) as client:
            bin = client.create_bin()
            sent = send(bin.url, json={"n": 1})
            found = bin.wait_for(json={"n": 1}, timeout=5)
            stream = bin.stream(since="0-0")
            streamed = next(stream)
            stream.close()
            frame = bin.dataframe()
            return [sent, found.id, streamed.id, frame["id"].iloc[0]]

    ids = asyncio.run(notebook_cell())
    assert len(set(ids)) == 1


def test_close_stops_the_thread(embedded_server: BackgroundServer) -> None:
    before = len(client_threads())
    client = hookscope.Client(embedded_server.url)
    client.create_bin()
    assert len(client_threads()) == before + 1
    client.close()
    assert len(client_threads()) == before
    client.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        client.create_bin()


def test_a_collected_client_stops_its_thread(embedded_server: BackgroundServer) -> None:
    before = len(client_threads())
    client = hookscope.Client(embedded_server.url)
    bin = client.create_bin()
    assert len(client_threads()) == before + 1
    del client
    gc.collect()
    assert len(client_threads()) == before + 1  # the bin keeps its client alive
    del bin
    gc.collect()
    wait_until(lambda: len(client_threads()) == before, timeout=10, what="the client thread")


def test_a_stream_keeps_its_client_alive(embedded_server: BackgroundServer) -> None:
    before = len(client_threads())
    bin = hookscope.Client(embedded_server.url).create_bin()
    url, stream = bin.url, bin.stream(since="0-0")
    del bin
    gc.collect()
    sent = send(url)
    assert next(stream).id == sent
    stream.close()
    del stream
    gc.collect()
    wait_until(lambda: len(client_threads()) == before, timeout=10, what="the client thread")


@pytest.mark.parametrize("ending", ["never closed", "streaming"])
def test_interpreter_exit_is_not_held_up(embedded_server: BackgroundServer, ending: str) -> None:
    script = textwrap.dedent(
        f"""
        import httpx, hookscope
        client = hookscope.Client({embedded_server.url!r})
        bin = client.create_bin()
        if {ending == "streaming"!r}:
            httpx.post(bin.url)
            stream = bin.stream(since="0-0")
            next(stream)  # a connection stays open
        print("done", flush=True)
        """
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    assert "Traceback" not in result.stderr, result.stderr
    assert time.monotonic() - started < 20
