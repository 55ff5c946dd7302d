"""Real processes for tests: private redis-servers and hookscope server processes.

Every process started here is stopped by the fixture that started it (see conftest.py).
Waiting is always on a condition with a timeout, never a bare sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

REDIS_BINARY = shutil.which("redis-server")


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
    """

    def __init__(self, directory: Path, *, durable: bool = False) -> None:
        if REDIS_BINARY is None:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.directory = directory
        self.durable = durable
        self.port = free_port()
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
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()


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
