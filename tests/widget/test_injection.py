"""Markup in captured requests stays text in the live table: rows, detail pane, controls.

What the page receives is the widget's synced state. Rows are plain strings that table.js
sets with ``textContent``; the detail pane is HTML built by the kernel, where every captured
value must arrive escaped: parsed as HTML, it holds only the elements and attributes the
kernel writes, and its text is the captured values.
"""

from __future__ import annotations

import dataclasses
import json
import re
from html.parser import HTMLParser
from importlib import resources
from types import SimpleNamespace
from typing import Any

import pytest
from _support import wait_until
from widget_support import FakeStream, make_request

from hookscope._display import printable
from hookscope._signatures import Verification
from hookscope.widget import LiveTable

IMG = '<img src=x onerror="window.__pwned=1">'
SCRIPT = "<script>window.__pwned=2</script>"
TEXTAREA = '</textarea><svg onload="window.__pwned=3">'
QUOTES = "\"'><b>&amp;"
PAYLOADS = [IMG, SCRIPT, TEXTAREA, QUOTES]
ALL = "".join(PAYLOADS)

# What _render.py writes, and nothing else.
KERNEL_TAGS = {"div", "h4", "table", "tr", "td", "p", "pre"}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def hostile_requests() -> list[Any]:
    """Every field a sender controls, holding markup: text, JSON, form and binary bodies; and
    the signature verdict, which the server writes (a compromised one could write anything)."""
    headers = [(name, ALL) for name in ("x-img", "x-script", "x-textarea")]
    return [
        make_request(1, method=SCRIPT, path="/" + IMG, query=TEXTAREA, body=ALL,
                     content_type="text/plain" + IMG, headers=[*headers, (IMG, SCRIPT)]),
        make_request(2, method="POST", path="/json", body={IMG: [SCRIPT, TEXTAREA, QUOTES]}),
        make_request(3, path="/form", body="a=%3Cscript%3E&%3Cimg%3E=%3C%2Ftextarea%3E",
                     content_type="application/x-www-form-urlencoded"),
        make_request(4, path="/binary", body=b"\x00\xff" + ALL.encode(),
                     content_type="application/octet-stream"),
        dataclasses.replace(
            make_request(5, path="/signed", headers=[("stripe-signature", ALL)]),
            signature=Verification(IMG, False, SCRIPT),  # type: ignore[arg-type]
        ),
    ]  # fmt: skip


@pytest.fixture
def table(fake_stream: FakeStream, comms: list[Any]) -> Any:
    bin = SimpleNamespace(url="http://127.0.0.1:1/h/b_test")
    live = LiveTable(bin, _stream=fake_stream, display=False)
    yield live
    live.close()


def test_rows_are_the_captured_text(table: Any, fake_stream: FakeStream) -> None:
    requests = hostile_requests()
    fake_stream.feed(*requests)
    widget = table.view.table
    wait_until(lambda: len(widget.rows) == len(requests), timeout=5, what="the rows")

    signed = widget.rows[0]  # newest first
    assert signed["signature"] == f"✗ {IMG}: {SCRIPT}"  # text: table.js sets textContent
    assert signed["signature_state"] == "invalid"  # one of two classes table.js knows
    first = widget.rows[-1]
    assert first["method"] == SCRIPT
    assert first["path"] == f"/{IMG}?{TEXTAREA}"
    assert first["type"] == "text/plain" + IMG.lower()  # media types are lower-cased
    assert first["preview"] == ALL[:79] + "…"  # cut to 80 characters
    for row in widget.rows:  # plain strings only: table.js sets them with textContent
        assert all(isinstance(value, str | int) for value in row.values())
    labels = [label for label, _ in table.view.method.options]
    assert SCRIPT in labels  # ipywidgets sets option labels with textContent too


@pytest.mark.parametrize("seq", [1, 2, 3, 4, 5])
def test_the_detail_pane_holds_no_captured_markup(
    table: Any, fake_stream: FakeStream, seq: int
) -> None:
    requests = hostile_requests()
    fake_stream.feed(*requests)
    widget = table.view.table
    wait_until(lambda: len(widget.rows) == len(requests), timeout=5, what="the rows")
    chosen = requests[seq - 1]
    widget._handle_custom_msg({"event": "select", "id": chosen.id}, [])  # a click on the row
    wait_until(lambda: chosen.id in widget.detail, timeout=5, what="the detail")

    page = widget.detail
    markup = _Markup()
    markup.feed(page)
    markup.close()
    assert {tag for tag, _ in markup.tags} <= KERNEL_TAGS, markup.tags
    assert {name for _, attrs in markup.tags for name, _ in attrs} <= {"class"}
    assert not re.search(r"<(img|script|svg|b)\b|</textarea", page, re.IGNORECASE)
    text = "".join(markup.text)
    assert chosen.to_curl(widget.url) in text  # the command, as text
    if seq == 1:
        assert f"{SCRIPT} /{IMG}?{TEXTAREA} HTTP/1.1" in text  # the request line
        assert text.count(ALL) >= 4  # three header values and the body
        assert IMG + SCRIPT in text  # a header name and its value, side by side
    elif seq == 2:
        assert json.dumps({IMG: [SCRIPT, TEXTAREA, QUOTES]}, indent=2) in text
    elif seq == 3:
        assert "a<script>" in text and "<img></textarea>" in text  # decoded form fields
    elif seq == 4:
        assert "|..<img src=x one|" in text  # the hex dump's text column
    else:
        assert f"scheme{IMG}verdict✗ invalidreason{SCRIPT}" in text  # the verdict, as text


def test_table_js_sets_captured_values_as_text_only() -> None:
    script = (resources.files("hookscope.widget") / "_static" / "table.js").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.strip().startswith("//"))
    # The one innerHTML is the detail pane, whose HTML the kernel builds and escapes.
    assert re.findall(r".*innerHTML.*", code) == [
        '  detail.innerHTML = model.get("detail");',
        '  model.on("change:detail", () => (detail.innerHTML = model.get("detail")));',
    ]
    assert not re.search(r"outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", code)
    assert "node.textContent = text" in code  # how every cell is filled
    # The signature cell's class comes from a fixed set, never from the row's text.
    assert '["valid", "invalid"].includes(row.signature_state)' in code


def test_control_characters_in_cells_show_as_escapes(table: Any, fake_stream: FakeStream) -> None:
    hostile = "\x1b]0;t\x07\u202e"
    fake_stream.feed(make_request(1, method="P" + hostile, path="/" + hostile))
    widget = table.view.table
    wait_until(lambda: widget.rows, timeout=5, what="the row")
    assert widget.rows[0]["method"] == "P" + printable(hostile)
    assert widget.rows[0]["path"] == "/\\x1b]0;t\\x07\\u202e"
