"""Bin secrets: the server verifies each capture and stores the verdict; secrets are write-only.

Run on both backends, against ``hookscope serve`` processes so that their logs can be read.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import stripe
import websockets
from _support import RedisServer, ServerProcess

STRIPE = "whsec_the_stripe_secret_1234"
GITHUB = "github-secret-5678"
TWILIO = "twilio-token-90"
BODY = b'{"type":"invoice.paid","amount":4200}'
SECRETS = (STRIPE, GITHUB, TWILIO)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def server(
    request: pytest.FixtureRequest,
    server_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., RedisServer],
) -> ServerProcess:
    args = ["--public-url", "https://hooks.example.com", "--log-level", "debug"]
    if request.param == "redis":
        args += ["--redis-url", redis_factory().url]
    return server_factory(*args)


def _create(server: ServerProcess, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/bins", json=body)


def _stored(server: ServerProcess, bin: dict[str, Any]) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.url}/api/bins/{bin['id']}/requests",
        headers={"Authorization": f"Bearer {bin['token']}"},
    )
    found: list[dict[str, Any]] = answer.json()["requests"]
    return found


def _capture(server: ServerProcess, bin: dict[str, Any], path: str = "/hook", **kw: Any) -> None:
    answer = httpx.post(f"{server.url}/h/{bin['id']}{path}", **kw)
    assert answer.status_code == 200, answer.text


def test_captures_carry_the_servers_verdict(server: ServerProcess) -> None:
    created = _create(server, secrets={"stripe": STRIPE, "github": GITHUB})
    assert created.status_code == 201
    bin = created.json()
    assert bin["signing"] == ["github", "stripe"]

    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE)
    _capture(server, bin, content=BODY, headers={"Stripe-Signature": header})
    _capture(server, bin, content=BODY + b" ", headers={"Stripe-Signature": header})
    github = "sha256=" + hmac.new(GITHUB.encode(), BODY, hashlib.sha256).hexdigest()
    _capture(server, bin, content=BODY, headers={"X-Hub-Signature-256": github})
    _capture(server, bin, content=BODY)  # unsigned: the bin's first scheme says missing
    verdicts = [r["signature"] for r in _stored(server, bin)]
    assert verdicts == [
        {"scheme": "stripe", "valid": True, "reason": None},
        {"scheme": "stripe", "valid": False, "reason": "bad_signature"},
        {"scheme": "github", "valid": True, "reason": None},
        {"scheme": "github", "valid": False, "reason": "missing_header"},
    ]


def test_a_bin_without_secrets_stores_no_verdict(server: ServerProcess) -> None:
    bin = _create(server).json()
    assert bin["signing"] == []
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE)
    _capture(server, bin, content=BODY, headers={"Stripe-Signature": header})
    assert "signature" not in _stored(server, bin)[0]


def test_changed_secrets_apply_to_the_next_capture(server: ServerProcess) -> None:
    bin = _create(server, secrets={"stripe": "whsec_old"}).json()
    auth = {"Authorization": f"Bearer {bin['token']}"}
    changed = httpx.patch(
        f"{server.url}/api/bins/{bin['id']}",
        json={"secrets": {"stripe": STRIPE, "svix": None}},
        headers=auth,
    )
    assert changed.status_code == 200 and changed.json()["signing"] == ["stripe"]
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE)
    _capture(server, bin, content=BODY, headers={"Stripe-Signature": header})
    assert _stored(server, bin)[-1]["signature"]["valid"] is True
    removed = httpx.patch(
        f"{server.url}/api/bins/{bin['id']}", json={"secrets": {"stripe": None}}, headers=auth
    )
    assert removed.json()["signing"] == []
    _capture(server, bin, content=BODY, headers={"Stripe-Signature": header})
    assert "signature" not in _stored(server, bin)[-1]


def test_twilio_is_checked_against_the_public_url(server: ServerProcess) -> None:
    from twilio.request_validator import RequestValidator

    bin = _create(server, secrets={"twilio": TWILIO}).json()
    assert bin["url"].startswith("https://hooks.example.com/h/")
    params = {"CallSid": "CA1", "Digits": "42"}
    url = f"{bin['url']}/voice?x=1"
    signature = RequestValidator(TWILIO).compute_signature(url, params)
    _capture(
        server,
        bin,
        path="/voice?x=1",
        data=params,
        headers={"X-Twilio-Signature": signature},
    )
    assert _stored(server, bin)[0]["signature"] == {
        "scheme": "twilio",
        "valid": True,
        "reason": None,
    }


@pytest.mark.parametrize(
    "secrets",
    [
        {"paypal": "x"},
        {"stripe": ""},
        {"stripe": 5},
        {"stripe": None},
        {"standard-webhooks": "whsec_***not base64***"},
        {"github": "x" * 1025},
        ["stripe"],
    ],
)
def test_bad_secrets_are_400(server: ServerProcess, secrets: Any) -> None:
    answer = _create(server, secrets=secrets)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_secrets"
    assert "***not" not in answer.text


def test_secrets_are_write_only_everywhere(server: ServerProcess) -> None:
    created = _create(
        server, secrets={"stripe": STRIPE, "github": GITHUB, "twilio": TWILIO}, name="w"
    )
    bin = created.json()
    auth = {"Authorization": f"Bearer {bin['token']}"}
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), STRIPE)
    _capture(server, bin, content=BODY, headers={"Stripe-Signature": header})
    answers = [
        created.text,
        httpx.get(f"{server.url}/api/bins/{bin['id']}", headers=auth).text,
        httpx.patch(f"{server.url}/api/bins/{bin['id']}", json={"name": "v"}, headers=auth).text,
        httpx.get(f"{server.url}/api/bins/{bin['id']}/requests", headers=auth).text,
        httpx.get(f"{server.url}/metrics").text,
        httpx.get(f"{server.url}/api/openapi.json").text,
    ]
    with httpx.stream(
        "GET", f"{server.url}/api/bins/{bin['id']}/events?tail=5", headers=auth
    ) as events:
        text = ""
        for chunk in events.iter_text():
            text += chunk
            if "event: live" in text:
                break
        answers.append(text)

    async def websocket() -> str:
        url = server.url.replace("http://", "ws://") + f"/api/bins/{bin['id']}/ws?tail=5"
        async with websockets.connect(url, additional_headers=auth, compression=None) as ws:
            frames = [await ws.recv(), await ws.recv()]
        return "".join(str(frame) for frame in frames)

    answers.append(asyncio.run(websocket()))
    exported = subprocess.run(
        [sys.executable, "-m", "hookscope", "export", bin["id"], "--url", server.url,
         "--token", bin["token"], "--format", "jsonl"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    answers.append(exported.stdout)
    assert json.loads(exported.stdout.splitlines()[0])["signature"]["valid"] is True
    server.stop()
    answers.append("".join(server.output))  # the server's log, at debug level
    for text in answers:
        for secret in SECRETS:
            assert secret not in text
            assert base64.b64encode(secret.encode()).decode() not in text
