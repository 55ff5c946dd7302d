"""Captured requests through real servers (memory and Redis): every field, byte-exact."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest

import hookscope
from hookscope import CapturedRequest


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
    assert bin.wait_for("PATCH", timeout=5) == req
    stream = bin.stream(since="0-0")
    assert next(stream) == req
    stream.close()
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
