"""The smee event format: what smee-client forwards, and which bodies arrive byte-exact.

``js_stringify`` emulates ``JSON.stringify(JSON.parse(text))``; it is checked against node
itself on awkward numbers, key orders and escapes.
"""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from hookscope import CapturedRequest
from hookscope._smee import _js_parse, event_data, forwarded_exactly, js_stringify

NODE = Path(__file__).parent / "node"
ROUND_TRIP = """
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
console.log(JSON.stringify(cases.map((t) => {
  try { return JSON.stringify(JSON.parse(t)); } catch (e) { return null; }
})));
"""


def _cases() -> list[str]:
    rng = random.Random(1202)
    cases = [
        '{"a":1}',
        '{"b":1,"2":3,"1":4,"a":[1.5e-7,1e21,100.0,1e-6,123456789012345678901234567890]}',
        "[0.1,0.2,1e300,-0.0,5e-324,2.5e-7,1.7976931348623157e308,9007199254740993]",
        '{"\\u00e9":"\\ud83d\\ude00","x":"\\u2028\\u001f\\t\\/"}',
        '{"4294967295":1,"4294967294":2,"01":3,"-1":4}',
        "1E5",
        " [1, 2] ",
        "NaN",
        '{"a":1,"a":2}',
        "",
        "not json",
    ]
    for _ in range(300):
        number = rng.choice(
            [
                rng.uniform(-1e30, 1e30),
                rng.random() * 10 ** rng.randint(-30, 30),
                rng.randint(-(2**70), 2**70),
                rng.random(),
            ]
        )
        cases.append(json.dumps([number, {str(rng.randint(0, 99)): 1, "k": number}]))
    return cases


def test_js_stringify_agrees_with_node() -> None:
    cases = _cases()
    result = subprocess.run(
        ["node", "-e", ROUND_TRIP],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        cwd=NODE,
        check=True,
        timeout=30,
    )
    expected = json.loads(result.stdout)
    for text, node_says in zip(cases, expected, strict=True):
        parsed = _js_parse(text)
        ours = None if parsed is _js_parse("") else js_stringify(parsed)
        assert ours == node_says, text


def _request(
    body: bytes, content_type: str | None = "application/json", query: str = ""
) -> CapturedRequest:
    headers = [("content-type", content_type)] if content_type else []
    return CapturedRequest(
        id="5-0",
        bin="b_x",
        received_at=datetime(2026, 12, 2, tzinfo=UTC),
        method="POST",
        path="/",
        query=query,
        headers=httpx.Headers(headers),
        body=body,
    )


@pytest.mark.parametrize(
    ("body", "content_type", "why"),
    [
        (b'{"a":1,"b":[true,null]}', "application/json", None),
        (b'{"a": 1}', "application/json", "whitespace"),
        (b'{"a":"\\u00e9"}', "application/json", "re-encodes"),
        (b'{"n":12345678901234567890}', "application/json", "re-encodes"),
        (b"a=1&b=2", "application/x-www-form-urlencoded", "not JSON"),
        (b"\xff\x00", "application/octet-stream", "binary"),
        (b"", None, "empty"),
    ],
)
def test_forwarded_exactly(body: bytes, content_type: str | None, why: str | None) -> None:
    verdict = forwarded_exactly(_request(body, content_type))
    assert (verdict is None) if why is None else (verdict is not None and why in verdict)


def test_event_data_keeps_what_fetch_accepts() -> None:
    request = _request(b'{"a":1}', query="x=1&x=2&y=")
    request = CapturedRequest(
        id=request.id,
        bin=request.bin,
        received_at=request.received_at,
        method="POST",
        path="/",
        query=request.query,
        headers=httpx.Headers(
            [
                ("Content-Type", "application/json"),
                ("X-Dup", "1"),
                ("x-dup", "2"),
                ("Host", "hooks.example.com"),
                ("Transfer-Encoding", "chunked"),
                ("Content-Encoding", "gzip"),
                ("Sec-Fetch-Mode", "navigate"),
                ("Body", "spoofed"),
                ("X-Latin", "caf\xe9"),
            ],
            encoding="latin-1",
        ),
        body=request.body,
    )
    data = event_data(request)
    assert data["body"] == {"a": 1}
    assert data["query"] == {"x": "2", "y": ""}
    assert data["x-dup"] == "1, 2"
    assert data["x-latin"] == "caf\xe9"
    assert data["x-hookscope-request-id"] == "5-0"
    assert data["timestamp"] == int(datetime(2026, 12, 2, tzinfo=UTC).timestamp() * 1000)
    for gone in ("host", "transfer-encoding", "content-encoding", "sec-fetch-mode"):
        assert gone not in data
    assert set(data) >= {"body", "query", "timestamp", "content-type"}


def test_the_live_tables_detail_marks_what_smee_would_not_forward_exactly() -> None:
    from hookscope.widget._detail import Detail
    from hookscope.widget._render import detail_html

    pretty = Detail.of(_request(b'{"a": 1}'))
    assert pretty.smee_inexact is not None and "whitespace" in pretty.smee_inexact
    assert "hs-smee-note" in detail_html(pretty)
    compact = Detail.of(_request(b'{"a":1}'))
    assert compact.smee_inexact is None
    assert "hs-smee-note" not in detail_html(compact)


def test_smee_urls_from_the_sdk_and_the_contract(embedded_server: object) -> None:
    import hookscope
    from hookscope._contract import smee_url

    url = getattr(embedded_server, "url")  # noqa: B009 (a fixture without a type here)
    with hookscope.Client(url) as client:
        bin = client.create_bin()
        assert bin.smee_url() == f"{url}/api/bins/{bin.id}/smee?token={bin.token}"
        assert bin.smee_url(cursor="ci") == smee_url(bin.url, bin.token, cursor="ci")
        with httpx.stream("GET", bin.smee_url(cursor="ci"), timeout=10) as events:
            assert events.status_code == 200
