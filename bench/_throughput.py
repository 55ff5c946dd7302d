"""Part 1: capture throughput of the minimal Quart app, hookscope memory and hookscope redis.

Each configuration runs in its own server process, all on the same CPU; wrk drives them in
turn with the same request, connections and duration. Rounds are interleaved in a rotating
order and each round's ratio is taken to the minimal app of the same round.

Besides requests/s, every run records the server's CPU time per request: on a machine
shared with other work, throughput falls whenever something else takes the server's CPU,
but CPU time per request hardly moves, so its ratio is the steadier estimate of the same
thing (for a CPU-bound server on an idle machine the two ratios are equal).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from _procs import (
    UNLIMITED,
    Processes,
    Redis,
    Server,
    cpu_seconds,
    create_bin,
    machine_cpu_seconds,
)
from _report import interleaved_rounds, verdict
from _wrk import BODY, WrkResult, run_wrk

__all__ = ["TARGET_MEMORY", "TARGET_REDIS", "Loaded", "throughput", "wrk_load"]

TARGET_MEMORY = 0.9
TARGET_REDIS = 0.8


@dataclass(frozen=True)
class Run:
    wrk: WrkResult
    server_cpu: float  # share of one core
    redis_cpu: float
    other_load: float  # cores used by the rest of the machine meanwhile
    attempts: int

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu * self.wrk.seconds / self.wrk.requests * 1e6


@dataclass
class Config:
    name: str
    server: Server
    url: str
    runs: list[Run] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_ratios: list[float] = field(default_factory=list)

    def median(self, figure: Callable[[Run], float]) -> float:
        return statistics.median(figure(run) for run in self.runs)


@dataclass(frozen=True)
class Loaded:
    """One wrk run, with the cores each party used meanwhile."""

    wrk: WrkResult
    server_cpu: float
    redis_cpu: float
    other_load: float  # the rest of the machine
    wall: float  # seconds the run took, wrk's start and end included


def wrk_load(
    name: str,
    url: str,
    server_seconds: Callable[[], float],
    redis_pid: int,
    *,
    connections: int,
    seconds: float,
    cpus: Any,
) -> Loaded:
    """wrk against ``url``; ``server_seconds()``: the server's CPU time so far (its process,
    or its process tree with workers). Raises when any answer was not 2xx."""
    server_before, redis_before = server_seconds(), cpu_seconds(redis_pid)
    busy_before, _ = machine_cpu_seconds()
    self_before, wall_before = time.process_time(), time.monotonic()
    result = run_wrk(url, connections=connections, seconds=seconds, cpus=cpus)
    wall = time.monotonic() - wall_before
    if result.non_2xx or result.socket_errors:
        raise RuntimeError(
            f"{name}: {result.non_2xx} non-2xx answers, {result.socket_errors} socket errors"
        )
    server = server_seconds() - server_before
    redis_used = cpu_seconds(redis_pid) - redis_before
    ours = server + redis_used + result.wrk_cpu_s + time.process_time() - self_before
    busy = machine_cpu_seconds()[0] - busy_before
    return Loaded(result, server / wall, redis_used / wall, max(0.0, busy - ours) / wall, wall)


def _run_once(config: Config, redis: Redis, procs: Processes, args: argparse.Namespace) -> Run:
    loaded = wrk_load(
        config.name,
        config.url,
        lambda: cpu_seconds(config.server.pid),
        redis.pid,
        connections=args.connections,
        seconds=args.seconds,
        cpus=procs.plan.client,
    )
    return Run(
        wrk=loaded.wrk,
        server_cpu=loaded.server_cpu,
        redis_cpu=loaded.redis_cpu,
        other_load=loaded.other_load,
        attempts=1,
    )


def throughput(procs: Processes, args: argparse.Namespace) -> dict[str, Any]:
    redis = procs.redis()
    minimal = procs.minimal()
    # wrk sends thousands a second to one bin: the rate limits (bench/hostile.py) are off here.
    memory = procs.hookscope("hookscope memory", env=UNLIMITED)
    redis_server = procs.hookscope("hookscope redis", "--redis-url", redis.url, env=UNLIMITED)
    configs = [Config("minimal Quart app", minimal, minimal.url + "/h/ceiling")]
    for name, server in (("hookscope memory", memory), ("hookscope redis", redis_server)):
        bin_id, _ = create_bin(server.url)
        configs.append(Config(name, server, f"{server.url}/h/{bin_id}"))
    print(
        f"\n== 1. capture throughput: wrk -t1 -c{args.connections}, {args.seconds:g} s runs, "
        f"{args.rounds} rounds interleaved in rotating order, {len(BODY)}-byte JSON POST; a run "
        f"during which other processes used > {args.max_other_load:g} core is retried "
        f"(up to {args.retries} times, keeping the least disturbed)",
        flush=True,
    )
    warm = argparse.Namespace(**{**vars(args), "seconds": args.warmup})
    for config in configs:
        _run_once(config, redis, procs, warm)
    quiet_rounds: list[int] = []  # rounds in which no run was disturbed
    every = interleaved_rounds(
        configs,
        args.rounds,
        lambda config: _run_once(config, redis, procs, args),
        lambda run: (
            f"{run.wrk.rate:6.0f} req/s  p50 {run.wrk.p50_ms:5.2f} ms  "
            f"p99 {run.wrk.p99_ms:6.2f} ms  server CPU {run.server_cpu:4.0%} = "
            f"{run.cpu_us_per_request:5.1f} us/req  other load {run.other_load:4.2f}"
        ),
        args.max_other_load,
        args.retries,
    )
    for round_index, runs in enumerate(every):
        base = runs[configs[0].name]
        if all(run.other_load <= args.max_other_load for run in runs.values()):
            quiet_rounds.append(round_index)
        for config in configs:
            run = runs[config.name]
            config.ratios.append(run.wrk.rate / base.wrk.rate)
            config.cpu_ratios.append(base.cpu_us_per_request / run.cpu_us_per_request)
    rows = [_row(config, quiet_rounds) for config in configs]
    _print_table(rows)
    verdicts = []
    for row, target in ((rows[1], TARGET_MEMORY), (rows[2], TARGET_REDIS)):
        found = verdict(f"capture, {row['config']}", row["ratio"], target, "x", ">=")
        found["text"] += f"; CPU-time ratio {row['cpu_ratio']:.2f}"
        verdicts.append(found)
    for server in (minimal, memory, redis_server):
        procs.stop(server)
    procs.stop(redis)
    return {"rows": rows, "verdicts": verdicts}


def _row(config: Config, quiet_rounds: list[int]) -> dict[str, Any]:
    """Medians over the rounds in which nothing else took a core, or over all if none was."""
    chosen = quiet_rounds or list(range(len(config.runs)))
    rates = [config.runs[index].wrk.rate for index in chosen]
    return {
        "config": config.name,
        "quiet_rounds": [index + 1 for index in quiet_rounds],
        "rate": statistics.median(rates),
        "rates": [run.wrk.rate for run in config.runs],
        "p50_ms": statistics.median(config.runs[index].wrk.p50_ms for index in chosen),
        "p90_ms": statistics.median(config.runs[index].wrk.p90_ms for index in chosen),
        "p99_ms": statistics.median(config.runs[index].wrk.p99_ms for index in chosen),
        "ratio": statistics.median(config.ratios[index] for index in chosen),
        "ratios": config.ratios,
        "cpu_us_per_request": config.median(lambda run: run.cpu_us_per_request),
        "cpu_ratio": statistics.median(config.cpu_ratios),
        "cpu_ratios": config.cpu_ratios,
        "server_cpu": config.median(lambda run: run.server_cpu),
        "wrk_cpu": statistics.median(run.wrk.wrk_cpu_share for run in config.runs),
        "redis_cpu": (
            config.median(lambda run: run.redis_cpu) if config.name.endswith("redis") else None
        ),
        "other_load": config.median(lambda run: run.other_load),
        "other_load_max": max(run.other_load for run in config.runs),
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    quiet = rows[0]["quiet_rounds"]
    print(
        f"\n  req/s, p50, p99 and ratio: medians over the quiet rounds {quiet} (no run with other "
        "load over the limit)"
        if quiet
        else "\n  req/s, p50, p99 and ratio: medians over ALL rounds (none was quiet: read the "
        "CPU ratio, which other load hardly moves)"
    )
    print("  us CPU/req and CPU ratio: medians over all rounds (server CPU time per request)")
    print(
        f"\n  {'config':18} {'req/s':>6} {'range':>11} {'p50 ms':>6} {'p99 ms':>6} "
        f"{'ratio':>5} {'ratios per round':>25}  {'us CPU/req':>10} {'CPU ratio':>9}  "
        "server CPU  wrk CPU  redis CPU  other load"
    )
    for row in rows:
        per_round = " ".join(f"{ratio:.2f}" for ratio in row["ratios"])
        redis_cpu = f"{row['redis_cpu']:9.0%}" if row["redis_cpu"] is not None else "        -"
        print(
            f"  {row['config']:18} {row['rate']:6.0f} {min(row['rates']):5.0f}-"
            f"{max(row['rates']):<5.0f} {row['p50_ms']:6.2f} {row['p99_ms']:6.2f} "
            f"{row['ratio']:5.2f} {per_round:>25}  {row['cpu_us_per_request']:10.1f} "
            f"{row['cpu_ratio']:9.2f}  {row['server_cpu']:10.0%} {row['wrk_cpu']:8.0%} "
            f"{redis_cpu}  {row['other_load']:10.2f}"
        )
