"""The plugin's loop thread: calls from sync code and from other event loops, and cancelling."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from hookscope.pytest_plugin._loop import LoopThread


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_call_runs_on_the_loop_thread(loop: LoopThread) -> None:
    assert loop.call(_where) == "hookscope-pytest"


def test_acall_from_two_different_loops(loop: LoopThread) -> None:
    async def twice() -> list[str]:
        return [await loop.acall(_where), await loop.acall(_where)]

    assert asyncio.run(twice()) == ["hookscope-pytest"] * 2
    assert asyncio.run(twice()) == ["hookscope-pytest"] * 2


def test_cancelling_the_awaiting_task_cancels_the_call(loop: LoopThread) -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def impatient() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.acall(forever), 0.05)

    asyncio.run(impatient())
    assert cancelled.wait(5)


def test_errors_reach_the_caller(loop: LoopThread) -> None:
    async def fail() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError, match="nope"):
        loop.call(fail)


def test_stop_cancels_what_still_runs_and_later_calls_fail(loop: LoopThread) -> None:
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(60)

    pending = loop._submit(forever)
    assert started.wait(5)
    loop.stop()
    assert pending.cancelled()
    with pytest.raises(RuntimeError, match="session is over"):
        loop.call(_where)
    loop.stop()  # idempotent
