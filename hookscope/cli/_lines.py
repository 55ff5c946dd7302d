"""One readable terminal line per captured request (``hookscope tail``), in columns.

    21:43:44.123 POST      /github/push?a=1     application/json                37 B  {"zen": …
    21:43:44.123 POST    ✓ /stripe              application/json                39 B  {"id": "…
    21:43:44.123 POST    ✗ /stripe              application/json                39 B  stripe: …

Time is local, to the millisecond; then the method, the server's signature verdict (``✓``,
``✗``, blank without one), the path and query, the media type and the size, each in a column
of its own width (a longer value is cut with ``…``), so that the lines stay aligned; the
widths follow the terminal's (``column_widths``). An invalid signature's scheme and reason
come before the preview, which is the body on one line, cut to fit. Nothing captured
reaches the terminal raw: method, path, query and content type go through
``hookscope._display.printable``, the body through ``preview``, the verdict through
``signature_verdict``.
"""

from __future__ import annotations

import click

from .._display import (
    clock_time,
    format_size,
    preview,
    printable,
    signature_mark,
    signature_verdict,
)
from .._models import CapturedRequest
from .._smee import forwarded_exactly

__all__ = ["column_widths", "request_line"]

_METHOD_COLOURS = {
    "GET": "green",
    "POST": "blue",
    "PUT": "yellow",
    "PATCH": "yellow",
    "DELETE": "red",
}
_SMEE_NOTE = "[not byte-exact via smee]"
_METHOD_WIDTH = 7  # OPTIONS
_SIZE_WIDTH = 10  # 1023.9 KiB


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _column(text: str, width: int) -> str:
    return _shorten(text, width).ljust(width)


def column_widths(width: int) -> tuple[int, int, int]:
    """``(path, content type, body)`` on a terminal ``width`` columns wide: the content type
    fits ``application/octet-stream`` (``application/json`` below 110 columns); the path gets
    a third of what the fixed columns leave (12 to 60), the body the rest (at least 12), which
    at 120 columns holds the longest reason of an invalid signature."""
    kind = 24 if width >= 110 else 16
    fixed = 12 + 1 + _METHOD_WIDTH + 1 + 1 + 1 + 2 + kind + 2 + _SIZE_WIDTH + 2
    path = min(max((width - fixed) // 3, 12), 60)
    return path, kind, max(width - fixed - path, 12)


def request_line(request: CapturedRequest, width: int = 120, *, smee: bool = False) -> str:
    """The line for ``request``, with click styles (``click.echo`` drops them off a tty).

    ``smee``: mark a request whose body smee-client would not forward byte-exact.
    """
    target_width, kind_width, body_width = column_widths(width)
    time = clock_time(request.received_at)
    method = printable(request.method).ljust(_METHOD_WIDTH)  # whole: an odd method shows
    verdict = request.signature
    mark = signature_mark(verdict)
    colour = "green" if verdict is not None and verdict.valid else "red"
    target = _column(printable(request.target), target_width)
    kind = _column(printable(request.content_type or "-"), kind_width)
    size = format_size(request.size).rjust(_SIZE_WIDTH)
    # What follows the size shares the body's width: the verdict's reason, the smee note,
    # then the preview with what is left (none when too little is).
    why = signature_verdict(verdict) if verdict is not None and not verdict.valid else ""
    why = _shorten(why, body_width)
    body_width -= len(why) + 2 if why else 0
    inexact = _SMEE_NOTE if smee and forwarded_exactly(request) is not None else ""
    body_width -= len(inexact) + 1 if inexact else 0
    parts = [
        click.style(time, dim=True),
        click.style(method, fg=_METHOD_COLOURS.get(request.method, "magenta"), bold=True),
        click.style(mark, fg=colour, bold=True) if mark else " ",
        target + " ",
        click.style(kind, fg="cyan") + " ",
        click.style(size, dim=True) + " ",
        *([click.style(why, fg="red") + " "] if why else []),
        *([click.style(inexact, fg="yellow")] if inexact else []),
        preview(request, body_width) if body_width >= 8 else "",
    ]
    return " ".join(parts).rstrip()
