"""docs/guides/forward.md, run as its reader would: its ``hookscope`` commands, its receiver
(a local service that checks GitHub's signature) and its sender, against a real server; the
receiver is stopped and started again, and forward is stopped and resumed with the command
it prints."""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _support import free_port, markdown_blocks, wait_until
from cli_support import CliProcess
from click.testing import Result

import hookscope
from hookscope._embedded import BackgroundServer
from hookscope._smee import forwarded_exactly

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "forward.md"
SECRET = "gh-secret"


def _command(name: str) -> list[str]:
    """The guide's ``hookscope NAME ...`` command, as words."""
    lines = [line for block in markdown_blocks(GUIDE, "bash") for line in block.splitlines()]
    [line] = [line for line in lines if line.startswith(f"hookscope {name} ")]
    return shlex.split(line)


def _script(name: str, directory: Path) -> Path:
    """The guide's Python block whose first line names the file ``name``."""
    [source] = [block for block in markdown_blocks(GUIDE) if block.startswith(f"# {name}")]
    path = directory / name
    path.write_text(source)
    return path


class Service:
    """``python receiver.py`` on ``port``; its output lines collected as they come."""

    def __init__(self, script: Path, port: int) -> None:
        self.script, self.port = script, port
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> Service:
        env = {**os.environ, "PORT": str(self.port)}
        self.process = subprocess.Popen(
            [sys.executable, str(self.script)], stdout=subprocess.PIPE, text=True, env=env
        )
        threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True).start()
        wait_until(self._listening, timeout=20, what="the receiver to listen")
        return self

    def _drain(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append(line.rstrip("\n"))

    def _listening(self) -> bool:
        assert self.process is not None and self.process.poll() is None, "the receiver exited"
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def wait_for(self, count: int) -> list[str]:
        wait_until(lambda: len(self.lines) >= count, timeout=30, what=f"{count} deliveries")
        return self.lines


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    service = Service(_script("receiver.py", tmp_path), free_port())
    yield service
    service.stop()


def _send(script: Path, capture_url: str) -> None:
    sent = subprocess.run(
        [sys.executable, str(script), capture_url], capture_output=True, text=True, timeout=30
    )
    assert sent.stdout.strip() == "200", sent.stderr


def test_the_guide_forwards_byte_exact_and_resumes(
    cli: Callable[..., Result],
    cli_process: Callable[..., CliProcess],
    service: Service,
    embedded_server: BackgroundServer,
    tmp_path: Path,
) -> None:
    # 1. A bin with the webhook's secret (asked for, here on stdin).
    new = _command("new")
    made = cli(*new[1:], env={"HOOKSCOPE_URL": embedded_server.url}, input=f"{SECRET}\n")
    assert made.exit_code == 0, made.output
    capture_url = re.search(r"capture URL\s+(\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    token = re.search(r"export HOOKSCOPE_TOKEN=(\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    bin_id = capture_url.rsplit("/", 1)[1]
    env = {"HOOKSCOPE_URL": embedded_server.url, "HOOKSCOPE_TOKEN": token}

    # 2. The service, 3. forward to it, and a delivery signed as GitHub signs.
    service.start()
    local = f"http://127.0.0.1:{service.port}"

    def words(command: list[str]) -> list[str]:
        return [word.replace("b_...", bin_id).replace("http://localhost:3000", local)
                for word in command[1:]]  # fmt: skip

    forward = cli_process(*words(_command("forward")), env=env)
    forward.wait_for_stderr("forwarding")
    send = _script("send.py", tmp_path)
    _send(send, capture_url)

    [first] = service.wait_for(1)
    assert re.fullmatch(r"'/webhooks/github' \d+-\d+ valid", first), first
    assert re.search(r" POST /github → 204 No Content \(\d+ ms\)$", forward.wait_for_stdout(1)[0])
    with hookscope.Client(embedded_server.url) as client:
        [captured] = client.bin(bin_id, token).requests()
    assert captured.signature is not None and captured.signature.valid  # the server's ✓
    assert forwarded_exactly(captured) is not None  # what smee-client would not relay as is

    # The service goes down: the next delivery waits, retried, until it is back.
    service.stop()
    _send(send, capture_url)
    forward.wait_for_stderr("retrying")
    service.start()
    assert service.wait_for(2)[1].endswith(" valid")
    forward.wait_for_stdout(2)  # settled: forward has the answer (else resuming resends it)

    # forward stops; what arrives meanwhile goes with the command it printed.
    assert forward.interrupt() == 0
    resume = next(line for line in forward.stderr if "resume with: " in line)
    _send(send, capture_url)
    again = shlex.split(resume.split("resume with: ", 1)[1])
    assert again[:2] == ["hookscope", "forward"] and "--id-header" in again
    resumed = cli_process(*again[1:], env=env)
    lines = service.wait_for(3)
    assert resumed.interrupt() == 0

    # Three deliveries, each once, in capture order, every signature valid at the service.
    with hookscope.Client(embedded_server.url) as client:
        ids = [request.id for request in client.bin(bin_id, token).requests()]
    assert [line.split()[1] for line in lines] == ids
    assert all(line.endswith(" valid") for line in lines)
