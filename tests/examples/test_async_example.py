"""Example: testing asyncio code that sends webhooks, with ``async_hookbin``.

``async_hookbin`` has ``hookbin``'s methods as coroutines. It is a plain fixture whose I/O
runs on the plugin's own loop, so it works in pytest-asyncio's strict mode (shown here:
``@pytest.mark.asyncio``) and auto mode, with any ``loop_scope``.

Run: ``pytest tests/examples/test_async_example.py``. Guide: docs/pytest.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hookscope.pytest_plugin import AsyncHookBin, HookscopeServer

# --- the code under test -------------------------------------------------------------------


class Notifier:
    """Fans each event out to every subscriber at once, from a background task."""

    def __init__(self, subscribers: list[str]) -> None:
        self.subscribers = subscribers
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._http = httpx.AsyncClient(timeout=5)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()

    async def _run(self) -> None:
        while True:
            event = await self.queue.get()
            await asyncio.gather(*(self._http.post(url, json=event) for url in self.subscribers))


# --- the tests -------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def notifier(async_hookbin: AsyncHookBin) -> AsyncIterator[Notifier]:
    notifier = Notifier([async_hookbin.url_for("/events")])
    await notifier.start()
    yield notifier
    await notifier.stop()


@pytest.mark.asyncio
async def test_an_event_reaches_the_subscriber(
    notifier: Notifier, async_hookbin: AsyncHookBin
) -> None:
    notifier.queue.put_nowait({"type": "user.created", "user": {"id": 42}})

    req = await async_hookbin.wait_for(method="POST", json={"user": {"id": 42}}, timeout=5)
    assert req.path == "/events"


@pytest.mark.asyncio
async def test_events_arrive_in_order(notifier: Notifier, async_hookbin: AsyncHookBin) -> None:
    for n in range(5):
        notifier.queue.put_nowait({"type": "tick", "n": n})

    ticks = await async_hookbin.wait_for(json={"type": "tick"}, count=5)
    assert [req.json()["n"] for req in ticks] == [0, 1, 2, 3, 4]
    await async_hookbin.assert_nothing_received(json={"type": "tock"}, within=0.2)


@pytest.mark.asyncio
async def test_every_subscriber_gets_every_event(hookscope_server: HookscopeServer) -> None:
    # More bins than the fixture gives: create them; the session deletes leftovers.
    bins = [hookscope_server.create_async_bin(name=f"subscriber {n}") for n in range(3)]
    notifier = Notifier([bin.url for bin in bins])
    await notifier.start()
    try:
        notifier.queue.put_nowait({"type": "deploy.finished"})
        await asyncio.gather(*(bin.wait_for(json={"type": "deploy.finished"}) for bin in bins))
    finally:
        await notifier.stop()
        for bin in bins:
            await bin.delete()
