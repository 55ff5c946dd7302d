"""hookscope's changes to hypercorn, for hookscope's servers only (two sets of wrappers).

1. Stop hypercorn's WebSocket ping loop when its connection closes. Hypercorn pings each
WebSocket with ``while not closed: ping; sleep(interval)`` inside the connection's task group,
so a closed connection keeps its socket (CLOSE-WAIT) and task until the next ping, up to
``websocket_ping_interval``, and shutdown waits for them.

    config = own(Config())     # a hypercorn Config that hookscope serves with

``install()`` wraps two methods of hypercorn's ``WSStream`` (and two of ``TCPServer``, 2.),
once per process (every process hookscope starts calls it, ``--workers`` processes included).
The wrappers act only for streams whose ``Config`` carries ``own()``'s mark and delegate to
hypercorn's own methods otherwise, so another hypercorn server in the same process keeps
hypercorn's behaviour:

- ``_send_pings`` runs hypercorn's own loop in its task and remembers that task;
- ``handle``, the only method that sets ``closed``, cancels that task once the stream is closed,
  and the wrapper ends quietly.

2. Connections (``_connections``): ``TCPServer.run`` refuses a connection over
   ``--max-connections`` before reading it, and ``TCPServer._idle_timeout`` gives a new
   connection ``HOOKSCOPE_HEADER_TIMEOUT`` for its first request's headers.

The wrappers rely on those internals, read in hypercorn/protocol/ws_stream.py and
hypercorn/asyncio/tcp_server.py of the versions in ``CHECKED``. With any other version hookscope
logs a warning once and changes nothing (no connection limit, no header timeout); re-read those
files (and tests/server/test_hypercorn_fix.py, tests/server/test_connections.py) before adding
a version.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from importlib import metadata
from typing import Any, TypeVar

__all__ = ["CHECKED", "install", "own", "owns"]

log = logging.getLogger("hookscope.server")

CHECKED = frozenset({"0.17.0", "0.17.1", "0.17.2", "0.17.3", "0.18.0"})
"""The hypercorn versions whose ``WSStream`` these wrappers were checked against."""

_MARK = "hookscope_owns"  # set on the hypercorn Config of each server hookscope runs
_PINGER = "_hookscope_pinger"  # on a WSStream: the task running its ping loop
_active: bool | None = None  # whether install() wrapped WSStream in this process

_Config = TypeVar("_Config")


def own(config: _Config) -> _Config:
    """Mark a hypercorn ``Config`` as hookscope's (and ``install()``); returns it."""
    setattr(config, _MARK, True)
    install()
    return config


def owns(config: Any) -> bool:
    """True for a ``Config`` marked by ``own()``."""
    return getattr(config, _MARK, False) is True


def install() -> bool:
    """Wrap hypercorn's ``WSStream`` if its version was checked; True when it is wrapped.

    Idempotent; the first call in a process decides (and warns once about an unchecked version).
    """
    global _active
    if _active is None:
        _active = _install()
    return _active


def _install() -> bool:
    from hypercorn.asyncio.tcp_server import TCPServer
    from hypercorn.protocol.ws_stream import WSStream

    from ._connections import wrap_tcp_server

    version = metadata.version("hypercorn")
    if version not in CHECKED:
        log.warning(
            "hypercorn %s is not a version hookscope's WebSocket fix was checked against (%s): "
            "it is left as it is: a closed WebSocket keeps its socket and task until its "
            "next ping, and --max-connections and HOOKSCOPE_HEADER_TIMEOUT do not apply. "
            "Re-check hookscope/server/_hypercorn_fix.py against that version's "
            "hypercorn/protocol/ws_stream.py and hypercorn/asyncio/tcp_server.py.",
            version,
            ", ".join(sorted(CHECKED)),
        )
        return False
    _wrap(WSStream)
    wrap_tcp_server(TCPServer)
    return True


def _wrap(stream_class: Any) -> None:
    original_handle = stream_class.handle
    original_send_pings = stream_class._send_pings

    @functools.wraps(original_handle)
    async def handle(self: Any, event: Any) -> None:
        try:
            await original_handle(self, event)
        finally:
            if self.closed and owns(self.config):
                pinger: asyncio.Task[None] | None = self.__dict__.pop(_PINGER, None)
                if pinger is not None and pinger is not asyncio.current_task():
                    pinger.cancel()

    @functools.wraps(original_send_pings)
    async def _send_pings(self: Any) -> None:
        if not owns(self.config):
            await original_send_pings(self)
            return
        task = asyncio.current_task()
        self.__dict__[_PINGER] = task
        try:
            await original_send_pings(self)
        except asyncio.CancelledError:
            # handle() cancelled it (the stream closed): the loop is over. Any other cancel,
            # alone or as well, goes on.
            stopped = self.closed and _PINGER not in self.__dict__
            if task is None or not stopped or task.uncancel() > 0:
                raise
        finally:
            self.__dict__.pop(_PINGER, None)

    setattr(stream_class, "handle", handle)  # noqa: B010 (mypy forbids assigning methods)
    setattr(stream_class, "_send_pings", _send_pings)  # noqa: B010
