"""What a webhook test costs with hookscope's pytest plugin against pytest-httpserver.

    python bench/pytest_overhead.py                       # embedded server, 5 rounds of 200 tests
    python bench/pytest_overhead.py --rounds 3 --tests 100
    python bench/pytest_overhead.py --servers embedded,uvicorn,memory,redis --json /tmp/p.json

Writes a test file twice, each with ``--tests`` tests that post one JSON webhook with a
session-wide ``httpx.Client`` and then check it arrived:

- hookscope: the ``hookbin`` fixture, the post to ``hookbin.url_for("/hook")``, then
  ``hookbin.wait_for("POST", "/hook", json={...})``;
- pytest-httpserver: ``httpserver.expect_oneshot_request("/hook", method="POST", json={...})``,
  the same post, then ``httpserver.check_assertions()``.

Each file runs with pytest in a subprocess (``-p no:cacheprovider -q``, in a directory of its
own so that no other conftest takes part), the two alternating, ``--rounds`` times, after an
untimed warm-up of each. A conftest hook notes the clock (wall and the process's CPU) when
each test has finished: the per-test figure is the span from the end of the first test to
the end of the last but one, over N - 2, so neither pytest's start-up nor the session
fixtures' set-up (in the first test) nor their teardown (in the last: the embedded server
stopping) counts. Those are printed apart: the first test, and the time the process spent
outside the tests (start-up, collection, the last test with the session's teardown).

``--servers``: ``embedded`` is the plugin's default set-up (a server in the test process);
``uvicorn`` the same on uvicorn (``hookscope_server_settings`` ``{"server": "uvicorn"}``,
the ``hookscope[uvicorn]`` extra); ``memory`` and ``redis`` name a ``hookscope serve``
process (and a private redis-server) with ``--hookscope-url``, for reference. The ratio is hookscope's per-test time over
pytest-httpserver's of the same round; the median of the rounds is the figure. Every run
records the CPU the rest of the machine used meanwhile ("other load", in cores).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _procs import ROOT, CpuPlan, Processes, machine_cpu_seconds
from _report import verdict

CONFTEST = """
import json
import os
import time

import httpx
import pytest

MARKS = []  # (wall, cpu) when the first test starts, then when each test has finished


def pytest_runtest_logstart(nodeid, location):
    if not MARKS:
        MARKS.append((time.perf_counter(), time.process_time()))


def pytest_runtest_logfinish(nodeid, location):
    MARKS.append((time.perf_counter(), time.process_time()))


def pytest_unconfigure(config):
    with open(os.environ["BENCH_MARKS"], "w") as file:
        json.dump(MARKS, file)


@pytest.fixture(scope="session")
def http():
    with httpx.Client() as client:
        yield client


@pytest.fixture(scope="session")
def hookscope_server_settings():
    server = os.environ.get("BENCH_EMBEDDED_SERVER")
    return {"server": server} if server else {}
"""

HOOKSCOPE_TEST = """
def test_webhook_{n}(hookbin, http):
    http.post(hookbin.url_for("/hook"), json={{"event": "paid", "n": {n}}})
    hookbin.wait_for("POST", "/hook", json={{"event": "paid", "n": {n}}})
"""

HTTPSERVER_TEST = """
def test_webhook_{n}(httpserver, http):
    httpserver.expect_oneshot_request(
        "/hook", method="POST", json={{"event": "paid", "n": {n}}}
    ).respond_with_json({{"ok": True}})
    http.post(httpserver.url_for("/hook"), json={{"event": "paid", "n": {n}}})
    httpserver.check_assertions()
