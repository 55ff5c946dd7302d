"""Serving on uvicorn (``hookscope serve --server uvicorn``, ``pip install 'hookscope[uvicorn]'``;
embedded: ``serve_in_background(server="uvicorn")``).

The same app and settings as on hypercorn (``_serve.py``), on uvicorn's C HTTP parser
(httptools) and uvloop: about three times the captures per core (docs/benchmarks.md,
"Round 2: both cores"). The socket is bound by ``_serve.bind_socket`` as for hypercorn, and
shutdown keeps hookscope's order: live streams are told 1012 first, then connections drain.

``--workers N`` starts N processes on the one socket, each running ``serve_one``; the parent
forwards SIGINT/SIGTERM to them and starts a worker again if one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import wait
from typing import Any

from ._config import Settings
from ._extras import require

__all__ = ["run", "serve_one", "serve_until", "uvicorn_config"]

log = logging.getLogger("hookscope.server")

GRACEFUL_TIMEOUT = 3.0
"""Seconds shutdown waits for requests in flight, as on hypercorn."""
_STREAMS_TIMEOUT = 1.0  # seconds for live streams to send their 1012 before connections close
_RESTART_PAUSE = 1.0  # seconds between a worker's death and its replacement
_STARTUP = 10.0  # a worker that dies this soon after its start is not restarted: all stop


def _quiet_refusals() -> None:
    """uvicorn (0.54) logs "ASGI callable returned without completing handshake." after a
    handshake refused with ``websocket.http.response``, which is complete: it forgets to mark
    it. hookscope answers every handshake, so that line says nothing here."""

    logger = logging.getLogger("uvicorn.error")
    if any(getattr(f, "hookscope", False) for f in logger.filters):
        return  # once per process (the embedded server may start many times)

    def keep(record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."

    keep.hookscope = True  # type: ignore[attr-defined]
    logger.addFilter(keep)


class _Coalescing:
    """A transport whose writes of one event-loop step leave in one ``send``.

    uvicorn writes a response's head and its body separately: two system calls (and two
    TCP segments) per capture reply, a tenth of a capture's CPU in the profile. Writes are
    joined and sent at the end of the step; ``close`` and ``write_eof`` send what waits first.
    """

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        size: int = self._transport.get_write_buffer_size()
        return size + sum(len(data) for data in self._pending)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _protocol(settings: Settings) -> Any:
    """uvicorn's httptools protocol with hookscope's bounds on a request head, which uvicorn
    leaves open: a new connection must send its first request's headers within
    ``HOOKSCOPE_HEADER_TIMEOUT`` (else sockets that never send a request hold descriptors for
    ever), and a head may not grow past ``max_head`` (httptools would collect it whole):
    431 and close, as hypercorn's h11 does."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from .server._limits import max_head

    limit = max_head(settings)
    too_large = (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
        b"connection: close\r\n\r\n"
    )

    class Protocol(HttpToolsProtocol):
        hookscope_timer: asyncio.TimerHandle | None = None
        in_head = True  # bytes received now belong to a request head
        head_bytes = 0

        def connection_made(self, transport: Any) -> None:
            coalescing: Any = _Coalescing(transport, self.loop)  # a Transport, as uvicorn uses it
            super().connection_made(coalescing)
            self.hookscope_timer = self.loop.call_later(settings.header_timeout, self.too_slow)

        def data_received(self, data: bytes) -> None:
            if self.in_head:
                self.head_bytes += len(data)
            super().data_received(data)
            if self.in_head and self.head_bytes > limit and not self.transport.is_closing():
                self.transport.write(too_large)
                self.transport.close()

        def on_message_begin(self) -> None:
            self.in_head, self.head_bytes = True, 0
            super().on_message_begin()

        def too_slow(self) -> None:
            self.hookscope_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def stop_timer(self) -> None:
            timer, self.hookscope_timer = self.hookscope_timer, None
            if timer is not None:
                timer.cancel()

        def on_headers_complete(self) -> None:
            self.in_head = False
            self.stop_timer()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self.stop_timer()
            super().connection_lost(exc)

    return Protocol


def uvicorn_config(settings: Settings, app: Any) -> Any:
    """uvicorn's ``Config`` for ``app`` with ``settings`` (what ``hypercorn_config`` sets)."""
    import uvicorn

    from .server._connections import connection_limit

    return uvicorn.Config(
        app,
        http=_protocol(settings),
        loop="none",  # serve_one runs the loop (uvloop where it exists)
        ws="websockets-sansio",  # answers websocket.http.response (handshake refusals)
        lifespan="on",
        # X-Forwarded-* are read by the app for --trust-proxy only (server/_proxies.py).
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_level="warning",
        ws_ping_interval=settings.ping_interval,
        ws_ping_timeout=settings.ping_interval,
        ws_per_message_deflate=True,
        timeout_keep_alive=int(max(1, settings.keep_alive)),
        timeout_graceful_shutdown=int(GRACEFUL_TIMEOUT),
        # uvicorn answers 503 (plain text) beyond this many connections and tasks.
        limit_concurrency=connection_limit(settings),
        backlog=1024,
    )


