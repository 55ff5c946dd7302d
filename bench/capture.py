"""Capture throughput, end-to-end latency and idle watcher memory (a benchmark, not a test).

    python bench/capture.py                              # everything, ~4 minutes
    python bench/capture.py --parts throughput --rounds 5 --seconds 8
    python bench/capture.py --parts e2e --rate 200 --e2e-seconds 20 --backends memory
    python bench/capture.py --parts idle --idle 2000

Starts everything itself, each server in its own process, and stops it all at the end:

1. throughput: requests/s and p50/p99 latency from ``wrk`` (same POST, connections and
   duration) against a minimal Quart app on hookscope's hypercorn config (the ceiling of the
   stack), hookscope with the memory backend and hookscope with the redis backend (a private
   redis-server). Configurations are interleaved round by round, in a rotating order, and
   each round's ratio is taken to the minimal app of the same round, to cancel drift on a
   shared machine. Targets: memory >= 0.9x, redis >= 0.8x.
2. e2e: POST sent -> WebSocket message received, at a fixed rate, with 1 and with 100
   watchers on one bin, every message counted per watcher. Targets: 1 watcher p99 <= 5 ms;
   100 watchers p99 <= 50 ms with 100% delivered.
3. idle: server RSS growth per idle WebSocket watcher (client without compression; the cost
   with permessage-deflate offered is shown for reference). Target <= 40 KB.

On a machine with two or more CPUs the server under test gets the first CPU to itself and
everything else (wrk, the watchers, redis-server, this script) the others (``--no-pin``: no
pinning). Every run also records how much CPU the rest of the machine used meanwhile ("other
load", in cores); on a shared machine a run with more than ``--max-other-load`` is retried
(``--retries``) and the least disturbed attempt kept. Throughput runs also report the
server's CPU time per request, whose ratio hardly moves with other load. Add ``--json FILE``
to keep every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _idle import idle
from _latency import end_to_end
from _procs import ROOT, CpuPlan, Processes
from _throughput import throughput

PARTS = ("throughput", "e2e", "idle")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--parts", default=",".join(PARTS), help="comma-separated: throughput,e2e,idle"
    )
    group = parser.add_argument_group("throughput")
    group.add_argument("--seconds", type=float, default=6, help="length of one wrk run")
    group.add_argument("--rounds", type=int, default=5, help="interleaved runs per config")
    group.add_argument("--connections", type=int, default=32, help="wrk keep-alive connections")
    group.add_argument("--warmup", type=float, default=2, help="untimed wrk run per config")
    group = parser.add_argument_group("end-to-end latency")
    group.add_argument("--rate", type=float, default=200, help="POSTs per second")
    group.add_argument("--e2e-seconds", type=float, default=15, help="measured time per run")
    group.add_argument("--e2e-warmup", type=float, default=1, help="unmeasured lead-in")
    group.add_argument("--watchers", default="1,100", help="comma-separated watcher counts")
    group.add_argument("--backends", default="memory,redis", help="backends for e2e")
    group.add_argument(
        "--loads",
        help="comma-separated WATCHERSxRATE pairs (e.g. 100x200,1000x20): overrides "
        "--watchers and --rate",
    )
    group.add_argument(
        "--baseline",
        type=Path,
        help="another source tree (e.g. a checkout of 60c2556) to run "
        "the same e2e configurations on, for the CPU-per-delivery ratio",
    )
    group.add_argument("--baseline-label", default="baseline", help="its name in the report")
    group = parser.add_argument_group("idle watcher memory")
    group.add_argument("--idle", type=int, default=1000, help="idle watchers to open")
    group.add_argument(
        "--no-deflate-reference", action="store_true", help="skip the permessage-deflate run"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument(
        "--max-other-load",
        type=float,
        default=0.25,
        help="retry a run during which other processes used more than this many cores",
    )
    parser.add_argument("--retries", type=int, default=1, help="retries of a disturbed run")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    return parser


# -- machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _redis_version() -> str:
    try:
        output = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "not installed"
    return next((w[2:] for w in output.split() if w.startswith("v=")), output.strip())


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "hookscope"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (+ uncommitted changes in hookscope/)" if dirty else "")


def machine() -> dict[str, Any]:
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "hookscope": _git_revision(),
        "quart": version("quart"),
        "hypercorn": version("hypercorn"),
        "websockets": version("websockets"),
        "redis-py": version("redis"),
        "redis-server": _redis_version(),
        "wrk": wrk.split()[1] if wrk.split()[1:] else "unknown",
    }


# -- report ---------------------------------------------------------------------------------


def main() -> None:
    args = _parser().parse_args()
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s): {', '.join(sorted(unknown))}; pick from {PARTS}")
    plan = CpuPlan.choose(not args.no_pin)
    if plan.client is not None:
        os.sched_setaffinity(0, plan.client)  # this script runs the watchers
    info = machine()
    started = time.monotonic()
    print("hookscope capture benchmark:", " ".join(sys.argv))
    print(f"  machine: {info['nproc']} CPUs, {info['cpu']}; Python {info['python']}")
    print(
        "  versions: "
        + ", ".join(f"{k} {info[k]}" for k in ("quart", "hypercorn", "websockets", "redis-py"))
        + f", redis-server {info['redis-server']}, wrk {info['wrk']}; hookscope {info['hookscope']}"
    )
    print(f"  pinning: {plan.describe()}")
    report: dict[str, Any] = {"command": sys.argv, "machine": info, "pinning": plan.describe()}
    with Processes(plan) as procs:
        for part in PARTS:
            if part in parts:
                report[part] = {"throughput": throughput, "e2e": end_to_end, "idle": idle}[part](
                    procs, args
                )
    verdicts = [v for part in PARTS if part in report for v in report[part]["verdicts"]]
    print("\n== targets")
    for v in verdicts:
        print(f"  [{'met' if v['met'] else 'MISSED':6}] {v['what']}: {v['text']}")
    print(f"\n(took {time.monotonic() - started:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
