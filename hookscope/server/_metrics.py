"""Prometheus metrics of one server process (``GET /metrics``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .._contract import ErrorCode
from ..backends import Usage

if TYPE_CHECKING:
    from ._http import BodyBudget

__all__ = ["Metrics"]

# "_created" series double the output and tell nothing a scrape needs.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    """The counters and gauges hookscope exports, on a registry of its own per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.captures = Counter(
            "hookscope_captures", "Requests captured and stored.", registry=self.registry
        )
        self.capture_bytes = Counter(
            "hookscope_capture_bytes", "Body bytes captured and stored.", registry=self.registry
        )
        self.rejects = Counter(
            "hookscope_rejects",
            "Capture requests refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.watchers = Gauge(
            "hookscope_watchers",
            "Open live streams, by transport.",
            ["transport"],
            registry=self.registry,
        )
        self.lagged = Counter(
            "hookscope_watchers_lagged",
            "Live streams closed because the reader fell behind.",
            registry=self.registry,
        )
        self.backend_errors = Counter(
            "hookscope_backend_errors",
            "Operations that failed because the backend was unreachable.",
            registry=self.registry,
        )
        self.refusals = Counter(
            "hookscope_refusals",
            "Requests, connections and streams (not captures) refused by a limit, by code.",
            ["code"],
            registry=self.registry,
        )
        self.connections = Gauge(
            "hookscope_connections",
            "Open client connections (TCP) of this process.",
            registry=self.registry,
        )
        self.displaced = Counter(
            "hookscope_connections_displaced",
            "Connections waiting for a request, closed to admit a new one (--max-connections).",
            registry=self.registry,
        )
        for reason in (
            "unknown_bin",
            "too_large",
            "unavailable",
            "body_timeout",
            ErrorCode.BIN_RATE_LIMITED,
            ErrorCode.ADDRESS_RATE_LIMITED,
            ErrorCode.TOO_MANY_HEADERS,
            ErrorCode.HEADERS_TOO_LARGE,
            ErrorCode.MEMORY_FULL,
            ErrorCode.CAPTURE_QUEUE_FULL,
            ErrorCode.BODIES_IN_FLIGHT_FULL,
        ):
            self.rejects.labels(reason)
        for code in (
            ErrorCode.TOO_MANY_BINS,
            ErrorCode.TOO_MANY_CONNECTIONS,
            ErrorCode.TOO_MANY_WATCHERS,
            ErrorCode.ADDRESS_RATE_LIMITED,
            ErrorCode.BODIES_IN_FLIGHT_FULL,
        ):
            self.refusals.labels(code)
        for transport in ("ws", "sse", "smee"):
            self.watchers.labels(transport)

    def watch_bodies(self, budget: BodyBudget) -> None:
        """Export the bytes of request bodies held in flight, read at each scrape."""
        held = Gauge(
            "hookscope_bodies_in_flight_bytes",
            "Bytes of request bodies this process holds while reading and handling them.",
            registry=self.registry,
        )
        held.set_function(lambda: budget.used)
        limit = Gauge(
            "hookscope_bodies_in_flight_limit_bytes",
            "The budget for them (HOOKSCOPE_BODIES_IN_FLIGHT).",
            registry=self.registry,
        )
        limit.set(budget.limit)

    def watch_memory(self, usage: Callable[[], Usage | None]) -> None:
        """Export a store's memory budget (``hookscope_memory_*``), read at each scrape."""
        self.registry.register(_MemoryCollector(usage))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _MemoryCollector(Collector):
    def __init__(self, usage: Callable[[], Usage | None]) -> None:
        self._usage = usage

    def collect(self) -> list[GaugeMetricFamily | CounterMetricFamily]:
        usage = self._usage()
        if usage is None:
            return []
        return [
            GaugeMetricFamily(
                "hookscope_memory_used_bytes",
                "Bytes of requests and bins counted against --max-memory.",
                value=usage.used,
            ),
            GaugeMetricFamily(
                "hookscope_memory_limit_bytes",
                "The memory budget (--max-memory; 0: none).",
                value=usage.limit,
            ),
            CounterMetricFamily(
                "hookscope_memory_evictions",
                "Stored requests evicted (oldest first) to stay within --max-memory.",
                value=usage.evicted,
            ),
        ]

    def describe(self) -> list[GaugeMetricFamily | CounterMetricFamily]:
        return []
