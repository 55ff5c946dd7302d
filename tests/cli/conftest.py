"""CLI fixtures: an in-process runner, ``hookscope`` child processes, receivers, bins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cli_support import CliProcess, Receiver
from click.testing import CliRunner, Result

import hookscope
from hookscope._embedded import BackgroundServer
from hookscope.cli import main


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own HOOKSCOPE_* variables must not leak into the commands under test."""
    for name in ("HOOKSCOPE_URL", "HOOKSCOPE_TOKEN", "HOOKSCOPE_API_KEY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def cli() -> Callable[..., Result]:
    """``cli("export", bin_id, ...)``: run a command in-process; stdout and stderr apart;
    ``input=``: what it reads from stdin."""
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def cli_process() -> Iterator[Callable[..., CliProcess]]:
    """Start ``python -m hookscope ...`` processes; every one is stopped afterwards."""
    started: list[CliProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> CliProcess:
        process = CliProcess(list(args), env)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def receiver_factory() -> Iterator[Callable[..., Receiver]]:
    """Local HTTP receivers (``start=False``: pick the port now, start later)."""
    made: list[Receiver] = []

    def make(port: int | None = None, *, start: bool = True, **kwargs: Any) -> Receiver:
        receiver = Receiver(port, **kwargs)
        made.append(receiver)
        return receiver.start() if start else receiver

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture
def client(embedded_server: BackgroundServer) -> Iterator[hookscope.Client]:
    with hookscope.Client(embedded_server.url) as sync_client:
        yield sync_client


@pytest.fixture
def bin(client: hookscope.Client) -> hookscope.Bin:
    return client.create_bin()
