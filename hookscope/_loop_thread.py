"""One asyncio loop on a daemon thread: how blocking code, and other loops, run hookscope's core.

    loop = LoopThread("hookscope-client")
    bin = loop.call(client.create_bin)              # blocks this thread, never the loop
    req = await loop.acall(bin.wait_for, "POST")    # awaited from another event loop
    future = loop.submit(stream.aclose)             # a concurrent.futures.Future
    loop.post(cache.refresh)                        # started; nobody waits for it
    loop.stop()                                     # cancels what runs; joins, bounded

The sync ``Client``, the pytest plugin, the embedded server and the live table each run on
one. Calls block (or await) the caller only, so they work where a loop already runs in the
calling thread (Jupyter, ``async def``). Every task run for a caller is referenced until it
ends, and ``stop()`` cancels and awaits them all, then runs the ``on_stop`` cleanups.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import enum
import threading
from collections.abc import Awaitable, Callable, Collection, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["LoopState", "LoopThread"]

P = ParamSpec("P")
T = TypeVar("T")


class LoopState(enum.Enum):
    RUNNING = "running"  # accepts calls
    STOPPING = "stopping"  # stop() was called: cancelling, cleaning up, then the thread ends
    STOPPED = "stopped"  # the thread has ended


async def _cancel(tasks: Collection[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LoopThread:
    """An asyncio loop running in a daemon thread named ``name`` until ``stop()``.

    ``closed`` is the message of the ``RuntimeError`` that calls raise once it is stopping.
    """

    def __init__(self, name: str, *, closed: str = "this event loop thread is stopped") -> None:
        self.name = name
        self._closed = closed
        self._loop = asyncio.new_event_loop()
        self._stop_requested = asyncio.Event()  # bound to the loop when first awaited there
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cleanups: list[Callable[[], Awaitable[object]]] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- the thread --------------------------------------------------------------------------

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _serve(self) -> None:
        await self._stop_requested.wait()
        # The callers' tasks first: their own ``finally`` blocks close what they opened.
        await _cancel(list(self._tasks))
        for cleanup in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                await cleanup()
        # Then whatever libraries left running (keepalive pings, half-closed connections).
        current = asyncio.current_task()
        await _cancel([task for task in asyncio.all_tasks() if task is not current])

    async def _tracked(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # asyncio itself keeps only a weak reference to a task
        try:
            return await fn(*args, **kwargs)
        finally:
            self._tasks.discard(task)

    # -- calls ---------------------------------------------------------------------------------

    @property
    def state(self) -> LoopState:
        if not self._thread.is_alive():
            return LoopState.STOPPED
        return LoopState.STOPPING if self._stopping else LoopState.RUNNING

    @property
    def running(self) -> bool:
        """True until ``stop()``: calls are accepted."""
        return self.state is LoopState.RUNNING

    def in_loop_thread(self) -> bool:
        """True when called from the loop's own thread (where ``call`` would deadlock)."""
        return threading.current_thread() is self._thread

    def submit(
        self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """Start ``fn(*args, **kwargs)`` on the loop; its result comes as a future.

        Safe from any thread, the loop's own included. Cancelling the future cancels the task.
        """
        with self._lock:  # no task can slip in after stop() has begun cancelling them
            if self._stopping:
                raise RuntimeError(self._closed)
            return asyncio.run_coroutine_threadsafe(self._tracked(fn, *args, **kwargs), self._loop)

    def post(self, fn: Callable[..., Coroutine[Any, Any, object]], *args: Any) -> None:
        """Start ``fn(*args)`` on the loop and return at once, wanting no result.

        Cheaper than ``submit`` (no future to complete across threads): for work whose outcome
        nobody waits for. Calls posted from one thread start in the order posted; an error is
        asyncio's to report. Raises ``RuntimeError`` once stopping, as ``submit`` does.
        """
        with self._lock:
            if self._stopping:
                raise RuntimeError(self._closed)
            self._loop.call_soon_threadsafe(self._start, fn, args)

    def _start(self, fn: Callable[..., Coroutine[Any, Any, object]], args: tuple[Any, ...]) -> None:
        self._loop.create_task(self._tracked(fn, *args))

    def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and block until it returns (or raises).

        An interrupted call (Ctrl-C, a pytest timeout) cancels its task.
        """
        if self.in_loop_thread():
            raise RuntimeError(f"{self.name}: a blocking call from the loop's own thread")
        future = self.submit(fn, *args, **kwargs)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            if self._stopping:  # cancelled by stop(), not by the caller
                raise RuntimeError(self._closed) from None
            raise
        except BaseException:
            future.cancel()
            raise

    async def acall(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` on the loop and await it from any other loop.

        Cancelling the awaiting task cancels the call.
        """
        return await asyncio.wrap_future(self.submit(fn, *args, **kwargs))

    # -- stopping ------------------------------------------------------------------------------

    def on_stop(self, cleanup: Callable[[], Awaitable[object]]) -> None:
        """Have ``stop()`` await ``cleanup()`` on the loop, after the calls' tasks have ended.

        Cleanups run in reverse order of registration; their errors are ignored.
        """
        self._cleanups.append(cleanup)

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel and await every task, run the cleanups, end the thread. Idempotent.

        Waits at most ``timeout`` seconds for the thread; one that does not end in time is
        left behind (a daemon: it cannot hold the interpreter's exit up). From the loop's own
        thread, this starts the stop and returns at once.
        """
        with self._lock:
            first, self._stopping = not self._stopping, True
        if first:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._stop_requested.set)
        if not self.in_loop_thread():
            self._thread.join(timeout)

    def __repr__(self) -> str:
        return f"<LoopThread {self.name} {self.state.value}>"
