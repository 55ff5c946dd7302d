"""``hookscope export BIN --format jsonl|har|csv``: every stored request, to a file or stdout.

Requests are read a page (``MAX_PAGE``, 1000) at a time and written as they come, so memory
stays flat. ``-o FILE`` is written to ``FILE.part`` and renamed at the end: an interrupted
export never leaves a file that looks complete. A progress bar goes to stderr when it is a
terminal.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, Any

import click

from .._contract import MAX_PAGE
from .._display import printable
from .._models import CapturedRequest
from ..client import AsyncBin, AsyncClient
from ._common import BinTarget, bin_options, request_id, run
from ._formats import WRITERS, CsvWriter, Writer

__all__ = ["export"]

PAGE = MAX_PAGE
"""Requests per API call (the server's largest page; tests shrink it)."""


@click.command(short_help="Write a bin's requests as JSON lines, HAR or CSV.")
@bin_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(WRITERS)),
    default="jsonl",
    show_default=True,
    help="jsonl: wire-format lines; har: HAR 1.2; csv: the DataFrame's columns.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    default="-",
    help="File to write (default: stdout).",
)
@click.option(
    "--since",
    callback=request_id,
    default=None,
    metavar="ID",
    help="Only the requests after this id.",
)
@click.option(
    "--csv-raw",
    is_flag=True,
    help="CSV cells exactly as captured, formulas included. WARNING: a spreadsheet that opens "
    "the file may run what a sender wrote (=HYPERLINK, =cmd|...). Without it, a cell starting "
    "with = + - @ tab CR or ' gets a leading '.",
)
def export(target: BinTarget, fmt: str, output: str, since: str | None, csv_raw: bool) -> None:
    """Write every request BIN holds (oldest first) as JSON lines, HAR or CSV.

    \b
      hookscope export b_Zx8... --format har -o hooks.har
      hookscope export b_Zx8... --format csv | head
    """
    if csv_raw and fmt != "csv":
        raise click.UsageError("--csv-raw goes with --format csv")
    make: Callable[[IO[bytes], str], Writer] = (
        functools.partial(CsvWriter, raw=True) if csv_raw else WRITERS[fmt]
    )
    with _opened(output) as out:
        count = run(_export(target, make, out, since), url=target.url, bin_id=target.bin_id)
    if output != "-":
        plural = "s" if count != 1 else ""
        click.echo(printable(f"exported {count} request{plural} to {output}"), err=True)


@contextlib.contextmanager
def _opened(output: str) -> Iterator[IO[bytes]]:
    if output == "-":
        yield sys.stdout.buffer
        return
    final = Path(output)
    partial = final.with_name(final.name + ".part")
    try:
        with partial.open("wb") as out:
            yield out
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)


async def _export(
    target: BinTarget, make: Callable[[IO[bytes], str], Writer], out: IO[bytes], since: str | None
) -> int:
    async with AsyncClient(target.url) as client:
        bin = client.bin(target.bin_id, target.token)
        info = await bin.info()
        writer = make(out, info["url"])
        count = 0
        with _Progress() as progress:
            async for page in _pages(bin, since):
                writer.write(page)
                count += len(page)
                progress.update(len(page), more=len(page) == PAGE)
        writer.close()
        out.flush()
        return count


async def _pages(bin: AsyncBin, since: str | None) -> AsyncIterator[list[CapturedRequest]]:
    while True:
        page = await bin.requests(since=since, limit=PAGE)
        if page:
            yield page
        if len(page) < PAGE:
            return
        since = page[-1].id


class _Progress:
    """A count of exported requests on stderr, shown once an export takes more than a page
    and only when stderr is a terminal."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._shown = sys.stderr.isatty()

    def update(self, n: int, *, more: bool) -> None:
        if self._bar is None and more and self._shown:
            # The total is not known up front: an iterable without a length makes click
            # draw a pulsing bar with the count.
            unknown_length: Iterator[None] = (None for _ in ())
            bar = click.progressbar(
                unknown_length, label="exporting", show_pos=True, file=sys.stderr
            )
            self._bar = bar.__enter__()
        if self._bar is not None:
            self._bar.update(n)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
