"""Connections: how many a process holds, how long an idle one stays, and running out.

- ``--max-connections`` (per process): at the limit, a new connection takes the place of
  the connection that has waited longest for a first request, else for its next one
  (``ConnectionGate``); when none is waiting (every one serves a request or a live
  stream), it is answered at once with 503 ``too_many_connections`` (``Retry-After: 1``) and
  closed, before hypercorn reads a byte of it. Idle sockets cannot take every descriptor,
  nor lock others out. The default is three quarters of the descriptor limit
  (``ulimit -n``), at most 10,000.
- Time: a new connection must deliver its first request's headers within
  ``HOOKSCOPE_HEADER_TIMEOUT`` (10 s, against slowloris); an idle keep-alive connection is
  closed after ``HOOKSCOPE_KEEP_ALIVE`` (30 s; hypercorn's ``keep_alive_timeout``). Once a
  request has begun, bodies have their own timeout and live streams none. A connection whose
  client hung up while idle is closed at once (hypercorn keeps it, in CLOSE-WAIT, until its
  idle timer ends: descriptors that a crowd of closed sockets would hold for that long).
- Out of descriptors anyway (other processes, a low limit): asyncio's loop (CPython 3.11 to
  3.13, ``selector_events._accept_connection``) goes on calling ``accept()`` after the first
  failure, up to the backlog (1,024) times per wake-up, reporting each failure with a traceback
  and scheduling a retry for each, and each retry wakes it again: failures snowball to tens of
  thousands a second, the log to hundreds of megabytes, and the loop has no time left to
  close the connections that would free descriptors. ``guard_accept`` gives hookscope's loops
  the same method with a stop at the first failure, retrying every ``ACCEPT_RETRY`` seconds,
  and logs at most once per ``ACCEPT_LOG_EVERY`` seconds with a count, so the server answers
  again as soon as descriptors are free. (On another Python or loop, only the logging is
  tamed: ``quiet_accept_errors``.)

The first two are wrappers of hypercorn's ``TCPServer`` (installed by ``_hypercorn_fix`` for
the versions it checked) that act only for servers hookscope owns, and only for an app made
by ``create_app``; everything else keeps hypercorn's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import logging
import resource
import sys
from asyncio import selector_events
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .._config import Settings
from .._contract import ErrorCode, error_body
from ._hypercorn_fix import owns

__all__ = [
    "ACCEPT_LOG_EVERY",
    "ACCEPT_RETRY",
    "ConnectionGate",
    "connection_limit",
    "guard_accept",
    "quiet_accept_errors",
    "wrap_tcp_server",
]

log = logging.getLogger("hookscope.server")

ACCEPT_LOG_EVERY = 5.0
"""Seconds between two log lines about failed ``accept()`` calls."""
ACCEPT_RETRY = 0.25
"""Seconds between two ``accept()`` attempts while out of descriptors (asyncio waits 1 s)."""
CHECKED_PYTHONS = frozenset({(3, 11), (3, 12), (3, 13)})
"""Python versions whose ``_accept_connection`` ``guard_accept`` replaces (read in each)."""
_OUT_OF = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
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


Close = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class ConnectionGate:
    """The open connections of one app (one process), against its limit.

    Connections waiting for a request now, each with what closes it, the longest waiting
    first: ``fresh`` ones have not sent a whole request yet, ``kept`` ones wait for their next
    (keep-alive). At the limit, a new connection takes the place of the first fresh one, else
    of the first kept one, as nginx reuses keep-alive connections: idle or slow sockets that
    never make a request cannot lock others out and go before a sender's kept connection, and
    a connection serving a request or a live stream is never closed for another.
    """

    limit: int
    open: int = 0
    fresh: dict[object, Close] = field(default_factory=dict)
    kept: dict[object, Close] = field(default_factory=dict)

    def admit(self) -> Close | bool:
        """True: counted. A ``Close``: counted, once that waiting connection is closed (call
        it). False: the limit is reached and none is waiting."""
        displaced: Close | bool = True
        if self.open >= self.limit:
            waiting = self.fresh or self.kept
            if not waiting:
                return False
            displaced = waiting.pop(next(iter(waiting)))
        self.open += 1
        return displaced

    def release(self) -> None:
        self.open -= 1

    @contextlib.contextmanager
    def waiting(self, connection: object, close: Close, *, kept: bool) -> Iterator[None]:
        """While ``connection`` waits for a request, it may be closed to make room."""
        waiting = self.kept if kept else self.fresh
        waiting[connection] = close
        try:
            yield
        finally:
            waiting.pop(connection, None)


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


Method = Callable[[Any], Awaitable[None]]


def _when_owned(original: Method) -> Callable[[Callable[[Any, Any], Awaitable[None]]], Method]:
    """A wrapper of ``original`` that runs ``body(self, app_state)`` for hookscope's servers
    and ``original(self)`` for any other."""

    def wrap(body: Callable[[Any, Any], Awaitable[None]]) -> Method:
        @functools.wraps(original)
        async def method(self: Any) -> None:
            state = _state_of(self)
            if state is None:
                await original(self)
            else:
                await body(self, state)

        return method

    return wrap


def wrap_tcp_server(server_class: Any) -> None:
    """Wrap ``run`` (the connection gate), ``_idle_timeout`` (the header timeout) and
    ``_read_data`` (a hung-up idle connection ends) of hypercorn's asyncio ``TCPServer``; read in
    hypercorn/asyncio/tcp_server.py and worker_context.py of ``_hypercorn_fix.CHECKED``."""
    original_run = server_class.run
    original_idle = server_class._idle_timeout
    original_read = server_class._read_data

    @_when_owned(original_run)
    async def run(self: Any, state: Any) -> None:
        gate: ConnectionGate = state.connections
        admitted = gate.admit()
        if not admitted:
            state.metrics.refusals.labels(ErrorCode.TOO_MANY_CONNECTIONS).inc()
            await _turn_away(self.reader, self.writer, gate.limit)
            return
        if admitted is not True:
            state.metrics.displaced.inc()
            await admitted()
        state.metrics.connections.set(gate.open)
        try:
            await original_run(self)
        finally:
            gate.release()
            state.metrics.connections.set(gate.open)

    @_when_owned(original_idle)
    async def _idle_timeout(self: Any, state: Any) -> None:
        gate: ConnectionGate = state.connections
        kept = bool(self.__dict__.get(_STARTED))
        # Cancelled when a request begins: waiting no more.
        with gate.waiting(self, self._initiate_server_close, kept=kept):
            if kept:
                await original_idle(self)  # keep-alive: hypercorn's keep_alive_timeout
                return
            # The first timer of a connection runs until its first request's headers are in.
            self.__dict__[_STARTED] = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.context.terminated.wait(), state.settings.header_timeout
                )
            await asyncio.shield(self._initiate_server_close())

    @functools.wraps(original_read)
    async def _read_data(self: Any) -> None:
        try:
            await original_read(self)
        finally:
            # Nothing more will arrive. An idle timer still running would hold the connection
            # (its task group waits for it) until it fires; a request in progress has none.
            if owns(self.config):
                await self.idle_task.stop()

    setattr(server_class, "run", run)  # noqa: B010 (mypy forbids assigning methods)
    setattr(server_class, "_idle_timeout", _idle_timeout)  # noqa: B010
    setattr(server_class, "_read_data", _read_data)  # noqa: B010


def guard_accept(loop: asyncio.AbstractEventLoop) -> None:
    """Give ``loop`` an ``accept()`` loop that stops at the first failure (module docstring).

    Only for CPython's selector loops of ``CHECKED_PYTHONS``; elsewhere ``quiet_accept_errors``.
    Idempotent. Call it before the server starts listening.
    """
    if sys.version_info[:2] not in CHECKED_PYTHONS or not isinstance(
        loop, selector_events.BaseSelectorEventLoop
    ):
        quiet_accept_errors(loop)
        return
    if getattr(loop.__dict__.get("_accept_connection"), "hookscope_guarded", False):
        return
    errors = _AcceptErrors(loop, ACCEPT_LOG_EVERY)
    this: Any = loop  # the loop's private methods, as CPython's own method calls them

    def accept(
        protocol_factory: Any,
        sock: Any,
        sslcontext: Any = None,
        server: Any = None,
        backlog: int = 100,
        *timeouts: Any,
    ) -> None:
        # CPython's _accept_connection of CHECKED_PYTHONS, with a return after the retry.
        for _ in range(backlog):
            try:
                conn, address = sock.accept()
                conn.setblocking(False)
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing more to accept now
            except OSError as error:
                if error.errno not in _OUT_OF:
                    raise  # the loop logs it, as CPython's does
                errors.failed(error)
                this._remove_reader(sock.fileno())
                this.call_later(
                    ACCEPT_RETRY,
                    this._start_serving,
                    protocol_factory,
                    sock,
                    sslcontext,
                    server,
                    backlog,
                    *timeouts,
                )
                return
            else:
                this.create_task(
                    this._accept_connection2(
                        protocol_factory, conn, {"peername": address}, sslcontext, server, *timeouts
                    )
                )

    accept.hookscope_guarded = True  # type: ignore[attr-defined]
    this._accept_connection = accept  # an instance's function: called unbound, as CPython does


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
            "cannot accept connections (%s); retrying. Descriptor limit (ulimit -n): %s; lower "
            "--max-connections or raise the limit. Further failures are counted and logged "
            "every %g s.",
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
