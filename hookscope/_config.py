"""Server settings: one frozen dataclass, read from flags or ``HOOKSCOPE_*`` variables.

>>> parse_size("10MiB"), parse_size("512k"), parse_size("1000")
(10485760, 512000, 1000)
>>> parse_duration("7d"), parse_duration("90s"), parse_duration("1.5h")
(604800.0, 90.0, 5400.0)
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Settings", "parse_duration", "parse_size"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(text: str | int) -> int:
    """Bytes from ``1048576``, ``"512KB"`` (powers of 1000) or ``"10MiB"`` (of 1024)."""
    if isinstance(text, int):
        return text
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (try 1048576, 512KB or 10MiB)")
    number, prefix, binary = match.groups()
    power = "kmgt".find(prefix.lower()) + 1 if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def parse_duration(text: str | float) -> float:
    """Seconds from ``3600``, ``"90s"``, ``"15m"``, ``"12h"``, ``"7d"`` or ``"2w"``."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (try 3600, 90s, 15m, 12h or 7d)")
    number, unit = match.groups()
    return float(number) * _DURATION_UNITS[(unit or "s").lower()]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; False for ``0.0.0.0`` and real interfaces."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``hookscope serve`` can be told; each field has a ``HOOKSCOPE_*`` variable."""

    host: str = "127.0.0.1"
    port: int = 8080
    backend: str = "memory"
    redis_url: str | None = None
    redis_cluster: bool = False
    workers: int = 1
    public_url: str | None = None
    api_key: str | None = None
    allow_origin: tuple[str, ...] = ()
    max_body: int = 10 * 1024 * 1024
    max_requests: int = 1000
    ttl: float = 7 * 86400.0
    # Not flags: tuning knobs with sensible defaults, settable from the environment.
    watcher_queue: int = 10_000
    lag_grace: float = 10.0
    ping_interval: float = 20.0
    replay_page: int = 500
    expiry_check: float = 30.0
    secret_cache: float = 5.0

    def __post_init__(self) -> None:
        # A list, or one string of origins separated by spaces or commas (the variable).
        origins: Any = self.allow_origin
        object.__setattr__(
            self, "allow_origin", _words(origins) if isinstance(origins, str) else tuple(origins)
        )
        if self.redis_url and self.backend == "memory":
            object.__setattr__(self, "backend", "redis")
        from .backends import backend_names  # the registry; imported late (it imports us)

        if self.backend not in backend_names():
            raise ValueError(
                f"unknown backend {self.backend!r} (expected one of {', '.join(backend_names())})"
            )
        if self.redis_cluster and self.backend != "redis":
            raise ValueError("--redis-cluster needs the redis backend (--redis-url)")
        if self.backend == "redis" and not self.redis_url:
            object.__setattr__(self, "redis_url", "redis://127.0.0.1:6379/0")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.workers > 1 and self.backend == "memory":
            raise ValueError(
                "--workers > 1 needs the redis backend: the memory backend lives inside one "
                "process and cannot be shared. Add --redis-url redis://HOST:6379/0."
            )
        if self.max_body < 0 or self.max_requests < 1 or self.ttl <= 0:
            raise ValueError("--max-body must be >= 0, --max-requests >= 1 and --ttl > 0")
        if self.replay_page < 1 or self.expiry_check <= 0 or self.secret_cache < 0:
            raise ValueError(
                "HOOKSCOPE_REPLAY_PAGE must be >= 1, HOOKSCOPE_EXPIRY_CHECK > 0 and "
                "HOOKSCOPE_SECRET_CACHE >= 0"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``HOOKSCOPE_*`` variables, then ``overrides`` (None values ignored)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for spec in fields(cls):
            raw = environ.get("HOOKSCOPE_" + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _convert(spec.name, raw)
        for name, value in overrides.items():
            if value is not None:
                values[name] = _convert(name, value) if isinstance(value, str) else value
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """``HOOKSCOPE_*`` variables that reproduce these settings (for worker processes)."""
        env = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, tuple):
                value = " ".join(value)
            if value is not None:
                env["HOOKSCOPE_" + spec.name.upper()] = str(value)
        return env

    def replace(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def _convert(name: str, raw: str) -> object:
    if name in ("port", "workers", "max_requests", "watcher_queue", "replay_page"):
        return int(raw)
    if name == "max_body":
        return parse_size(raw)
    if name in ("ttl", "ping_interval", "lag_grace", "expiry_check", "secret_cache"):
        return parse_duration(raw)
    if name == "redis_cluster":
        return _flag(raw)
    if name == "allow_origin":
        return _words(raw)
    return raw


def _words(raw: str) -> tuple[str, ...]:
    return tuple(raw.replace(",", " ").split())


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {raw!r} (try 1 or 0)")
