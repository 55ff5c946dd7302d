"""Part 3, idle watcher memory: the server's RSS growth per open, idle WebSocket watcher.

Measured between ``warm`` open watchers and ``warm + count`` (not from zero), so that code
paths loaded by the first connection and allocator arenas do not count; the server's RSS
is read from ``/proc/PID/status`` after it settles.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
from dataclasses import dataclass
from typing import Any, Literal

from _procs import Processes, create_bin, rss_bytes
from _report import verdict
from websockets.asyncio.client import ClientConnection, connect

__all__ = ["TARGET_IDLE_BYTES", "IdleResult", "idle", "run_idle"]

TARGET_IDLE_BYTES = 40 * 1024


@dataclass(frozen=True)
class IdleResult:
    count: int
    compression: str
    rss_before: int
    rss_after: int

    @property
    def per_connection(self) -> float:
        return (self.rss_after - self.rss_before) / self.count


async def _open(url: str, compression: Literal["deflate"] | None) -> ClientConnection:
    ws = await connect(url, compression=compression, ping_interval=None, open_timeout=60)
    first = await ws.recv()
    if '"type":"live"' not in str(first):
        raise RuntimeError(f"expected the live frame first, got {str(first)[:200]}")
    return ws


async def _open_many(
    url: str, count: int, compression: Literal["deflate"] | None
) -> list[ClientConnection]:
    opened: list[ClientConnection] = []
    for start in range(0, count, 50):
        batch = range(start, min(count, start + 50))
        opened += await asyncio.gather(*(_open(url, compression) for _ in batch))
    return opened


async def _settled_rss(pid: int) -> int:
    """RSS once it stops moving (hypercorn and Quart finish their per-connection set-up)."""
    await asyncio.sleep(0.5)
    last = rss_bytes(pid)
    for _ in range(20):
        await asyncio.sleep(0.25)
        now = rss_bytes(pid)
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


async def run_idle(
    base_url: str,
    bin_id: str,
    token: str,
    pid: int,
    *,
    count: int,
    warm: int = 100,
    compression: Literal["deflate"] | None = None,
) -> IdleResult:
    url = base_url.replace("http", "ws", 1) + f"/api/bins/{bin_id}/ws?token={token}"
    opened = await _open_many(url, warm, compression)
    try:
        gc.collect()
        before = await _settled_rss(pid)
        opened += await _open_many(url, count, compression)
        after = await _settled_rss(pid)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return IdleResult(count, compression or "none", before, after)


def idle(procs: Processes, args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\n== 3. idle watcher memory: server RSS growth from 100 to {100 + args.idle} open "
        "watchers on one bin (memory backend, a fresh server per client setting)",
        flush=True,
    )
    settings: list[Any] = [None] if args.no_deflate_reference else [None, "deflate"]
    results: list[IdleResult] = []
    for compression in settings:
        server = procs.hookscope("hookscope memory")
        bin_id, token = create_bin(server.url)
        watchers = run_idle(
            server.url, bin_id, token, server.pid, count=args.idle, compression=compression
        )
        result = asyncio.run(watchers)
        procs.stop(server)
        results.append(result)
        print(
            f"  client compression={result.compression:8} RSS {result.rss_before / 2**20:6.1f}"
            f" -> {result.rss_after / 2**20:6.1f} MiB: "
            f"{result.per_connection / 1024:5.1f} KiB per connection",
            flush=True,
        )
    main = verdict(
        "idle watcher memory (client without compression)",
        results[0].per_connection / 1024,
        TARGET_IDLE_BYTES / 1024,
        "KiB",
        "<=",
    )
    rows = [dataclasses.asdict(r) | {"per_connection": r.per_connection} for r in results]
    return {"rows": rows, "verdicts": [main]}
