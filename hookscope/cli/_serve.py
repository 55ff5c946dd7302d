"""``hookscope serve``: run the capture server in the foreground."""

from __future__ import annotations

import errno
import logging

import click

from .._config import AUTO, Settings, parse_rate, parse_size
from ._common import duration

__all__ = ["serve"]


def _size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    try:
        return None if value is None else parse_size(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A rate, checked here and passed on as written (``off`` and ``auto`` included)."""
    try:
        if value is not None and value.strip().lower() != AUTO:
            parse_rate(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


def _connections(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and value.strip().lower() != AUTO and not value.strip().isdigit():
        raise click.BadParameter(f"not a number of connections: {value!r} (or auto)")
    return value


@click.command()
@click.option(
    "--host",
    envvar="HOOKSCOPE_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Off loopback, set --api-key.",
)
@click.option(
    "--port",
    envvar="HOOKSCOPE_PORT",
    type=int,
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port, printed at start).",
)
@click.option(
    "--backend",
    envvar="HOOKSCOPE_BACKEND",
    type=click.Choice(["memory", "redis"]),
    default=None,
    help="Storage: memory (default, one process) or redis.",
)
@click.option(
    "--redis-url",
    envvar="HOOKSCOPE_REDIS_URL",
    default=None,
    help="Redis URL, e.g. redis://127.0.0.1:6379/0; selects the redis backend.",
)
@click.option(
    "--redis-cluster",
    envvar="HOOKSCOPE_REDIS_CLUSTER",
    is_flag=True,
    default=None,
    help="--redis-url names a node of a Redis Cluster (any one: it finds the others).",
)
@click.option(
    "--workers",
    envvar="HOOKSCOPE_WORKERS",
    type=int,
    default=1,
    show_default=True,
    help="Server processes (redis backend only).",
)
@click.option(
    "--server",
    envvar="HOOKSCOPE_SERVER",
    type=click.Choice(["hypercorn", "uvicorn"]),
    default="hypercorn",
    show_default=True,
    help="The ASGI server: hypercorn, or uvicorn (faster: pip install 'hookscope[uvicorn]').",
)
@click.option(
    "--public-url",
    envvar="HOOKSCOPE_PUBLIC_URL",
    default=None,
    help="Base URL senders use to reach this server (behind a proxy).",
)
@click.option(
    "--api-key",
    envvar="HOOKSCOPE_API_KEY",
    default=None,
    help="Require 'Authorization: Bearer KEY' to create bins.",
)
@click.option(
    "--allow-origin",
    "allow_origin",
    envvar="HOOKSCOPE_ALLOW_ORIGIN",
    multiple=True,
    metavar="ORIGIN",
    help="A web origin (https://app.example.com) whose pages may open streams and change "
    "bins; repeatable. The server's own pages and --public-url always may.",
)
@click.option(
    "--trust-proxy",
    "trust_proxy",
    envvar="HOOKSCOPE_TRUST_PROXY",
    multiple=True,
    metavar="ADDR",
    help="A reverse proxy (address or network, repeatable) whose X-Forwarded-For names the "
    "sender's address. Never trusted by default.",
)
@click.option(
    "--max-body",
    envvar="HOOKSCOPE_MAX_BODY",
    default="10MiB",
    show_default=True,
    callback=_size,
    help="Largest body captured (bytes, or 512KB, 10MiB...).",
)
@click.option(
    "--max-requests",
    envvar="HOOKSCOPE_MAX_REQUESTS",
    type=int,
    default=1000,
    show_default=True,
    help="Requests kept per bin (oldest dropped first).",
)
@click.option(
    "--ttl",
    envvar="HOOKSCOPE_TTL",
    default="7d",
    show_default=True,
    callback=duration,
    help="A bin expires this long after its last capture (90s, 12h, 7d).",
)
@click.option(
    "--max-bins",
    envvar="HOOKSCOPE_MAX_BINS",
    type=int,
    default=None,
    help="Most bins the server holds; creating more is 507 too_many_bins (0: no limit). "
    "[default: 10000]",
)
@click.option(
    "--max-memory",
    envvar="HOOKSCOPE_MAX_MEMORY",
    default=None,
    callback=_size,
    help="Memory backend: the budget of stored requests and bins; the oldest requests are "
    "evicted first (0: no limit). [default: 256MiB]",
)
@click.option(
    "--max-headers",
    envvar="HOOKSCOPE_MAX_HEADERS",
    type=int,
    default=None,
    help="Most header lines a request may have (431 beyond). [default: 100]",
)
@click.option(
    "--max-header-bytes",
    envvar="HOOKSCOPE_MAX_HEADER_BYTES",
    default=None,
    callback=_size,
    help="Most bytes of header names and values (431 beyond). [default: 32KiB]",
)
@click.option(
    "--max-response-body",
    envvar="HOOKSCOPE_MAX_RESPONSE_BODY",
    default=None,
    callback=_size,
    help="Largest body a bin may answer with (400 response_too_large). [default: 64KiB]",
)
@click.option(
    "--max-connections",
    envvar="HOOKSCOPE_MAX_CONNECTIONS",
    default=None,
    callback=_connections,
    help="Open connections per process; more are answered 503 too_many_connections and "
    "closed. [default: auto, 3/4 of the descriptor limit (ulimit -n), at most 10000]",
)
@click.option(
    "--max-watchers-per-bin",
    envvar="HOOKSCOPE_MAX_WATCHERS_PER_BIN",
    type=int,
    default=None,
    help="Live streams per bin per process (429 too_many_watchers beyond). [default: 100]",
)
@click.option(
    "--rate-limit",
    envvar="HOOKSCOPE_RATE_LIMIT",
    default=None,
    callback=_rate,
    metavar="RATE",
    help="Captures per bin: 50/s, 50/s:200 (burst), 600/m, or off; 429 with Retry-After "
    "beyond. [default: auto, 100/s:1000 off loopback, off on loopback]",
)
@click.option(
    "--ip-rate-limit",
    envvar="HOOKSCOPE_IP_RATE_LIMIT",
    default=None,
    callback=_rate,
    metavar="RATE",
    help="Captures and bin creations per client address (IPv6: per /64), as --rate-limit. "
    "[default: auto, 100/s:1000 off loopback, off on loopback]",
)
@click.option(
    "--log-level",
    envvar="HOOKSCOPE_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(
    host: str,
    port: int,
    backend: str | None,
    redis_url: str | None,
    redis_cluster: bool | None,
    workers: int,
    server: str,
    public_url: str | None,
    api_key: str | None,
    allow_origin: tuple[str, ...],
    trust_proxy: tuple[str, ...],
    max_body: int,
    max_requests: int,
    ttl: float,
    max_bins: int | None,
    max_memory: int | None,
    max_headers: int | None,
    max_header_bytes: int | None,
    max_response_body: int | None,
    max_connections: str | None,
    max_watchers_per_bin: int | None,
    rate_limit: str | None,
    ip_rate_limit: str | None,
    log_level: str,
) -> None:
    """Run the capture server until Ctrl-C (SIGINT) or SIGTERM."""
    from .._exceptions import MissingExtra
    from .._serve import run_forever

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(
            host=host,
            port=port,
            backend=backend or ("redis" if redis_url else "memory"),
            redis_url=redis_url,
            redis_cluster=redis_cluster,
            workers=workers,
            public_url=public_url,
            api_key=api_key,
            allow_origin=allow_origin or None,
            trust_proxy=trust_proxy or None,
            max_body=max_body,
            max_requests=max_requests,
            ttl=ttl,
            max_bins=max_bins,
            max_memory=max_memory,
            max_headers=max_headers,
            max_header_bytes=max_header_bytes,
            max_response_body=max_response_body,
            max_connections=max_connections,
            max_watchers_per_bin=max_watchers_per_bin,
            rate_limit=rate_limit,
            ip_rate_limit=ip_rate_limit,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    try:
        code = run_forever(settings, server)
    except MissingExtra as error:
        raise click.ClickException(str(error)) from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"{settings.host}:{settings.port} is taken by another program: choose another "
                "port with --port N (or --port 0 for any free one)"
            ) from None
        if error.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise click.ClickException(
                f"cannot listen on {settings.host}:{settings.port}: {error.strerror} "
                "(--host, --port)"
            ) from None
        raise
    raise SystemExit(code)


# Every option shows its HOOKSCOPE_* variable in --help, as the other commands' do.
for _option in serve.params:
    if isinstance(_option, click.Option) and _option.envvar:
        _option.show_envvar = True
