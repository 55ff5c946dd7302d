"""An embedded server in a background thread: for notebooks, tests and scripts.

with hookscope.serve_in_background() as server:
    client = hookscope.Client(server.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Any

from ._config import Settings
from ._extras import require
from ._loop_thread import LoopThread
from ._serve import (
    SERVERS,
    bind_socket,
    hypercorn_config,
    serve_until,
    url_of,
    warn_if_exposed,
)

__all__ = ["BackgroundServer", "serve_in_background"]

_START_TIMEOUT = 30.0


class BackgroundServer:
    """A running embedded server; ``url`` is its base URL, ``stop()`` ends it."""

    def __init__(self, settings: Settings, server: str = "hypercorn") -> None:
        if server not in SERVERS:
            raise ValueError(f"server must be one of {', '.join(SERVERS)}, not {server!r}")
        if server == "uvicorn":
            require("uvicorn", "serve_in_background(server='uvicorn')")
        self.settings = settings
        self.server = server
        """The HTTP server it runs on: ``"hypercorn"`` or ``"uvicorn"``."""
        warn_if_exposed(settings)
        self._sock = bind_socket(settings.host, settings.port)
        self.url = url_of(self._sock)
        """The base URL, ``http://127.0.0.1:PORT``."""
        self._ready = threading.Event()
        self._started = False
        self._stopping = asyncio.Event()  # set on the loop: serve_until drains and returns
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop it serves on, once it does
        # The app it serves, once it does: the pytest plugin calls it in-process, on this
        # thread's loop (the backend's objects belong to that loop), without a socket.
        self._app: Any = None
        self._thread = LoopThread("hookscope-server", closed="this embedded server is stopped")
        self._serving = self._thread.submit(self._serve)
        if not self._ready.wait(_START_TIMEOUT):
            self.stop()
            raise RuntimeError(f"the embedded server did not start within {_START_TIMEOUT:g} s")
        if not self._started:
            try:
                self._serving.result(_START_TIMEOUT)  # raises why it did not start
            finally:
                self._thread.stop()
            raise RuntimeError("the embedded server stopped before it started")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return not self._serving.done()

    async def _serve(self) -> None:
        from .server import create_app

        self._loop = asyncio.get_running_loop()
        try:
            app = self._app = create_app(self.settings)

            @app.before_serving
            async def announce() -> None:
                self._started = True
                self._ready.set()

            if self.server == "uvicorn":
                from . import _uvicorn

                await _uvicorn.serve_until(self.settings, app, self._sock, self._stopping)
            else:
                config = hypercorn_config(self.settings, self._sock, graceful_timeout=1.0)
                await serve_until(app, config, self._stopping)
        finally:
            self._ready.set()  # a failure to start is reported by the constructor

    async def _request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = 10) -> None:
        """Stop serving (streams are told 1012 first) and end the thread. Idempotent."""
        with contextlib.suppress(RuntimeError):  # stopped already
            self._thread.submit(self._request_stop)
        with contextlib.suppress(Exception):  # not served in time: cancelled by the stop below
            self._serving.result(timeout)
        self._thread.stop(timeout)

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
        state = "running" if self.running else "stopped"
        return f"<BackgroundServer {self.url} {self.server} {self.settings.backend} {state}>"


def serve_in_background(
    *, host: str = "127.0.0.1", port: int = 0, server: str = "hypercorn", **settings: Any
) -> BackgroundServer:
    """Start a hookscope server in a daemon thread of this process and return once it serves.

    ``port=0`` (the default) picks a free port. ``server``: ``"hypercorn"``, or ``"uvicorn"``
    (``pip install 'hookscope[uvicorn]'``: the same app on a C HTTP parser, cheaper per
    request). ``settings`` are ``Settings`` fields (``backend``, ``redis_url``, ``max_body``,
    ``max_requests``, ...); the memory backend is the default.

        server = hookscope.serve_in_background(max_body=1024)
        print(server.url)      # http://127.0.0.1:54321
        server.stop()
    """
    return BackgroundServer(Settings(host=host, port=port, **settings), server)
