"""Part 3, idle watcher memory: the server's RSS growth per open, idle WebSocket watcher.

Measured between ``warm`` open watchers and ``warm + count`` (not from zero), so that code
paths loaded by the first connection and allocator arenas do not count; the server's RSS
is read from ``/proc/PID/status`` after it settles. The same is measured for a bare Quart
WebSocket route (``_minimal_app.py --websocket``): what the stack itself costs.

``TARGET_IDLE_BYTES`` reads the issue's "40 KB" as 40 KiB.
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
    server: str
    compression: str
    count: int
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
    url: str,
    pid: int,
    *,
    count: int,
    warm: int = 100,
    compression: Literal["deflate"] | None = None,
) -> tuple[int, int]:
    """RSS of ``pid`` with ``warm`` and with ``warm + count`` idle watchers open on ``url``."""
    opened = await _open_many(url, warm, compression)
    try:
        gc.collect()
        before = await _settled_rss(pid)
        opened += await _open_many(url, count, compression)
        after = await _settled_rss(pid)
    finally:
        await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return before, after


def idle(procs: Processes, args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"\n== 3. idle watcher memory: server RSS growth from 100 to {100 + args.idle} open "
        "watchers on one bin, a fresh server each; the floor is a bare Quart WebSocket route "
        "(accept, send one frame, wait) on the same hypercorn config",
        flush=True,
    )
    cases: list[tuple[str, Literal["deflate"] | None]] = [
        ("minimal Quart websocket", None),
        ("hookscope memory", None),
    ]
    if not args.no_deflate_reference:
        cases.append(("hookscope memory", "deflate"))
    results: list[IdleResult] = []
    for name, compression in cases:
        if name.startswith("minimal"):
            server = procs.minimal_websocket()
            url = server.url.replace("http", "ws", 1) + "/ws"
        else:
            # All watchers on one bin: past --max-watchers-per-bin (100) since round 1's limits.
            server = procs.hookscope(name, env={"HOOKSCOPE_MAX_WATCHERS_PER_BIN": "100000"})
            bin_id, token = create_bin(server.url)
            url = server.url.replace("http", "ws", 1) + f"/api/bins/{bin_id}/ws?token={token}"
        before, after = asyncio.run(
            run_idle(url, server.pid, count=args.idle, compression=compression)
        )
        procs.stop(server)
        result = IdleResult(name, compression or "none", args.idle, before, after)
        results.append(result)
        print(
            f"  {name:24} client compression={result.compression:8} RSS "
            f"{before / 2**20:6.1f} -> {after / 2**20:6.1f} MiB: "
            f"{result.per_connection / 1024:5.1f} KiB per connection",
            flush=True,
        )
    main = verdict(
        "idle watcher memory (hookscope, client without compression)",
        results[1].per_connection / 1024,
        TARGET_IDLE_BYTES / 1024,
        "KiB",
        "<=",
    )
    main["text"] += (
        f"; {results[1].per_connection:,.0f} bytes; bare Quart websocket "
        f"{results[0].per_connection / 1024:.1f} KiB"
    )
    rows = [dataclasses.asdict(r) | {"per_connection": r.per_connection} for r in results]
    return {"rows": rows, "verdicts": [main]}
