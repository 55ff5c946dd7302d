"""An embedded server in a background thread: for notebooks, tests and scripts.

with hookscope.serve_in_background() as server:
    client = hookscope.Client(server.url)
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Any

from ._config import Settings
from ._serve import bind_socket, hypercorn_config, serve_until, url_of, warn_if_exposed

__all__ = ["BackgroundServer", "serve_in_background"]


class BackgroundServer:
    """A running embedded server; ``url`` is its base URL, ``stop()`` ends it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        warn_if_exposed(settings)
        sock = bind_socket(settings.host, settings.port)
        self.url = url_of(sock)
        self._config = hypercorn_config(settings, sock, graceful_timeout=1.0)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hookscope-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the embedded hookscope server did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError(f"the embedded hookscope server failed: {self._failure}")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the starting thread
            self._failure = error
            self._ready.set()

    async def _main(self) -> None:
        from .server import create_app

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = create_app(self.settings)

        @app.before_serving
        async def announce() -> None:
            self._ready.set()

        await serve_until(app, self._config, self._stop)

    def stop(self, timeout: float = 10) -> None:
        """Stop serving and wait for the thread to end (idempotent)."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread.is_alive() else "stopped"
        return f"<BackgroundServer {self.url} {self.settings.backend} {state}>"


def serve_in_background(
    port: int = 0, *, host: str = "127.0.0.1", **settings: Any
) -> BackgroundServer:
    """Start a hookscope server in a daemon thread of this process and return once it serves.

    ``settings`` are ``Settings`` fields (``backend``, ``redis_url``, ``max_body``, ...);
    the memory backend is the default.

        server = hookscope.serve_in_background()
        print(server.url)      # http://127.0.0.1:54321
        server.stop()
    """
    return BackgroundServer(Settings(host=host, port=port, **settings))
