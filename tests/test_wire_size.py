"""The wire text of a capture stays close to its bytes, whatever the bytes are."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from hookscope._wire import TEXT_OVERHEAD, decode_body, encode_body, encode_capture, escape_cost

BODIES = {
    "empty": b"",
    "small_json": b'{"ok":true}',
    "json": json.dumps({"event": "paid", "note": 'a "quoted" line\n' * 100}).encode(),
    "utf8": "zürich ✓ 日本 \N{GRINNING FACE}".encode() * 1000,
    "binary": os.urandom(64 * 1024),
    "emoji_and_control": "\N{GRINNING FACE}".encode() + b"\x01" * 65536,
    "quotes": b'"' * 65536,
    "crlf_text": b"line\r\n" * 10000,
}


def _capture(body: bytes, headers: list[tuple[str, str]] | None = None) -> str:
    return encode_capture(
        bin_id="b_1",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        method="POST",
        path="/p",
        query="a=1",
        headers=headers if headers is not None else [("content-type", "text/plain")],
        body=body,
        remote_addr="127.0.0.1",
        http_version="1.1",
    )


@pytest.mark.parametrize("name", sorted(BODIES))
def test_bodies_round_trip_and_stay_small(name: str) -> None:
    body = BODIES[name]
    text, encoding = encode_body(body)
    assert decode_body(text, encoding) == body
    wire = _capture(body)
    data = json.loads(wire)
    assert decode_body(data["body"], data["body_encoding"]) == body
    assert data["size"] == len(body)
    assert len(wire.encode()) <= 1.5 * len(body) + TEXT_OVERHEAD + 300


def test_text_is_kept_unless_escaping_costs_over_half() -> None:
    assert encode_body(b'{"ok":true}')[1] == "utf-8"  # small and quoted: still readable
    assert encode_body(BODIES["json"])[1] == "utf-8"
    assert encode_body(BODIES["utf8"])[1] == "utf-8"
    assert encode_body(b"a\x01b")[1] == "utf-8"  # a few control bytes: within the constant
    assert encode_body(BODIES["emoji_and_control"])[1] == "base64"  # 6 bytes each as text
    assert encode_body(BODIES["quotes"])[1] == "base64"
    assert encode_body(b"\xff")[1] == "base64"  # not UTF-8


@pytest.mark.parametrize("body", [b"", b'"\\\n\r\t\b\f', bytes(range(32)), b"\x7f\xc3\xa9"])
def test_escape_cost_is_what_json_adds(body: bytes) -> None:
    text = body.decode("utf-8")
    as_json = json.dumps(text, ensure_ascii=False)
    assert escape_cost(body) == len(as_json.encode()) - 2 - len(body)


def test_the_wire_text_is_the_same_json_as_before() -> None:
    """Splicing the escaped body in gives exactly the JSON the encoder would (field order too)."""
    body = 'caf\u00e9 "x"\n'.encode()
    data = json.loads(_capture(body, [("a", "é\t")]))
    assert list(data) == [
        "bin", "received_at", "method", "path", "query", "headers",
        "body", "body_encoding", "size", "remote_addr", "http_version",
    ]  # fmt: skip
    assert data["body"] == body.decode() and data["headers"] == [["a", "é\t"]]


def test_headers_cost_at_most_twice_their_bytes() -> None:
    headers = [(f"x-h{n:03}", "\xe9" * 314) for n in range(100)]  # 32,000 bytes on the wire
    size = sum(len(n) + len(v) for n, v in headers)
    assert len(_capture(b"", headers).encode()) <= 2 * size + 8 * len(headers) + 300