def _server_class() -> Any:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server with hookscope's signals and shutdown order."""

        def __init__(self, config: Any, app: Any) -> None:
            super().__init__(config)
            self.hookscope_app = app

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # serve_one handles SIGINT/SIGTERM on the loop; uvicorn's handlers would raise the
            # signal again after shutdown, ending the process with -15 instead of 0.
            yield

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            from .server import close_streams

            close_streams(self.hookscope_app)
            hub = self.hookscope_app.extensions["hookscope"].hub
            deadline = time.monotonic() + _STREAMS_TIMEOUT
            # The hub has no event for "every watcher left" (and is not this module's).
            while hub.watched and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await super().shutdown(sockets)

    return Server


def serve_one(settings: Settings, sock: socket.socket, *, announce: bool = True) -> int:
    """Serve on ``sock`` in this process until SIGINT/SIGTERM; returns the exit code.

    ``announce``: say "hookscope shutting down" on the first signal (a worker leaves it to its
    parent)."""
    from .server import create_app
    from .server._connections import quiet_accept_errors

    _quiet_refusals()
    app = create_app(settings)

    @app.before_serving
    async def quiet() -> None:
        quiet_accept_errors(asyncio.get_running_loop())  # uvloop: guard_accept does not apply

    config = uvicorn_config(settings, app)
    server = _server_class()(config, app)

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if announce and not server.should_exit:
                print("hookscope shutting down", file=sys.stderr, flush=True)
            server.should_exit = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_signal)
        await server.serve(sockets=[sock])

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())
    return 0 if server.started else 1


async def serve_until(
    settings: Settings, app: Any, sock: socket.socket, stop: asyncio.Event
) -> None:
    """Serve ``app`` on uvicorn on this loop until ``stop`` is set (the embedded server's
    ``server="uvicorn"``, which checks that uvicorn is installed); shutdown as
    ``serve_one``'s: streams hear 1012 first."""
    from .server._connections import guard_accept

    _quiet_refusals()
    guard_accept(asyncio.get_running_loop())
    server = _server_class()(uvicorn_config(settings, app), app)

    async def stop_when_asked() -> None:
        await stop.wait()
        server.should_exit = True

    stopper = asyncio.create_task(stop_when_asked())
    try:
        await server.serve(sockets=[sock])
    except SystemExit:  # uvicorn's answer to a failed start; not this process's to end
        raise RuntimeError("the embedded uvicorn server did not start (see the log)") from None
    finally:
        stopper.cancel()


def _loop_factory() -> Any:
    try:
        import uvloop
    except ImportError:  # Windows: uvloop does not exist there
        return None
    return uvloop.new_event_loop


def _worker(settings: Settings, sock: socket.socket, log_level: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent forwards it as SIGTERM
    logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
    code = serve_one(settings, sock, announce=False)
    logging.shutdown()
    os._exit(code)


def run(settings: Settings, sock: socket.socket) -> int:
    """Serve on ``sock`` with ``settings.workers`` processes; returns the exit code."""
    require("uvicorn", "--server uvicorn")
    if settings.workers == 1:
        return serve_one(settings, sock)
    context = multiprocessing.get_context("spawn")
    level = logging.getLogger().level
    stopping = False

    started: dict[int, float] = {}

    def start() -> Any:
        process = context.Process(
            target=_worker, args=(settings, sock, level), name="hookscope-worker"
        )
        process.start()
        started[process.sentinel] = time.monotonic()
        return process

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        if not stopping:
            print("hookscope shutting down", file=sys.stderr, flush=True)
        stopping = True
        for process in workers:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)

    workers: list[Any] = []
    code = 0
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        workers.extend(start() for _ in range(settings.workers))
        while not stopping:
            wait([process.sentinel for process in workers])
            for index, process in enumerate(workers):
                if process.exitcode is None or stopping:
                    continue
                if time.monotonic() - started[process.sentinel] < _STARTUP:
                    log.error("a worker failed to start (exit code %s): stopping", process.exitcode)
                    code = 1
                    on_signal(signal.SIGTERM, None)
                    break
                log.error(
                    "worker %s exited with %s; starting another", process.pid, process.exitcode
                )
                time.sleep(_RESTART_PAUSE)
                workers[index] = start()
        for process in workers:
            process.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
    return code
