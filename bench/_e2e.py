"""End-to-end latency: POST sent → WebSocket message received, at a fixed request rate.

One asyncio process holds the sender and every watcher, so send and receive times come
from one clock (``time.monotonic_ns``). Each POST body is ``e2e:<seq>:<send time ns>``;
every watcher counts every ``seq`` it receives, so delivery is checked per watcher
(exactly once: no loss, no duplicate).

The sender is open-loop: request ``seq`` is due at ``start + seq / rate`` whatever happened
to earlier ones, each on a free keep-alive connection (a new one when all are busy), so
a slow server shows up as latency instead of silently lowering the rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from _procs import cpu_seconds, machine_cpu_seconds
from websockets.asyncio.client import ClientConnection, connect

__all__ = ["E2EResult", "percentile", "run_e2e"]

_MARK = re.compile(r"e2e:(\d+):(\d+)")


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of already sorted values, nearest rank."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass
class E2EResult:
    watchers: int
    rate: float
    sent: int
    measured: int  # requests after the warm-up, whose latencies count
    post_ok: int
    latencies_ms: list[float]  # one per (watcher, measured request) received
    post_ms: list[float]  # POST round trips, measured requests only
    complete: int  # watchers that received every request exactly once
    missing: int  # (watcher, request) pairs never received
    duplicates: int
    closed: dict[str, int] = field(default_factory=dict)  # close code -> watchers
    send_lag_ms: float = 0.0  # p99 of (actual send - scheduled send)
    client_cpu: float = 0.0  # share of one core used by this process during the run
    server_cpu: float = 0.0
    redis_cpu: float | None = None
    other_cpu: float = 0.0  # CPU the rest of the machine used meanwhile (shared machine)

    @property
    def delivered_share(self) -> float:
        expected = self.sent * self.watchers
        return (expected - self.missing) / expected if expected else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


class _Watcher:
    __slots__ = ("close_code", "finished", "latencies", "received", "seen", "total", "ws")

    def __init__(self, ws: ClientConnection, total: int) -> None:
        self.ws = ws
        self.total = total
        self.finished = asyncio.Event()  # everything received, or the stream ended
        self.seen = bytearray(total)
        self.received = 0
        self.latencies: list[int] = []
        self.close_code: int | None = None

    async def run(self, first_measured: int) -> None:
        seen = self.seen
        latencies = self.latencies
        try:
            async for message in self.ws:
                now = time.monotonic_ns()
                for seq_text, sent_text in _MARK.findall(str(message)):
                    seq = int(seq_text)
                    if seen[seq] < 255:
                        seen[seq] += 1
                    self.received += 1
                    if seq >= first_measured:
                        latencies.append(now - int(sent_text))
                if self.received >= self.total:
                    self.finished.set()
        finally:
            self.close_code = self.ws.close_code
            self.finished.set()


async def _open_watcher(url: str, total: int) -> _Watcher:
    ws = await connect(url, compression=None, max_size=None, ping_interval=None, open_timeout=30)
    first = await ws.recv()
    if '"type":"live"' not in str(first):
        raise RuntimeError(f"expected the live frame first, got {str(first)[:200]}")
    return _Watcher(ws, total)


class _Sender:
    """Open-loop POSTs over a pool of raw keep-alive HTTP/1.1 connections."""

    def __init__(self, capture_url: str) -> None:
        parts = urlsplit(capture_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Content-Type: text/plain\r\nContent-Length: "
        ).encode()
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.all: list[asyncio.StreamWriter] = []
        self.ok = 0
        self.failures: list[str] = []
        self.post_ns: list[int] = []
        self.lag_ns: list[int] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.idle:
            return self.idle.pop()
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self.all.append(writer)
        return reader, writer

    async def _post(self, seq: int, measured: bool) -> None:
        reader, writer = await self._connection()
        sent = time.monotonic_ns()
        body = f"e2e:{seq}:{sent}".encode()
        writer.write(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await reader.readuntil(b"\r\n\r\n")
        length, keep_alive = 0, True
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False  # hypercorn closes after keep_alive_max_requests (1000)
        await reader.readexactly(length)
        if measured:
            self.post_ns.append(time.monotonic_ns() - sent)
        status = head.split(b" ", 2)[1]
        if status == b"200":
            self.ok += 1
        else:
            self.failures.append(head.decode("latin-1").splitlines()[0])
        if keep_alive:
            self.idle.append((reader, writer))
        else:
            writer.close()

    async def run(self, total: int, rate: float, first_measured: int) -> None:
        # Connections up front, so that opening them is not part of the first latencies.
        for _ in range(4):
            self.idle.append(await self._connection())
        tasks: list[asyncio.Task[None]] = []
        start = time.monotonic() + 0.05
        for seq in range(total):
            due = start + seq / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.lag_ns.append(int((time.monotonic() - due) * 1e9))
            tasks.append(asyncio.create_task(self._post(seq, seq >= first_measured)))
        await asyncio.gather(*tasks)  # a POST that failed raises here

    async def close(self) -> None:
        for writer in self.all:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def run_e2e(
    base_url: str,
    bin_id: str,
    token: str,
    *,
    watchers: int,
    rate: float,
    seconds: float,
    warmup: float,
    cpu_of: dict[str, int],
    drain_timeout: float = 15.0,
) -> E2EResult:
    """Open ``watchers`` on one bin, POST at ``rate`` for ``warmup + seconds``, and measure.

    ``cpu_of`` names the pids whose CPU share to report (``server``, optionally ``redis``).
    """
    ws_url = base_url.replace("http", "ws", 1) + f"/api/bins/{bin_id}/ws?token={token}"
    first_measured = round(warmup * rate)
    total = first_measured + round(seconds * rate)
    opened: list[_Watcher] = []
    for start in range(0, watchers, 25):
        batch = range(start, min(watchers, start + 25))
        opened += await asyncio.gather(*(_open_watcher(ws_url, total) for _ in batch))
    tasks = [asyncio.create_task(w.run(first_measured)) for w in opened]
    sender = _Sender(f"{base_url}/h/{bin_id}")
    cpu_before = {name: cpu_seconds(pid) for name, pid in cpu_of.items()}
    client_before = time.process_time()
    busy_before = machine_cpu_seconds()[0]
    wall_before = time.monotonic()
    try:
        await sender.run(total, rate, first_measured)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_timeout):
                await asyncio.gather(*(w.finished.wait() for w in opened))
        wall = time.monotonic() - wall_before
        client_cpu = (time.process_time() - client_before) / wall
        cpu = {name: (cpu_seconds(pid) - cpu_before[name]) / wall for name, pid in cpu_of.items()}
        busy = (machine_cpu_seconds()[0] - busy_before) / wall
        other_cpu = max(0.0, busy - client_cpu - sum(cpu.values()))
    finally:
        for w in opened:
            await w.ws.close()
        await asyncio.gather(*tasks, return_exceptions=True)
        await sender.close()
    if sender.failures:
        raise RuntimeError(f"{len(sender.failures)} POSTs failed, e.g. {sender.failures[0]}")
    latencies = sorted(ns / 1e6 for w in opened for ns in w.latencies)
    missing = sum(w.seen.count(0) for w in opened)
    duplicates = sum(sum(count - 1 for count in w.seen if count > 1) for w in opened)
    complete = sum(1 for w in opened if w.seen.count(1) == total)
    closed: dict[str, int] = {}
    for w in opened:
        if w.received < total and w.close_code is not None:
            closed[str(w.close_code)] = closed.get(str(w.close_code), 0) + 1
    lags = sorted(ns / 1e6 for ns in sender.lag_ns)
    return E2EResult(
        watchers=watchers,
        rate=rate,
        sent=total,
        measured=total - first_measured,
        post_ok=sender.ok,
        latencies_ms=latencies,
        post_ms=sorted(ns / 1e6 for ns in sender.post_ns),
        complete=complete,
        missing=missing,
        duplicates=duplicates,
        closed=closed,
        send_lag_ms=percentile(lags, 99),
        client_cpu=client_cpu,
        server_cpu=cpu["server"],
        redis_cpu=cpu.get("redis"),
        other_cpu=other_cpu,
    )
