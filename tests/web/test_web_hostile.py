"""Hostile senders against the page: markup and script in every captured field, over HTTP/1.1
and HTTP/2, a 1 MB single-line body; "copy as curl" against to_curl() and a real shell.

No payload may run (the page-level flag ``window.__pwned`` and the dialog listener stay
untouched, no CSP violation is even attempted), and every value is shown literally.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
from web_support import Watched, new_bin, stored

from hookscope._embedded import BackgroundServer
from hookscope._models import CapturedRequest

pytestmark = pytest.mark.browser

BIG = "<img src=x onerror=window.__pwned=15>" + "A" * (1024 * 1024) + "</textarea>"
BINARY = b"\x00'\xff\"$(touch PWNED)`touch PWNED`\n\\"


def port_of(server: BackgroundServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def send_http1(port: int, head: str, body: bytes = b"") -> None:
    """One HTTP/1.1 request written byte for byte (clients would escape what matters here)."""
    raw = head.replace("\n", "\r\n").encode("latin-1")
    raw += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200"), reply


def send_http2(
    port: int, method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    """One HTTP/2 request with prior knowledge (h2c), method and path as given."""
    config = h2.config.H2Configuration(client_side=True, header_encoding=None)
    conn = h2.connection.H2Connection(config)
    conn.initiate_connection()
    stream = conn.get_next_available_stream_id()
    pseudo = [(b":method", method), (b":path", path), (b":scheme", b"http")]
    conn.send_headers(stream, [*pseudo, (b":authority", f"127.0.0.1:{port}".encode()), *headers])
    conn.send_data(stream, body, end_stream=True)
    status = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(conn.data_to_send())
        ended = False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the HTTP/2 connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers)[b":status"]
                ended = ended or isinstance(event, h2.events.StreamEnded)
            sock.sendall(conn.data_to_send())
    assert status == b"200"


@pytest.fixture(scope="module")
def hostile(web_server: BackgroundServer) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bin with a hostile name and hostile requests in it; returns (bin, stored requests)."""
    hook = new_bin(web_server.url, name="<img src=x onerror=window.__pwned=20>")
    port, bin_id = port_of(web_server), hook["id"]
    send_http1(
        port,
        f"POST /h/{bin_id}/<script>window.__pwned=1</script>/<img/src=x/onerror=window.__pwned=2>"
        "?q=</textarea><svg/onload=window.__pwned=3>&u=javascript:window.__pwned=4 HTTP/1.1\n"
        f"Host: 127.0.0.1:{port}\n"
        'X-Evil: <img src=x onerror="window.__pwned=5">\n'
        "x-js'|`~!: javascript:window.__pwned=6\n"
        "Content-Type: text/html; <script>window.__pwned=7</script>\n",
        b"</textarea><img src=x onerror=window.__pwned=8><script>window.__pwned=9</script>'; touch PWNED; '",
    )
    # The shell injection of issue 9: a quote in the method, a command in the path.
    send_http1(port, f"X' /h/{bin_id}/;touch${{IFS}}PWNED;# HTTP/1.1\nHost: 127.0.0.1:{port}\n")
    send_http2(
        port,
        b"<img src=x onerror=window.__pwned=10>",
        f"/h/{bin_id}/<svg onload=window.__pwned=11>?a=</textarea>".encode(),
        [
            (b"x-h2-<b>", b"<i>javascript:window.__pwned=12</i>"),
            (b"content-type", b"<script>window.__pwned=13</script>"),
        ],
        b"<script>window.__pwned=14</script>",
    )
    httpx.post(f"{hook['url']}/big", content=BIG, headers={"content-type": "text/plain"})
    httpx.post(
        f"{hook['url']}/binary",
        content=BINARY,
        headers={"content-type": "application/octet-stream"},
    )
    httpx.post(f"{hook['url']}/nul", content=b"a\x00b'c")
    requests = stored(web_server.url, hook)
    assert [r["http_version"] for r in requests] == ["1.1", "1.1", "2", "1.1", "1.1", "1.1"]
    return hook, requests


@pytest.fixture(scope="module")
def watched_bin(
    chromium: Any,
    web_server: BackgroundServer,
    hostile: tuple[dict[str, Any], list[dict[str, Any]]],
) -> Iterator[Watched]:
    watched = Watched.open(chromium, permissions=["clipboard-read", "clipboard-write"])
    watched.open_bin(web_server.url, hostile[0])
    watched.wait_rows(len(hostile[1]))
    yield watched
    watched.close()


def target(request: dict[str, Any]) -> str:
    return request["path"] + (f"?{request['query']}" if request["query"] else "")


def select(watched: Watched, request: dict[str, Any]) -> Any:
    watched.page.locator(f'#rows .req[data-id="{request["id"]}"]').click()
    detail = watched.page.locator("#detail")
    detail.locator(f'xpath=self::*[@data-id="{request["id"]}"]').wait_for()
    return detail


