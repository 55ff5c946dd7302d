"""The hookscope server: a Quart app (``create_app``) run on hypercorn."""

from __future__ import annotations

from ._app import close_streams, create_app

__all__ = ["close_streams", "create_app"]
