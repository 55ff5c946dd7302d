"""The processes a benchmark starts and stops: servers, a private redis-server, CPU pinning.

Every process is started by this module and stopped by the ``Processes`` context that
started it, by its own pid.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CpuPlan",
    "Processes",
    "Redis",
    "Server",
    "cpu_seconds",
    "create_bin",
    "free_port",
    "machine_cpu_seconds",
    "rss_bytes",
]

ROOT = Path(__file__).resolve().parent.parent
UNLIMITED = {"HOOKSCOPE_RATE_LIMIT": "off", "HOOKSCOPE_IP_RATE_LIMIT": "off"}
"""Variables that turn the rate limits off: for benchmarks of speed, not of limits."""
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the server under test gets, and which the load generator (and Redis) get."""

    server: frozenset[int] | None
    client: frozenset[int] | None

    @classmethod
    def choose(cls, pin: bool) -> CpuPlan:
        cpus = sorted(os.sched_getaffinity(0))
        if not pin or len(cpus) < 2:
            return cls(None, None)
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]))

    def describe(self) -> str:
        if self.server is None or self.client is None:
            return "no CPU pinning (all processes share every CPU)"
        return (
            f"server under test pinned to CPU {_cpus(self.server)}; load generator, "
            f"watchers, redis-server and this script pinned to CPU {_cpus(self.client)}"
        )


def _cpus(cpus: frozenset[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def pin(pid: int, cpus: frozenset[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(pid, cpus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # things fail while they start
            last = error
        else:
            if result:
                return result
        time.sleep(0.05)
    detail = f" (last error: {last!r})" if last else ""
    raise RuntimeError(f"timed out waiting for {what}{detail}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu_seconds() -> tuple[float, float]:
    """``(busy, steal)`` CPU seconds of the whole machine since boot, from /proc/stat.

    Busy minus what the benchmark's own processes used is other load on a shared machine;
    steal is time the hypervisor gave to someone else.
    """
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _http(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.read()


def create_bin(base_url: str) -> tuple[str, str]:
    """A fresh bin on a hookscope server: ``(id, token)``."""
    json_body = {"Content-Type": "application/json"}  # urllib would say it is a form
    status, body = _http("POST", base_url + "/api/bins", b"{}", json_body)
    if status != 201:
        raise RuntimeError(f"POST /api/bins answered {status}: {body[:200]!r}")
    data = json.loads(body)
    return data["id"], data["token"]


class Server:
    """A server process that prints ``listening on URL`` once its socket is bound.

    ``tree``: the source tree it runs (another checkout measures older code); ``env``: more
    variables; ``nofile``: its descriptor limit (``ulimit -n``, soft and hard). Its output is
    counted (``log_bytes``) and its first ``KEPT_LINES`` lines kept.
    """

    KEPT_LINES = 200

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        cpus: frozenset[int] | None,
        *,
        tree: Path | None = None,
        env: dict[str, str] | None = None,
        nofile: int | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.cpus = cpus
        self.tree = tree or ROOT
        self.extra_env = env or {}
        self.nofile = nofile
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.log_bytes = 0
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 30) -> Server:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.tree), env.get("PYTHONPATH")]))
        nofile = self.nofile

        def limit() -> None:  # in the child, before it runs: its own ulimit -n
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=env,
            cwd=self.tree,
            preexec_fn=limit if nofile is not None else None,
        )
        pin(self.process.pid, self.cpus)
        listening = threading.Event()

        def drain(stream: Any) -> None:
            for line in stream:
                self.log_bytes += len(line.encode())
                if len(self.output) < self.KEPT_LINES:
                    self.output.append(line)
                if "listening on " in line and not listening.is_set():
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    listening.set()

        threading.Thread(target=drain, args=(self.process.stdout,), daemon=True).start()
        process = self.process
        wait_until(
            lambda: listening.is_set() or process.poll() is not None,
            timeout,
            f"{self.name} to listen",
        )
        if not listening.is_set():
            raise RuntimeError(f"{self.name} failed to start:\n" + "".join(self.output))
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def hookscope_command(*args: str) -> list[str]:
    """``python -m hookscope serve --port 0 ARGS``."""
    command = [sys.executable, "-m", "hookscope", "serve", "--port", "0", "--log-level"]
    return [*command, "warning", *args]


def minimal_command(*args: str) -> list[str]:
    """The ceiling: one Quart route on hookscope's own hypercorn config (``_minimal_app``)."""
    return [sys.executable, str(Path(__file__).with_name("_minimal_app.py")), *args]


class Redis:
    """A private redis-server on a free port: no persistence, its own directory."""

    def __init__(self, cpus: frozenset[int] | None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.binary = binary
        self.cpus = cpus
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="hookscope-bench-redis-")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Redis:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.directory,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pin(self.process.pid, self.cpus)
        wait_until(self._ping, 15, f"redis-server on port {self.port}")
        return self

    def _ping(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {self.process.returncode}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


class Processes:
    """Owns what it starts; ``with Processes() as procs:`` stops all of it on the way out."""

    def __init__(self, plan: CpuPlan) -> None:
        self.plan = plan
        self._started: list[Server | Redis] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in reversed(self._started):
            process.stop()
        self._started = []

    def redis(self) -> Redis:
        redis = Redis(self.plan.client)
        self._started.append(redis)
        return redis.start()

    def hookscope(self, name: str, *args: str, **options: Any) -> Server:
        """A hookscope server, started and answering ``/readyz`` (``options``: ``Server``'s)."""
        server = self._server(name, hookscope_command(*args), **options)
        ready = server.url + "/readyz"
        wait_until(lambda: _http("GET", ready)[0] == 200, 30, f"{name} ready")
        return server

    def minimal(self) -> Server:
        server = self._server("minimal Quart app", minimal_command())
        url = server.url + "/h/ceiling"
        wait_until(lambda: _http("POST", url, b"{}")[0] == 200, 30, "minimal app ready")
        return server

    def minimal_websocket(self) -> Server:
        """The minimal app serving only ``/ws`` (an idle WebSocket); it listens when it prints."""
        return self._server("minimal Quart websocket", minimal_command("--websocket"))

    def _server(self, name: str, command: list[str], **options: Any) -> Server:
        server = Server(name, command, self.plan.server, **options)
        self._started.append(server)
        return server.start()

    def stop(self, process: Server | Redis) -> None:
        process.stop()
        if process in self._started:
            self._started.remove(process)
