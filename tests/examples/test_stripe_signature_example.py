"""Example: testing that a sender signs its webhooks the way Stripe does, with ``signed=True``.

The code under test is ``Notifier``: it posts events to subscribers, signed like Stripe's own
(``Stripe-Signature: t=...,v1=...``, made with the ``stripe`` package). The bin holds the
same secret (the ``hookbin_secrets`` fixture, overridden below), so the server verifies
every delivery as it arrives, and ``signed=True`` waits for one whose signature is valid.

When the sender signs wrongly, the wait fails with the server's reason in words:
``bad_signature`` (the secret or the body is wrong), ``timestamp_outside_tolerance`` (the
signature is right, its timestamp too old: a clock that is off, or a replay). The last two
tests show those failures, which a suite would normally not contain.

Run: ``pytest tests/examples/test_stripe_signature_example.py``. Guide: docs/pytest.md;
the schemes and reasons: docs/signatures.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import stripe

from hookscope import WaitTimeout
from hookscope.pytest_plugin import HookBin

# --- the code under test -------------------------------------------------------------------


class Notifier:
    """Delivers events to a subscriber, signed with the subscriber's ``whsec_`` secret.

    ``clock_skew``: seconds this host's clock is behind (a misconfigured server).
    """

    def __init__(self, url: str, secret: str, *, clock_skew: int = 0) -> None:
        self.url = url
        self.secret = secret
        self.clock_skew = clock_skew

    def send(self, event_type: str, data: dict[str, Any]) -> None:
        body = json.dumps({"id": "evt_1", "type": event_type, "data": {"object": data}})
        signature = stripe.WebhookSignature.generate_signature_header(
            body, self.secret, timestamp=int(time.time()) - self.clock_skew
        )
        headers = {"content-type": "application/json", "stripe-signature": signature}
        httpx.post(self.url, content=body, headers=headers, timeout=5)


# --- the tests -------------------------------------------------------------------------------

SECRET = "whsec_example_secret"


@pytest.fixture
def hookbin_secrets() -> Mapping[str, str]:
    """The bins of this module hold the subscriber's secret: the server verifies captures."""
    return {"stripe": SECRET}


def test_a_paid_invoice_is_delivered_signed(hookbin: HookBin) -> None:
    Notifier(hookbin.url_for("/stripe"), SECRET).send("invoice.paid", {"amount_paid": 4200})

    req = hookbin.wait_for("POST", "/stripe", json={"type": "invoice.paid"}, signed=True)
    # What a receiver would do with it: Stripe's own library accepts it too.
    event = stripe.Webhook.construct_event(req.text, req.headers["stripe-signature"], SECRET)
    assert event["data"]["object"]["amount_paid"] == 4200


def test_the_verdict_is_on_every_request(hookbin: HookBin) -> None:
    Notifier(hookbin.url, SECRET).send("invoice.paid", {})
    Notifier(hookbin.url, "whsec_a_stale_secret").send("invoice.paid", {})

    good, bad = hookbin.wait_for(count=2)
    assert good.signature is not None and good.signature.valid
    assert bad.signature is not None and bad.signature.reason == "bad_signature"
    hookbin.assert_received(signed=False, count=1)  # exactly one badly signed


def test_a_wrong_secret_fails_with_the_reason(hookbin: HookBin) -> None:
    Notifier(hookbin.url_for("/stripe"), "whsec_a_stale_secret").send("invoice.paid", {})

    with pytest.raises(WaitTimeout) as failure:
        hookbin.wait_for("POST", "/stripe", signed=True, timeout=0.5)
    assert "signed: stripe signature invalid: bad_signature" in str(failure.value)


def test_a_clock_that_is_off_fails_with_the_reason(hookbin: HookBin) -> None:
    late = Notifier(hookbin.url_for("/stripe"), SECRET, clock_skew=600)  # ten minutes behind
    late.send("invoice.paid", {})

    with pytest.raises(WaitTimeout) as failure:
        hookbin.wait_for("POST", "/stripe", signed=True, timeout=0.5)
    assert "timestamp_outside_tolerance (the signature matches, but its timestamp" in str(
        failure.value
    )
    # The body and the secret are right: the same check with a wider tolerance passes.
    req = hookbin.requests()[0]
    assert req.verify("stripe", SECRET, tolerance=900)
