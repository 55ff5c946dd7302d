"""Part 2: end-to-end latency with 1 and with many watchers, per backend (see ``_e2e``).

``--loads 100x200,1000x20`` picks watcher counts and rates together (else ``--watchers`` at
``--rate``); ``--baseline TREE`` runs every configuration on that source tree too, right
after this tree's run on the same backend, and reports the ratio of server CPU per delivery
(the older code only knows ``HOOKSCOPE_*`` variables, so everything goes through them).
"""

from __future__ import annotations

import argparse
import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from _e2e import E2EResult, percentile, run_e2e
from _procs import UNLIMITED, Processes, create_bin
from _report import least_disturbed, verdict

__all__ = ["TARGET_MANY_P99_MS", "TARGET_ONE_P99_MS", "end_to_end"]

TARGET_ONE_P99_MS = 5.0
TARGET_MANY_P99_MS = 50.0
TARGET_CPU_RATIO = 0.5  # server CPU per delivery against the baseline tree


def loads(args: argparse.Namespace) -> list[tuple[int, float, bool]]:
    """``(watchers, rate, deflate)``: ``--loads`` (``100x200``, ``100x200+deflate``: watchers
    that offer permessage-deflate), else each of ``--watchers`` at ``--rate``."""
    if args.loads:
        configs = []
        for item in args.loads.lower().split(","):
            load, _, option = item.partition("+")
            count, rate = load.split("x")
            configs.append((int(count), float(rate), option == "deflate"))
        return configs
    return [(int(n), args.rate, False) for n in args.watchers.split(",") if n]


def end_to_end(procs: Processes, args: argparse.Namespace) -> dict[str, Any]:
    configs = loads(args)
    backends = [b for b in args.backends.split(",") if b]
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline:
        trees.append((args.baseline_label, args.baseline))
    rates = ", ".join(
        f"{count} watcher(s) x {rate:g} req/s" + (" (deflate)" if deflate else "")
        for count, rate, deflate in configs
    )
    print(
        f"\n== 2. end-to-end latency (POST sent -> WebSocket message received): {rates}, "
        f"open-loop for {args.e2e_seconds:g} s (+{args.e2e_warmup:g} s warm-up), "
        "every message counted per watcher; "
        f"retried when other processes used > {args.max_other_load:g} core",
        flush=True,
    )
    results: list[tuple[str, str, E2EResult, int]] = []
    for backend in backends:
        redis = procs.redis() if backend == "redis" else None
        for label, tree in trees:
            env = dict(UNLIMITED)
            # One bin, up to 1,000 watchers: fan-out is measured here, not the limits.
            env["HOOKSCOPE_MAX_WATCHERS_PER_BIN"] = "100000"
            if redis:
                env["HOOKSCOPE_REDIS_URL"] = redis.url
            server = procs.hookscope(f"hookscope {backend} ({label})", env=env, tree=tree)
            cpu_of = {"server": server.pid} | ({"redis": redis.pid} if redis else {})
            for count, rate, deflate in configs:
                result, attempts = least_disturbed(
                    partial(_attempt, server.url, cpu_of, count, rate, deflate, args),
                    lambda result: result.other_cpu,
                    args.max_other_load,
                    args.retries,
                )
                results.append((backend, label, result, attempts))
                kind = "+deflate" if deflate else ""
                print(
                    f"  {backend:6} {label:10} {count:4} x {rate:g}/s{kind}: {_line(result)}"
                    + (f"  ({attempts} attempts)" if attempts > 1 else ""),
                    flush=True,
                )
            procs.stop(server)
        if redis:
            procs.stop(redis)
    rows = [_row(backend, label, result, n) for backend, label, result, n in results]
    _print_table(rows)
    verdicts = []
    for row in rows:
        if row["tree"] != "this tree":
            continue
        label = f"e2e {row['backend']}, {row['watchers']} watcher(s) x {row['rate']:g}/s" + (
            " (permessage-deflate)" if row["deflate"] else ""
        )
        if row["watchers"] == 1:
            verdicts.append(verdict(f"{label}, p99", row["p99_ms"], TARGET_ONE_P99_MS, "ms", "<="))
        elif row["watchers"] >= 100:
            verdicts.append(verdict(f"{label}, p99", row["p99_ms"], TARGET_MANY_P99_MS, "ms", "<="))
        closed = f", closed early: {row['closed']}" if row["closed"] else ""
        verdicts.append(
            {
                "what": f"{label}, every message delivered exactly once",
                "value": row["delivered"],
                "target": 1.0,
                "met": row["exactly_once"],
                "text": f"{row['delivered']:.2%} ({row['complete_watchers']}/{row['watchers']} "
                f"watchers complete, {row['missing']} missing, {row['duplicates']} duplicates"
                f"{closed})",
            }
        )
        base = next(
            (
                other
                for other in rows
                if other["tree"] != "this tree"
                and (other["backend"], other["watchers"], other["rate"], other["deflate"])
                == (row["backend"], row["watchers"], row["rate"], row["deflate"])
            ),
            None,
        )
        if base is not None and row["watchers"] > 1:
            ratio = row["server_cpu_us_per_delivery"] / base["server_cpu_us_per_delivery"]
            row["cpu_ratio"] = ratio
            verdicts.append(
                verdict(
                    f"{label}, server CPU per delivery against {base['tree']} "
                    f"({row['server_cpu_us_per_delivery']:.1f} vs "
                    f"{base['server_cpu_us_per_delivery']:.1f} us)",
                    ratio,
                    TARGET_CPU_RATIO,
                    "x",
                    "<=",
                )
            )
    return {"rows": rows, "verdicts": verdicts}


