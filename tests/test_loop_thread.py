"""The one loop-on-a-thread helper: calls from sync code and other loops, cancelling, stopping."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from hookscope._loop_thread import LoopState, LoopThread

NAME = "hookscope-test-loop"


def loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == NAME and t.is_alive()]


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread(NAME, closed="this test loop is stopped")
    yield thread
    thread.stop()
    assert not loop_threads()


async def _where() -> str:
    await asyncio.sleep(0)
    return threading.current_thread().name


def test_call_runs_on_the_loop_thread(loop: LoopThread) -> None:
    assert loop.call(_where) == NAME
    assert loop.running
    assert repr(loop) == f"<LoopThread {NAME} running>"


def test_acall_from_two_different_loops(loop: LoopThread) -> None:
    async def twice() -> list[str]:
        return [await loop.acall(_where), await loop.acall(_where)]

    assert asyncio.run(twice()) == [NAME] * 2
    assert asyncio.run(twice()) == [NAME] * 2


def test_submit_gives_a_concurrent_future(loop: LoopThread) -> None:
    async def add(a: int, *, b: int) -> int:
        return a + b

    assert loop.submit(add, 1, b=2).result(5) == 3


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


def test_a_blocking_call_from_the_loop_thread_is_refused(loop: LoopThread) -> None:
    async def nested() -> str:
        try:
            loop.call(_where)
        except RuntimeError as error:
            return str(error)
        return "no error"

    assert "loop's own thread" in loop.call(nested)


def test_stop_cancels_every_task_runs_cleanups_and_later_calls_fail(loop: LoopThread) -> None:
    started = threading.Event()
    events: list[str] = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            events.append("task cancelled")

    async def cleanup() -> None:
        events.append("cleanup")

    async def generator() -> AsyncIterator[int]:
        try:
            yield 1
            await asyncio.sleep(60)
        finally:
            events.append("generator closed")

    async def start_generator() -> None:
        agen = generator()
        await anext(agen)
        loop.held = agen  # type: ignore[attr-defined]  # alive, suspended: shutdown_asyncgens closes it

    loop.on_stop(cleanup)
    loop.call(start_generator)
    pending = loop.submit(forever)
    assert started.wait(5)
    loop.stop()
    assert pending.cancelled()
    assert events == ["task cancelled", "cleanup", "generator closed"]
    assert loop.state is LoopState.STOPPED
    with pytest.raises(RuntimeError, match="test loop is stopped"):
        loop.call(_where)
    with pytest.raises(RuntimeError, match="test loop is stopped"):
        loop.submit(_where)
    loop.stop()  # idempotent


def test_a_call_cut_short_by_stop_says_the_loop_stopped(loop: LoopThread) -> None:
    outcome: list[BaseException] = []
    started = threading.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(60)

    def blocked() -> None:
        try:
            loop.call(forever)
        except BaseException as error:
            outcome.append(error)

    caller = threading.Thread(target=blocked)
    caller.start()
    assert started.wait(5)
    loop.stop()
    caller.join(5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], RuntimeError)
    assert "stopped" in str(outcome[0])


def test_stop_from_the_loop_thread_returns_and_the_thread_ends(loop: LoopThread) -> None:
    async def stop_myself() -> None:
        loop.stop()

    loop.call(stop_myself)  # returns: the stop it started runs once this task is done
    assert not loop.running
    loop.stop()  # from here: waits for the thread
    assert loop.state is LoopState.STOPPED


def test_a_task_that_ignores_cancellation_holds_up_neither_stop_nor_exit() -> None:
    script = textwrap.dedent(
        """
        import asyncio, threading
        from hookscope._loop_thread import LoopThread

        loop = LoopThread("stuck")
        started = threading.Event()

        async def stubborn():
            started.set()
            while True:
                try:
                    await asyncio.sleep(60)
                except asyncio.CancelledError:
                    continue

        loop.submit(stubborn)
        started.wait(5)
        loop.stop(timeout=0.1)  # returns; the daemon thread is left behind
        print(loop.state.value, loop.running, flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopping False"


def test_post_starts_calls_in_order_without_waiting(loop: LoopThread) -> None:
    seen: list[int] = []
    release = threading.Event()

    async def note(n: int) -> None:
        if n == 0:
            await asyncio.to_thread(release.wait, 10)  # holds the first one up
        seen.append(n)

    for n in range(5):
        loop.post(note, n)  # returns while the first still waits (else: no release, ever)
    release.set()

    async def settled() -> list[int]:
        while len(seen) < 5:
            await asyncio.sleep(0.01)
        return seen

    assert loop.call(settled) == [1, 2, 3, 4, 0]  # started in order, each ran as it could
    loop.stop()
    with pytest.raises(RuntimeError, match="this test loop is stopped"):
        loop.post(note, 5)


def test_stop_cancels_posted_calls(loop: LoopThread) -> None:
    started = threading.Event()
    cancelled = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    loop.post(forever)
    assert started.wait(10)
    loop.stop()
    assert cancelled.is_set()
