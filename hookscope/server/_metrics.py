"""Prometheus metrics of one server process (``GET /metrics``)."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)

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
        for reason in ("unknown_bin", "too_large", "unavailable", "body_timeout"):
            self.rejects.labels(reason)
        for transport in ("ws", "sse", "smee"):
            self.watchers.labels(transport)

    def render(self) -> bytes:
        return generate_latest(self.registry)
