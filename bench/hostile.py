"""Hostile load: each attack against a fresh ``hookscope serve`` (a benchmark, not a test).

    python bench/hostile.py                                   # every attack, memory + redis
    python bench/hostile.py --attacks idle,slowloris --backends memory
    python bench/hostile.py --tree /tmp/old --label 60c2556   # older code, same attacks

Loopback only, bounded in time and memory. Each attack gets a fresh server process (its
output counted), a ``/healthz`` prober on fresh connections every 50 ms and a well-behaved
webhook sender (one capture every 100 ms on a keep-alive connection, under every limit),
and reports: server RSS before, peak and after; ``/healthz`` p50 / p99 during the attack;
how long after the attack ends until ``/healthz`` answers normally (within 3x its p99
before the attack, at least 20 ms); log bytes the server wrote; the sender's requests
refused (must be 0).

Attacks (sizes from issue 10):

- bins: 20,000 bin creations (16 connections).
- responses: 20 bins with the largest response body the server takes (a 9 MiB body first;
  if refused, the server's --max-response-body).
- headers: 1,000 captures with the most header bytes the server takes (about 60 KB of short
  headers first; if refused (431), 100 headers of 320 bytes).
- bodies: 1,000 captures of 1 MiB: one emoji then control bytes (4 connections).
- idle: 1,100 idle sockets for 10 s, the server under ``ulimit -n 1024``.
- slowloris: 200 sockets trickling header bytes (one line a second) for 15 s, reconnecting
  whenever the server closes one.
- flood: 10 s of captures as fast as 16 connections from 127.0.0.2 go, over 10 bins, with
  the address limit of an exposed server (``HOOKSCOPE_IP_RATE_LIMIT=100/s:1000``, unknown to
  older code, which ignores it); the sender is 127.0.0.1.

``--rss-cap`` (3 GiB) stops an attack whose server grows past it (older code: 1 MiB of
control bytes cost 26 MiB there); the row then says so. New settings reach the server as
``HOOKSCOPE_*`` variables only, so older code runs with the same command.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _hostile_client import Connection, Prober, Sender, percentile, pool, summary
from _procs import (
    CpuPlan,
    Processes,
    Server,
    cpu_seconds,
    create_bin,
    machine_cpu_seconds,
    rss_bytes,
)

ATTACKS = ("bins", "responses", "headers", "bodies", "idle", "slowloris", "flood")
REDIS_ATTACKS = ("bins", "headers", "flood")  # where the backend changes what is bounded
MiB = 1024 * 1024


@dataclass
class Attack:
    """What one attack needs: the server, and when it stopped (for the recovery time)."""

    server: Server
    port: int
    rss_cap: int
    ended: float = 0.0
    outcome: dict[str, Any] = field(default_factory=dict)

    def over_cap(self) -> bool:
        return rss_bytes(self.server.pid) > self.rss_cap


# -- attacks --------------------------------------------------------------------------------


async def bins(attack: Attack) -> None:
    statuses: dict[int, int] = {}

    async def create(connection: Connection, _job: object) -> None:
        status, _ = await connection.request("POST", "/api/bins")
        statuses[status] = statuses.get(status, 0) + 1

    connections = [Connection("127.0.0.1", attack.port) for _ in range(16)]
    await pool(connections, range(20_000), create)
    attack.outcome = {"statuses": statuses}


async def responses(attack: Attack) -> None:
    connection = Connection("127.0.0.1", attack.port)
    created, refused = 0, {}
    size = 9 * MiB
    for _ in range(20):
        body = json.dumps({"response": {"body": "x" * size}}).encode()
        headers = b"Content-Type: application/json\r\n"
        status, answer = await connection.request("POST", "/api/bins", headers, body)
        if status == 400 and b"response_too_large" in answer and size == 9 * MiB:
            refused[status] = refused.get(status, 0) + 1
            size = 64 * 1024  # the default --max-response-body
            body = json.dumps({"response": {"body": "x" * size}}).encode()
            status, answer = await connection.request("POST", "/api/bins", headers, body)
        created += status == 201
    await connection.close()
    attack.outcome = {"created": created, "body": size, "refused": refused}


def _header_block(count: int, value_size: int) -> bytes:
    return b"".join(b"x-h%05d: %s\r\n" % (n, b"v" * value_size) for n in range(count))


async def headers(attack: Attack) -> None:
    hook, _ = create_bin(attack.server.url)
    big, allowed = _header_block(5000, 3), _header_block(98, 312)  # ~60 KB; 31 KB (+2 own)
    connection = Connection("127.0.0.1", attack.port)
    status, _ = await connection.request("POST", f"/h/{hook}/probe", big, b"{}")
    block = big if status == 200 else allowed
    statuses: dict[int, int] = {}

    async def send(connection: Connection, _job: object) -> None:
        status, _ = await connection.request("POST", f"/h/{hook}/h", block, b"{}")
        statuses[status] = statuses.get(status, 0) + 1

    await pool([Connection("127.0.0.1", attack.port) for _ in range(4)], range(1000), send)
    await connection.close()
    attack.outcome = {"header_bytes": len(block), "first_try": status, "statuses": statuses}


async def bodies(attack: Attack) -> None:
    hook, _ = create_bin(attack.server.url)
    body = "\N{GRINNING FACE}".encode() + b"\x01" * (MiB - 4)
    statuses: dict[int, int] = {}
    stopped = False

    async def send(connection: Connection, job: object) -> None:
        nonlocal stopped
        if stopped or (isinstance(job, int) and job % 20 == 0 and attack.over_cap()):
            stopped = True
            return
        status, _ = await connection.request("POST", f"/h/{hook}/b", b"", body)
        statuses[status] = statuses.get(status, 0) + 1

    await pool([Connection("127.0.0.1", attack.port) for _ in range(4)], range(1000), send)
    attack.outcome = {"statuses": statuses, "stopped_at_rss_cap": stopped}


async def idle(attack: Attack) -> None:
    opened: list[asyncio.StreamWriter] = []

    async def open_one() -> None:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", attack.port), 3)
        except (OSError, TimeoutError):
            return
        opened.append(writer)

    await asyncio.gather(*(open_one() for _ in range(1100)))
    await asyncio.sleep(10)
    for writer in opened:
        writer.close()
    attack.ended = time.monotonic()
    attack.outcome = {"opened": len(opened)}


async def slowloris(attack: Attack) -> None:
    deadline = time.monotonic() + 15
    counts = {"connections": 0, "closed_by_server": 0}

    async def trickle() -> None:
        while time.monotonic() < deadline:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", attack.port)
            except OSError:
                await asyncio.sleep(1)
                continue
            counts["connections"] += 1
            try:
                writer.write(b"POST /h/b_slow/x HTTP/1.1\r\nHost: localhost\r\n")
                n = 0
                while time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    writer.write(b"x-%d: y\r\n" % n)
                    await writer.drain()
                    n += 1
                    if reader.at_eof():
                        raise ConnectionResetError
            except OSError:
                counts["closed_by_server"] += 1
            finally:
                writer.close()

    await asyncio.gather(*(trickle() for _ in range(200)))
    attack.outcome = counts


async def flood(attack: Attack) -> None:
    hooks = [create_bin(attack.server.url)[0] for _ in range(10)]
    deadline = time.monotonic() + 10
    statuses: dict[int, int] = {}

    async def send(connection: Connection, job: object) -> None:
        status, _ = await connection.request("POST", f"/h/{hooks[int(job) % 10]}/f", b"", b"{}")  # type: ignore[call-overload]
        statuses[status] = statuses.get(status, 0) + 1

    def jobs() -> Any:
        n = 0
        while time.monotonic() < deadline:
            yield n
            n += 1

    connections = [Connection("127.0.0.1", attack.port, source="127.0.0.2") for _ in range(16)]
    await pool(connections, jobs(), send)
    attack.outcome = {"statuses": statuses, "rate": round(sum(statuses.values()) / 10)}


RUNS: dict[str, Callable[[Attack], Coroutine[Any, Any, None]]] = {
    "bins": bins,
    "responses": responses,
    "headers": headers,
    "bodies": bodies,
    "idle": idle,
    "slowloris": slowloris,
    "flood": flood,
}


# -- one run --------------------------------------------------------------------------------


def run(procs: Processes, name: str, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    flags = ["--log-level", "info"]
    env: dict[str, str] = {}
    ours: list[int] = []  # the pids whose CPU is not "other load"
    if backend == "redis":
        redis = procs.redis()
        flags += ["--redis-url", redis.url]
        ours.append(redis.pid)
    if name == "flood":
        env["HOOKSCOPE_IP_RATE_LIMIT"] = "100/s:1000"  # as off loopback
    server = procs.hookscope(
        f"{args.label} {backend}",
        *flags,
        tree=args.tree,
        env=env,
        nofile=1024 if name == "idle" else None,
    )
    port = int(server.url.rsplit(":", 1)[1])
    sender_bin, _ = create_bin(server.url)
    prober = Prober(port, server.pid)
    baseline = [prober.probe() for _ in range(20)]
    normal = max(0.02, 3 * percentile(baseline, 0.99))
    rss_before = rss_bytes(server.pid)
    log_before, lines_before = server.log_bytes, len(server.output)
    ours.append(server.pid)
    busy_before, ours_before = machine_cpu_seconds()[0], _cpu_of(ours)
    sender = Sender(port, sender_bin).start()
    prober.start()
    attack = Attack(server, port, args.rss_cap)
    started = time.monotonic()
    asyncio.run(RUNS[name](attack))
    attack.ended = attack.ended or time.monotonic()
    prober.stop()
    recovery = prober.recovery(attack.ended, normal)
    sender.stop()
    during = prober.between(started, attack.ended)
    rss_after = rss_bytes(server.pid)
    result = {
        "attack": name,
        "backend": backend,
        "code": args.label,
        "rss_before_mb": rss_before / MiB,
        "rss_peak_mb": max(prober.peak_rss, rss_after) / MiB,
        "rss_after_mb": rss_after / MiB,
        "healthz_ms": summary(during),
        "healthz_timeouts": sum(latency >= prober.timeout for latency in during),
        "probes": len(during),
        "recovery_s": recovery,
        "log_bytes": server.log_bytes - log_before,
        "log_sample": [line.strip()[:300] for line in server.output[lines_before:][:3]],
        "sender": f"{len(sender.refused)} of {sender.sent}",
        "seconds": round(attack.ended - started, 1),
        "server_cpu_s": round(cpu_seconds(server.pid), 1),
        "other_load": round(
            (machine_cpu_seconds()[0] - busy_before - (_cpu_of(ours) - ours_before))
            / (time.monotonic() - started),
            2,
        ),
        "outcome": attack.outcome,
    }
    procs.stop(server)
    return result


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds of these processes and of this one (the attacker, prober and sender)."""
    return sum(cpu_seconds(pid) for pid in pids) + time.process_time()


