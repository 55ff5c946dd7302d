"""``hookscope tail BIN``: captured requests as they arrive, one line each."""

from __future__ import annotations

import os
import shutil
import sys

import click

from .._contract import MAX_TAIL
from .._display import printable
from ..client import AsyncClient
from ._common import BinTarget, bin_options, request_id, run
from ._lines import request_line

__all__ = ["tail"]

DEFAULT_TAIL = 10
"""What ``tail`` shows first when neither --since nor --tail says."""


@click.command(short_help="Print requests as they arrive, one line each.")
@bin_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines in the wire format.")
@click.option(
    "--since",
    callback=request_id,
    default=None,
    metavar="ID",
    help="Start after this request id (0-0: the whole history).",
)
@click.option(
    "--tail",
    "last",
    type=click.IntRange(0, MAX_TAIL),
    default=None,
    metavar="N",
    help="Start with the newest N stored requests (0: live ones only) [default without "
    "--since: 10].",
)
@click.option(
    "--smee",
    is_flag=True,
    help="Print the bin's smee channel URL first, and mark the requests smee-client would "
    "not forward byte-exact (docs/smee.md).",
)
@click.option("--color/--no-color", default=None, help="Colour (default: when a terminal).")
def tail(
    target: BinTarget,
    as_json: bool,
    since: str | None,
    last: int | None,
    smee: bool,
    color: bool | None,
) -> None:
    """Print requests to BIN as they arrive, until Ctrl-C.

    Starts with the newest 10 stored ones unless --since or --tail says otherwise. Resumes
    by itself after disconnects, without losing or repeating a request. After the method,
    the server's signature verdict: ✓ valid, ✗ invalid (its reason follows the size), blank
    without one (a bin verifies with secrets: hookscope new --secret).

    \b
      hookscope tail b_Zx8...                 # newest 10, then live
      hookscope tail b_Zx8... --tail 0 --json | jq .path
    """
    if since is not None and last is not None:
        raise click.UsageError("--since and --tail do not combine; pick one")
    if since is None and last is None:
        last = DEFAULT_TAIL
    try:
        main = _follow(target, as_json, since, last, color, smee=smee)
        run(main, url=target.url, bin_id=target.bin_id)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how tail ends
    except BrokenPipeError:  # tail ... | head: the reader is gone, and so is the point
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


async def _follow(
    target: BinTarget,
    as_json: bool,
    since: str | None,
    last: int | None,
    color: bool | None,
    *,
    smee: bool = False,
) -> None:
    out = sys.stdout.buffer
    async with AsyncClient(target.url) as client:
        bin = client.bin(target.bin_id, target.token)
        # Opening the cursor connects: a wrong token or bin fails now, with one line.
        cursor = bin.open_stream(since=since, tail=last)
        async with cursor:
            if smee:
                await bin.info()  # the capture URL as the server shows it (--public-url)
                click.echo(f"smee channel: {printable(bin.smee_url(cursor='smee'))}", err=True)
            async for request in cursor:
                if as_json:
                    line = printable(request.to_json(), json=True)  # JSON, terminal-safe
                    out.write(line.encode("utf-8") + b"\n")
                    out.flush()
                else:
                    width = shutil.get_terminal_size((120, 24)).columns
                    click.echo(request_line(request, width, smee=smee), color=color)
