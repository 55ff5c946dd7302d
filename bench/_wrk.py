"""Capture throughput with ``wrk``: the same POST, connections and duration for every server.

wrk is C and event-driven: one thread drives thousands of requests per second with a few
percent of a core, so the server under test saturates long before the load generator does.
The request looks like a webhook delivery: a JSON body of ~300 bytes and the headers a
GitHub hook sends. A Lua ``done`` hook prints the figures as one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WRK", "WrkResult", "run_wrk"]

WRK = shutil.which("wrk")

BODY = json.dumps(
    {
        "ref": "refs/heads/main",
        "before": "6cc9cba0c0ffee0000000000000000000000beef",
        "after": "503fb7f0c0ffee0000000000000000000000beef",
        "repository": {"id": 123456789, "full_name": "octo/hookscope", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@example.com"},
        "head_commit": {"id": "503fb7f", "message": "Benchmark: capture throughput"},
    },
    separators=(",", ":"),
)

HEADERS = {
    "Content-Type": "application/json",
    "User-Agent": "GitHub-Hookshot/bench",
    "X-GitHub-Event": "push",
    "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    "X-Hub-Signature-256": "sha256=" + "0" * 64,
}

_LUA = """
wrk.method = "POST"
wrk.body = %(body)s
%(headers)s
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT {\\"requests\\":%%d,\\"duration_us\\":%%d,\\"non_2xx\\":%%d," ..
    "\\"socket_errors\\":%%d,\\"p50_us\\":%%d,\\"p90_us\\":%%d,\\"p99_us\\":%%d," ..
    "\\"max_us\\":%%d}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _script() -> str:
    headers = "\n".join(
        f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}"
        for name, value in HEADERS.items()
    )
    return _LUA % {"body": _lua_string(BODY), "headers": headers}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    wrk_cpu_s: float  # CPU time wrk itself used (user + system)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def wrk_cpu_share(self) -> float:
        return self.wrk_cpu_s / self.seconds


def run_wrk(
    url: str, *, connections: int, seconds: float, threads: int = 1, cpus: frozenset[int] | None
) -> WrkResult:
    """Run wrk against ``url`` (POST) and return its figures; raises if wrk fails."""
    if WRK is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="hookscope-bench-wrk-") as directory:
        script = Path(directory) / "post.lua"
        script.write_text(_script())
        command = [
            WRK,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout", "5s",
            "-s", str(script),
            url,
        ]  # fmt: skip
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        output, _ = process.communicate(timeout=seconds + 60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}:\n{output}")
    line = next((ln for ln in output.splitlines() if ln.startswith("WRK-RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    data = json.loads(line.split(" ", 1)[1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non_2xx=data["non_2xx"],
        socket_errors=data["socket_errors"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        wrk_cpu_s=cpu,
    )
