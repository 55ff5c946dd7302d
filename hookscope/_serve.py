"""Running the app on hypercorn: in the foreground (``hookscope serve``) or in a thread.

The listening socket is bound here, before the server starts, so that ``--port 0`` works and
the real address can be reported; hypercorn receives it as ``fd://``. ``--server uvicorn``
serves the same app on the same socket with uvicorn (``_uvicorn.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from typing import Any

from hypercorn.config import Config

from ._config import Settings
from ._extras import require

__all__ = [
    "SERVERS",
    "bind_socket",
    "hypercorn_config",
    "run_forever",
    "serve_until",
    "worker_app",
]

log = logging.getLogger("hookscope.server")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: a free port)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def hypercorn_config(
    settings: Settings, sock: socket.socket, *, graceful_timeout: float = 3.0
) -> Config:
    """Hypercorn's config; it takes over ``sock`` (do not close it yourself).

    Shutdown waits at most ``graceful_timeout`` for in-flight requests. The config is marked as
    hookscope's, so that closed WebSockets of its server do not linger until their next ping
    (``server/_hypercorn_fix.py``; other hypercorn servers in the process are left alone).
    """
    from .server._hypercorn_fix import own
    from .server._limits import max_head

    config = own(Config())
    config.bind = [f"fd://{sock.detach()}"]
    config.backlog = 1024
    config.workers = settings.workers
    config.websocket_ping_interval = settings.ping_interval
    config.graceful_timeout = graceful_timeout
    # Idle keep-alive connections (server/_connections.py: a new one gets less for its first
    # request's headers). Senders that pool connections see the close and open another.
    config.keep_alive_timeout = settings.keep_alive
    config.accesslog = None
    config.errorlog = "-"
    config.loglevel = "WARNING"
    # The request head hypercorn buffers: past it, 431 before the app sees anything (the app
    # answers 431 itself for --max-headers and --max-header-bytes, which are smaller).
    config.h11_max_incomplete_size = max_head(settings)
    config.h2_max_header_list_size = max_head(settings)
    # Webhook bodies may be large; hypercorn must not cap them below --max-body.
    config.wsgi_max_body_size = settings.max_body + 1
    return config


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def warn_if_exposed(settings: Settings) -> None:
    if not settings.loopback and not settings.api_key:
        log.warning(
            "serving on %s without --api-key: anyone who can reach this address can create "
            "bins. Set --api-key or HOOKSCOPE_API_KEY.",
            settings.host,
        )


def worker_app() -> Any:
    """The app of one worker process (``--workers N``), configured from ``HOOKSCOPE_*``.

    Hypercorn's worker loads it before serving, with the parent's (marked) config.
    """
    from .server import create_app
    from .server._connections import guard_accept
    from .server._hypercorn_fix import install

    install()  # a worker is a fresh interpreter: wrap hypercorn here too
    app = create_app(Settings.from_env())

    @app.before_serving
    async def quiet() -> None:  # hypercorn's worker made the loop: reach it from inside
        guard_accept(asyncio.get_running_loop())

    return app


SERVERS = ("hypercorn", "uvicorn")
"""What ``hookscope serve --server`` runs on: hypercorn (the default), or uvicorn (an extra)."""


def run_forever(settings: Settings, server: str = "hypercorn") -> int:
    """Serve until SIGINT/SIGTERM on ``server``; returns the exit code. Prints the address
    when listening."""
    if server not in SERVERS:
        raise ValueError(f"unknown server {server!r} (expected one of {', '.join(SERVERS)})")
    if server == "uvicorn":
        require("uvicorn", "--server uvicorn")
    warn_if_exposed(settings)
    sock = bind_socket(settings.host, settings.port)
    print(
        f"hookscope listening on {url_of(sock)} (backend: {settings.backend}, server: {server}"
        + (f" x{settings.workers})" if settings.workers > 1 else ")"),
        flush=True,
    )
    if settings.public_url:
        print(f"capture URLs use {settings.public_url}", flush=True)
    if server == "uvicorn":
        from . import _uvicorn

        return _uvicorn.run(settings, sock)
    config = hypercorn_config(settings, sock)
    if settings.workers > 1:
        from hypercorn.run import run

        os.environ.update(settings.to_env())
        config.application_path = "hookscope._serve:worker_app()"
        code: int = run(config)
        return code
    return asyncio.run(_serve_one(settings, config))


async def serve_until(app: Any, config: Config, stop: asyncio.Event) -> None:
    """Serve ``app`` until ``stop`` is set; live streams hear of it first (1012).

    Closing the streams before hypercorn drains its connections lets watchers resume
    elsewhere (or after a restart) with ``since=`` at once, instead of at the grace timeout.
    """
    from hypercorn.asyncio import serve

    from .server import close_streams
    from .server._connections import guard_accept

    guard_accept(asyncio.get_running_loop())

    async def shutdown_trigger() -> None:
        await stop.wait()
        close_streams(app)

    await serve(app, config, shutdown_trigger=shutdown_trigger)


async def _serve_one(settings: Settings, config: Config) -> int:
    from .server import create_app

    stop = asyncio.Event()

    def on_signal() -> None:
        print("hookscope shutting down", file=sys.stderr, flush=True)
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    await serve_until(create_app(settings), config, stop)
    return 0
