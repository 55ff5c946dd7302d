"""What a running app holds: its settings, backend, hub and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from .._config import Settings
from ..backends._base import Backend
from ._hub import Hub
from ._metrics import Metrics

__all__ = ["AppState", "state"]


@dataclass(slots=True)
class AppState:
    settings: Settings
    backend: Backend
    hub: Hub
    metrics: Metrics


def state() -> AppState:
    """The state of the app handling the current request."""
    found: AppState = current_app.extensions["hookscope"]
    return found
