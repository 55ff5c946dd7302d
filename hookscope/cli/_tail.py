"""``hookscope tail BIN``: captured requests as they arrive, one line each."""

from __future__ import annotations

import os
import shutil
import sys

import click

from ..client import AsyncClient
from ._common import BinTarget, bin_options, request_id, run
from ._lines import request_line

__all__ = ["tail"]


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
    type=click.IntRange(0, 1000),
    default=None,
    metavar="N",
    help="Start with the newest N stored requests [default: 10].",
)
@click.option("--color/--no-color", default=None, help="Colour (default: when a terminal).")
def tail(
    target: BinTarget, as_json: bool, since: str | None, last: int | None, color: bool | None
) -> None:
    """Print requests to BIN as they arrive, until Ctrl-C.

    Resumes by itself after disconnects, without losing or repeating a request.

    \b
      hookscope tail b_Zx8...                 # newest 10, then live
      hookscope tail b_Zx8... --tail 0 --json | jq .path
    """
    if since is not None and last is not None:
        raise click.UsageError("--since and --tail do not combine; pick one")
    if since is None and last is None:
        last = 10
    try:
        run(_follow(target, as_json, since, last, color), url=target.url, bin_id=target.bin_id)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how tail ends
    except BrokenPipeError:  # tail ... | head: the reader is gone, and so is the point
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


async def _follow(
    target: BinTarget, as_json: bool, since: str | None, last: int | None, color: bool | None
) -> None:
    out = sys.stdout.buffer
    async with AsyncClient(target.url) as client:
        bin = client.bin(target.bin_id, target.token)
        await bin.info()  # a wrong token or bin fails now, with one line, not on reconnects
        async for request in bin.stream(since=since, tail=last):
            if as_json:
                out.write(request.to_json().encode("utf-8") + b"\n")
                out.flush()
            else:
                width = shutil.get_terminal_size((120, 24)).columns
                click.echo(request_line(request, width), color=color)
