"""The bin page and the start page in headless Chromium: live rows, the detail pane for each
kind of body, keyboard, filters, pause, clear, the response editor, access failures.

Every test ends with ``assert_clean``: no CSP violation, no console error, no dialog.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from web_support import API_KEY, Watched, new_bin, stored

from hookscope._embedded import BackgroundServer

pytestmark = pytest.mark.browser


def detail_line(watched: Watched) -> str:
    return str(watched.page.locator("#detail .request-line").inner_text())


def test_rows_appear_live_and_the_detail_shows_every_kind_of_body(
    watched: Watched, web_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url, name="kinds")
    watched.open_bin(web_server.url, hook)
    page = watched.page
    expect(page.locator("#bin-name")).to_have_text("kinds")
    expect(page.locator("#capture-url")).to_have_value(hook["url"])
    expect(page.locator("#empty")).to_be_visible()
    url = hook["url"]
    document = '{"event":"paid","amount":12345678901234567890,"items":[1,{"a":null}],"e":{}}'
    with httpx.Client(timeout=10) as http:
        http.post(
            f"{url}/json?x=1",
            content=document,
            headers=[
                ("content-type", "application/json"),
                ("x-dup", "first"),
                ("X-Other", "between"),
                ("x-dup", "second"),
            ],
        )
        http.post(f"{url}/form", data={"name": "Ada Lovelace", "lang": "en"})
        http.post(
            f"{url}/upload",
            data={"note": "hello"},
            files={"file": ("report.bin", b"\x00\x01\xffdata", "application/octet-stream")},
        )
        http.put(f"{url}/binary", content=bytes(range(256)) * 40)
    watched.wait_rows(4)
    expect(page.locator("#empty")).to_be_hidden()
    paths = page.locator("#rows .path").all_inner_texts()
    assert paths == ["/binary", "/upload", "/form", "/json?x=1"]  # newest first
    assert page.locator("#rows .method").all_inner_texts() == ["PUT", "POST", "POST", "POST"]
    assert page.locator("#rows .size").all_inner_texts()[0] == "10 KB"
    expect(page.locator("#counts")).to_have_attribute("data-count", "4")

    page.locator("#rows .req").nth(3).click()
    detail = page.locator("#detail")
    assert detail_line(watched) == "POST /json?x=1 HTTP/1.1"
    headers = [
        tuple(row.locator("th, td").all_inner_texts())
        for row in detail.locator(".header-table tbody tr").all()
    ]
    sent = [tuple(pair) for pair in stored(web_server.url, hook)[0]["headers"]]
    assert headers == sent  # arrival order, duplicates kept, names as sent
    assert [h for h in headers if h[0].lower() == "x-dup"] == [
        ("x-dup", "first"),
        ("x-dup", "second"),
    ]
    expect(detail.locator(".view")).to_have_attribute("data-view", "json")
    pretty = detail.locator(".view pre").inner_text()
    assert json.loads(pretty) == json.loads(document)
    assert "12345678901234567890" in pretty  # as sent: not rounded by a float
    assert '  "items": [\n    1,\n    {\n      "a": null\n    }\n  ],\n  "e": {}' in pretty

    page.keyboard.press("ArrowUp")  # keyboard: to the newer row, the form
    assert detail_line(watched) == "POST /form HTTP/1.1"
    expect(detail.locator(".view")).to_have_attribute("data-view", "form")
    form = [
        tuple(r.locator("th, td").all_inner_texts())
        for r in detail.locator(".fields tbody tr").all()
    ]
    assert form == [("name", "Ada Lovelace"), ("lang", "en")]

    page.keyboard.press("ArrowUp")
    assert detail_line(watched) == "POST /upload HTTP/1.1"
    parts = detail.locator(".fields tbody tr")
    expect(parts).to_have_count(2)
    assert parts.nth(0).inner_text().split("\t")[0] == "note"
    expect(parts.nth(0).locator("td")).to_have_text("hello")
    expect(parts.nth(1).locator("th")).to_have_text("file")
    expect(parts.nth(1).locator(".part-about")).to_have_text(
        'file "report.bin", application/octet-stream, 7 B'
    )
    expect(parts.nth(1).locator("pre.hex")).to_contain_text("00 01 ff 64 61 74 61")

    page.keyboard.press("ArrowUp")
    assert detail_line(watched) == "PUT /binary HTTP/1.1"
    expect(detail.locator(".view")).to_have_attribute("data-view", "hex")
    hex_view = detail.locator(".view pre.hex")
    expect(hex_view).to_contain_text(
        "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
    )
    expect(hex_view).to_contain_text("|@ABCDEFGHIJKLMNO|")
    assert hex_view.inner_text().count("\n") == 255  # 4 KiB shown, then "Show all"
    detail.locator("button.show-all").click()
    assert hex_view.inner_text().count("\n") == 10240 // 16 - 1

    page.locator("#rows .req.selected").focus()
    page.keyboard.press("Enter")  # Enter: into the detail pane; Escape: back to the row
    expect(detail).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#rows .req.selected")).to_be_focused()
    page.keyboard.press("End")
    assert detail_line(watched) == "POST /json?x=1 HTTP/1.1"
    page.keyboard.press("Escape")  # Escape in the list: no selection
    expect(page.locator("#rows .req.selected")).to_have_count(0)
    expect(detail.locator(".placeholder")).to_be_visible()
    watched.assert_clean()


def test_filters_pause_and_clear(watched: Watched, web_server: BackgroundServer) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url)
    watched.open_bin(web_server.url, hook)
    page = watched.page
    with httpx.Client(timeout=10) as http:
        for n in range(6):
            method = "GET" if n % 3 == 0 else "POST"
            http.request(
                method, f"{hook['url']}/item/{n}", content=b"" if n % 3 == 0 else f"body-{n}"
            )
    watched.wait_rows(6)
    visible = page.locator("#rows .req:not([hidden]) .path")
    page.locator("#method-filter").select_option("GET")
    expect(visible).to_have_text(["/item/3", "/item/0"])
    page.locator("#method-filter").select_option("")
    page.locator("#text-filter").fill("BODY-4")  # body text, any case
    expect(visible).to_have_text(["/item/4"])
    expect(page.locator("#counts")).to_contain_text("1 match the filter")
    page.locator("#text-filter").fill("")
    expect(visible).to_have_count(6)

    page.locator("#pause").click()
    expect(page.locator("#pause")).to_have_attribute("aria-pressed", "true")
    with httpx.Client(timeout=10) as http:
        for n in range(6, 9):
            http.post(f"{hook['url']}/item/{n}", content=b"late")
    expect(page.locator("#counts")).to_contain_text("3 new while paused")
    expect(page.locator("#rows .req")).to_have_count(6)
    page.locator("#pause").click()
    watched.wait_rows(9)
    assert page.locator("#rows .path").first.inner_text() == "/item/8"

    page.locator("#clear").click()
    dialog = page.locator("#confirm-clear")
    expect(dialog).to_be_visible()
    page.locator("#clear-cancel").click()  # cancelled: nothing happens
    expect(dialog).to_be_hidden()
    assert len(stored(web_server.url, hook)) == 9
    page.locator("#clear").click()
    page.locator("#clear-confirm").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#rows .req")).to_have_count(0)
    assert stored(web_server.url, hook) == []
    httpx.post(f"{hook['url']}/after-clear", content=b"x")
    expect(page.locator("#rows .path")).to_have_text(["/after-clear"])
    watched.assert_clean()


def test_the_response_editor_changes_what_senders_get(
    watched: Watched, web_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url)
    watched.open_bin(web_server.url, hook)
    page = watched.page
    page.locator("#edit-response").click()
    expect(page.locator("#editor")).to_be_visible()
    expect(page.locator("#response-status")).to_have_value("200")
    expect(page.locator("#response-default-body")).to_be_checked()
    page.locator("#response-status").fill("503")
    page.locator("#response-headers").fill("Retry-After: 5\nx-test: yes")
    page.locator("#response-default-body").uncheck()
    page.locator("#response-body").fill("try later")
    page.locator("#response-delay").fill("20")
    page.locator("#editor button[type=submit]").click()
    expect(page.locator("#editor")).to_be_hidden()
    expect(page.locator("#response-summary")).to_contain_text("Answers 503")
    answer = httpx.post(f"{hook['url']}/retry", content=b"x")
    assert answer.status_code == 503
    assert answer.text == "try later"
    assert answer.headers["retry-after"] == "5" and answer.headers["x-test"] == "yes"

    page.locator("#edit-response").click()  # the server's refusal is shown, nothing saved
    page.locator("#response-headers").fill("Content-Length: 3")
    page.locator("#editor button[type=submit]").click()
    expect(page.locator("#editor-problem")).to_contain_text("Content-Length")
    page.locator("#response-headers").fill("no colon here")
    page.locator("#editor button[type=submit]").click()
    expect(page.locator("#editor-problem")).to_have_text(
        'header line 1 needs the form "Name: value"'
    )
    page.locator("#editor-cancel").click()
    assert httpx.post(f"{hook['url']}/again").headers["retry-after"] == "5"
    watched.assert_clean(allow_errors=("400",))  # the refused PATCH is logged by the browser


def test_the_page_says_why_it_cannot_open_a_bin(
    watched: Watched, web_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    page = watched.page
    hook = new_bin(web_server.url)
    page.goto(f"{web_server.url}/b/{hook['id']}#token=wrong")
    expect(page.locator("#fatal")).to_contain_text("does not open this bin")
    expect(page.locator("#token-form")).to_be_visible()
    page.locator("#token-input").fill(hook["token"])
    page.locator("#token-form button").click()
    page.locator("#connection[data-state=live]").wait_for()

    page.goto(f"{web_server.url}/b/b_NoSuchBin#token=x")
    expect(page.locator("#fatal")).to_contain_text("There is no such bin")

    watched.open_bin(web_server.url, hook)  # deleted while watched: the stream says so
    httpx.delete(
        f"{web_server.url}/api/bins/{hook['id']}",
        headers={"Authorization": f"Bearer {hook['token']}"},
    )
    expect(page.locator("#connection")).to_have_attribute("data-state", "closed")
    expect(page.locator("#fatal")).to_contain_text("deleted or has expired")
    watched.assert_clean(allow_errors=("403", "404"))


def test_the_start_page_creates_and_lists_bins(
    watched: Watched, web_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    page = watched.page
    new_bin(web_server.url)  # at least one to list, whichever tests ran on this server before
    page.goto(web_server.url + "/")
    expect(page.locator("#bins-note")).to_contain_text("newest first")
    expect(page.locator("#curl-example")).to_contain_text(f"{web_server.url}/h/BIN_ID/github/push")
    page.locator("#bin-name").fill("made in the browser")
    page.locator("#create-form button").click()
    page.locator("#connection[data-state=live]").wait_for()
    assert "/b/b_" in page.url and "#token=" in page.url
    expect(page.locator("#bin-name")).to_have_text("made in the browser")
    bin_id = page.url.split("/b/", 1)[1].split("#", 1)[0]
    httpx.post(f"{web_server.url}/h/{bin_id}/x", content=b"1")
    watched.wait_rows(1)

    page.goto(web_server.url + "/")
    first = page.locator("#bin-rows tr").first
    expect(first.locator("td").nth(0)).to_have_text("made in the browser")
    expect(first.locator("td").nth(1)).to_have_text(bin_id)
    expect(first.locator("td").nth(2)).to_have_text("1")
    first.locator("a").click()
    page.locator("#connection[data-state=live]").wait_for()
    watched.wait_rows(1)
    watched.assert_clean()


def test_with_an_api_key_the_start_page_asks_for_it(
    watched: Watched, keyed_server: BackgroundServer
) -> None:
    from playwright.sync_api import expect

    page = watched.page
    page.goto(keyed_server.url + "/")
    expect(page.locator("#bins-note")).to_contain_text("Enter this server's API key")
    page.locator("#create-form button").click()
    expect(page.locator("#create-problem")).to_contain_text("needs its API key")
    page.locator("#api-key").fill("wrong")
    page.locator("#key-form button").click()
    expect(page.locator("#key-form")).to_be_visible()  # refused, and forgotten
    page.locator("#api-key").fill(API_KEY)
    page.locator("#key-form button").click()
    expect(page.locator("#bins-note")).to_contain_text("No bins yet")
    assert API_KEY not in page.url
    page.locator("#create-form button").click()
    page.locator("#connection[data-state=live]").wait_for()
    page.goto(keyed_server.url + "/")  # the key lives in this tab's session storage
    expect(page.locator("#bin-rows tr")).to_have_count(1)
    watched.assert_clean(allow_errors=("401", "403"))


def realistic_traffic(url: str) -> None:
    push = {
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "9c8e1f0f4a1d2b3c4d5e6f708192a3b4c5d6e7f8",
        "repository": {"id": 1296269, "full_name": "octocat/hello-world", "private": False},
        "pusher": {"name": "octocat", "email": "octocat@github.com"},
        "commits": [{"id": "9c8e1f0", "message": "Fix the retry loop", "distinct": True}],
    }
    invoice = {
        "id": "evt_1QzX2bC3dE4fG5hI",
        "object": "event",
        "type": "invoice.paid",
        "data": {"object": {"id": "in_1QzX", "amount_paid": 4200, "currency": "eur"}},
        "livemode": False,
    }
    with httpx.Client(timeout=10) as http:
        http.get(f"{url}/health?probe=1")
        http.post(
            f"{url}/stripe",
            content=json.dumps(invoice),
            headers={
                "content-type": "application/json; charset=utf-8",
                "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "stripe-signature": "t=1764366000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
            },
        )
        http.post(
            f"{url}/slack/commands",
            data={"command": "/deploy", "text": "api production", "user_name": "ada"},
        )
        http.put(f"{url}/artifacts/build.tar.gz", content=bytes(range(256)) * 3)
        http.post(
            f"{url}/github/push",
            content=json.dumps(push),
            headers=[
                ("content-type", "application/json"),
                ("user-agent", "GitHub-Hookshot/7c2e1d4"),
                ("x-github-event", "push"),
                ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
                (
                    "x-hub-signature-256",
                    "sha256=d57c68ca6f92289e6987922ff26938930f6e66a2d161ef06abdf1859230aa23c",
                ),
            ],
        )


def save(page_or_locator: Any, name: str, directory: Path) -> None:
    """Into the test's directory; also into $HOOKSCOPE_WEB_SCREENSHOTS (docs/images) if set."""
    page_or_locator.screenshot(path=str(directory / name))
    target = os.environ.get("HOOKSCOPE_WEB_SCREENSHOTS")
    if target:
        shutil.copy(directory / name, Path(target) / name)


