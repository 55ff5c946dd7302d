"""``CapturedRequest``: the wire format both ways, and what clients read from it.

The last tests capture real requests on a server and check every field round-trips.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import hookscope
from hookscope import CapturedRequest, FormFile
from hookscope._embedded import BackgroundServer

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


# -- against a real server ---------------------------------------------------------------------


@pytest.fixture
def bin(embedded_server: BackgroundServer) -> Iterator[hookscope.Bin]:
    with hookscope.Client(embedded_server.url) as client:
        yield client.create_bin()


def test_every_field_round_trips_through_a_server(bin: hookscope.Bin) -> None:
    body = b"\x00\xffbinary\r\n\x80" + bytes(range(256))
    before = datetime.now(UTC)
    response = httpx.request(
        "PATCH",
        bin.url_for("/a%2Fb/c d?x=1&x=2&y=%E2%9C%93"),
        content=body,
        headers=[("X-Dup", "one"), ("x-dup", "two"), ("Content-Type", "application/x-thing")],
    )
    assert response.status_code == 200
    req = bin.get(response.headers["x-hookscope-request-id"])
    assert req.id == response.headers["x-hookscope-request-id"]
    assert req.bin == bin.id
    assert before - timedelta(seconds=1) <= req.received_at <= datetime.now(UTC)
    assert req.method == "PATCH"
    assert req.path == "/a%2Fb/c%20d"
    assert req.query == "x=1&x=2&y=%E2%9C%93"
    assert req.query_params.get_list("x") == ["1", "2"]
    assert req.query_params["y"] == "✓"
    assert req.body == body
    assert req.size == len(body)
    assert req.headers.get_list("x-dup") == ["one", "two"]
    names = [name for name, _ in req.headers.multi_items()]
    assert names.index("x-dup") < names.index("content-type")  # arrival order kept
    assert req.content_type == "application/x-thing"
    assert req.remote_addr == "127.0.0.1"
    assert req.http_version == "1.1"
    # The same request through every read path is the same object, and survives the wire.
    assert bin.requests() == [req]
    assert bin.tail(1) == [req]
    assert CapturedRequest.from_json(req.to_json()) == req


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "DELETE", "PUT", "POST"])
def test_methods_and_empty_bodies(bin: hookscope.Bin, method: str) -> None:
    response = httpx.request(method, bin.url)
    assert response.status_code == 200
    req = bin.get(response.headers["x-hookscope-request-id"])
    assert (req.method, req.path, req.query, req.body) == (method, "/", "", b"")


@pytest.mark.parametrize(
    "body",
    [b'{"event": "paid"}', b"\xff\xfe\x00 not utf-8", "héllo ✓".encode()],
    ids=["json", "binary", "utf-8"],
)
def test_to_curl_reproduces_the_request(bin: hookscope.Bin, body: bytes) -> None:
    response = httpx.post(
        bin.url_for("/replay?a=1"), content=body, headers={"x-sig": "s 1", "content-type": "x/y"}
    )
    original = bin.get(response.headers["x-hookscope-request-id"])
    command = original.to_curl(base_url=bin.url)
    subprocess.run(
        command + " --silent --output /dev/null",
        shell=True,
        check=True,
        executable="/bin/bash",
        timeout=30,
    )
    replayed = bin.tail(1)[0]
    assert replayed.id != original.id
    assert (replayed.method, replayed.path, replayed.query) == ("POST", "/replay", "a=1")
    assert replayed.body == body
    assert replayed.headers["x-sig"] == "s 1"
    assert replayed.headers["content-type"] == "x/y"
