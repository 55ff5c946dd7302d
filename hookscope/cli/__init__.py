"""The ``hookscope`` command line: ``serve``, ``new``, ``tail``, ``forward``, ``export``."""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
