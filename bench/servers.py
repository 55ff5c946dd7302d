"""Capture throughput with Redis on every core: servers and worker counts, in one run.

    flock /tmp/hookscope-bench.lock python bench/servers.py --baseline /work/old60

Issue 13, target 3: with the Redis backend, capture throughput >= 3x that of one hypercorn
process of commit 60c2556, measured in the same run. The configurations, each a
``hookscope serve --redis-url`` process (and its workers) on one private redis-server:

- ``60c2556 hypercorn x1``: the baseline, from another checkout (``--baseline``);
- ``hypercorn x1``, ``hypercorn x2``: this tree, ``--workers 1`` and ``2``;
- ``uvicorn x1``, ``uvicorn x2``: this tree, ``--server uvicorn``.

Nothing is pinned: the workers, wrk and Redis share every CPU, as they would in production.
wrk (``-c32``, keep-alive, the webhook-like POST of ``_wrk.py``) drives each configuration in
turn; rounds are interleaved in a rotating order and each round's ratio is taken to the
baseline of the same round. Server CPU per request counts the server process and its
workers; "other load" is what the rest of the machine used meanwhile (a run above
``--max-other-load`` is retried, keeping the least disturbed).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _procs import (
    UNLIMITED,
    CpuPlan,
    Processes,
    Redis,
    Server,
    cpu_seconds,
    create_bin,
)
from _report import interleaved_rounds, verdict
from _throughput import wrk_load

TARGET = 3.0


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (its workers), from /proc."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return total


@dataclass(frozen=True)
class Run:
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu: float  # cores
    redis_cpu: float
    other_load: float
    cpu_us_per_request: float
    attempts: int = 1


@dataclass
class Config:
    name: str
    server: Server
    url: str
    runs: list[Run] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


def _run_once(config: Config, redis: Redis, args: argparse.Namespace) -> Run:
    loaded = wrk_load(
        config.name,
        config.url,
        lambda: tree_cpu_seconds(config.server.pid),
        redis.pid,
        connections=args.connections,
        seconds=args.seconds,
        cpus=None,
    )
    return Run(
        rate=loaded.wrk.rate,
        p50_ms=loaded.wrk.p50_ms,
        p99_ms=loaded.wrk.p99_ms,
        server_cpu=loaded.server_cpu,
        redis_cpu=loaded.redis_cpu,
        other_load=loaded.other_load,
        cpu_us_per_request=loaded.server_cpu * loaded.wall / loaded.wrk.requests * 1e6,
    )


def _start(procs: Processes, args: argparse.Namespace, redis: Redis) -> list[Config]:
    flags = ("--redis-url", redis.url)
    plan: list[tuple[str, tuple[str, ...], Path | None]] = []
    if args.baseline:
        plan.append((f"{args.baseline_label} hypercorn x1", flags, args.baseline))
    for server in args.servers.split(","):
        for workers in (int(w) for w in args.workers.split(",")):
            more = (*flags, "--workers", str(workers))
            if server != "hypercorn":
                more += ("--server", server)
            plan.append((f"{server} x{workers}", more, None))
    configs = []
    for name, flags_, tree in plan:
        server = procs.hookscope(name, *flags_, tree=tree, env=UNLIMITED)
        bin_id, _ = create_bin(server.url)
        configs.append(Config(name, server, f"{server.url}/h/{bin_id}"))
    return configs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, help="checkout of the baseline (60c2556)")
    parser.add_argument("--baseline-label", default="60c2556")
    parser.add_argument("--servers", default="hypercorn,uvicorn")
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=6, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs per config")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=2, help="untimed wrk run per config")
    parser.add_argument("--max-other-load", type=float, default=0.3)
    parser.add_argument("--retries", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    with Processes(CpuPlan(None, None)) as procs:
        redis = procs.redis()
        configs = _start(procs, args, redis)
        print(
            f"== capture throughput, Redis backend: wrk -t1 -c{args.connections}, "
            f"{args.seconds:g} s runs, {args.rounds} rounds interleaved in rotating order; "
            "no CPU pinning (2 cores shared by servers, wrk and Redis)",
            flush=True,
        )
        warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
        for config in configs:
            _run_once(config, redis, warm)
        every = interleaved_rounds(
            configs,
            args.rounds,
            lambda config: _run_once(config, redis, args),
            lambda run: (
                f"{run.rate:6.0f} req/s  p50 {run.p50_ms:5.2f} ms  p99 {run.p99_ms:6.2f} ms  "
                f"server CPU {run.server_cpu:4.0%} = {run.cpu_us_per_request:5.1f} us/req  "
                f"redis CPU {run.redis_cpu:4.0%}  other load {run.other_load:4.2f}"
            ),
            args.max_other_load,
            args.retries,
        )
        for runs in every:
            base = runs[configs[0].name]
            for config in configs:
                config.ratios.append(runs[config.name].rate / base.rate)
        rows = [_row(config) for config in configs]
    _print(rows, configs[0].name)
    report: dict[str, Any] = {"args": vars(args), "rows": rows}
    if args.baseline:
        best = max(rows[1:], key=lambda row: row["ratio"])
        found = verdict(f"capture with Redis, {best['config']}", best["ratio"], TARGET, "x", ">=")
        print(f"\n  target: {found['text']} -> {'MET' if found['met'] else 'NOT MET'}")
        report["verdict"] = found
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


def _row(config: Config) -> dict[str, Any]:
    def median(name: str) -> float:
        return statistics.median(getattr(run, name) for run in config.runs)

    return {
        "config": config.name,
        "rate": median("rate"),
        "rates": [run.rate for run in config.runs],
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "ratio": statistics.median(config.ratios),
        "ratios": config.ratios,
        "cpu_us_per_request": median("cpu_us_per_request"),
        "server_cpu": median("server_cpu"),
        "redis_cpu": median("redis_cpu"),
        "other_load": median("other_load"),
        "other_load_max": max(run.other_load for run in config.runs),
    }


def _print(rows: list[dict[str, Any]], baseline: str) -> None:
    print(f"\n  medians over all rounds; ratio: req/s against {baseline} of the same round")
    print(
        f"  {'config':22} {'req/s':>6} {'range':>11} {'p50 ms':>6} {'p99 ms':>6} {'ratio':>5} "
        f"{'ratios per round':>17}  {'us CPU/req':>10} server CPU redis CPU other load"
    )
    for row in rows:
        per_round = " ".join(f"{ratio:.2f}" for ratio in row["ratios"])
        print(
            f"  {row['config']:22} {row['rate']:6.0f} {min(row['rates']):5.0f}-"
            f"{max(row['rates']):<5.0f} {row['p50_ms']:6.2f} {row['p99_ms']:6.2f} "
            f"{row['ratio']:5.2f} {per_round:>17}  {row['cpu_us_per_request']:10.1f} "
            f"{row['server_cpu']:10.0%} {row['redis_cpu']:9.0%} {row['other_load']:10.2f}"
        )


if __name__ == "__main__":
    main()
