"""The ``hookscope`` command group; each subcommand lives in a module of its own."""

from __future__ import annotations

import click

from .._version import __version__
from ._export import export
from ._forward import forward
from ._new import new
from ._serve import serve
from ._tail import tail

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hookscope")
def main() -> None:
    """hookscope: capture, inspect and stream webhooks."""


for command in (serve, new, tail, forward, export):
    main.add_command(command)
