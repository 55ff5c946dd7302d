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
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

__all__ = ["E2EResult", "percentile", "run_e2e"]

_MARK = re.compile(rb"e2e:(\d+):(\d+)")


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
    deflate: bool = False  # the watchers offered permessage-deflate

    @property
    def delivered_share(self) -> float:
        expected = self.sent * self.watchers
        return (expected - self.missing) / expected if expected else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


class _Watcher(asyncio.Protocol):
    """One watcher: websockets' sans-I/O client protocol driven straight from the socket.

    No task and no queue per message (websockets' asyncio client has both): 1,000 watchers in
    one process receiving 20,000 messages/s would otherwise saturate this process's core and
    measure the client instead of the server. The receive time is taken when the bytes
    arrive. permessage-deflate is offered only when asked for (``deflate``).
    """

    def __init__(self, url: str, total: int, deflate: bool) -> None:
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.protocol = ClientProtocol(parse_uri(url), max_size=None, extensions=extensions)
        self.total = total
        self.first_measured = total  # set by start()
        self.live: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.finished = asyncio.Event()  # everything received, or the stream ended
        self.seen = bytearray(total)
        self.received = 0
        self.latencies: list[int] = []
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None

    def start(self, first_measured: int) -> None:
        self.first_measured = first_measured

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic_ns()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._message(bytes(event.data), now)
                elif event.opcode is Opcode.CLOSE:
                    self.close_code = self.protocol.close_code
                    self.finished.set()
            elif self.protocol.handshake_exc is not None and not self.live.done():
                self.live.set_exception(self.protocol.handshake_exc)
        self._flush()

    def _message(self, payload: bytes, now: int) -> None:
        if not self.live.done():
            if b'"type":"live"' not in payload:
                error = RuntimeError(f"expected the live frame first, got {payload[:200]!r}")
                self.live.set_exception(error)
            else:
                self.live.set_result(None)
            return
        seen = self.seen
        for seq_text, sent_text in _MARK.findall(payload):
            seq = int(seq_text)
            if seen[seq] < 255:
                seen[seq] += 1
            self.received += 1
            if seq >= self.first_measured:
                self.latencies.append(now - int(sent_text))
        if self.received >= self.total:
            self.finished.set()

    def _flush(self) -> None:
        if self.transport is not None:
            for data in self.protocol.data_to_send():
                if data:
                    self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = self.protocol.close_code
        if not self.live.done():
            self.live.set_exception(ConnectionError("closed before the live frame"))
        self.finished.set()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def _open_watcher(url: str, total: int, deflate: bool) -> _Watcher:
    parts = urlsplit(url)
    watcher = _Watcher(url, total, deflate)
    loop = asyncio.get_running_loop()
    await loop.create_connection(lambda: watcher, parts.hostname, parts.port)
    async with asyncio.timeout(30):
        await watcher.live
    return watcher


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
    deflate: bool = False,
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
        opened += await asyncio.gather(*(_open_watcher(ws_url, total, deflate) for _ in batch))
    for w in opened:
        w.start(first_measured)
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
            w.close()
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
        deflate=deflate,
    )