def _attempt(
    url: str,
    cpu_of: dict[str, int],
    count: int,
    rate: float,
    deflate: bool,
    args: argparse.Namespace,
) -> E2EResult:
    bin_id, token = create_bin(url)
    measure = run_e2e(
        url,
        bin_id,
        token,
        watchers=count,
        rate=rate,
        seconds=args.e2e_seconds,
        warmup=args.e2e_warmup,
        cpu_of=cpu_of,
        deflate=deflate,
    )
    return asyncio.run(measure)


def _line(r: E2EResult) -> str:
    return (
        f"p50 {r.p(50):.2f} ms  p99 {r.p(99):.2f} ms  max {r.p(100):.1f} ms  "
        f"delivered {r.delivered_share:.2%}  server CPU {r.server_cpu:.0%}  "
        f"client CPU {r.client_cpu:.0%}  other load {r.other_cpu:.2f}  "
        f"send lag p99 {r.send_lag_ms:.2f} ms"
    )


def _row(backend: str, tree: str, r: E2EResult, attempts: int) -> dict[str, Any]:
    return {
        "backend": backend,
        "tree": tree,
        "watchers": r.watchers,
        "deflate": r.deflate,
        "rate": r.rate,
        "sent": r.sent,
        "measured": r.measured,
        "deliveries_per_s": r.rate * r.watchers,
        "delivered": r.delivered_share,
        "exactly_once": r.missing == 0 and r.duplicates == 0 and r.complete == r.watchers,
        "complete_watchers": r.complete,
        "missing": r.missing,
        "duplicates": r.duplicates,
        "closed": r.closed,
        "p50_ms": r.p(50),
        "p90_ms": r.p(90),
        "p99_ms": r.p(99),
        "max_ms": r.p(100),
        "post_p50_ms": percentile(r.post_ms, 50),
        "post_p99_ms": percentile(r.post_ms, 99),
        "send_lag_p99_ms": r.send_lag_ms,
        "server_cpu": r.server_cpu,
        "server_cpu_us_per_delivery": r.server_cpu / (r.rate * r.watchers) * 1e6,
        "client_cpu": r.client_cpu,
        "redis_cpu": r.redis_cpu,
        "other_load": r.other_cpu,
        "attempts": attempts,
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"\n  {'backend':7} {'tree':10} {'watchers':>8} {'rate':>5} {'sent':>6} {'delivered':>9} {'p50 ms':>6} "
        f"{'p90 ms':>6} {'p99 ms':>6} {'max ms':>6}  POST p50/p99 ms  server CPU "
        "(us/delivery)  client CPU  other load"
    )
    for row in rows:
        print(
            f"  {row['backend']:7} {row['tree']:10} "
            f"{str(row['watchers']) + ('d' if row['deflate'] else ''):>8} {row['rate']:5g} "
            f"{row['sent']:6} {row['delivered']:9.2%} "
            f"{row['p50_ms']:6.2f} {row['p90_ms']:6.2f} {row['p99_ms']:6.2f} "
            f"{row['max_ms']:6.1f}  {row['post_p50_ms']:6.2f} / {row['post_p99_ms']:<6.2f} "
            f"{row['server_cpu']:6.0%} ({row['server_cpu_us_per_delivery']:5.1f} us)"
            f"  {row['client_cpu']:10.0%}  {row['other_load']:10.2f}"
        )
