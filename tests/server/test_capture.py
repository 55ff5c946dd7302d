"""Capture: every method, any sub-path, raw query, ordered headers, byte-exact bodies."""

from __future__ import annotations

import base64
import gzip
import json
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from _server_http import MAX_BODY, Bin

from hookscope._ids import id_key


def body_of(wire: dict[str, Any]) -> bytes:
    if wire["body_encoding"] == "base64":
        return base64.b64decode(wire["body"])
    assert wire["body_encoding"] == "utf-8"
    return str(wire["body"]).encode("utf-8")


def raw_request(base_url: str, data: bytes) -> bytes:
    """Send exact bytes over a fresh TCP connection and return the whole response."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "method",
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND", "QUERY"],
)
def test_every_method_is_captured(new_bin: Callable[..., Bin], method: str) -> None:
    hook = new_bin()
    response = hook.capture("/m", method=method)
    assert response.status_code == 200
    request_id = response.headers["x-hookscope-request-id"]
    (stored,) = hook.requests()
    assert stored["method"] == method
    assert stored["id"] == request_id
    if method != "HEAD":
        assert response.json() == {"ok": True, "id": request_id}


@pytest.mark.parametrize(
    ("suffix", "path"),
    [
        ("", "/"),
        ("/", "/"),
        ("/github/push", "/github/push"),
        ("/a%20b/%E2%9C%93", "/a%20b/%E2%9C%93"),
        ("/trailing/", "/trailing/"),
        ("//double//slash", "//double//slash"),
        ("/a%2Fb", "/a%2Fb"),
    ],
)
def test_path_is_kept_as_sent(
    embedded_server: Any, new_bin: Callable[..., Bin], suffix: str, path: str
) -> None:
    hook = new_bin()
    target = f"/h/{hook.id}{suffix}"
    raw = raw_request(
        embedded_server.url,
        f"GET {target}?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode(),
    )
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]
    (stored,) = hook.requests()
    assert stored["path"] == path
    assert stored["query"] == "x=1"


def test_query_is_raw_and_undecoded(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    hook.capture("/q?a=1&a=2&b=%20x+y&empty=&flag", method="GET")
    (stored,) = hook.requests()
    assert stored["query"] == "a=1&a=2&b=%20x+y&empty=&flag"


def test_headers_keep_order_duplicates_and_bytes(
    embedded_server: Any, new_bin: Callable[..., Bin]
) -> None:
    hook = new_bin()
    raw_request(
        embedded_server.url,
        (
            f"POST /h/{hook.id}/h HTTP/1.1\r\n"
            "Host: localhost:9\r\n"
            "X-B: 2\r\n"
            "X-A: first\r\n"
            "X-Signature: sha256=abc\r\n"
            "x-a: second\r\n"
            "X-Latin: caf\xe9\r\n"
            "Content-Length: 2\r\n"
            "Connection: close\r\n\r\nhi"
        ).encode("latin-1"),
    )
    (stored,) = hook.requests()
    assert stored["headers"] == [
        ["host", "localhost:9"],
        ["x-b", "2"],
        ["x-a", "first"],
        ["x-signature", "sha256=abc"],
        ["x-a", "second"],
        ["x-latin", "caf\xe9"],
        ["content-length", "2"],
        ["connection", "close"],
    ]
    assert stored["http_version"] == "1.1"
    assert stored["remote_addr"] == "127.0.0.1"
    assert stored["size"] == 2


def test_http_1_0_is_recorded(embedded_server: Any, new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    raw = raw_request(
        embedded_server.url, f"GET /h/{hook.id}/old HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()
    )
    assert raw.startswith(b"HTTP/1.1 200") or raw.startswith(b"HTTP/1.0 200")
    (stored,) = hook.requests()
    assert stored["http_version"] == "1.0"


BODIES = {
    "empty": b"",
    "ascii": b'{"event": "paid"}',
    "utf8": "zürich ✓ 日本".encode(),
    "latin1_not_utf8": "café".encode("latin-1"),
    "nul_and_high": bytes(range(256)) * 3,
    "random_binary": os.urandom(3000),
    "gzip": gzip.compress(b'{"compressed": true}' * 50),
    "crlf": b"a\r\nb\rc\n",
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_body_is_byte_exact(new_bin: Callable[..., Bin], name: str) -> None:
    hook = new_bin()
    body = BODIES[name]
    hook.capture("/b", content=body, headers={"content-type": "application/octet-stream"})
    (stored,) = hook.requests()
    assert body_of(stored) == body
    assert stored["size"] == len(body)
    expected = "utf-8"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        expected = "base64"
    assert stored["body_encoding"] == expected


def test_gzip_body_is_not_decompressed(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    compressed = gzip.compress(b'{"a": 1}')
    hook.capture("/z", content=compressed, headers={"content-encoding": "gzip"})
    (stored,) = hook.requests()
    assert body_of(stored) == compressed
    assert ["content-encoding", "gzip"] in stored["headers"]


def test_multipart_body_is_byte_exact(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    blob = os.urandom(500)
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"field": "välue"},
        files={"upload": ("f.bin", blob, "application/octet-stream")},
    )
    sent = request.read()
    hook.capture("/form", content=sent, headers={"content-type": request.headers["content-type"]})
    (stored,) = hook.requests()
    assert body_of(stored) == sent
    assert blob in body_of(stored)


def test_chunked_body_is_reassembled_exactly(
    embedded_server: Any, new_bin: Callable[..., Bin]
) -> None:
    hook = new_bin()
    pieces = [b"hello ", os.urandom(1000), b"", b" end"]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"
    raw = raw_request(
        embedded_server.url,
        f"POST /h/{hook.id}/c HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n".encode()
        + encoded,
    )
    assert raw.startswith(b"HTTP/1.1 200")
    (stored,) = hook.requests()
    assert body_of(stored) == b"".join(pieces)
    assert ["transfer-encoding", "chunked"] in stored["headers"]


def test_body_of_exactly_max_body_is_stored(new_small_bin: Callable[..., Bin]) -> None:
    hook = new_small_bin()
    body = os.urandom(MAX_BODY)
    assert hook.capture(content=body).status_code == 200
    (stored,) = hook.requests()
    assert body_of(stored) == body


def test_body_one_byte_over_is_413_and_nothing_stored(new_small_bin: Callable[..., Bin]) -> None:
    hook = new_small_bin()
    response = hook.capture(content=os.urandom(MAX_BODY + 1))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "x-hookscope-request-id" not in response.headers
    assert hook.requests() == []


def test_chunked_body_over_the_limit_is_413(
    small_server: Any, new_small_bin: Callable[..., Bin]
) -> None:
    hook = new_small_bin()

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield os.urandom(MAX_BODY // 4)

    with httpx.Client(base_url=small_server.url) as client:
        response = client.post(f"/h/{hook.id}", content=chunks())
    assert response.status_code == 413
    assert hook.requests() == []


def test_unknown_bin_is_404(http: httpx.Client) -> None:
    response = http.post("/h/b_doesnotexist/x", content=b"lost?")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "bin_not_found"


def test_configured_response_is_sent(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin(
        response={
            "status": 418,
            "headers": {"X-Custom": "yes", "Retry-After": "3"},
            "body": "short and stout ☕",
        }
    )
    response = hook.capture("/tea", content=b"x")
    assert response.status_code == 418
    assert response.headers["x-custom"] == "yes"
    assert response.headers["retry-after"] == "3"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "short and stout ☕"
    (stored,) = hook.requests()
    assert response.headers["x-hookscope-request-id"] == stored["id"]


def test_custom_content_type_wins(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin(response={"body": "<ok/>", "headers": {"Content-Type": "application/xml"}})
    response = hook.capture()
    assert response.headers["content-type"] == "application/xml"
    assert response.text == "<ok/>"


def test_response_delay_is_honoured(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin(response={"delay_ms": 300})
    response = hook.capture()
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3


def test_ids_increase_and_received_at_is_utc(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    for n in range(5):
        hook.capture(content=str(n).encode())
    stored = hook.requests()
    keys = [id_key(r["id"]) for r in stored]
    assert keys == sorted(set(keys))
    assert [body_of(r) for r in stored] == [b"0", b"1", b"2", b"3", b"4"]
    assert all(r["received_at"].endswith("Z") for r in stored)
    assert all(r["bin"] == hook.id for r in stored)


def test_history_is_capped_at_max_requests(new_small_bin: Callable[..., Bin]) -> None:
    hook = new_small_bin()
    for n in range(25):
        hook.capture(content=str(n).encode())
    stored = hook.requests(limit=100)
    assert [body_of(r) for r in stored] == [str(n).encode() for n in range(5, 25)]


def test_wire_json_parses_with_stdlib(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    hook.capture("/j", content='{"quote": "\\"", "uni": "\u2028"}'.encode())
    response = hook.api("GET", "/requests")
    parsed = json.loads(response.text)
    assert parsed["requests"][0]["body"] == '{"quote": "\\"", "uni": "\u2028"}'


@pytest.mark.parametrize("status", [204, 304])
def test_no_content_statuses_send_no_body_headers(
    embedded_server: Any, new_bin: Callable[..., Bin], status: int
) -> None:
    hook = new_bin(response={"status": status})
    raw = raw_request(
        embedded_server.url,
        f"POST /h/{hook.id} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx".encode(),
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status}".encode())
    assert b"content-length" not in head.lower()
    assert b"content-type" not in head.lower()
    assert b"x-hookscope-request-id" in head.lower()
    assert body == b""
    assert len(hook.requests()) == 1
