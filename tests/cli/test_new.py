"""``hookscope new``: a bin is created, its URL and token printed (or the API's JSON)."""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
import pytest
import stripe
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
    # Whoever pastes the exports learns that their tests will use this server too.
    assert lines[-2:] == [
        "  # the pytest plugin reads HOOKSCOPE_URL too: tests run from this shell put",
        "  # their bins on this server (unset HOOKSCOPE_URL for their own server)",
    ]
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


STRIPE = "whsec_cli_stripe_secret"
SVIX = "whsec_" + base64.b64encode(b"the svix key, 24 bytes..").decode()


def test_new_with_secrets_shows_the_schemes_never_the_secrets(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    args = ("new", "--url", embedded_server.url, "--secret", f"stripe={STRIPE}")
    as_json = cli(*args, "--secret", f"svix={SVIX}", "--json")
    human = cli(*args, "--secret", "github", input="gh-typed-secret\n")  # asked for, hidden

    assert as_json.exit_code == 0 and human.exit_code == 0, as_json.output + human.output
    data = json.loads(as_json.stdout)
    assert data["signing"] == ["standard-webhooks", "stripe"]  # svix is standard-webhooks
    assert "  signing      github, stripe\n" in human.stdout
    everything = as_json.output + human.output
    for secret in (STRIPE, SVIX, SVIX[6:], "gh-typed-secret"):
        assert secret not in everything
    # The server verifies with them: a capture carries its verdict.
    body = '{"type": "invoice.paid"}'
    header = stripe.WebhookSignature.generate_signature_header(body, STRIPE)
    httpx.post(data["url"], content=body, headers={"Stripe-Signature": header}, timeout=10)
    with hookscope.Client(embedded_server.url) as client:
        assert client.bin(data["id"], data["token"]).wait_for(signed=True, timeout=10)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("paypal=whsec_leak", "SCHEME=SECRET needs a known scheme: github, stripe"),
        ("whsec_leak", "SCHEME=SECRET needs a known scheme"),  # the secret alone
        ("whsec_leak=", "SCHEME=SECRET needs a known scheme"),
        ("stripe=", "the stripe secret: the secret is empty"),
        ("svix=whsec_***leak***", "the standard-webhooks secret: a standard-webhooks secret"),
    ],
)
def test_a_bad_secret_is_refused_without_echoing_it(
    cli: Callable[..., Result], embedded_server: BackgroundServer, value: str, error: str
) -> None:
    result = cli("new", "--url", embedded_server.url, "--secret", value)

    assert result.exit_code == 2
    assert error in result.stderr
    assert "leak" not in result.output


def test_a_scheme_given_twice_is_refused(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--url", embedded_server.url,
                 "--secret", "svix=" + SVIX, "--secret", "standard-webhooks=" + SVIX)  # fmt: skip

    assert result.exit_code == 2
    assert "standard-webhooks is given twice" in result.stderr
    assert SVIX not in result.output


def _read_until(fd: int, wanted: bytes, seen: bytearray, timeout: float = 30) -> None:
    """Read the terminal's output into ``seen`` until ``wanted`` shows, or the end."""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        assert ready, f"no {wanted!r} within {timeout} s; the terminal shows {bytes(seen)!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            chunk = b""
        if not chunk:
            return
        seen += chunk


def test_a_secret_asked_for_at_a_terminal_is_not_echoed(
    embedded_server: BackgroundServer,
) -> None:
    terminal, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "hookscope", "new", "--url", embedded_server.url,
         "--secret", "stripe"],
        stdin=child, stdout=child, stderr=child,
    )  # fmt: skip
    os.close(child)
    seen = bytearray()
    try:
        _read_until(terminal, b"stripe secret: ", seen)
        os.write(terminal, STRIPE.encode() + b"\n")
        _read_until(terminal, b"hookscope tail b_", seen)
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait()
        os.close(terminal)
    assert b"  signing      stripe" in seen
    assert STRIPE.encode() not in seen  # typed without echo


def test_new_smee_prints_the_channel(
    cli: Callable[..., Result], embedded_server: BackgroundServer
) -> None:
    result = cli("new", "--url", embedded_server.url, "--smee")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    url = next(line.split()[-1] for line in lines if "capture URL" in line)
    token = next(line.split()[-1] for line in lines if line.strip().startswith("token"))
    channel = next(line.split()[-1] for line in lines if "smee URL" in line)
    bin_id = url.rsplit("/", 1)[1]
    assert channel == (f"{embedded_server.url}/api/bins/{bin_id}/smee?token={token}&cursor=smee")
    with httpx.stream("GET", channel, timeout=10) as events:
        assert events.status_code == 200
