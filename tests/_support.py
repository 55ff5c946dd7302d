"""Real processes for tests: private redis-servers, local Redis Clusters, hookscope servers.

Every process started here is stopped by the fixture that started it (see conftest.py).
Waiting is always on a condition with a timeout, never a bare sleep.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx


def markdown_blocks(path: Path, language: str = "python") -> list[str]:
    """The fenced ``language`` blocks of a Markdown page, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), flags=re.M | re.S)


def run_markdown(path: Path, *, timeout: float = 120) -> str:
    """Run a page's Python blocks, top to bottom, as one script; its output (it must exit 0)."""
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(markdown_blocks(path))],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


REDIS_BINARY = shutil.which("redis-server")
REDIS_CLI = shutil.which("redis-cli")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # conditions may fail while things start up
            last_error = error
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what or condition}"
        + (f" (last error: {last_error!r})" if last_error else "")
    )


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class RedisServer:
    """A private redis-server on a free port, in its own directory.

    ``durable=True`` turns on the append-only file with fsync on every write, so that a
    SIGKILL loses nothing Redis acknowledged: what tests of "nothing lost" need.
    ``cluster=True`` starts it in cluster mode (a node for ``LocalCluster``), with its
    cluster bus on a second free port.
    """

    def __init__(self, directory: Path, *, durable: bool = False, cluster: bool = False) -> None:
        if REDIS_BINARY is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.directory = directory
        self.durable = durable
        self.cluster = cluster
        self.port = free_port()
        self.bus_port = free_port() if cluster else 0
        self.process: subprocess.Popen[bytes] | None = None
        self._started = False
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start on ``self.port``; a first start moves to another port if that one was taken.

        ``free_port`` cannot reserve a port: another process (another xdist worker starting
        its own Redis) may bind it first. Readiness therefore checks that the Redis answering
        is the one started here.
        """
        for _attempt in range(5):
            if self._launch():
                self._started = True
                return self
            if self._started:  # a restart must keep its port
                break
            self.port = free_port()
            if self.cluster:
                self.bus_port = free_port()
                # A node that failed on its bus port may have written its identity already.
                (self.directory / "nodes.conf").unlink(missing_ok=True)
        raise RuntimeError(f"redis-server could not start on 127.0.0.1:{self.port}")

    def _launch(self) -> bool:
        """Start the process and wait until it serves; False if it exited (port taken)."""
        args = [
            str(REDIS_BINARY),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if self.durable:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        if self.cluster:
            args += [
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.directory / "nodes.conf"),
                "--cluster-port", str(self.bus_port),
            ]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process = process
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if self._serving_pid() == process.pid:
                return True
            time.sleep(0.02)
        process.kill()
        process.wait(10)
        raise RuntimeError(f"redis-server on {self.port} did not answer within 15 s")

    def _serving_pid(self) -> int | None:
        """The process id of the Redis answering on our port, if any."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"INFO server\r\n")
                reply = b""
                while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return None
        for line in reply.decode("latin-1").splitlines():
            if line.startswith("process_id:"):
                return int(line.split(":", 1)[1])
        return None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        wait_until(lambda: not _port_open(self.port), timeout=10, what="redis port to close")

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


