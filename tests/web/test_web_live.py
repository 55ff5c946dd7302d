"""The page live and under load: a Redis-backed server restarted under an open page (nothing
lost, nothing twice); 10,000 stored requests and 200 requests/s rendered incrementally (each
request gets one row element, once: nothing is rebuilt). The browser's long tasks are printed
here and measured against the 200 ms budget by ``bench/web_page.py`` (timings are not test
assertions: these machines are shared)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from _support import ServerProcess
from web_support import Watched, new_bin, stored

from hookscope._wire import encode_capture
from hookscope.backends._redis_keys import RedisKeys

pytestmark = pytest.mark.browser

T = TypeVar("T")
WINDOW = 500  # the page's window (bin.js)


def send(url: str, paths: list[str]) -> None:
    with httpx.Client(timeout=10) as http:
        for path in paths:
            assert http.post(url + path, content=path.encode()).status_code == 200


def shown_paths(watched: Watched) -> list[str]:
    return list(watched.page.locator("#rows .path").all_inner_texts())


@pytest.mark.redis
@pytest.mark.slow
def test_a_server_restart_loses_nothing_and_repeats_nothing(
    watched: Watched, server_factory: Callable[..., ServerProcess], redis_url: str
) -> None:
    from playwright.sync_api import expect

    watched_server = server_factory("--redis-url", redis_url)
    other = server_factory("--redis-url", redis_url)  # takes captures while the first is down
    hook = new_bin(watched_server.url)
    watched.open_bin(watched_server.url, hook)
    state = watched.page.locator("#connection")
    before = [f"/before/{n}" for n in range(5)]
    send(hook["url"], before)
    watched.wait_rows(5)

    watched_server.stop()
    expect(state).to_have_attribute("data-state", "waiting")
    expect(state).to_contain_text("Disconnected")
    during = [f"/during/{n}" for n in range(5)]
    send(f"{other.url}/h/{hook['id']}", during)
    watched_server.start(port=watched_server.port)
    expect(state).to_have_attribute("data-state", "live", timeout=30_000)
    after = [f"/after/{n}" for n in range(5)]
    send(hook["url"], after)
    watched.wait_rows(15)

    expected = before + during + after
    assert shown_paths(watched) == list(reversed(expected))
    ids = watched.page.locator("#rows .req").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids == [r["id"] for r in reversed(stored(other.url, hook))]
    assert len(set(ids)) == 15
    watched.assert_clean(allow_errors=("WebSocket connection", "ERR_CONNECTION_REFUSED"))


def fill_in_redis(redis_url: str, bin_id: str, count: int) -> None:
    """Store ``count`` captures in the bin's Redis Stream directly (HTTP would take minutes
    on a busy machine): the page reads them back through the server like any others."""
    import redis

    log = RedisKeys().log(bin_id)
    with redis.Redis.from_url(redis_url) as client, client.pipeline(transaction=False) as pipe:
        for n in range(count):
            payload = encode_capture(
                bin_id=bin_id,
                received_at=datetime.now(UTC),
                method="POST",
                path=f"/fill/{n}",
                query="",
                headers=[("content-type", "application/json")],
                body=json.dumps({"n": n, "pad": "x" * 200}).encode(),
                remote_addr="127.0.0.1",
                http_version="1.1",
            )
            pipe.xadd(log, {"r": payload})
        pipe.execute()


async def _at_rate(url: str, per_second: int, seconds: float) -> int:
    """Send ``per_second`` requests a second for ``seconds``, in ticks of 50 ms."""
    tick, sent = 0.05, 0
    per_tick = int(per_second * tick)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=per_tick)) as http:
        start = time.monotonic()
        for step in range(int(seconds / tick)):
            answers = await asyncio.gather(
                *(
                    http.post(f"{url}/rate/{sent + k}", json={"n": sent + k, "event": "load"})
                    for k in range(per_tick)
                )
            )
            assert all(a.status_code == 200 for a in answers)
            sent += per_tick
            # Pacing, not waiting for a condition: the next tick starts on the clock.
            await asyncio.sleep(max(0.0, start + (step + 1) * tick - time.monotonic()))
    return sent


def run_elsewhere(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` on a loop of its own thread (Playwright's sync API owns this one)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def settle(watched: Watched) -> None:
    """Two animation frames: whatever was queued has been rendered and measured."""
    watched.page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )


@pytest.mark.redis
@pytest.mark.slow
def test_ten_thousand_requests_open_and_scroll_without_long_tasks(
    watched: Watched, server_factory: Callable[..., ServerProcess], redis_url: str
) -> None:
    from playwright.sync_api import expect

    server = server_factory("--redis-url", redis_url, "--max-requests", "20000")
    hook = new_bin(server.url)
    fill_in_redis(redis_url, hook["id"], 10_000)
    page = watched.page
    watched.open_bin(server.url, hook)
    watched.wait_rows(WINDOW)
    expect(page.locator("#window-note")).to_contain_text("holds older ones too")
    ids = page.locator("#rows .req").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert ids == [r["id"] for r in reversed(stored(server.url, hook, tail=WINDOW))]
    list_box = page.locator("#list")
    list_box.hover()
    for _ in range(30):
        page.mouse.wheel(0, 600)
    expect(page.locator("#rows .req").last).to_be_in_viewport()
    page.locator("#rows .req").first.click()
    for _ in range(40):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("End")
    expect(page.locator("#rows .req").last).to_have_attribute("aria-selected", "true")
    settle(watched)
    tasks = watched.longtasks()
    print(f"\n10,000 stored: {len(tasks)} long tasks, longest {max(tasks, default=0):.0f} ms")
    assert watched.rendered() == (WINDOW, 0, WINDOW)  # the window, rendered once
    watched.assert_clean()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_hundred_requests_a_second_stay_responsive(
    watched: Watched, server_factory: Callable[..., ServerProcess]
) -> None:
    from playwright.sync_api import expect

    server = server_factory("--max-requests", "20000")
    hook = new_bin(server.url)
    page = watched.page
    watched.open_bin(server.url, hook)
    sent = run_elsewhere(_at_rate(hook["url"], 200, 10))
    expect(page.locator("#counts")).to_have_attribute("data-received", str(sent), timeout=30_000)
    watched.wait_rows(WINDOW)
    settle(watched)
    expect(page.locator("#window-note")).to_contain_text(
        f"{sent - WINDOW:,} older ones have left the view"
    )
    ids = page.locator("#rows .req").evaluate_all("rows => rows.map(r => r.dataset.id)")
    newest = [r["id"] for r in reversed(stored(server.url, hook, tail=WINDOW))]
    assert ids == newest  # the newest, each once, in order
    page.locator("#rows .req").first.click()  # and it still answers at once
    newest_path = stored(server.url, hook, tail=1)[0]["path"]
    expect(page.locator("#detail .request-line")).to_contain_text(f"POST {newest_path} ")
    tasks = watched.longtasks()
    print(
        f"\n200 requests/s for 10 s: {len(tasks)} long tasks, longest {max(tasks, default=0):.0f} ms"
    )
    added, removed, distinct = watched.rendered()
    assert added == distinct <= sent  # no request rendered twice: nothing rebuilt
    assert added - removed == WINDOW
    watched.assert_clean()
