"""The plugin's own event loop, on a daemon thread: where every bin's I/O happens.

Sync tests block on ``loop.call(...)``; async tests ``await loop.acall(...)`` from whatever
loop pytest-asyncio gave them (any mode, any loop scope), so no connection is ever shared
between two loops and nothing the plugin holds is bound to the test's loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["LoopThread"]

P = ParamSpec("P")
T = TypeVar("T")


class LoopThread:
    """An asyncio loop running forever in a daemon thread until ``stop()``."""

    def __init__(self, name: str = "hookscope-pytest") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _submit(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        if not self._thread.is_alive():
            raise RuntimeError("the hookscope pytest session is over; this bin is closed")
        return asyncio.run_coroutine_threadsafe(func(*args, **kwargs), self._loop)

    def call(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``func(*args, **kwargs)`` on the loop; block until it is done."""
        future = self._submit(func, *args, **kwargs)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C or a pytest-timeout: do not leave the task running
            raise

    async def acall(
        self, func: Callable[P, Coroutine[Any, Any, T]], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``func(*args, **kwargs)`` on the loop; await it from any other loop.

        Cancelling the awaiting task cancels the call.
        """
        return await asyncio.wrap_future(self._submit(func, *args, **kwargs))

    def stop(self, timeout: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and join its thread. Idempotent."""
        if not self._thread.is_alive():
            return

        async def cancel_the_rest() -> None:
            current = asyncio.current_task()
            rest = [task for task in asyncio.all_tasks() if task is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        try:
            self.call(cancel_the_rest)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
