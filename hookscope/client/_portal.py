"""A private event loop on a daemon thread, for the sync client to run the async one on.

Calls block the calling thread only, so they work where a loop already runs in it
(Jupyter, or inside ``async def``). An interrupted call (Ctrl-C) cancels its task.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from .._models import CapturedRequest
from ._stream import AsyncStream

__all__ = ["Portal"]

P = ParamSpec("P")
T = TypeVar("T")

_STOP_TIMEOUT = 5.0
# Portals whose thread would not stop in time: kept referenced, because dropping the
# context manager would join the thread and could hang the interpreter's exit.
_stuck: list[Any] = []


class Portal:
    """``portal.call(async_fn, *args)`` runs ``async_fn`` on the private loop and waits."""

    def __init__(self) -> None:
        self._manager = start_blocking_portal(name="hookscope-client")
        self._portal: BlockingPortal = self._manager.__enter__()
        self._thread = self._portal.call(threading.current_thread)
        self._loop = self._portal.call(asyncio.get_running_loop)
        self.closed = False

    def call(self, func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` on the loop and return its result (or raise)."""
        if self.closed:
            raise RuntimeError("this hookscope Client is closed")
        future = self._portal.start_task_soon(lambda: func(*args, **kwargs))
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the task running
            raise

    def iterate(
        self, open_stream: Callable[[], Awaitable[AsyncStream]]
    ) -> Iterator[CapturedRequest]:
        """A plain iterator over the stream ``open_stream()`` returns, opened lazily."""
        stream = self.call(open_stream)
        try:
            while True:
                yield self.call(stream.next)
        finally:
            self._close_stream(stream)

    def _close_stream(self, stream: AsyncStream) -> None:
        if self.closed:
            return  # the loop is gone, and the connection with it
        if threading.current_thread() is self._thread:
            # Collected on the loop's own thread, which cannot wait for itself.
            self._loop.create_task(stream.aclose())
            return
        with contextlib.suppress(Exception):
            self.call(stream.aclose)

    def stop(self, before: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run ``before`` (a cleanup), then stop the loop and its thread. Idempotent.

        Bounded in time: a portal that will not stop is abandoned (its thread is a daemon).
        """
        if self.closed:
            return
        self.closed = True
        portal = self._portal
        if threading.current_thread() is self._thread:

            async def stop_inside() -> None:
                if before is not None:
                    await before()
                await portal.stop(cancel_remaining=True)

            self._loop.create_task(stop_inside())
            return
        with contextlib.suppress(Exception):
            if before is not None:
                portal.start_task_soon(before).result(_STOP_TIMEOUT)
        with contextlib.suppress(Exception):
            portal.start_task_soon(portal.stop, True).result(_STOP_TIMEOUT)
        self._thread.join(_STOP_TIMEOUT)
        if self._thread.is_alive():
            _stuck.append(self._manager)
        else:
            self._manager.__exit__(None, None, None)
