"""Storage backends behind one interface (``Backend``): ``memory`` and ``redis``."""

from __future__ import annotations

from .._config import Settings
from .._extras import require
from ._base import Backend, BackendUnavailable, BinRecord, ResponseSpec

__all__ = ["Backend", "BackendUnavailable", "BinRecord", "ResponseSpec", "open_backend"]


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings`` ask for (not started yet)."""
    if settings.backend == "redis":
        require("redis", "the redis backend")
        from .redis import RedisBackend

        assert settings.redis_url is not None
        return RedisBackend(settings.redis_url)
    from .memory import MemoryBackend

    return MemoryBackend()
