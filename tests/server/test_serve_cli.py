"""``hookscope serve``: flags, HOOKSCOPE_* variables, refusals and graceful shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from _support import ServerProcess

from hookscope._config import Settings, parse_duration, parse_size

pytestmark = pytest.mark.slow


def test_flags_are_honoured(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(
        "--max-body", "1KiB", "--max-requests", "3", "--ttl", "1h",
        "--public-url", "https://hooks.example.com",
    )  # fmt: skip
    data = httpx.post(server.url + "/api/bins").json()
    assert data["max_requests"] == 3
    assert data["ttl_s"] == 3600
    assert data["url"] == f"https://hooks.example.com/h/{data['id']}"
    capture = f"{server.url}/h/{data['id']}"
    assert httpx.post(capture, content=b"x" * 1024).status_code == 200
    assert httpx.post(capture, content=b"x" * 1025).status_code == 413


def test_limit_flags_and_variables_are_honoured(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory(
        "--max-bins", "1", "--max-response-body", "4", "--max-headers", "20",
        "--rate-limit", "1/m:2",
        env={"HOOKSCOPE_MAX_HEADER_BYTES": "2KiB"},
    )  # fmt: skip
    assert (
        httpx.post(server.url + "/api/bins", json={"response": {"body": "12345"}}).status_code
        == 400
    )
    data = httpx.post(server.url + "/api/bins").json()
    assert httpx.post(server.url + "/api/bins").status_code == 507
    capture = f"{server.url}/h/{data['id']}"
    assert httpx.post(capture, headers={"x-big": "v" * 2100}).status_code == 431
    assert httpx.post(capture, headers={f"x-{n}": "1" for n in range(20)}).status_code == 431
    assert [httpx.post(capture).status_code for _ in range(3)] == [200, 200, 429]


def test_environment_variables_are_honoured(server_factory: Callable[..., ServerProcess]) -> None:
    server = server_factory(
        env={"HOOKSCOPE_MAX_BODY": "10", "HOOKSCOPE_API_KEY": "k", "HOOKSCOPE_MAX_REQUESTS": "7"}
    )
    assert httpx.post(server.url + "/api/bins").status_code == 401
    data = httpx.post(server.url + "/api/bins", headers={"Authorization": "Bearer k"}).json()
    assert data["max_requests"] == 7
    assert httpx.post(f"{server.url}/h/{data['id']}", content=b"x" * 11).status_code == 413


def test_workers_with_memory_backend_refuse_clearly() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hookscope", "serve", "--port", "0", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers > 1 needs the redis backend" in result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize(
    "bad",
    [
        ["--max-body", "lots"],
        ["--ttl", "soon"],
        ["--port", "x"],
        ["--rate-limit", "fast"],
        ["--ip-rate-limit", "10/day"],
        ["--max-connections", "many"],
        ["--max-memory", "plenty"],
    ],
)
def test_bad_flags_are_usage_errors(bad: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hookscope", "serve", "--port", "0", *bad],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "Error" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_shut_down_gracefully(
    server_factory: Callable[..., ServerProcess], signum: int
) -> None:
    server = server_factory()
    server.signal(signum)
    assert server.process is not None
    assert server.process.wait(15) == 0
    assert any("shutting down" in line for line in server.output)


def test_settings_parsing() -> None:
    assert parse_size("10MiB") == 10 * 1024 * 1024
    assert parse_size("1.5kb") == 1500
    assert parse_size("7") == 7
    assert parse_duration("2w") == 14 * 86400
    assert parse_duration("250ms") == 0.25
    with pytest.raises(ValueError, match="not a size"):
        parse_size("ten")
    settings = Settings.from_env({"HOOKSCOPE_REDIS_URL": "redis://h:1/2", "HOOKSCOPE_TTL": "1d"})
    assert settings.backend == "redis"
    assert settings.ttl == 86400
    with pytest.raises(ValueError, match="needs the redis backend"):
        Settings(workers=3)
    assert Settings(backend="redis").redis_url == "redis://127.0.0.1:6379/0"
    limits = Settings.from_env(
        {
            "HOOKSCOPE_RATE_LIMIT": "off",
            "HOOKSCOPE_MAX_CONNECTIONS": "auto",
            "HOOKSCOPE_MAX_MEMORY": "1MiB",
        }
    )
    assert (limits.rate_limit, limits.max_connections, limits.max_memory) == (None, None, 1 << 20)
    # What a --workers process is given reproduces the settings, "off" included.
    exposed = Settings(host="0.0.0.0", api_key="k", ip_rate_limit="off", rate_limit="5/s:9")
    assert Settings.from_env(exposed.to_env()) == exposed


def test_a_taken_port_is_one_line(server_factory: Callable[..., ServerProcess]) -> None:
    running = server_factory()
    result = subprocess.run(
        [sys.executable, "-m", "hookscope", "serve", "--port", str(running.port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: 127.0.0.1:{running.port} is taken by another program: choose another port "
        "with --port N (or --port 0 for any free one)"
    ]


def test_help_shows_every_variable() -> None:
    from click.testing import CliRunner

    from hookscope.cli import main

    help_text = CliRunner().invoke(main, ["serve", "--help"], terminal_width=200).output
    help_text = " ".join(help_text.split())  # unwrapped
    for variable in ("HOOKSCOPE_HOST", "HOOKSCOPE_PORT", "HOOKSCOPE_REDIS_URL",
                     "HOOKSCOPE_TRUST_PROXY", "HOOKSCOPE_MAX_BODY", "HOOKSCOPE_RATE_LIMIT"):  # fmt: skip
        assert f"env var: {variable}" in help_text


@pytest.mark.redis
def test_an_unreachable_redis_is_said_at_start_and_failures_are_logged(
    server_factory: Callable[..., ServerProcess],
) -> None:
    from _support import free_port, wait_until

    server = server_factory("--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    wait_until(lambda: any("answering 503" in line for line in server.output), what="a warning")
    for _ in range(3):
        assert httpx.post(server.url + "/api/bins").status_code == 503
    wait_until(
        lambda: any("storage unavailable, answering 503" in line for line in server.output),
        what="the first write failure in the log",
    )
    logged = [line for line in server.output if "storage unavailable, answering 503" in line]
    assert len(logged) == 1  # then at most one line per 10 s, with a count
