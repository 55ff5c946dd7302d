"""Storage backends: a ``Store`` and a ``Feed`` each, found by name in one registry.

    backend = open_backend(settings)        # settings.backend names it: "memory", "redis"
    await backend.start(hub.on_event)       # the feed's events go to the callback
    await backend.store.append(bin_id, payload)

A backend is one module with a factory ``(Settings) -> Backend``, registered here by name
(``register_backend`` does the same from outside the package). The server imports this
package only, never a backend module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._interfaces import Backend, Bins, Cursors, Feed, RequestLog, Store
from ._types import (
    Appended,
    BackendUnavailable,
    BinDeleted,
    BinRecord,
    BinSummary,
    Captured,
    FeedEvent,
    FeedLost,
    LimitReached,
    Page,
    QueueFull,
    RateLimited,
    ResponseSpec,
    StorageFull,
    Stored,
    Usage,
)

if TYPE_CHECKING:
    from .._config import Settings

__all__ = [
    "Appended",
    "Backend",
    "BackendFactory",
    "BackendUnavailable",
    "BinDeleted",
    "BinRecord",
    "BinSummary",
    "Bins",
    "Captured",
    "Cursors",
    "Feed",
    "FeedEvent",
    "FeedLost",
    "LimitReached",
    "Page",
    "QueueFull",
    "RateLimited",
    "RequestLog",
    "ResponseSpec",
    "StorageFull",
    "Store",
    "Stored",
    "Usage",
    "backend_names",
    "open_backend",
    "register_backend",
]

BackendFactory = Callable[["Settings"], Backend]
"""Builds a backend (not started yet) from the server's settings."""

# Factories by name; a string is "module:function", imported on first use so that
# ``import hookscope.backends`` needs no optional package.
_REGISTRY: dict[str, str | BackendFactory] = {
    "memory": "hookscope.backends.memory:open_memory",
    "redis": "hookscope.backends.redis:open_redis",
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``--backend NAME`` build its backend with ``factory``."""
    _REGISTRY[name] = factory


def backend_names() -> list[str]:
    """The names ``--backend`` accepts."""
    return sorted(_REGISTRY)


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings.backend`` names, built but not started."""
    try:
        factory = _REGISTRY[settings.backend]
    except KeyError:
        raise ValueError(
            f"unknown backend {settings.backend!r} (expected one of {', '.join(backend_names())})"
        ) from None
    if isinstance(factory, str):
        module, _, function = factory.partition(":")
        factory = getattr(importlib.import_module(module), function)
        _REGISTRY[settings.backend] = factory
    return factory(settings)
