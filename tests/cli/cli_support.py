"""CLI test helpers: a recording HTTP receiver, ``hookscope`` child processes, and senders of
requests no ordinary client would send (raw HTTP/1.1 bytes, HTTP/2 with control characters)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.events
import httpx
from _support import free_port, wait_until

from hookscope import CapturedRequest


@dataclass
class Received:
    """One request as the receiver's socket saw it."""

    method: str
    target: str  # path and query, raw
    headers: list[tuple[str, str]]  # names as sent, in order, duplicates kept
    body: bytes


class Receiver:
    """A local HTTP service on 127.0.0.1 that records every request and answers ``status``.

    ``port`` may be chosen before it starts, to test a target that is down at first.
    """

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.port = port or free_port()
        self.status = status
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._connections: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __getattr__(self, name: str) -> Any:
                if name.startswith("do_"):
                    return self._record
                raise AttributeError(name)

            def _record(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                receiver.received.append(
                    Received(self.command, self.path, list(self.headers.items()), body)
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        connections = self._connections

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def process_request(self, request: Any, client_address: Any) -> None:
                connections.append(request)
                super().process_request(request, client_address)

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down, like a killed service: the listening socket and open connections close."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._connections.clear()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        wait_until(
            lambda: len(self.received) >= count,
            timeout=timeout,
            what=f"{count} requests at the receiver (got {len(self.received)})",
        )
        return self.received


class CliProcess:
    """``python -m hookscope ARGS`` in a child process; its output lines collected live."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for name in ("HOOKSCOPE_URL", "HOOKSCOPE_TOKEN"):
            if env is None or name not in env:
                full_env.pop(name, None)
        self.args = args
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hookscope", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._drain, args=(self.process.stdout, self.stdout)),
            threading.Thread(target=self._drain, args=(self.process.stderr, self.stderr)),
        ]
        for reader in self._readers:
            reader.daemon = True
            reader.start()

    @staticmethod
    def _drain(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.decode("utf-8").rstrip("\n"))

    def wait_for_stdout(self, count: int, timeout: float = 20) -> list[str]:
        """The first ``count`` stdout lines, once they have been printed."""
        deadline = time.monotonic() + timeout
        while len(self.stdout) < count and self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} lines: {self.describe()}")
            time.sleep(0.02)
        assert len(self.stdout) >= count, self.describe()
        return self.stdout[:count]

    def wait_for_stderr(self, text: str, timeout: float = 20) -> str:
        """The first stderr line containing ``text``."""

        def found() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(self.describe())
            return next((line for line in self.stderr if text in line), None)

        result: str = wait_until(found, timeout=timeout, what=f"{text!r} on stderr")
        return result

    def interrupt(self, signum: int = signal.SIGINT, timeout: float = 15) -> int:
        """Send ``signum`` (Ctrl-C by default) and wait for the exit; returns its status."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float = 15) -> int:
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def describe(self) -> str:
        return (
            f"hookscope {' '.join(self.args)} (exit {self.process.poll()})\n"
            f"stdout: {self.stdout}\nstderr: {self.stderr}"
        )


def wire_requests(lines: list[str]) -> list[CapturedRequest]:
    return [CapturedRequest.from_json(line) for line in lines]


def send(url: str, method: str = "POST", **kwargs: Any) -> str:
    """Capture one request at ``url``; returns its id."""
    response = httpx.request(method, url, timeout=10, **kwargs)
    assert response.status_code < 400, response.text
    return str(response.headers["x-hookscope-request-id"])


def _split_bin_url(bin_url: str) -> tuple[str, int, bytes]:
    parts = urlsplit(bin_url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port, parts.path.encode()


def send_raw(
    bin_url: str,
    method: bytes,
    path: bytes,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> str:
    """Capture one request written byte for byte as HTTP/1.1 (``path`` follows the bin's
    path); returns its id."""
    host, port, bin_path = _split_bin_url(bin_url)
    lines = [method + b" " + bin_path + path + b" HTTP/1.1", f"Host: {host}:{port}".encode()]
    lines += [name + b": " + value for name, value in headers or []]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close", b"", b""]
    head = b"\r\n".join(lines)
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 200"), answer
    found = re.search(rb"(?im)^x-hookscope-request-id: *(\S+)", rest.partition(b"\r\n\r\n")[0])
    assert found, answer
    return found.group(1).decode()


def send_h2(
    bin_url: str,
    method: bytes,
    path: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> str:
    """Capture one request sent over HTTP/2 (cleartext, prior knowledge), which lets control
    characters through in the method, path and header values; returns its id."""
    host, port, bin_path = _split_bin_url(bin_url)
    config = h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=False, normalize_outbound_headers=False
    )
    connection = h2.connection.H2Connection(config)
    request_headers = [
        (b":method", method),
        (b":path", bin_path + path),
        (b":scheme", b"http"),
        (b":authority", f"{host}:{port}".encode()),
        *(headers or []),
    ]
    answer: dict[bytes, bytes] = {}
    with socket.create_connection((host, port), timeout=10) as sock:
        connection.initiate_connection()
        connection.send_headers(1, request_headers, end_stream=not body)
        if body:
            connection.send_data(1, body, end_stream=True)
        sock.sendall(connection.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, f"the server closed the connection; answer so far: {answer}"
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    answer = dict(event.headers)
                ended |= isinstance(event, h2.events.StreamEnded | h2.events.StreamReset)
                ended |= isinstance(event, h2.events.ConnectionTerminated)
            sock.sendall(connection.data_to_send())
    assert answer.get(b":status") == b"200", answer
    return answer[b"x-hookscope-request-id"].decode()
