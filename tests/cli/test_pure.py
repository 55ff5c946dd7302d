"""The CLI's I/O-free parts: relay URLs and headers, terminal lines, HAR entries."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import click
import httpx
import pytest

from hookscope import CapturedRequest
from hookscope._display import format_size as human_size
from hookscope._display import preview
from hookscope._signatures import Verification
from hookscope.cli._common import BinTarget
from hookscope.cli._har import har_entry
from hookscope.cli._lines import request_line
from hookscope.cli._relay import relay_headers, relay_request, relay_url


def captured(
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    method: str = "POST",
    path: str = "/p",
    query: str = "",
) -> CapturedRequest:
    return CapturedRequest.from_wire(
        {
            "id": "1764366000123-4",
            "bin": "b_x",
            "received_at": "2026-11-28T21:43:44.123456Z",
            "method": method,
            "path": path,
            "query": query,
            "headers": headers or [],
            "body": body.decode("latin-1") if body.isascii() else "",
            "body_encoding": "utf-8",
            "size": len(body),
        }
    )


@pytest.mark.parametrize(
    ("target", "path", "query", "expected"),
    [
        ("http://h:1", "/a/b", "", "http://h:1/a/b"),
        ("http://h:1/", "/a/b", "", "http://h:1/a/b"),
        ("http://h:1/api", "/a", "x=1", "http://h:1/api/a?x=1"),
        ("http://h:1/api/", "/a", "", "http://h:1/api/a"),
        ("http://h:1/api", "/", "", "http://h:1/api"),
        ("http://h:1/api/", "/", "x=1", "http://h:1/api/?x=1"),
        ("http://h:1", "/", "", "http://h:1/"),
        ("http://h:1/api?key=k", "/a%2Fb", "a=1&a=2", "http://h:1/api/a%2Fb?key=k&a=1&a=2"),
    ],
)
def test_relay_url(target: str, path: str, query: str, expected: str) -> None:
    assert relay_url(target, path, query) == expected


def test_relay_headers_drop_hop_by_hop_and_keep_the_rest_in_order() -> None:
    request = captured(
        [
            ("host", "hookscope:8080"),
            ("x-a", "1"),
            ("Connection", "keep-alive, X-Custom-Hop"),
            ("x-custom-hop", "v"),
            ("keep-alive", "timeout=5"),
            ("proxy-authorization", "Basic x"),
            ("proxy-anything", "v"),
            ("te", "trailers"),
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "h2c"),
            ("content-length", "999"),
            ("x-a", "2"),
            ("cookie", "a=b"),
        ],
        body=b"hello",
    )

    assert relay_headers(request) == [
        (b"x-a", b"1"),
        (b"x-a", b"2"),
        (b"cookie", b"a=b"),
        (b"content-length", b"5"),
    ]


def test_relay_headers_keep_a_zero_length_only_when_there_was_one() -> None:
    assert relay_headers(captured([("content-length", "0")])) == [(b"content-length", b"0")]
    assert relay_headers(captured([("x", "y")], method="GET")) == [(b"x", b"y")]


def test_relay_request_sends_raw_path_and_no_client_defaults() -> None:
    request = captured([("x-a", "1")], body=b"{}", path="/a%2Fb/%zz", query="q=%20&q")
    outgoing = relay_request(request, "http://127.0.0.1:9/base", id_header="X-Id")

    assert outgoing.method == "POST"
    assert outgoing.url.raw_path == b"/base/a%2Fb/%zz?q=%20&q"
    assert outgoing.headers.raw == [
        (b"Host", b"127.0.0.1:9"),
        (b"x-a", b"1"),
        (b"content-length", b"2"),
        (b"X-Id", b"1764366000123-4"),
    ]
    assert outgoing.content == b"{}"


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1024, 1536, 5 * 1024**2, 3 * 1024**4)] == [
        "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 MiB", "3072.0 GiB"
    ]  # fmt: skip


def with_body(body: bytes, content_type: str | None = None) -> CapturedRequest:
    headers = [("content-type", content_type)] if content_type else []
    return dataclasses.replace(captured(headers), body=body)


def test_preview() -> None:
    assert preview(with_body(b""), 20) == ""
    assert preview(with_body(b'{"a":\n   1,\t"b": 2}'), 40) == '{"a": 1, "b": 2}'
    assert preview(with_body(b"x" * 50), 10) == "x" * 9 + "…"
    assert preview(with_body(b"\xff\xfe\x00"), 30) == "<binary> ff fe 00"
    assert preview(with_body("é".encode() * 100), 10) == "é" * 9 + "…"
    assert preview(with_body("€".encode() * 100), 11) == "€" * 10 + "…"  # cut mid-character


def test_preview_never_passes_terminal_controls() -> None:
    # Escape sequences make a body binary (shown in hex); whitespace collapses to one space,
    # and what else is not printable shows escaped (C1, DEL, bidi overrides).
    escape = preview(with_body(b"\x1b[31mred\x07"), 40)
    assert escape == "<binary> 1b 5b 33 31 6d 72 65 64 …"
    body = "a\u009b31mb\x7fc\u2028d\u202ee\u2066f".encode()
    assert preview(with_body(body), 60) == "a\\x9b31mb\\x7fc d\\u202ee\\u2066f"
    latin1 = with_body("caf\xe9 \x1b".encode("latin-1"), "text/plain; charset=latin-1")
    assert preview(latin1, 40) == "<binary> 63 61 66 e9 20 1b"


def test_request_line_is_plain_without_colour() -> None:
    request = captured([("content-type", "application/json")], b'{"a": 1}', query="x=1")
    local = datetime(2026, 11, 28, 21, 43, 44, 123456, tzinfo=UTC).astimezone()

    line = click.unstyle(request_line(request, 120))

    # The blank after the method is the signature column: this request has no verdict. At 120
    # columns the path column is 19 wide, the content type 24, the size 10 (right-aligned).
    assert line == (
        f"{local:%H:%M:%S}.123 POST      " + "/p?x=1".ljust(19) + "  "
        + "application/json".ljust(24) + "  " + "8 B".rjust(10) + '  {"a": 1}'
    )  # fmt: skip


@pytest.mark.parametrize("width", [80, 120, 200])
def test_request_line_keeps_its_columns_aligned(width: int) -> None:
    request = captured([("content-type", "application/json")], b'{"id": "evt_1"}', path="/s")
    late = Verification("stripe", False, "timestamp_outside_tolerance")
    variants = [
        dataclasses.replace(request, signature=Verification("stripe", True)),
        dataclasses.replace(request, signature=late),
        request,
        dataclasses.replace(request, method="DELETE", path="/a/much/longer/path" * 5, query="x=1",
                            headers=httpx.Headers({"content-type": "application/octet-stream"}),
                            body=b"x" * 5000),
    ]  # fmt: skip
    lines = [click.unstyle(request_line(variant, width)) for variant in variants]

    # The verdict has a column of its own, and path, content type and size start where they
    # start on every line, whatever came before them.
    assert [line[21] for line in lines] == ["✓", "✗", " ", " "]
    assert len({line.index("/") for line in lines}) == 1
    assert len({line.index("application/") for line in lines}) == 1
    assert len({line.index(" B ") for line in lines[:3]}) == 1
    assert lines[3].index("KiB") + 3 == lines[0].index(" B ") + 2  # sizes end together
    if width >= 120:  # narrower, the reason is cut too rather than wrapped
        assert "stripe: timestamp_outside_tolerance" in lines[1]
    assert all(len(line) <= width for line in lines)  # cut, never wrapped
    assert re.search(r" /a/much/\S*…  application/o", lines[3]), lines[3]  # a long path, cut


def test_request_line_colours_the_verdict() -> None:
    request = captured(path="/s")
    valid = request_line(dataclasses.replace(request, signature=Verification("stripe", True)))
    invalid = request_line(
        dataclasses.replace(request, signature=Verification("stripe", False, "bad_signature"))
    )

    assert "\x1b[32m\x1b[1m✓\x1b[0m" in valid  # green
    assert "\x1b[31m\x1b[1m✗\x1b[0m" in invalid  # red, and the reason too
    assert "\x1b[31mstripe: bad_signature\x1b[0m" in invalid
    assert "POST   \x1b[0m   /s" in request_line(request)  # no verdict: a plain blank


def test_request_line_escapes_the_verdict_fields() -> None:
    # The server writes the verdict; a compromised or future one could write anything.
    odd = Verification("st\x1b]0;x\x07", False, "new\u202ereason")  # type: ignore[arg-type]
    line = request_line(dataclasses.replace(captured(), signature=odd))

    assert "st\\x1b]0;x\\x07: new\\u202ereason" in click.unstyle(line)
    assert "\x07" not in line and "\u202e" not in line


def test_har_entry_with_http2_and_no_body() -> None:
    request = CapturedRequest.from_wire({**captured(method="GET").to_wire(), "http_version": "2"})

    entry = har_entry(request, "https://hooks.example/h/b_x/")

    assert entry["request"]["httpVersion"] == "HTTP/2"
    assert entry["request"]["url"] == "https://hooks.example/h/b_x/p"
    assert entry["request"]["bodySize"] == 0
    assert "postData" not in entry["request"]
    assert entry["startedDateTime"] == "2026-11-28T21:43:44.123+00:00"


@pytest.mark.parametrize(
    ("ref", "url", "expected"),
    [
        ("b_x", "http://a:1/", BinTarget("http://a:1", "b_x", "t")),
        ("http://b:2/h/b_y", "http://a:1", BinTarget("http://b:2", "b_y", "t")),
        (
            "https://p.example/hooks/h/b_z/sub/path?q=1",
            "http://a:1",
            BinTarget("https://p.example/hooks", "b_z", "t"),
        ),
    ],
)
def test_bin_target(ref: str, url: str, expected: BinTarget) -> None:
    assert BinTarget.parse(ref, url, "t") == expected


def test_bin_target_explicit_url_wins_over_the_capture_url() -> None:
    target = BinTarget.parse("http://b:2/h/b_y", "http://a:1", "t", explicit_url=True)
    assert target == BinTarget("http://a:1", "b_y", "t")
