"""Server settings: one frozen dataclass, read from flags or ``HOOKSCOPE_*`` variables.

>>> parse_size("10MiB"), parse_size("512k"), parse_size("1000")
(10485760, 512000, 1000)
>>> parse_duration("7d"), parse_duration("90s"), parse_duration("1.5h")
(604800.0, 90.0, 5400.0)
>>> parse_rate("50/s:200"), parse_rate("600/m"), parse_rate("off")
(Rate(per_second=50.0, burst=200), Rate(per_second=10.0, burst=600), None)
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["Rate", "Settings", "parse_duration", "parse_rate", "parse_size"]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*(?::\s*(\d+))?\s*$", re.IGNORECASE)
_OFF = frozenset({"off", "none", "0", "no", "false"})


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


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate limit: ``per_second`` on average, up to ``burst`` at once (a token bucket)."""

    per_second: float
    burst: int

    def __post_init__(self) -> None:
        if not self.per_second > 0 or self.burst < 1:
            raise ValueError("a rate needs a positive rate and a burst of at least 1")

    def __str__(self) -> str:
        return f"{self.per_second:g}/s:{self.burst}"


def parse_rate(text: str | Rate | None) -> Rate | None:
    """A ``Rate`` from ``"50/s"`` (burst 50), ``"50/s:200"`` or ``"600/m"``; None for ``off``.

    Without ``:BURST`` the burst is the count given: ``600/m`` allows 600 at once.
    """
    if text is None or isinstance(text, Rate):
        return text
    if text.strip().lower() in _OFF:
        return None
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"not a rate: {text!r} (try 50/s, 50/s:200, 600/m or off)")
    count, unit, burst = match.groups()
    per_second = float(count) / _DURATION_UNITS[unit.lower()]
    if per_second <= 0:
        raise ValueError(f"not a rate: {text!r} (a rate limit must be above 0; or say off)")
    return Rate(per_second, int(burst) if burst else max(1, int(float(count))))


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; False for ``0.0.0.0`` and real interfaces."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


