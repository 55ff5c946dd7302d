"""One readable terminal line per captured request (``hookscope tail``).

    21:43:44.123 POST   /github/push?a=1  application/json  17 B  {"zen": "hi"}

Time is local, to the millisecond; the preview is the body on one line, cut to fit. Nothing
captured reaches the terminal raw: method, path, query and content type go through
``hookscope._display.printable``, the body through ``preview``.
"""

from __future__ import annotations

import click

from .._display import clock_time, format_size, preview, printable
from .._models import CapturedRequest

__all__ = ["request_line"]

_METHOD_COLOURS = {
    "GET": "green",
    "POST": "blue",
    "PUT": "yellow",
    "PATCH": "yellow",
    "DELETE": "red",
}
_PATH_WIDTH = 60


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def request_line(request: CapturedRequest, width: int = 120) -> str:
    """The line for ``request``, with click styles (``click.echo`` drops them off a tty)."""
    time = clock_time(request.received_at)
    target = _shorten(printable(request.target), _PATH_WIDTH)
    kind = printable(request.content_type or "-")
    size = format_size(request.size)
    method = f"{printable(request.method):<7}"
    used = len(time) + len(method) + len(target) + len(kind) + len(size) + 8
    parts = [
        click.style(time, dim=True),
        click.style(method, fg=_METHOD_COLOURS.get(request.method, "magenta"), bold=True),
        target + " ",
        click.style(kind, fg="cyan") + " ",
        click.style(size, dim=True) + " ",
        preview(request, max(width - used, 24)),
    ]
    return " ".join(parts).rstrip()
