"""``signed=``: waits and assertions on the server's signature verdict, as a user writes them."""

from __future__ import annotations

from conftest import RunPytest

SENDER = """
import time

import httpx
import pytest
import stripe

SECRET = "whsec_plugin_secret"
BODY = '{"id": "evt_1", "type": "invoice.paid"}'


def deliver(url, secret=SECRET, body=BODY, age=0):
    header = stripe.WebhookSignature.generate_signature_header(
        body, secret, timestamp=int(time.time()) - age
    )
    httpx.post(url, content=body, headers={"Stripe-Signature": header})
"""


def test_signed_waits_and_assertions_that_pass(run: RunPytest) -> None:
    result = run(
        SENDER
        + """
def test_set_secrets_then_wait_for_a_valid_signature(hookbin):
    hookbin.set_secrets({"stripe": SECRET})
    deliver(hookbin.url_for("/stripe"), secret="whsec_wrong")
    deliver(hookbin.url_for("/stripe"))
    req = hookbin.wait_for("POST", "/stripe", signed=True, timeout=5)
    assert req.signature.valid and req.signature.scheme == "stripe"
    hookbin.assert_received(signed=False, count=1)
    hookbin.assert_received(signed=True, count=1)
    hookbin.set_secrets({"stripe": None})  # removed: later captures get no verdict
    deliver(hookbin.url_for("/later"))
    assert hookbin.wait_for(path="/later").signature is None
    hookbin.assert_nothing_received(path="/later", signed=True, within=0)


@pytest.mark.parametrize("hookbin_secrets", [{"stripe": SECRET}])
def test_one_test_parametrizes_the_secrets(hookbin):
    deliver(hookbin.url)
    hookbin.wait_for(signed=True, timeout=5)


class TestAClassOfSignedTests:
    @pytest.fixture
    def hookbin_secrets(self):
        return {"stripe": SECRET, "github": "gh-secret"}

    def test_the_bin_starts_with_them(self, hookbin):
        deliver(hookbin.url, age=3600)
        req = hookbin.wait_for(signed=False, timeout=5)
        assert req.signature.reason == "timestamp_outside_tolerance"


@pytest.mark.asyncio
@pytest.mark.parametrize("hookbin_secrets", [{"stripe": SECRET}])
async def test_async_hookbin_too(async_hookbin):
    deliver(async_hookbin.url)
    await async_hookbin.wait_for(signed=True, timeout=5)
    await async_hookbin.set_secrets({"stripe": "whsec_rotated"})
    deliver(async_hookbin.url)
    await async_hookbin.wait_for(signed=False, timeout=5)


def test_more_bins_with_secrets(hookscope_server):
    bin = hookscope_server.create_bin(name="extra", secrets={"stripe": SECRET})
    deliver(bin.url)
    bin.wait_for(signed=True, timeout=5)
    bin.delete()
"""
    )
    result.assert_outcomes(passed=5)


def test_a_badly_signed_delivery_fails_with_the_reason(run: RunPytest) -> None:
    result = run(
        SENDER
        + """
@pytest.fixture
def hookbin_secrets():
    return {"stripe": SECRET}


def test_wrong_secret(hookbin):
    deliver(hookbin.url_for("/stripe"), secret="whsec_other")
    hookbin.wait_for("POST", "/stripe", signed=True, timeout=0.3)


def test_old_delivery(hookbin):
    deliver(hookbin.url_for("/stripe"), age=900)
    hookbin.wait_for("POST", "/stripe", signed=True, timeout=0.3)


def test_tampered_body(hookbin):
    header = stripe.WebhookSignature.generate_signature_header(BODY, SECRET)
    httpx.post(hookbin.url_for("/stripe"), content=BODY.replace("paid", "void"),
               headers={"Stripe-Signature": header})
    hookbin.assert_received(signed=True)
"""
    )
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "E       hookscope.*WaitTimeout: waited 0.3 s for a request matching "
            "POST /stripe signed=True in bin b_*; 1 request(s) arrived:",
            "E         *-0 POST /stripe  (signed: stripe signature invalid: bad_signature "
            "(the signature does not match the body and secret))",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E         *-0 POST /stripe  (signed: stripe signature invalid: "
            "timestamp_outside_tolerance (the signature matches, but its timestamp is outside "
            "the tolerance (a replay, or a clock that is off)))",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: expected at least one request matching any method any "
            "path signed=True in bin b_*, none matched; 1 request(s) arrived:",
            "E         *-0 POST /stripe  (signed: stripe signature invalid: bad_signature *",
        ]
    )
    assert "whsec_plugin_secret" not in result.stdout.str()  # write-only, also in failures


def test_without_a_secret_the_failure_says_how_to_get_a_verdict(run: RunPytest) -> None:
    result = run(
        SENDER
        + """
def test_forgot_the_secret(hookbin):
    deliver(hookbin.url_for("/stripe"))
    hookbin.wait_for("POST", "/stripe", signed=True, timeout=0.3)
"""
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E         *-0 POST /stripe  (signed: no verdict: the bin held no secret for this "
            "request's stripe signature when it arrived; set one with "
            "set_secrets({'stripe': ...}) before the sender sends)",
        ]
    )
