"""The attacker's and the bystanders' tools: a raw keep-alive HTTP/1.1 client (asyncio), a
``/healthz`` prober and a well-behaved webhook sender (threads), all on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from _procs import rss_bytes

__all__ = ["Connection", "Prober", "Sender", "percentile", "pool"]


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it."""

    def __init__(self, host: str, port: int, source: str | None = None) -> None:
        self.host, self.port, self.source = host, port, source
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            local = (self.source, 0) if self.source else None
            self._reader, self._writer = await asyncio.open_connection(
                self.host, self.port, local_addr=local
            )
        return self._reader, self._writer

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(
        self, method: str, target: str, headers: bytes = b"", body: bytes = b""
    ) -> tuple[int, bytes]:
        """``(status, body)``; status 0 when the connection failed (it is reopened next time)."""
        try:
            reader, writer = await self._open()
            head = (
                f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n"
            ).encode()
            writer.write(head + headers + b"\r\n" + body)
            await writer.drain()
            status = int((await reader.readline()).split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"connection" and b"close" in value.lower():
                    close = True
            data = await reader.readexactly(length) if length else b""
        except (OSError, IndexError, ValueError, asyncio.IncompleteReadError):
            await self.close()
            return 0, b""
        if close:
            await self.close()
        return status, data


async def pool(
    connections: list[Connection],
    jobs: Iterable[object],
    run: Callable[[Connection, object], Awaitable[None]],
) -> None:
    """Run ``run(connection, job)`` for every job, one job at a time per connection."""
    iterator = iter(jobs)

    async def worker(connection: Connection) -> None:
        for job in iterator:
            await run(connection, job)
        await connection.close()

    await asyncio.gather(*(worker(c) for c in connections))


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Prober:
    """``GET /healthz`` on a fresh connection every ``interval`` (what a load balancer does);
    a probe that takes over ``timeout`` counts as ``timeout``. Also samples the server's RSS."""

    port: int
    pid: int
    interval: float = 0.05
    timeout: float = 2.0
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds)
    peak_rss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def probe(self) -> float:
        """One probe's latency in seconds (``timeout`` when it failed or took longer)."""
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout) as sock:
                sock.settimeout(self.timeout)
                sock.sendall(
                    b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                )
                answer = b""
                while chunk := sock.recv(4096):
                    answer += chunk
            if not answer.startswith(b"HTTP/1.1 200"):
                return self.timeout
        except OSError:
            return self.timeout
        return min(self.timeout, time.monotonic() - started)

    def start(self) -> Prober:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.latencies.append((time.monotonic(), self.probe()))
                with contextlib.suppress(OSError, RuntimeError):
                    self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))

        self._thread = threading.Thread(target=loop, daemon=True, name="prober")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def between(self, start: float, end: float) -> list[float]:
        return [latency for at, latency in self.latencies if start <= at <= end]

    def recovery(self, since: float, normal: float, give_up: float = 120.0) -> float | None:
        """Seconds from ``since`` until a probe answers within ``normal`` (None: not within
        ``give_up``)."""
        deadline = since + give_up
        while time.monotonic() < deadline:
            latency = self.probe()
            if latency <= normal:
                return time.monotonic() - since
            time.sleep(0.02)
        return None


@dataclass
class Sender:
    """A well-behaved webhook sender: one capture every ``interval`` on one keep-alive
    connection, far under every limit. Every answer but 2xx is a wrongly refused request."""

    port: int
    bin_id: str
    interval: float = 0.1
    sent: int = 0
    refused: list[int] = field(default_factory=list)  # statuses; 0: the connection failed
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sender:
        def run() -> None:
            asyncio.run(self._run())

        self._thread = threading.Thread(target=run, daemon=True, name="sender")
        self._thread.start()
        return self

    async def _run(self) -> None:
        connection = Connection("127.0.0.1", self.port)
        body = json.dumps({"event": "invoice.paid", "amount": 4200}).encode()
        headers = b"Content-Type: application/json\r\n"
        while not self._stop.is_set():
            status, _ = await connection.request("POST", f"/h/{self.bin_id}/ok", headers, body)
            self.sent += 1
            if not 200 <= status < 300:
                self.refused.append(status)
            await asyncio.sleep(self.interval)
        await connection.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "-"
    return f"{statistics.median(latencies) * 1000:.1f} / {percentile(latencies, 0.99) * 1000:.0f}"
