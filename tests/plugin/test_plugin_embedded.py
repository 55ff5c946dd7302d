"""The plugin's fast paths on its embedded server: bins made ahead, and waits that read the
captures on the test's own thread (``_mirror.Mirror``), answering as the server does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from _support import wait_until

import hookscope
from hookscope._matching import Match, Waiting
from hookscope._wire import encode_capture, with_id
from hookscope.pytest_plugin import HookscopeServer
from hookscope.pytest_plugin._mirror import Mirror
from hookscope.pytest_plugin._options import Options
from hookscope.pytest_plugin._server import POOL_SIZE
from hookscope.server._hub import LiveBatch, LiveItem, Watcher


def request_text(n: int) -> str:
    """Stored request number ``n`` (id ``"<n>-0"``, JSON body ``{"n": n}``) as wire JSON."""
    payload = encode_capture(
        bin_id="b_x",
        received_at=datetime.now(UTC),
        method="POST",
        path="/",
        query="",
        headers=[("content-type", "application/json")],
        body=json.dumps({"n": n}).encode(),
        remote_addr=None,
        http_version="1.1",
    )
    return with_id(payload, f"{n}-0")


@pytest.fixture
def server() -> Iterator[HookscopeServer]:
    made = HookscopeServer(Options(None, "embedded", None), {"max_requests": 3})
    yield made
    made.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def test_bins_made_ahead_carry_the_tests_names_and_all_are_deleted(
    server: HookscopeServer, http: httpx.Client
) -> None:
    store = server.embedded._app.extensions["hookscope"].store  # type: ignore[union-attr]
    bins = [server.create_bin(name=f"test_{n}") for n in range(POOL_SIZE * 2)]
    assert len({bin.id for bin in bins}) == len(bins)
    with hookscope.Client(server.url) as client:
        for n, bin in enumerate(bins):
            assert bin.name == f"test_{n}"
            assert client.bin(bin.id, bin.token).info()["name"] == f"test_{n}"
            http.post(bin.url_for("/x"), content=str(n))
            assert bin.wait_for("POST", "/x").text == str(n)
        server._discard(bins[0])
        server.create_bin(name="next")  # deletes what the tests before were done with

        def deleted() -> bool:
            try:
                client.bin(bins[0].id, bins[0].token).info()
            except hookscope.BinNotFound:
                return True
            return False

        wait_until(deleted, timeout=10, what="the bin done with to be deleted")
    ahead = list(server._ahead or ())
    assert ahead
    server.close()
    for bin_id in [*ahead, *(bin.id for bin in bins)]:
        assert asyncio.run(store.get_bin(bin_id)) is None


def test_bins_are_made_ahead_named_after_the_tests_expected_to_take_them(
    server: HookscopeServer, http: httpx.Client
) -> None:
    names = [f"tests/test_x.py::test_{n}" for n in range(POOL_SIZE * 3)]
    server.expect(names)
    state = server.embedded._app.extensions["hookscope"]  # type: ignore[union-attr]

    def stored_name(bin: hookscope.pytest_plugin.HookBin) -> str | None:
        record = server._loop.call(state.store.get_bin, bin.id)
        return None if record is None else record.name

    first = server.create_bin(name=names[0])  # through the API; then the pool fills
    assert stored_name(first) == names[0]
    wait_until(lambda: len(server._named) == POOL_SIZE, timeout=10, what="the pool to fill")
    assert sorted(server._named) == sorted(names[1 : POOL_SIZE + 1])
    taken = []
    for name in names[1 : POOL_SIZE * 2]:  # across refills
        made_for_it = server._named[name]
        bin = server.create_bin(name=name)
        assert bin._bin is made_for_it  # made with this name: nothing to rename
        taken.append(bin)
        wait_until(lambda: not server._refilling, timeout=10, what="a refill to end")
    for bin, name in zip(taken, names[1:], strict=False):
        assert bin.name == stored_name(bin) == name
        http.post(bin.url_for("/x"), content=name)
        assert bin.wait_for("POST", "/x").text == name


def test_a_bin_made_for_a_test_that_did_not_come_goes_to_the_next_one_that_finds_none(
    server: HookscopeServer,
) -> None:
    names = [f"test_{n}" for n in range(POOL_SIZE * 2)]
    server.expect(names)
    server.create_bin(name=names[0])
    wait_until(lambda: len(server._named) == POOL_SIZE, timeout=10, what="the pool to fill")
    skipped = server._named[names[1]]  # test_1 is skipped (or runs on another worker)
    server.create_bin(name=names[2])
    # A name no bin was made for (a second bin in a test, a rerun): the oldest bin waits
    # for test_1, which is past, so it is taken and renamed.
    extra = server.create_bin(name="test_2_again")
    assert extra._bin is skipped
    with hookscope.Client(server.url) as client:
        wait_until(
            lambda: client.bin(extra.id, extra.token).info()["name"] == "test_2_again",
            timeout=10,
            what="the rename",
        )
        # Now the oldest waits for test_3, which is yet to come: another such name gets a
        # bin made for it, and every test to come still finds its own.
        again = server.create_bin(name="test_2_once_more")
        assert again.name == client.bin(again.id, again.token).info()["name"]
    for name in names[3 : POOL_SIZE + 1]:
        made_for_it = server._named[name]
        assert server.create_bin(name=name)._bin is made_for_it
        wait_until(lambda: not server._refilling, timeout=10, what="a refill to end")


def test_a_bin_made_ahead_is_the_bin_the_api_makes() -> None:
    server = HookscopeServer(Options(None, "embedded", None), {"ttl": 7200, "max_requests": 9})
    try:
        server.expect(["test_a", "test_b"])
        first = server.create_bin(name="test_a")  # through the API
        wait_until(lambda: "test_b" in server._named, timeout=10, what="the pool to fill")
        ahead = server.create_bin(name="test_b")
        with hookscope.Client(server.url) as client:
            infos = [client.bin(b.id, b.token).info() for b in (first, ahead)]
        for info in infos:
            for key in ("id", "token", "name", "url", "created_at"):
                info.pop(key)
        assert infos[0] == infos[1]
        assert infos[0]["ttl_s"] == 7200 and isinstance(infos[0]["ttl_s"], float)
        assert ahead.url == f"{server.url}/h/{ahead.id}"
    finally:
        server.close()


def test_a_first_bin_refused_names_no_bins_ahead() -> None:
    server = HookscopeServer(Options(None, "embedded", None), {"api_key": "k" * 32})
    try:
        server.expect(["test_a", "test_b"])
        with pytest.raises(hookscope.Unauthorized):
            server.create_bin(name="test_a")
        # No bin made, none ahead: the next bin made ahead is still for test_b.
        assert (server._next_expected, server._refilling, server._named) == (1, False, {})
        assert server._client is not None
        server._client.api_key = "k" * 32  # given the key, the same test comes again
        server.create_bin(name="test_a")
        wait_until(lambda: "test_b" in server._named, timeout=10, what="the pool to fill")
    finally:
        server.close()


def test_a_bin_asked_for_without_a_name_has_none(server: HookscopeServer) -> None:
    server.expect(["test_a", "test_b"])
    server.create_bin(name="test_a")
    wait_until(lambda: "test_b" in server._named, timeout=10, what="the pool to fill")
    bin = server.create_bin()
    assert "test_b" in server._named  # not taken: it was made for test_b
    with hookscope.Client(server.url) as client:
        assert bin.name is None
        assert client.bin(bin.id, bin.token).info()["name"] is None


def test_a_wait_answers_as_the_servers_history_does(
    server: HookscopeServer, http: httpx.Client
) -> None:
    bin = server.create_bin(name="mirror")
    assert bin._mirror is not None
    sent = [http.post(bin.url_for(f"/{n}"), json={"n": n}) for n in range(5)]
    ids = [response.headers["x-hookscope-request-id"] for response in sent]
    # max_requests=3: the first two are gone from the history, and from the mirror.
    assert [r.id for r in bin.wait_for("POST", count=3)] == ids[2:]
    assert bin.wait_for(json={"n": 4}).id == ids[4]
    with pytest.raises(hookscope.WaitTimeout) as mirrored:
        bin.wait_for(path="/0", timeout=0.2)
    mirror, bin._mirror = bin._mirror, None  # the same wait, asked of the server
    with pytest.raises(hookscope.WaitTimeout) as asked:
        bin.wait_for(path="/0", timeout=0.2)
    assert str(mirrored.value) == str(asked.value)
    assert "3 request(s) arrived" in str(asked.value)
    bin._mirror = mirror


def test_a_wait_wakes_when_the_request_arrives(server: HookscopeServer, http: httpx.Client) -> None:
    bin = server.create_bin(name="later")
    timer = threading.Timer(0.2, lambda: http.post(bin.url_for("/late"), content=b"x"))
    timer.start()
    try:
        assert bin.wait_for(path="/late", timeout=10).body == b"x"
    finally:
        timer.join()


def test_after_clear_or_delete_the_server_answers(
    server: HookscopeServer, http: httpx.Client
) -> None:
    bin = server.create_bin(name="cleared")
    http.post(bin.url_for("/old"))
    bin.wait_for(path="/old")
    bin.clear()
    with pytest.raises(hookscope.WaitTimeout, match="no request arrived at all"):
        bin.wait_for(path="/old", timeout=0.2)
    http.post(bin.url_for("/new"))
    assert bin.wait_for(path="/new").path == "/new"
    other = server.create_bin(name="deleted")
    other.delete()
    with pytest.raises(hookscope.BinNotFound):
        other.wait_for(timeout=2)


@pytest.mark.parametrize("settings", [{"max_bins": 4}, {"ttl": 3}])
def test_no_bins_made_ahead_where_they_would_change_what_a_test_sees(
    settings: dict[str, int],
) -> None:
    server = HookscopeServer(Options(None, "embedded", None), settings)
    try:
        assert server._ahead is None
        bins = [server.create_bin(name=f"test_{n}") for n in range(4)]  # all four fit
        for bin in bins:
            server._discard(bin)
    finally:
        server.close()


def test_a_wait_sees_every_capture_that_arrives_while_it_waits() -> None:
    mirror = Mirror(keep=3)
    mirror.watcher = Watcher("b_x", limit=10)
    waiting = Waiting(Match(json={"n": 2}))
    texts = [request_text(n) for n in range(10)]
    batch = LiveBatch([LiveItem(f"{n}-0", text) for n, text in enumerate(texts)])
    pusher = threading.Timer(0.1, lambda: mirror.push(batch))
    pusher.start()
    try:
        assert mirror.wait_for(waiting, timeout=10) is True  # not only the newest three
    finally:
        pusher.join()
    assert waiting.found[0].id == "2-0"
    late = Waiting(Match(json={"n": 2}))
    assert mirror.wait_for(late, timeout=0.1) is False  # a new wait: the history's newest 3
    assert [r.id for r in late.seen] == ["7-0", "8-0", "9-0"]
