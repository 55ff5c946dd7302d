"""``async_hookbin`` under pytest-asyncio: strict and auto mode, and loops wider than a test."""

from __future__ import annotations

import pytest
from conftest import RunPytest

ASYNC_TESTS = """
import asyncio
import httpx
import pytest
import pytest_asyncio

pytestmark = MARK

async def post(url, **kwargs):
    async with httpx.AsyncClient() as http:
        return await http.post(url, **kwargs)

@FIXTURE
async def app(async_hookbin):
    # An async fixture (on the test's loop) using the bin: a sender configured with its URL.
    async def notify(event):
        return await post(async_hookbin.url_for("/events"), json={"event": event})
    return notify

async def test_wait_and_assert(async_hookbin, app):
    await app("paid")
    req = await async_hookbin.wait_for(method="POST", path="/ev*", json={"event": "paid"})
    assert req.json() == {"event": "paid"}
    assert len(await async_hookbin.assert_received(path="/events", count=1)) == 1
    await async_hookbin.assert_nothing_received(json={"event": "refunded"}, within=0.1)
    assert [r.path for r in await async_hookbin.requests()] == ["/events"]
    await async_hookbin.clear()
    assert await async_hookbin.requests() == []

async def test_waits_concurrently_with_the_sender(async_hookbin, app):
    async def send_later():
        await asyncio.sleep(0.1)
        for event in ("a", "b", "c"):
            await app(event)
    sender = asyncio.create_task(send_later())
    found = await async_hookbin.wait_for(path="/events", count=3, timeout=5)
    assert [r.json()["event"] for r in found] == ["a", "b", "c"]
    await sender

async def test_two_waits_at_once(async_hookbin):
    waits = asyncio.gather(async_hookbin.wait_for(path="/one"), async_hookbin.wait_for(path="/two"))
    await post(async_hookbin.url_for("/two"))
    await post(async_hookbin.url_for("/one"))
    one, two = await waits
    assert (one.path, two.path) == ("/one", "/two")

async def test_respond_with(async_hookbin, app):
    await async_hookbin.respond_with(503, body="busy", headers={"retry-after": "1"})
    response = await app("x")
    assert (response.status_code, response.text) == (503, "busy")
    assert response.headers["retry-after"] == "1"
    await async_hookbin.respond_with(json={"accepted": True})
    response = await app("y")
    assert response.json() == {"accepted": True}

async def test_cancelling_a_wait(async_hookbin):
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(async_hookbin.wait_for(path="/never", timeout=30), 0.2)
    await post(async_hookbin.url_for("/after"))
    assert (await async_hookbin.wait_for(path="/after")).path == "/after"

async def test_failing_wait(async_hookbin, app):
    await app("closed")
    await async_hookbin.wait_for(json={"event": "opened"}, timeout=0.2)
"""


@pytest.mark.parametrize(
    ("mode", "mark", "fixture"),
    [
        ("strict", "pytest.mark.asyncio", "pytest_asyncio.fixture"),
        ("auto", "[]", "pytest.fixture"),
    ],
)
def test_asyncio_modes(run: RunPytest, mode: str, mark: str, fixture: str) -> None:
    source = ASYNC_TESTS.replace("MARK", mark).replace("FIXTURE", fixture)
    result = run(source, "-o", f"asyncio_mode={mode}")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"asyncio: mode=Mode.{mode.upper()}*",
            '>       await async_hookbin.wait_for(json={"event": "opened"}, timeout=0.2)',
            "E       *WaitTimeout: waited 0.2 s for a request matching any method any path "
            "json={'event': 'opened'} in bin b_*; 1 request(s) arrived:",
            "E         *-0 POST /events  (json.event: 'closed' != 'opened')",
        ]
    )
    result.stdout.no_fnmatch_line("*hookscope/pytest_plugin/*")


WIDE_LOOP_TESTS = """
import asyncio
import httpx
import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio(loop_scope="SCOPE")
loops = []

@pytest_asyncio.fixture(scope="SCOPE", loop_scope="SCOPE")
async def outbox():
    # A sender that lives as long as the wide loop: one task, many tests.
    queue = asyncio.Queue()
    async def deliver():
        async with httpx.AsyncClient() as http:
            while True:
                url, payload = await queue.get()
                await http.post(url, json=payload)
    task = asyncio.create_task(deliver())
    yield queue
    task.cancel()

async def test_first(async_hookbin, outbox):
    loops.append(asyncio.get_running_loop())
    outbox.put_nowait((async_hookbin.url, {"n": 1}))
    assert (await async_hookbin.wait_for(json={"n": 1})).json() == {"n": 1}

async def test_second_on_the_same_loop_with_a_new_bin(async_hookbin, outbox):
    loops.append(asyncio.get_running_loop())
    assert loops[0] is loops[1]
    assert await async_hookbin.requests() == []
    outbox.put_nowait((async_hookbin.url_for("/x"), {"n": 2}))
    await async_hookbin.wait_for(path="/x", json={"n": 2})

def test_sync_test_in_between(hookbin):
    httpx.post(hookbin.url)
    hookbin.wait_for()
"""


@pytest.mark.parametrize("scope", ["module", "session"])
def test_loop_wider_than_the_test(run: RunPytest, scope: str) -> None:
    result = run(WIDE_LOOP_TESTS.replace("SCOPE", scope))
    result.assert_outcomes(passed=3)
