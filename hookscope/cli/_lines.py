"""One readable terminal line per captured request (``hookscope tail``).

    21:43:44.123 POST    ✓ /stripe  application/json  37 B  {"id": "evt_1"}
    21:43:44.123 POST    ✗ /stripe  application/json  38 B  stripe: bad_signature  {"id": …
    21:43:44.123 POST      /github/push?a=1  application/json  17 B  {"zen": "hi"}

Time is local, to the millisecond; then the method, the server's signature verdict (``✓``,
``✗``, blank without one: a column of its own, so that the paths stay aligned), the path;
an invalid signature's scheme and reason come before the preview, which is the body on one
line, cut to fit. Nothing captured reaches the terminal raw: method, path, query and content
type go through ``hookscope._display.printable``, the body through ``preview``, the verdict
through ``signature_verdict``.
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

__all__ = ["request_line"]

_METHOD_COLOURS = {
    "GET": "green",
    "POST": "blue",
    "PUT": "yellow",
    "PATCH": "yellow",
    "DELETE": "red",
}
_SMEE_NOTE = "[not byte-exact via smee]"
_PATH_WIDTH = 60


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def request_line(request: CapturedRequest, width: int = 120, *, smee: bool = False) -> str:
    """The line for ``request``, with click styles (``click.echo`` drops them off a tty).

    ``smee``: mark a request whose body smee-client would not forward byte-exact.
    """
    time = clock_time(request.received_at)
    target = _shorten(printable(request.target), _PATH_WIDTH)
    kind = printable(request.content_type or "-")
    size = format_size(request.size)
    method = f"{printable(request.method):<7}"
    verdict = request.signature
    mark = signature_mark(verdict)
    colour = "green" if verdict is not None and verdict.valid else "red"
    why = signature_verdict(verdict) if verdict is not None and not verdict.valid else ""
    inexact = _SMEE_NOTE if smee and forwarded_exactly(request) is not None else ""
    used = len(time) + len(method) + 1 + len(target) + len(kind) + len(size) + 9
    used += len(why) + 2 if why else 0
    used += len(inexact) + 1 if inexact else 0
    parts = [
        click.style(time, dim=True),
        click.style(method, fg=_METHOD_COLOURS.get(request.method, "magenta"), bold=True),
        click.style(mark, fg=colour, bold=True) if mark else " ",
        target + " ",
        click.style(kind, fg="cyan") + " ",
        click.style(size, dim=True) + " ",
        *([click.style(why, fg="red") + " "] if why else []),
        *([click.style(inexact, fg="yellow")] if inexact else []),
        preview(request, max(width - used, 24)),
    ]
    return " ".join(parts).rstrip()