AUTO = "auto"
DEFAULT_RATE = Rate(100.0, 1000)
"""What ``auto`` means off loopback, per bin and per client address."""
_RATES = ("rate_limit", "ip_rate_limit")
_SIZES = (
    "max_body",
    "max_memory",
    "max_header_bytes",
    "max_response_body",
    "watcher_queue_bytes",
    "page_bytes",
    "capture_queue_bytes",
)
_INTS = (
    "port",
    "workers",
    "max_requests",
    "watcher_queue",
    "replay_page",
    "max_bins",
    "max_headers",
    "max_watchers_per_bin",
    "capture_queue",
)
_DURATIONS = (
    "ttl",
    "ping_interval",
    "lag_grace",
    "batch_window",
    "expiry_check",
    "secret_cache",
    "keep_alive",
    "header_timeout",
)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``hookscope serve`` can be told; each field has a ``HOOKSCOPE_*`` variable.

    ``rate_limit`` and ``ip_rate_limit`` left at ``"auto"`` are ``DEFAULT_RATE`` off loopback
    and off on it: every sender of a loopback server is this machine (a developer's load test,
    a notebook, a test suite), which a limit would only get in the way of.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    backend: str = "memory"
    redis_url: str | None = None
    redis_cluster: bool = False
    workers: int = 1
    public_url: str | None = None
    api_key: str | None = None
    allow_origin: tuple[str, ...] = ()
    trust_proxy: tuple[str, ...] = ()
    max_body: int = 10 * 1024 * 1024
    max_requests: int = 1000
    ttl: float = 7 * 86400.0
    # Limits (docs/server.md, "Limits").
    max_bins: int = 10_000
    max_memory: int = 256 * 1024 * 1024
    max_headers: int = 100
    max_header_bytes: int = 32 * 1024
    max_response_body: int = 64 * 1024
    max_connections: int | None = None  # None: three quarters of the descriptor limit
    max_watchers_per_bin: int = 100
    rate_limit: Rate | None = AUTO  # type: ignore[assignment]  # resolved below
    ip_rate_limit: Rate | None = AUTO  # type: ignore[assignment]  # resolved below
    # Not flags: tuning knobs with sensible defaults, settable from the environment.
    watcher_queue: int = 10_000
    watcher_queue_bytes: int = 32 * 1024 * 1024
    page_bytes: int = 4 * 1024 * 1024
    capture_queue: int = 10_000
    capture_queue_bytes: int = 256 * 1024 * 1024
    bodies_in_flight: int | None = None  # None: the larger of 128 MiB and 4 x max_body
    keep_alive: float = 30.0
    header_timeout: float = 10.0
    lag_grace: float = 10.0
    batch_window: float = 0.02
    ping_interval: float = 20.0
    replay_page: int = 500
    expiry_check: float = 30.0
    secret_cache: float = 5.0

    def __post_init__(self) -> None:
        # A list, or one string of origins separated by spaces or commas (the variable).
        for name in ("allow_origin", "trust_proxy"):
            words: Any = getattr(self, name)
            object.__setattr__(
                self, name, _words(words) if isinstance(words, str) else tuple(words)
            )
        for proxy in self.trust_proxy:
            _network(proxy)  # ValueError with a message naming the flag
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
        if not 0 <= self.batch_window <= 1:
            raise ValueError("HOOKSCOPE_BATCH_WINDOW must be from 0 to 1 s")
        for name in _RATES:
            value: Any = getattr(self, name)
            if isinstance(value, str) and value.strip().lower() == AUTO:
                value = None if self.loopback else DEFAULT_RATE
            object.__setattr__(self, name, parse_rate(value))
        self._check_limits()

    def _check_limits(self) -> None:
        if self.max_bins < 0 or self.max_memory < 0:
            raise ValueError("--max-bins and --max-memory must be >= 0 (0: no limit)")
        if self.max_headers < 1 or self.max_header_bytes < 1024:
            raise ValueError("--max-headers must be >= 1 and --max-header-bytes >= 1KiB")
        if self.max_response_body < 0:
            raise ValueError("--max-response-body must be >= 0")
        if self.max_connections is not None and self.max_connections < 1:
            raise ValueError("--max-connections must be at least 1 (or auto)")
        if self.max_watchers_per_bin < 1:
            raise ValueError("--max-watchers-per-bin must be at least 1")
        if min(self.page_bytes, self.watcher_queue_bytes, self.capture_queue_bytes) < 1:
            raise ValueError("HOOKSCOPE_PAGE_BYTES and the queue sizes must be positive")
        if self.bodies_in_flight is not None and self.bodies_in_flight < max(1, self.max_body):
            raise ValueError(
                "HOOKSCOPE_BODIES_IN_FLIGHT must be at least --max-body "
                f"({self.max_body} bytes): a body of that size could never be read"
            )
        if self.capture_queue < 1 or self.keep_alive <= 0 or self.header_timeout <= 0:
            raise ValueError(
                "HOOKSCOPE_CAPTURE_QUEUE must be >= 1; HOOKSCOPE_KEEP_ALIVE and "
                "HOOKSCOPE_HEADER_TIMEOUT must be > 0"
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
            elif spec.name in _RATES and value is None:
                value = "off"  # not "unset": that would be the default
            if value is not None:
                env["HOOKSCOPE_" + spec.name.upper()] = str(value)
        return env

    def replace(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def body_budget(self) -> int:
        """Bytes of request bodies a process holds while it reads and handles them
        (``bodies_in_flight``, or the larger of 128 MiB and four ``max_body``)."""
        if self.bodies_in_flight is not None:
            return self.bodies_in_flight
        return max(128 * 1024 * 1024, 4 * self.max_body)

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def _convert(name: str, raw: str) -> object:
    if name in _INTS:
        return int(raw)
    if name in _SIZES:
        return parse_size(raw)
    if name in _DURATIONS:
        return parse_duration(raw)
    if name == "max_connections":
        return None if raw.strip().lower() == AUTO else int(raw)
    if name == "bodies_in_flight":
        return None if raw.strip().lower() == AUTO else parse_size(raw)
    if name in _RATES and raw.strip().lower() == AUTO:
        return AUTO
    if name in _RATES:
        return parse_rate(raw)
    if name == "redis_cluster":
        return _flag(raw)
    if name in ("allow_origin", "trust_proxy"):
        return _words(raw)
    return raw


def _network(text: str) -> None:
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"--trust-proxy takes an IP address or network (10.0.0.5, 10.0.0.0/8), not {text!r}"
        ) from None


def _words(raw: str) -> tuple[str, ...]:
    return tuple(raw.replace(",", " ").split())


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a yes/no value: {raw!r} (try 1 or 0)")
