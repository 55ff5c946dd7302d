"""Connections: how many a process holds, how long an idle one stays, and running out.

- ``--max-connections`` (per process): a connection beyond it is answered at once with
  503 ``too_many_connections`` (``Retry-After: 1``) and closed, before hypercorn reads a
  byte of it, so that idle sockets cannot take every descriptor. The default is three
  quarters of the descriptor limit (``ulimit -n``), at most 10,000.
- Time: a new connection must deliver its first request's headers within
  ``HOOKSCOPE_HEADER_TIMEOUT`` (10 s, against slowloris); an idle keep-alive connection is
  closed after ``HOOKSCOPE_KEEP_ALIVE`` (30 s; hypercorn's ``keep_alive_timeout``). Once a
  request has begun, bodies have their own timeout and live streams none.
- Out of descriptors anyway (other processes, a low limit): asyncio reports every failed
  ``accept()``, up to a thousand times a second; ``quiet_accept_errors`` logs them at most
  once per ``ACCEPT_LOG_EVERY`` seconds with a count. asyncio tries again every second, so the
  server answers again as soon as descriptors are free.

The first two are wrappers of hypercorn's ``TCPServer`` (installed by ``_hypercorn_fix`` for
the versions it checked) that act only for servers hookscope owns, and only for an app made
by ``create_app``; everything else keeps hypercorn's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import resource
from dataclasses import dataclass
from typing import Any

from .._config import Settings
from .._contract import ErrorCode, error_body
from ._hypercorn_fix import owns

__all__ = [
    "ACCEPT_LOG_EVERY",
    "ConnectionGate",
    "connection_limit",
    "quiet_accept_errors",
    "wrap_tcp_server",
]

log = logging.getLogger("hookscope.server")

ACCEPT_LOG_EVERY = 5.0
"""Seconds between two log lines about failed ``accept()`` calls."""
AUTO_MOST = 10_000
_ACCEPT_FAILED = "socket.accept() out of system resource"  # asyncio's message
_STARTED = "_hookscope_idle_started"  # on a TCPServer: its first idle timer has run
_DRAIN_TIME = 1.0  # seconds a refused connection may finish sending its request
_DRAIN_BYTES = 1024 * 1024


def connection_limit(settings: Settings) -> int:
    """``--max-connections``, or (auto) three quarters of ``RLIMIT_NOFILE``, at most 10,000."""
    if settings.max_connections is not None:
        return settings.max_connections
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return AUTO_MOST
    return max(16, min(AUTO_MOST, soft * 3 // 4))


@dataclass(slots=True)
class ConnectionGate:
    """The open connections of one app (one process), against its limit."""

    limit: int
    open: int = 0

    def admit(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open -= 1


def _busy_reply(limit: int) -> bytes:
    body = error_body(
        ErrorCode.TOO_MANY_CONNECTIONS,
        f"this server process holds its maximum of {limit} connections; retry shortly",
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "retry-after: 1\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


async def _turn_away(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int
) -> None:
    """Answer 503 and close; the request is read (and dropped) for a moment first, so that
    closing with unread data does not reset the connection before the answer is read."""
    try:
        writer.write(_busy_reply(limit))
        async with asyncio.timeout(_DRAIN_TIME):
            await writer.drain()
            writer.write_eof()
            received = 0
            while received < _DRAIN_BYTES and (chunk := await reader.read(65536)):
                received += len(chunk)
    except (OSError, TimeoutError, RuntimeError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError, RuntimeError):
            await writer.wait_closed()


def _state_of(server: Any) -> Any:
    """The ``AppState`` of a TCPServer's app, if hookscope owns the server; else None."""
    if not owns(server.config):
        return None
    app = getattr(server.app, "app", None)  # hypercorn's ASGIWrapper around the app
    extensions = getattr(app, "extensions", None)
    return extensions.get("hookscope") if isinstance(extensions, dict) else None


def wrap_tcp_server(server_class: Any) -> None:
    """Wrap ``run`` (the connection gate) and ``_idle_timeout`` (the header timeout) of
    hypercorn's asyncio ``TCPServer``; read in hypercorn/asyncio/tcp_server.py of the versions
    in ``_hypercorn_fix.CHECKED``."""
    original_run = server_class.run
    original_idle = server_class._idle_timeout

    @functools.wraps(original_run)
    async def run(self: Any) -> None:
        state = _state_of(self)
        if state is None:
            await original_run(self)
            return
        gate: ConnectionGate = state.connections
        if not gate.admit():
            state.metrics.refusals.labels(ErrorCode.TOO_MANY_CONNECTIONS).inc()
            await _turn_away(self.reader, self.writer, gate.limit)
            return
        state.metrics.connections.set(gate.open)
        try:
            await original_run(self)
        finally:
            gate.release()
            state.metrics.connections.set(gate.open)

    @functools.wraps(original_idle)
    async def _idle_timeout(self: Any) -> None:
        state = _state_of(self)
        if state is None or self.__dict__.get(_STARTED):
            await original_idle(self)  # keep-alive: hypercorn's keep_alive_timeout
            return
        # The first timer of a connection runs until its first request's headers are in.
        self.__dict__[_STARTED] = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.context.terminated.wait(), state.settings.header_timeout)
        await asyncio.shield(self._initiate_server_close())

    setattr(server_class, "run", run)  # noqa: B010 (mypy forbids assigning methods)
    setattr(server_class, "_idle_timeout", _idle_timeout)  # noqa: B010


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, every: float = ACCEPT_LOG_EVERY) -> None:
    """Log asyncio's failed ``accept()`` reports at most once per ``every`` seconds, counted;
    every other report goes to the handler there was (or asyncio's default). Idempotent."""
    previous = loop.get_exception_handler()
    if getattr(previous, "hookscope_quiet", False):
        return
    window = _AcceptErrors(loop, every)

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == _ACCEPT_FAILED:
            window.failed(context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.hookscope_quiet = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


class _AcceptErrors:
    """Failed accepts: the first of a window is logged at once, the rest counted and logged
    together when the window ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float) -> None:
        self._loop = loop
        self._every = every
        self._open = False  # a window is running: failures are counted, not logged
        self._count = 0  # failures not logged yet
        self._last: BaseException | None = None

    def failed(self, error: BaseException | None) -> None:
        self._last = error
        if self._open:
            self._count += 1
            return
        self._open = True
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        log.error(
            "cannot accept connections (%s); retrying every second. Descriptor limit "
            "(ulimit -n): %s; lower --max-connections or raise the limit. Further failures are "
            "counted and logged every %g s.",
            error or "out of resources",
            soft,
            self._every,
        )
        self._loop.call_later(self._every, self._close_window)

    def _close_window(self) -> None:
        count, self._count = self._count, 0
        if not count:
            self._open = False
            return
        log.error(
            "cannot accept connections (%s): %d more failed accept() calls in the last %g s",
            self._last or "out of resources",
            count,
            self._every,
        )
        self._loop.call_later(self._every, self._close_window)
