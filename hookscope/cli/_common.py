"""What the client commands share: server and bin options, running, and error lines.

Every command that reads a bin takes ``BIN`` (a bin id, or its capture URL, from which the
server URL is taken too), ``--url``/``HOOKSCOPE_URL`` and ``--token``/``HOOKSCOPE_TOKEN``.
Errors end the command with one line on stderr and exit status 1, never a traceback.
Everything a server or a sender wrote goes through ``printable`` on its way to the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from .._config import parse_duration
from .._contract import CAPTURE_PREFIX, ErrorCode
from .._display import clock_time, printable
from .._exceptions import (
    ApiError,
    BinNotFound,
    ConnectionFailed,
    HookscopeError,
    ServerUnavailable,
    Unauthorized,
)
from .._ids import is_bin_id, is_request_id

__all__ = [
    "DEFAULT_URL",
    "BinTarget",
    "bin_options",
    "duration",
    "request_id",
    "run",
    "server_options",
]

DEFAULT_URL = "http://127.0.0.1:8080"

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def server_options(command: F) -> F:
    """``--url`` / ``HOOKSCOPE_URL``."""
    return click.option(
        "--url",
        envvar="HOOKSCOPE_URL",
        default=DEFAULT_URL,
        show_default=True,
        metavar="URL",
        help="The hookscope server (env HOOKSCOPE_URL).",
    )(command)


def bin_options(command: F) -> F:
    """``BIN``, ``--url`` and ``--token``: passed to the command as one ``target``."""

    @click.argument("bin_ref", metavar="BIN")
    @server_options
    @click.option(
        "--token",
        envvar="HOOKSCOPE_TOKEN",
        default=None,
        metavar="TOKEN",
        help="The bin's token, printed by 'hookscope new' (env HOOKSCOPE_TOKEN).",
    )
    @functools.wraps(command)
    def wrapper(bin_ref: str, url: str, token: str | None, **kwargs: Any) -> Any:
        explicit_url = click.get_current_context().get_parameter_source("url") not in (
            click.core.ParameterSource.DEFAULT,
            None,
        )
        target = BinTarget.parse(bin_ref, url, token, explicit_url=explicit_url)
        return command(target=target, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class BinTarget:
    """Which bin, on which server, opened with which token."""

    url: str
    bin_id: str
    token: str

    @classmethod
    def parse(
        cls, ref: str, url: str, token: str | None, *, explicit_url: bool = False
    ) -> BinTarget:
        """From ``BIN`` (an id or a capture URL like ``http://host/h/b_x``) and the options."""
        bin_id = ref
        if "://" in ref:
            parts = urlsplit(ref)
            prefix, found, rest = parts.path.partition(CAPTURE_PREFIX)
            bin_id = rest.split("/", 1)[0]
            if not found or not bin_id:
                raise click.BadParameter(
                    f"{ref!r} is not a capture URL (expected .../h/<bin id>)", param_hint="BIN"
                )
            if not explicit_url:
                url = f"{parts.scheme}://{parts.netloc}{prefix}"
        if not is_bin_id(bin_id):
            raise click.BadParameter(
                f"{bin_id!r} is not a bin id (like b_Zx8...: letters, digits, _ and -)",
                param_hint="BIN",
            )
        if not token:
            raise click.UsageError(
                "a bin token is needed: pass --token or set HOOKSCOPE_TOKEN "
                "('hookscope new' prints it)"
            )
        return cls(url.rstrip("/"), bin_id, token)


def request_id(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback: a ``<ms>-<seq>`` request id (``0-0`` means the very beginning)."""
    if value is not None and not is_request_id(value):
        raise click.BadParameter(f"{value!r} is not a request id (like 1764366000123-0)")
    return value


def duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """Click callback: seconds from ``90s``, ``12h`` or ``7d`` (None stays None)."""
    try:
        return None if value is None else parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def describe_error(error: HookscopeError, *, url: str, bin_id: str | None = None) -> str:
    """One line a user can act on, in the CLI's terms (flags and variables, not kwargs)."""
    code = getattr(error, "code", "")
    if isinstance(error, ConnectionFailed):
        return f"cannot reach a hookscope server at {url}: is it running? (--url / HOOKSCOPE_URL)"
    if isinstance(error, BinNotFound):
        what = f"bin {bin_id}" if bin_id else "the bin"
        if code == ErrorCode.BIN_DELETED:
            return f"{what} was deleted"
        return f"no {what} on {url} (deleted, expired, or a typo in the id?)"
    if isinstance(error, Unauthorized):
        if code == ErrorCode.API_KEY_REQUIRED:
            return "this server needs an API key to create bins: --api-key / HOOKSCOPE_API_KEY"
        if code == ErrorCode.API_KEY_INVALID:
            return "the server refused the API key (--api-key / HOOKSCOPE_API_KEY)"
        return (
            f"the server refused the token for bin {bin_id}: use the token 'hookscope new' "
            "printed for it (--token / HOOKSCOPE_TOKEN)"
        )
    if isinstance(error, ServerUnavailable):
        return f"the server at {url} cannot reach its storage (HTTP 503); try again shortly"
    if isinstance(error, ApiError):
        return f"the server at {url} answered HTTP {error.status}: {error}"
    return str(error)


def run(main: Coroutine[Any, Any, T], *, url: str, bin_id: str | None = None) -> T:
    """Run ``main`` on a new event loop; hookscope errors become one line and exit status 1.

    SIGTERM is handled like Ctrl-C: the command's ``KeyboardInterrupt`` path runs, so both
    stop it cleanly.
    """
    try:
        with _show_reconnects():
            return asyncio.run(_interruptible(main))
    except HookscopeError as error:
        message = describe_error(error, url=url, bin_id=bin_id)
        raise click.ClickException(printable(message)) from None


async def _interruptible(main: Coroutine[Any, Any, T]) -> T:
    task = asyncio.current_task()
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        if task is not None:
            task.cancel()

    # asyncio.run already turns SIGINT into KeyboardInterrupt (after cancelling ``main``).
    # Not possible off the main thread or on Windows: SIGTERM then keeps its default.
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    try:
        return await main
    except asyncio.CancelledError:
        if terminated:
            raise KeyboardInterrupt from None
        raise


@contextlib.contextmanager
def _show_reconnects() -> Iterator[None]:
    """The SDK logs each interruption of a stream and each reconnection (INFO, WARNING once
    they persist): show them on stderr meanwhile, one line each, timed like tail's lines.

    The logger is restored afterwards, so that a command run in-process (tests, scripts)
    leaves the caller's logging as it found it.
    """
    logger = logging.getLogger("hookscope.client")
    if logger.handlers:
        yield
        return
    handler = logging.StreamHandler()
    handler.setFormatter(_StreamLineFormatter("hookscope: %(message)s"))
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


class _StreamLineFormatter(logging.Formatter):
    """One terminal line per record: the local time, the message with what the server sent
    (close reasons, errors) escaped, cut to the terminal's width rather than wrapped."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line = f"{clock_time(moment)} {printable(super().formatMessage(record))}"
        width = shutil.get_terminal_size((120, 24)).columns
        return line if len(line) <= width else line[: max(width - 1, 0)] + "…"