def _row(r: dict[str, Any]) -> str:
    recovery = "never (120 s)" if r["recovery_s"] is None else f"{r['recovery_s']:.2f}"
    rss = f"{r['rss_before_mb']:.0f} / {r['rss_peak_mb']:.0f} / {r['rss_after_mb']:.0f}"
    timeouts = (
        f" ({r['healthz_timeouts']} of {r['probes']} timed out)" if r["healthz_timeouts"] else ""
    )
    return (
        f"| {r['attack']} | {r['backend']} | {r['code']} | {rss} | {r['healthz_ms']}{timeouts} "
        f"| {recovery} | {r['log_bytes']:,} | {r['sender']} | {json.dumps(r['outcome'])} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--attacks", default=",".join(ATTACKS))
    parser.add_argument("--backends", default="memory,redis")
    parser.add_argument(
        "--tree", type=Path, default=None, help="source tree to run (default: this)"
    )
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--rss-cap", type=int, default=3 * 1024 * MiB)
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,100 sockets and then some
    plan = CpuPlan.choose(not args.no_pin)
    if plan.client is not None:
        os.sched_setaffinity(0, plan.client)
    attacks = [a for a in args.attacks.split(",") if a]
    backends = [b for b in args.backends.split(",") if b]
    print("hookscope hostile-load benchmark:", " ".join(sys.argv))
    print(
        f"  machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; {plan.describe()}"
    )
    print(
        "| attack | backend | code | RSS MB before / peak / after | /healthz p50 / p99 ms "
        "| recovery s | log bytes | sender refused | outcome |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    results = []
    began = time.monotonic()
    with Processes(plan) as procs:
        for backend in backends:
            for name in attacks:
                if backend == "redis" and name not in REDIS_ATTACKS:
                    continue
                result = run(procs, name, backend, args)
                results.append(result)
                print(_row(result), flush=True)
    loads = [r["other_load"] for r in results]
    if loads:
        print(f"other load during the runs: {min(loads):.2f} to {max(loads):.2f} cores")
    print(f"(took {time.monotonic() - began:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