def test_readable_at_1000_px_with_screenshots(
    chromium: Any, web_server: BackgroundServer, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    hook = new_bin(web_server.url, name="payments-staging")
    realistic_traffic(hook["url"])
    for scheme in ("light", "dark"):
        watched = Watched.open(chromium, width=1000, height=900, color_scheme=scheme)
        page = watched.page
        watched.open_bin(web_server.url, hook)
        watched.wait_rows(5)
        # Nothing pushed off screen: no horizontal scrolling, every column visible and usable.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        list_box = page.locator("#list").bounding_box()
        for header in page.locator(".req-head [role=columnheader]").all():
            box = header.bounding_box()
            assert (
                box["width"] >= 40
                and box["x"] + box["width"] <= list_box["x"] + list_box["width"] + 1
            )
        if scheme == "light":
            save(page, "page-list.png", tmp_path)
        page.locator("#rows .req").first.click()
        expect(page.locator("#detail .request-line")).to_contain_text("POST /github/push")
        save(page, f"page-detail{'-dark' if scheme == 'dark' else ''}.png", tmp_path)
        if scheme == "light":
            page.locator("#edit-response").click()
            page.locator("#response-status").fill("503")
            page.locator("#response-headers").fill("Retry-After: 30")
            page.locator("#response-default-body").uncheck()
            page.locator("#response-body").fill('{"error": "try again later"}')
            page.locator("#response-delay").fill("1500")
            save(page, "page-editor.png", tmp_path)
            page.locator("#editor-cancel").click()
            page.goto(web_server.url + "/")
            expect(page.locator("#bin-rows tr").first).to_contain_text("payments-staging")
            save(page, "page-home.png", tmp_path)
        watched.assert_clean()
        watched.close()
    assert all(
        (tmp_path / name).stat().st_size > 20_000 for name in ("page-list.png", "page-detail.png")
    )
