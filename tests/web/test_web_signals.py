"""What the page says about a request beyond its bytes: the server's signature verdict (✓/✗ in
the row, scheme and reason in the detail) and whether smee-client forwards it byte-exact; and
the bin's smee channel URL (issues 12 and 15)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe
from web_support import Watched, new_bin

from hookscope._embedded import BackgroundServer

pytestmark = pytest.mark.browser

SECRET = "whsec_page_test"
BODY = '{"type":"invoice.paid","amount":100}'


@pytest.fixture
def clip(chromium: Any) -> Iterator[Watched]:
    page = Watched.open(chromium, permissions=["clipboard-read", "clipboard-write"])
    yield page
    page.close()


def test_verdicts_and_smee_notes_show(clip: Watched, web_server: BackgroundServer) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url, secrets={"stripe": SECRET})
    clip.open_bin(web_server.url, hook)
    header = stripe.WebhookSignature.generate_signature_header(BODY, SECRET)
    url = hook["url"]
    httpx.post(url, content=BODY, headers={"Stripe-Signature": header})  # valid, compact
    httpx.post(url, content=BODY + " ", headers={"Stripe-Signature": header})  # tampered
    httpx.post(url, content='{\n  "pretty": true\n}', headers={"Stripe-Signature": "t=1,v1=00"})
    clip.wait_rows(3)
    page = clip.page
    marks = page.locator("#rows .req .sig")
    expect(marks).to_have_text(["✗", "✗", "✓"])  # newest first
    assert (
        marks.nth(0).get_attribute("title") == "stripe: bad_signature (the signature does "
        "not match the body and secret)"
    )
    expect(page.locator("#response-summary")).to_contain_text("verifies stripe")

    page.locator("#rows .req").nth(2).click()
    expect(page.locator("#detail .facts")).to_contain_text("✓ stripe: valid")
    expect(page.locator("#detail .smee-note")).to_have_count(0)  # compact JSON: exact
    page.locator("#rows .req").nth(1).click()
    expect(page.locator("#detail .facts")).to_contain_text("✗ stripe: bad_signature")
    page.locator("#rows .req").nth(0).click()
    expect(page.locator("#detail .smee-note")).to_contain_text(
        "smee-client would not forward this body byte-exact"
    )

    page.evaluate("navigator.clipboard.writeText('')")
    page.locator("#copy-smee").click()
    page.wait_for_function("async () => (await navigator.clipboard.readText()) !== ''")
    channel = str(page.evaluate("navigator.clipboard.readText()"))
    assert channel == (
        f"{web_server.url}/api/bins/{hook['id']}/smee?token={hook['token']}&cursor=smee"
    )
    with httpx.stream("GET", channel + "&since=0-0", timeout=10) as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
    clip.assert_clean()


def test_a_bin_without_secrets_shows_no_verdict(
    clip: Watched, web_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url)
    clip.open_bin(web_server.url, hook)
    header = stripe.WebhookSignature.generate_signature_header(BODY, SECRET)
    httpx.post(hook["url"], content=BODY, headers={"Stripe-Signature": header})
    clip.wait_rows(1)
    expect(clip.page.locator("#rows .req .sig")).to_have_text([""])
    clip.page.locator("#rows .req").nth(0).click()
    expect(clip.page.locator("#detail .facts")).not_to_contain_text("Signature")
    clip.assert_clean()
