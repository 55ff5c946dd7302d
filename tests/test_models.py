"""``CapturedRequest``: the wire format both ways, and what clients read from it.

Captures on real servers: tests/client/test_client_roundtrip.py.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from hookscope import CapturedRequest, FormFile

WIRE = {
    "id": "1764366000123-0",
    "bin": "b_Zx8",
    "received_at": "2026-11-28T21:43:44.123456Z",
    "method": "POST",
    "path": "/github/push",
    "query": "a=1&a=2&b=%C3%A9",
    "headers": [
        ["content-type", "application/json"],
        ["x-github-event", "push"],
        ["x-dup", "1"],
        ["x-dup", "2"],
    ],
    "body": '{"zen": "hi", "n": 1}',
    "body_encoding": "utf-8",
    "size": 21,
    "remote_addr": "127.0.0.1",
    "http_version": "1.1",
}


def test_from_wire_reads_every_field() -> None:
    req = CapturedRequest.from_wire(WIRE)
    assert req.id == "1764366000123-0"
    assert req.bin == "b_Zx8"
    assert req.received_at == datetime(2026, 11, 28, 21, 43, 44, 123456, tzinfo=UTC)
    assert req.received_at.utcoffset() == timedelta(0)
    assert req.method == "POST"
    assert req.path == "/github/push"
    assert req.query == "a=1&a=2&b=%C3%A9"
    assert req.query_params.get_list("a") == ["1", "2"]
    assert req.query_params["b"] == "é"
    assert req.headers["X-GitHub-Event"] == "push"
    assert req.headers.get_list("X-DUP") == ["1", "2"]
    assert req.body == b'{"zen": "hi", "n": 1}'
    assert req.size == 21
    assert req.remote_addr == "127.0.0.1"
    assert req.http_version == "1.1"
    assert req.json() == {"zen": "hi", "n": 1}
    assert req.content_type == "application/json"


def test_wire_round_trip_is_exact() -> None:
    req = CapturedRequest.from_wire(WIRE)
    assert req.to_wire() == WIRE
    assert CapturedRequest.from_json(req.to_json()) == req
    assert json.loads(req.to_json()) == WIRE


def test_unknown_fields_are_ignored_and_missing_ones_reported() -> None:
    assert CapturedRequest.from_wire({**WIRE, "future": {"x": 1}}) == CapturedRequest.from_wire(
        WIRE
    )
    incomplete = {key: value for key, value in WIRE.items() if key != "method"}
    with pytest.raises(ValueError, match="method"):
        CapturedRequest.from_wire(incomplete)


def test_binary_body_travels_as_base64() -> None:
    body = bytes(range(256))
    req = CapturedRequest.from_wire(
        {**WIRE, "body": base64.b64encode(body).decode(), "body_encoding": "base64"}
    )
    assert req.body == body
    assert req.to_wire()["body_encoding"] == "base64"
    assert CapturedRequest.from_json(req.to_json()).body == body
    with pytest.raises((UnicodeDecodeError, json.JSONDecodeError)):
        req.json()


def test_text_uses_the_declared_charset() -> None:
    latin = CapturedRequest.from_wire(
        {
            **WIRE,
            "headers": [["content-type", "text/plain; charset=latin-1"]],
            "body": "/w==",
            "body_encoding": "base64",
        }
    )
    assert latin.text == "ÿ"
    utf8 = CapturedRequest.from_wire({**WIRE, "headers": [], "body": "é"})
    assert utf8.text == "é"


def test_form_urlencoded_and_multipart() -> None:
    urlencoded = CapturedRequest.from_wire(
        {
            **WIRE,
            "headers": [["content-type", "application/x-www-form-urlencoded"]],
            "body": "a=1&a=2&b=x+y",
        }
    )
    assert urlencoded.form().getlist("a") == ["1", "2"]
    assert urlencoded.form()["b"] == "x y"

    request = httpx.Request(
        "POST",
        "http://x/",
        data={"field": "v"},
        files={"f": ("a.bin", b"\x00\xff", "application/x")},
    )
    request.read()
    multipart = CapturedRequest(
        id="1-0",
        bin="b",
        received_at=datetime.now(UTC),
        method="POST",
        path="/",
        headers=httpx.Headers(list(request.headers.multi_items()), encoding="latin-1"),
        body=request.content,
    )
    form = multipart.form()
    assert form["field"] == "v"
    assert form["f"] == FormFile("a.bin", "application/x", b"\x00\xff")
    with pytest.raises(ValueError, match="not a form"):
        CapturedRequest.from_wire(WIRE).form()


def test_repr_is_readable() -> None:
    req = CapturedRequest.from_wire(WIRE)
    assert repr(req) == (
        "<CapturedRequest 1764366000123-0 POST /github/push?a=1&a=2&b=%C3%A9 application/json 21 B>"
    )


def test_header_names_keep_their_case_on_the_wire() -> None:
    wire = {
        "id": "1-0", "bin": "b_x", "received_at": "2026-11-28T21:43:44.123456Z",
        "method": "POST", "path": "/", "headers": [["X-GitHub-Event", "push"], ["x-a", "1"]],
    }  # fmt: skip
    request = CapturedRequest.from_wire(wire)
    assert request.to_wire()["headers"] == [["X-GitHub-Event", "push"], ["x-a", "1"]]
    assert request.headers["x-github-event"] == "push"
    assert "-H 'X-GitHub-Event: push'" in request.to_curl()