class LocalCluster:
    """A Redis Cluster of ``masters`` private redis-servers (no replicas), on free ports.

    Made the way an operator makes one: ``redis-cli --cluster create``; ready when every
    node's ``CLUSTER INFO`` says ``cluster_state:ok``. ``started_in``: seconds that took.
    """

    def __init__(self, directory: Path, *, masters: int = 3, durable: bool = False) -> None:
        if REDIS_CLI is None:
            raise RuntimeError("redis-cli is not installed (apt-get install -y redis-tools)")
        self.nodes = [
            RedisServer(directory / f"node-{n}", durable=durable, cluster=True)
            for n in range(masters)
        ]
        self.started_in = 0.0

    @property
    def url(self) -> str:
        """A seed URL: the first node (any would do)."""
        return self.nodes[0].url

    def start(self) -> LocalCluster:
        began = time.monotonic()
        try:
            for node in self.nodes:
                node.start()
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            create = ["--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"]
            subprocess.run([str(REDIS_CLI), *create], check=True, capture_output=True, timeout=60)
            wait_until(self.is_ok, timeout=30, what="cluster_state:ok on every node")
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def admin(self, node: RedisServer) -> Any:
        """A plain ``redis.Redis`` client to one node (close it)."""
        import redis

        return redis.Redis(port=node.port, decode_responses=True)

    def is_ok(self) -> bool:
        for node in self.nodes:
            with self.admin(node) as client:
                if client.cluster("info").get("cluster_state") != "ok":
                    return False
        return True

    def flushall(self) -> None:
        for node in self.nodes:
            with self.admin(node) as client:
                client.flushall()

    def node_of(self, key: str) -> RedisServer:
        """The node that owns ``key``'s slot now (``CLUSTER KEYSLOT``, ``CLUSTER NODES``)."""
        with self.admin(self.nodes[0]) as client:
            slot = int(client.cluster("keyslot", key))
            for address, node in client.cluster("nodes").items():
                for first, *last in node["slots"]:
                    if int(first) <= slot <= int(last[0] if last else first):
                        port = int(address.split("@")[0].rsplit(":", 1)[1])
                        return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no node owns the slot of {key}")

    def move_slot(self, key: str, to: RedisServer) -> None:
        """Migrate the slot of ``key`` (and its keys) to node ``to``, as resharding does."""
        source = self.node_of(key)
        with self.admin(source) as old, self.admin(to) as new:
            slot = int(old.cluster("keyslot", key))
            old_id, new_id = old.cluster("myid"), new.cluster("myid")
            new.cluster("setslot", slot, "importing", old_id)
            old.cluster("setslot", slot, "migrating", new_id)
            while keys := old.cluster("getkeysinslot", slot, 100):
                old.migrate("127.0.0.1", to.port, keys, 0, 5000)
            for node in (to, source, *[n for n in self.nodes if n not in (to, source)]):
                with self.admin(node) as client:
                    client.cluster("setslot", slot, "node", new_id)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def terminate(process: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Stop a child: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout)


class ServerProcess:
    """``python -m hookscope serve`` in a child process; ``url`` once it listens."""

    def __init__(self, args: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        self.args = list(args)
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("PYTHONUNBUFFERED", "1")
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []
        self.url = ""
        self.port = 0

    def start(self, port: int | None = None, timeout: float = 30) -> ServerProcess:
        port = self.port if port is None else port
        command = [sys.executable, "-m", "hookscope", "serve", "--port", str(port), *self.args]
        self.output = []
        listening = threading.Event()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )

        def drain(stream: Any) -> None:
            for line in stream:
                self.output.append(line)
                if "listening on " in line:
                    self.url = line.split("listening on ", 1)[1].split()[0]
                    listening.set()

        threading.Thread(target=drain, args=(self.process.stdout,), daemon=True).start()
        wait_until(
            lambda: listening.is_set() or self.process is None or self.process.poll() is not None,
            timeout=timeout,
            what="hookscope to listen",
        )
        if not listening.is_set():
            raise RuntimeError("hookscope serve failed:\n" + "".join(self.output))
        self.port = int(self.url.rsplit(":", 1)[1])
        wait_until(self._ready, timeout=timeout, what=f"{self.url}/healthz")
        return self

    def _ready(self) -> bool:
        return httpx.get(self.url + "/healthz", timeout=1).status_code == 200

    def signal(self, signum: int) -> None:
        if self.process is not None:
            self.process.send_signal(signum)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not go. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port (clients resume against the same URL)."""
        self.stop()
        self.start(port=self.port)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextlib.contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser); a
    missing binary fails the test, as a browser test must not pass without one."""
    import pytest
    from playwright.sync_api import sync_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
