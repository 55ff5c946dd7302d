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
