"""Signature verification, checked against each sender's own library and published vectors.

Every request is signed with the sender's official package (stripe, standardwebhooks, svix,
slack_sdk, twilio; GitHub's @octokit/webhooks-methods under node), sent through a real
hookscope server, read back with the SDK and verified: valid as sent; invalid with the right
reason after one byte of body, header or timestamp is changed.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import hookscope
from hookscope import CapturedRequest

NODE_PEERS = Path(__file__).parent / "node"
NOW = 1_764_366_000
BODY = b'{"id":"evt_1","type":"invoice.paid","amount":4200,"note":"caf\xc3\xa9"}'


@pytest.fixture(scope="module")
def client() -> Iterator[hookscope.Client]:
    with hookscope.serve_in_background() as server, hookscope.Client(server.url) as sdk:
        yield sdk


@pytest.fixture
def capture(client: hookscope.Client) -> Callable[..., CapturedRequest]:
    """Send a request through a real server and read it back as the SDK gives it."""

    def send(
        body: bytes, headers: dict[str, str], *, path: str = "/hook", method: str = "POST"
    ) -> CapturedRequest:
        bin = client.create_bin()
        httpx.request(method, bin.url_for(path), content=body, headers=headers)
        (request,) = bin.requests()
        return request

    return send


def _flip(data: bytes, at: int = 5) -> bytes:
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


# -- GitHub ----------------------------------------------------------------------------------------


def _octokit_sign(secret: str, body: bytes) -> str:
    if shutil.which("node") is None or not (NODE_PEERS / "node_modules").exists():
        pytest.fail("node and `npm ci --prefix tests/node` are needed (.ci/run does both)")
    script = (
        "import { sign } from '@octokit/webhooks-methods';"
        "const chunks = []; for await (const c of process.stdin) chunks.push(c);"
        "console.log(await sign(process.argv[1], Buffer.concat(chunks).toString('utf8')));"
    )
    result = subprocess.run(
        ["node", "--input-type=module", "-e", script, secret],
        input=body,
        capture_output=True,
        cwd=NODE_PEERS,
        check=True,
        timeout=30,
    )
    return result.stdout.decode().strip()


def test_github_signed_by_octokit(capture: Callable[..., CapturedRequest]) -> None:
    secret = "gh-secret-é"
    signature = _octokit_sign(secret, BODY)
    assert signature.startswith("sha256=")
    request = capture(BODY, {"X-Hub-Signature-256": signature, "X-GitHub-Event": "push"})
    assert request.signature_scheme == "github"
    assert request.verify("github", secret)
    assert request.verify("github", "wrong").reason == "bad_signature"
    tampered = capture(_flip(BODY), {"X-Hub-Signature-256": signature})
    assert tampered.verify("github", secret).reason == "bad_signature"
    assert capture(BODY, {}).verify("github", secret).reason == "missing_header"
    malformed = capture(BODY, {"X-Hub-Signature-256": "md5=abc"})
    assert malformed.verify("github", secret).reason == "malformed_header"


def test_github_published_vector_and_legacy_sha1(capture: Callable[..., CapturedRequest]) -> None:
    # docs.github.com, "Validating webhook deliveries".
    vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    request = capture(b"Hello, World!", {"X-Hub-Signature-256": vector})
    assert request.verify("github", "It's a Secret to Everybody")
    legacy = capture(
        b"Hello, World!", {"X-Hub-Signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"}
    )
    assert legacy.verify("github", "It's a Secret to Everybody")


# -- Stripe ----------------------------------------------------------------------------------------


def test_stripe_signed_by_stripe(capture: Callable[..., CapturedRequest]) -> None:
    stripe = pytest.importorskip("stripe")
    secret = "whsec_test_secret"
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), secret, timestamp=NOW)
    request = capture(BODY, {"Stripe-Signature": header})
    assert request.signature_scheme == "stripe"
    assert request.verify("stripe", secret, now=NOW + 10)
    # Stripe's own verifier agrees.
    assert stripe.WebhookSignature.verify_header(request.body, header, secret, tolerance=None)
    old = request.verify("stripe", secret, now=NOW + 301)
    assert not old and old.reason == "timestamp_outside_tolerance"
    assert request.verify("stripe", secret, now=NOW + 301, tolerance=600)
    assert capture(_flip(BODY), {"Stripe-Signature": header}).verify(
        "stripe", secret, now=NOW
    ).reason == ("bad_signature")
    later = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert capture(BODY, {"Stripe-Signature": later}).verify("stripe", secret, now=NOW).reason == (
        "bad_signature"
    )


def test_stripe_accepts_any_of_several_v1_signatures(
    capture: Callable[..., CapturedRequest],
) -> None:
    stripe = pytest.importorskip("stripe")
    header = stripe.WebhookSignature.generate_signature_header(
        BODY.decode(), "whsec_new", timestamp=NOW
    )
    rolled = f"t={NOW},v1={'0' * 64},{header.split(',')[1]},v0=ignored"
    request = capture(BODY, {"Stripe-Signature": rolled})
    assert request.verify("stripe", "whsec_new", now=NOW)
    assert capture(BODY, {"Stripe-Signature": "t=x,v1=00"}).verify("stripe", "s").reason == (
        "malformed_header"
    )


# -- Standard Webhooks and Svix ----------------------------------------------------------------------


def test_standard_webhooks_signed_by_the_reference_library(
    capture: Callable[..., CapturedRequest],
) -> None:
    from standardwebhooks.webhooks import Webhook

    secret = "whsec_" + base64.b64encode(b"a very secret key of 32 bytes!!!").decode()
    signed = Webhook(secret).sign("msg_1", datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(NOW), "webhook-signature": signed}
    request = capture(BODY, headers)
    assert request.signature_scheme == "standard-webhooks"
    assert request.verify("standard-webhooks", secret, now=NOW)
    assert request.verify("svix", secret, now=NOW)  # the alias
    future = request.verify("standard-webhooks", secret, now=NOW - 301)
    assert future.reason == "timestamp_outside_tolerance"  # too new counts too
    assert request.verify("standard-webhooks", secret, now=NOW + 301).reason == (
        "timestamp_outside_tolerance"
    )
    other_id = {**headers, "webhook-id": "msg_2"}
    assert capture(BODY, other_id).verify("standard-webhooks", secret, now=NOW).reason == (
        "bad_signature"
    )
    several = {**headers, "webhook-signature": f"v1,{'A' * 44} {signed} v2,ignored"}
    assert capture(BODY, several).verify("standard-webhooks", secret, now=NOW)


def test_svix_signed_by_svix_with_svix_headers(capture: Callable[..., CapturedRequest]) -> None:
    from svix.webhooks import Webhook

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = Webhook(secret).sign("msg_9", datetime.fromtimestamp(NOW, UTC), BODY.decode())
    headers = {"svix-id": "msg_9", "svix-timestamp": str(NOW), "svix-signature": signed}
    request = capture(BODY, headers)
    assert request.signature_scheme == "standard-webhooks"
    assert request.verify("svix", secret, now=NOW)
    assert capture(_flip(BODY), headers).verify("svix", secret, now=NOW).reason == ("bad_signature")


def test_standard_webhooks_published_vector(capture: Callable[..., CapturedRequest]) -> None:
    # The example of the Standard Webhooks / Svix documentation.
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    request = capture(b'{"test": 2432232314}', headers)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert request.verify("standard-webhooks", secret, now=1614265330)


# -- Slack -------------------------------------------------------------------------------------------

SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
    b"%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015."
    b"47445629121.803a0bc887a14d10d2c447fce8b6703c"
)


def test_slack_signed_by_slack_sdk_and_the_published_vector(
    capture: Callable[..., CapturedRequest],
) -> None:
    from slack_sdk.signature import SignatureVerifier

    secret = "8f742231b10e8888abcd99yyyzzz85a5"  # api.slack.com, "Verifying requests"
    signature = SignatureVerifier(secret).generate_signature(
        timestamp="1531420618", body=SLACK_BODY.decode()
    )
    assert signature == "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    headers = {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": "1531420618"}
    request = capture(SLACK_BODY, headers)
    assert request.signature_scheme == "slack"
    assert request.verify("slack", secret, now=1531420618 + 299)
    assert request.verify("slack", secret, now=1531420618 + 301).reason == (
        "timestamp_outside_tolerance"
    )
    moved = {**headers, "X-Slack-Request-Timestamp": "1531420619"}
    assert capture(SLACK_BODY, moved).verify("slack", secret, now=1531420619).reason == (
        "bad_signature"
    )
    assert capture(SLACK_BODY, {"X-Slack-Signature": signature}).verify("slack", secret).reason == (
        "missing_header"
    )


# -- Shopify -----------------------------------------------------------------------------------------


def test_shopify(capture: Callable[..., CapturedRequest]) -> None:
    import hashlib
    import hmac

    secret = "shpss_secret"
    digest = base64.b64encode(hmac.new(secret.encode(), BODY, hashlib.sha256).digest()).decode()
    request = capture(BODY, {"X-Shopify-Hmac-Sha256": digest, "X-Shopify-Topic": "orders/paid"})
    assert request.signature_scheme == "shopify"
    assert request.verify("shopify", secret)
    assert capture(_flip(BODY), {"X-Shopify-Hmac-Sha256": digest}).verify(
        "shopify", secret
    ).reason == ("bad_signature")
    assert capture(BODY, {"X-Shopify-Hmac-Sha256": "%%%"}).verify("shopify", secret).reason == (
        "malformed_header"
    )


# -- Twilio ------------------------------------------------------------------------------------------


def test_twilio_form_signed_by_twilio(capture: Callable[..., CapturedRequest]) -> None:
    from twilio.request_validator import RequestValidator

    token = "12345"
    params = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234"}
    body = httpx.QueryParams(params).__str__().encode()
    url = "https://hooks.example.com/h/b_x/voice?foo=1&bar=2"
    signature = RequestValidator(token).compute_signature(url, params)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    request = capture(body, headers, path="/voice?foo=1&bar=2")
    assert request.signature_scheme == "twilio"
    assert request.verify("twilio", token).reason == "url_needed"
    assert request.verify("twilio", token, url=url)
    assert request.verify(
        "twilio", token, url="https://hooks.example.com:443/h/b_x/voice?foo=1&bar=2"
    )
    assert request.verify("twilio", token, url=url.replace("foo=1", "foo=2")).reason == (
        "bad_signature"
    )
    tampered = body.replace(b"1234", b"1235")
    assert capture(tampered, headers).verify("twilio", token, url=url).reason == "bad_signature"


def test_twilio_published_vector_and_json_bodies(
    capture: Callable[..., CapturedRequest],
) -> None:
    from twilio.request_validator import RequestValidator

    # twilio.com/docs/usage/security: the worked example.
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    request = capture(
        str(httpx.QueryParams(params)).encode(),
        {**form, "X-Twilio-Signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
    )
    assert request.verify("twilio", "12345", url=url)

    # JSON bodies: the URL carries bodySHA256 and only the URL is signed.
    import hashlib

    body_url = f"https://h.example.com/h/b/x?bodySHA256={hashlib.sha256(BODY).hexdigest()}"
    validator = RequestValidator("tok")
    signature = validator.compute_signature(body_url, {})
    assert validator.validate(body_url, BODY.decode(), signature)
    json_request = capture(BODY, {"X-Twilio-Signature": signature})
    assert json_request.verify("twilio", "tok", url=body_url)
    assert capture(_flip(BODY), {"X-Twilio-Signature": signature}).verify(
        "twilio", "tok", url=body_url
    ).reason == ("bad_signature")


# -- GitLab ------------------------------------------------------------------------------------------


def test_gitlab_token(capture: Callable[..., CapturedRequest]) -> None:
    request = capture(BODY, {"X-Gitlab-Token": "glpat-secret", "X-Gitlab-Event": "Push Hook"})
    assert request.signature_scheme == "gitlab"
    assert request.verify("gitlab", "glpat-secret")
    assert request.verify("gitlab", "glpat-secreT").reason == "bad_signature"


# -- the API around it ---------------------------------------------------------------------------


def test_no_scheme_and_unknown_schemes(capture: Callable[..., CapturedRequest]) -> None:
    request = capture(BODY, {"Content-Type": "application/json"})
    assert request.signature_scheme is None
    with pytest.raises(ValueError, match="unknown signature scheme"):
        request.verify("paypal", "x")
    with pytest.raises(ValueError, match="base64"):
        request.verify("standard-webhooks", "whsec_!!!")


def test_the_verdict_round_trips_on_the_wire() -> None:
    from hookscope._signatures import Verification

    wire: dict[str, Any] = {
        "id": "1-0",
        "bin": "b_x",
        "received_at": "2026-11-28T21:43:44.123456Z",
        "method": "POST",
        "path": "/",
        "signature": {"scheme": "stripe", "valid": False, "reason": "bad_signature"},
    }
    request = CapturedRequest.from_wire(wire)
    assert request.signature == Verification("stripe", False, "bad_signature")
    assert not request.signature
    assert CapturedRequest.from_json(json.dumps(request.to_wire())) == request
    assert "signature" not in CapturedRequest.from_wire({**wire, "signature": None}).to_wire()


def test_now_defaults_to_the_clock(capture: Callable[..., CapturedRequest]) -> None:
    stripe = pytest.importorskip("stripe")
    header = stripe.WebhookSignature.generate_signature_header(BODY.decode(), "whsec_n")
    request = capture(BODY, {"Stripe-Signature": header})
    assert request.verify("stripe", "whsec_n")
    assert request.verify("stripe", "whsec_n", now=datetime.now(UTC))
    assert not request.verify("stripe", "whsec_n", now=time.time() + 3600)


def test_the_docs_worked_example_runs() -> None:
    import re
    import sys

    doc = (Path(__file__).parent.parent / "docs" / "signatures.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "serve_in_" in b]
    result = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "<Verification stripe invalid: bad_signature>",
        "<Verification stripe invalid: timestamp_outside_tolerance>",
        "<Verification stripe valid>",
    ]