"""

TEMPLATES = {"hookscope": HOOKSCOPE_TEST, "httpserver": HTTPSERVER_TEST}


def write_suite(directory: Path, template: str, tests: int) -> Path:
    """A directory with its own ``pytest.ini`` and conftest, holding one test file."""
    directory.mkdir(parents=True)
    (directory / "pytest.ini").write_text("[pytest]\n")
    (directory / "conftest.py").write_text(CONFTEST)
    body = "".join(template.format(n=n) for n in range(tests))
    (directory / "test_webhooks.py").write_text(body)
    return directory


@dataclass
class Run:
    seconds: float  # wall clock of the whole pytest process
    cpu: float  # its CPU time (user + system, every thread)
    other_load: float  # cores the rest of the machine used meanwhile
    per_test_ms: (
        float  # wall clock per test, from the end of the first to the end of the last but one
    )
    per_test_cpu_ms: float  # the process's CPU time over the same span, per test
    first_test_s: float  # the first test, with the session fixtures' set-up
    outside_s: float  # the process outside the tests: start-up, collection, session teardown


def run_pytest(directory: Path, tests: int, extra: list[str], env: dict[str, str]) -> Run:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *extra]
    marks_file = directory / "marks.json"
    busy_before, _ = machine_cpu_seconds()
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=directory,
        env={**env, "BENCH_MARKS": str(marks_file)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    after = os.times()
    busy_after, _ = machine_cpu_seconds()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    if done.returncode != 0 or f"{tests} passed" not in done.stdout:
        raise RuntimeError(
            f"pytest in {directory} failed ({done.returncode}):\n{done.stdout[-3000:]}"
            f"\n{done.stderr[-3000:]}"
        )
    marks = json.loads(marks_file.read_text())
    # marks: the first test's start, then each test's end; the last test's end comes after
    # the session fixtures' teardown.
    (wall0, _), (wall1, cpu1), (wall_n, cpu_n) = marks[0], marks[1], marks[-2]
    return Run(
        seconds=seconds,
        cpu=cpu,
        other_load=max(0.0, (busy_after - busy_before) - cpu) / seconds,
        per_test_ms=(wall_n - wall1) / (tests - 2) * 1000,
        per_test_cpu_ms=(cpu_n - cpu1) / (tests - 2) * 1000,
        first_test_s=wall1 - wall0,
        outside_s=seconds - (wall_n - wall0),
    )


def measure(
    name: str,
    suites: dict[str, Path],
    tests: int,
    rounds: int,
    extra: list[str],
    envs: dict[str, dict[str, str]],
) -> dict[str, list[Run]]:
    """Each suite (``envs``' keys), alternating (the order rotates each round), after an
    untimed warm-up of each."""
    runs: dict[str, list[Run]] = {kind: [] for kind in envs}
    suite = {kind: suites["httpserver" if kind == "httpserver" else "hookscope"] for kind in envs}
    args = {kind: [] if kind == "httpserver" else extra for kind in envs}
    for kind in runs:  # .pyc files, the page cache
        run_pytest(suite[kind], tests, args[kind], envs[kind])
    kinds = list(runs)
    for round_number in range(rounds):
        shift = round_number % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            runs[kind].append(run_pytest(suite[kind], tests, args[kind], envs[kind]))
        print(f"  {name}: round {round_number + 1}/{rounds} done", file=sys.stderr, flush=True)
    return runs


def summary(name: str, runs: dict[str, list[Run]]) -> dict[str, object]:
    figures: dict[str, object] = {"setup": name}
    for kind, kind_runs in runs.items():
        per_test = [run.per_test_ms for run in kind_runs]
        figures[kind] = {
            "ms_per_test": statistics.median(per_test),
            "ms_per_test_range": [min(per_test), max(per_test)],
            "cpu_ms_per_test": statistics.median(run.per_test_cpu_ms for run in kind_runs),
            "first_test_s": statistics.median(run.first_test_s for run in kind_runs),
            "outside_tests_s": statistics.median(run.outside_s for run in kind_runs),
            "process_s": statistics.median(run.seconds for run in kind_runs),
            "runs": [asdict(run) for run in kind_runs],
        }
    ratios = [
        hook.per_test_ms / other.per_test_ms
        for hook, other in zip(runs["hookscope"], runs["httpserver"], strict=True)
    ]
    figures["ratios"] = ratios
    figures["ratio"] = statistics.median(ratios)
    if "baseline" in runs:
        before = [
            base.per_test_ms / other.per_test_ms
            for base, other in zip(runs["baseline"], runs["httpserver"], strict=True)
        ]
        figures["baseline_ratios"] = before
        figures["baseline_ratio"] = statistics.median(before)
    figures["other_load_max"] = max(run.other_load for rs in runs.values() for run in rs)
    return figures


def report(figures: dict[str, Any]) -> None:
    print(f"\n## {figures['setup']}")
    for kind in ("hookscope", "baseline", "httpserver"):
        if kind not in figures:
            continue
        f = figures[kind]
        low, high = f["ms_per_test_range"]
        print(
            f"{kind:<10}  {f['ms_per_test']:6.2f} ms/test (range {low:.2f}-{high:.2f}), "
            f"CPU {f['cpu_ms_per_test']:.2f} ms/test; first test {f['first_test_s'] * 1000:.0f} ms; "
            f"outside the tests (start-up, collection, teardown) {f['outside_tests_s']:.2f} s "
            f"of {f['process_s']:.2f} s"
        )
    ratios = ", ".join(f"{r:.2f}" for r in figures["ratios"])
    print(f"ratio hookscope/httpserver per test: {figures['ratio']:.2f} (per round: {ratios})")
    if "baseline_ratio" in figures:
        before = ", ".join(f"{r:.2f}" for r in figures["baseline_ratios"])
        print(
            f"ratio baseline/httpserver per test: {figures['baseline_ratio']:.2f} "
            f"(per round: {before})"
        )
    print(f"other load: at most {figures['other_load_max']:.2f} core during any run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tests", type=int, default=200, help="tests per file (default 200, at least 3)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument(
        "--servers",
        default="embedded",
        help="comma-separated: embedded (the default set-up), uvicorn (embedded, on "
        "uvicorn), memory, redis (a `hookscope serve` process named by --hookscope-url)",
    )
    parser.add_argument(
        "--baseline",
        metavar="TREE",
        help="also run the hookscope suite with the hookscope package of TREE (an older "
        "checkout or `git archive` export) first on PYTHONPATH: before and after in one run",
    )
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args()
    if args.tests < 3:
        parser.error("--tests must be at least 3")

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("HOOKSCOPE_URL", None)
    envs = {"hookscope": env, "httpserver": env}
    if args.baseline:
        tree = str(Path(args.baseline).resolve())
        envs["baseline"] = {**env, "PYTHONPATH": os.pathsep.join([tree, env["PYTHONPATH"]])}
    results = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hookscope-pytest-bench-") as tmp:
        suites = {
            kind: write_suite(Path(tmp) / kind, template, args.tests)
            for kind, template in TEMPLATES.items()
        }
        with Processes(CpuPlan(None, None)) as procs:
            for name in args.servers.split(","):
                extra: list[str] = []
                set_up = envs
                if name == "uvicorn":
                    uvicorn_env = {**env, "BENCH_EMBEDDED_SERVER": "uvicorn"}
                    set_up = {**envs, "hookscope": uvicorn_env}
                elif name == "memory":
                    extra = ["--hookscope-url", procs.hookscope("memory server").url]
                elif name == "redis":
                    redis = procs.redis()
                    server = procs.hookscope("redis server", "--redis-url", redis.url)
                    extra = ["--hookscope-url", server.url]
                elif name != "embedded":
                    parser.error(f"unknown server set-up {name!r}")
                label = {
                    "embedded": "embedded server (default)",
                    "uvicorn": "embedded server on uvicorn (hookscope_server_settings)",
                }.get(name, f"external `hookscope serve` process, {name} backend")
                runs = measure(label, suites, args.tests, args.rounds, extra, set_up)
                figures = summary(label, runs)
                figures["target"] = verdict(
                    "hookscope per test / pytest-httpserver per test",
                    figures["ratio"],  # type: ignore[arg-type]
                    1.0,
                    "x",
                    "<=",
                )
                results.append(figures)
                report(figures)
    print(
        f"\n{args.tests} tests per file, {args.rounds} rounds, took {time.monotonic() - started:.0f} s"
    )
    for figures in results:
        target = figures["target"]
        met = "met" if target["met"] else "NOT met"  # type: ignore[index]
        stretch = "met" if figures["ratio"] <= 0.5 else "not met"  # type: ignore[operator]
        print(f"target ({figures['setup']}): {target['text']}: {met}; stretch <= 0.5x: {stretch}")  # type: ignore[index]
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