def test_every_captured_field_is_shown_literally(
    watched_bin: Watched, hostile: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    from playwright.sync_api import expect

    hook, requests = hostile
    page = watched_bin.page
    expect(page.locator("#bin-name")).to_have_text(hook["name"])
    rows = page.locator("#rows .req")
    assert rows.locator(".path").all_inner_texts() == [target(r) for r in reversed(requests)]
    assert rows.locator(".method").all_inner_texts() == [r["method"] for r in reversed(requests)]
    assert (
        rows.nth(len(requests) - 3).locator(".type").inner_text()
        == "<script>window.__pwned=13</script>"
    )
    for request in requests:
        detail = select(watched_bin, request)
        line = f"{request['method']} {target(request)} HTTP/{request['http_version']}"
        assert detail.locator(".request-line").inner_text() == line
        assert detail.locator(".target").text_content() == target(request)
        shown = [
            tuple(r.locator("th, td").all_text_contents())
            for r in detail.locator(".header-table tbody tr").all()
        ]
        assert shown == [tuple(pair) for pair in request["headers"]]
        view = detail.locator(".view")
        if request["body_encoding"] == "base64":
            expect(view).to_have_attribute("data-view", "hex")
        elif request["size"]:
            expect(view).to_have_attribute("data-view", "text")
            if len(request["body"]) > 64 * 1024:
                expect(view.locator("pre")).to_have_js_property(
                    "textContent", request["body"][: 64 * 1024]
                )
                view.locator("button.show-all").click()
            expect(view.locator("pre")).to_have_js_property("textContent", request["body"])
    page.locator("#text-filter").fill("<svg onload")
    expect(page.locator("#rows .req:not([hidden]) .path")).to_have_text([target(requests[2])])
    page.locator("#text-filter").fill("")
    # Nothing became markup: no element the page did not make itself.
    made = page.evaluate(
        "() => [document.querySelectorAll('img, svg, iframe, object, embed, textarea:not(.editor textarea)').length,"
        " document.scripts.length, document.querySelectorAll('a[href^=\"javascript\" i]').length]"
    )
    assert made == [0, 1, 0]
    watched_bin.assert_clean()


def test_the_start_page_shows_hostile_names_literally(
    watched_bin: Watched,
    web_server: BackgroundServer,
    hostile: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    from playwright.sync_api import expect

    page = watched_bin.page
    page.goto(web_server.url + "/")
    link = page.locator("#bin-rows a", has_text="<img src=x")
    expect(link).to_have_text(hostile[0]["name"])
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    watched_bin.assert_clean()
    watched_bin.open_bin(web_server.url, hostile[0])
    watched_bin.wait_rows(len(hostile[1]))


def copied_curl(watched: Watched, request: dict[str, Any]) -> str:
    detail = select(watched, request)
    watched.page.evaluate("navigator.clipboard.writeText('')")
    detail.locator("button.copy-curl").click()
    watched.page.wait_for_function("async () => (await navigator.clipboard.readText()) !== ''")
    return str(watched.page.evaluate("navigator.clipboard.readText()"))


def test_copy_as_curl_is_to_curl(
    watched_bin: Watched, hostile: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    hook, requests = hostile
    for request in requests:
        command = copied_curl(watched_bin, request)
        expected = CapturedRequest.from_wire(request).to_curl(hook["url"])
        assert command == expected, request["path"]
    watched_bin.assert_clean()


STUB_CURL = """\
import base64, json, os, sys
args = sys.argv[1:]
data = sys.stdin.buffer.read() if "@-" in args else b""
with open(os.environ["STUB_OUT"], "a") as out:
    out.write(json.dumps({"args": args, "stdin": base64.b64encode(data).decode()}) + "\\n")
"""


def run_in_sh(command: str, directory: Path) -> dict[str, Any]:
    """Run ``command`` with ``sh`` and a stub ``curl`` that records its arguments and input."""
    stub = directory / "curl"
    stub.write_text(f"#!{sys.executable}\n{STUB_CURL}")
    stub.chmod(0o755)
    script = directory / "command.sh"
    script.write_bytes(command.encode("utf-8"))
    out = directory / "calls.jsonl"
    out.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{directory}:{os.environ['PATH']}", "STUB_OUT": str(out)}
    subprocess.run(
        ["sh", str(script)],
        cwd=directory,
        env=env,
        check=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    calls = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(calls) == 1
    result: dict[str, Any] = calls[0]
    return result


def test_copy_as_curl_runs_as_exactly_one_curl_with_the_same_bytes(
    watched_bin: Watched, hostile: tuple[dict[str, Any], list[dict[str, Any]]], tmp_path: Path
) -> None:
    hook, requests = hostile
    for request in requests:  # the 1 MB body too: over 64 KiB, a body is piped in
        call = run_in_sh(copied_curl(watched_bin, request), tmp_path)
        captured = CapturedRequest.from_wire(request)
        # --globoff and --path-as-is keep curl from rewriting the URL ([1-9], /../): not data.
        args = [arg for arg in call["args"] if arg not in ("--globoff", "--path-as-is")]
        assert args[:3] == ["-X", request["method"], hook["url"] + target(request)]
        headers = [
            f"{n}: {v}"
            for n, v in request["headers"]
            if n.lower() not in ("host", "content-length")
        ]
        assert args[3 : 3 + 2 * len(headers) : 2] == ["-H"] * len(headers)
        assert args[4 : 4 + 2 * len(headers) : 2] == headers
        rest = args[3 + 2 * len(headers) :]
        if not captured.body:
            assert rest == []
        elif rest == ["--data-binary", "@-"]:
            assert base64.b64decode(call["stdin"]) == captured.body
        else:
            assert rest == ["--data-raw", captured.body.decode("utf-8")]
    assert not (tmp_path / "PWNED").exists()
    watched_bin.assert_clean()
