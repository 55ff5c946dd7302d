"""``hookscope new``: a bin is created, its URL and token printed (or the API's JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from click.testing import Result

import hookscope
from hookscope._embedded import BackgroundServer


def test_new_prints_capture_url_token_and_hints(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--url", embedded_server.url, "--name", "stripe")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Created bin b_") and "'stripe'" in lines[0]
    url = next(line.split()[-1] for line in lines if "capture URL" in line)
    token = next(line.split()[-1] for line in lines if line.strip().startswith("token"))
    bin_id = url.rsplit("/", 1)[1]
    assert url == f"{embedded_server.url}/h/{bin_id}"
    assert f"export HOOKSCOPE_TOKEN={token}" in result.stdout
    assert f"export HOOKSCOPE_URL={embedded_server.url}" in result.stdout
    assert f"hookscope tail {bin_id}" in result.stdout
    with hookscope.Client(embedded_server.url) as client:
        assert client.bin(bin_id, token).info()["name"] == "stripe"


def test_new_json_is_the_api_answer(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--json", "--max-requests", "5", "--ttl", "1h", "--name", "x",
                 env={"HOOKSCOPE_URL": embedded_server.url})  # fmt: skip

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"id", "token", "url", "created_at", "response", "max_requests", "ttl_s"}
    assert data["max_requests"] == 5
    assert data["ttl_s"] == 3600
    assert data["name"] == "x"
    assert data["url"] == f"{embedded_server.url}/h/{data['id']}"


def test_new_configures_the_response(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--url", embedded_server.url, "--json", "--status", "503",
                 "--body", "try later", "-H", "Retry-After: 5")  # fmt: skip

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    answer = httpx.post(data["url"] + "/x", content=b"hi", timeout=10)
    assert answer.status_code == 503
    assert answer.text == "try later"
    assert answer.headers["retry-after"] == "5"


def test_new_rejects_a_malformed_header(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--url", embedded_server.url, "-H", "no colon here")

    assert result.exit_code == 2
    assert "'Name: value'" in result.stderr


def test_new_with_api_key(
    cli: Callable[..., Result], server_factory: Callable[..., object]
) -> None:
    server = server_factory("--api-key", "s3cret")
    url = server.url  # type: ignore[attr-defined]

    refused = cli("new", "--url", url)
    wrong = cli("new", "--url", url, "--api-key", "nope")
    allowed = cli("new", "--json", env={"HOOKSCOPE_URL": url, "HOOKSCOPE_API_KEY": "s3cret"})

    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "Error: this server needs an API key to create bins: --api-key / HOOKSCOPE_API_KEY"
    )
    assert wrong.exit_code == 1
    assert "refused the API key" in wrong.stderr
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["id"].startswith("b_")
