"""``hookscope export``: every stored request as JSON lines, HAR 1.2 or CSV."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_support import send, send_h2, wire_requests
from click.testing import Result

import hookscope
from hookscope._dataframe import COLUMNS
from hookscope._signatures import Verification
from hookscope.cli import _export

BINARY = bytes(range(256)) * 3


@pytest.fixture
def sent(bin: hookscope.Bin) -> list[hookscope.CapturedRequest]:
    """A bin holding requests with every awkward part: binary, duplicates, forms, cookies."""
    send(bin.url_for("/github/push?a=1&a=2&empty="), json={"zen": "ünïcödé", "n": 1},
         headers=[("X-Dup", "one"), ("X-Dup", "two"), ("Cookie", "sid=abc; theme=dark")])  # fmt: skip
    send(bin.url_for("/upload"), "PUT", content=BINARY,
         headers={"content-type": "application/octet-stream"})  # fmt: skip
    send(bin.url_for("/form"), data={"name": "Ada", "lang": "en"})
    send(bin.url, "GET")
    send(bin.url_for("/a%2Fb/%E2%82%AC"), "DELETE", params={"q": "x y"})
    return bin.requests()


def _args(bin: hookscope.Bin, *more: str) -> list[str]:
    return ["export", bin.id, "--url", bin.client.url, "--token", bin.token, *more]


def test_jsonl_is_the_wire_format(
    cli: Callable[..., Result], bin: hookscope.Bin, sent: list[hookscope.CapturedRequest]
) -> None:
    result = cli(*_args(bin))  # jsonl is the default

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert wire_requests(lines) == sent
    assert [json.loads(line) for line in lines] == [r.to_wire() for r in sent]
    assert result.stderr == ""  # no progress bar off a terminal, no summary on stdout


def test_since_exports_only_later_requests(
    cli: Callable[..., Result], bin: hookscope.Bin, sent: list[hookscope.CapturedRequest]
) -> None:
    result = cli(*_args(bin, "--since", sent[1].id))

    assert result.exit_code == 0, result.output
    assert wire_requests(result.stdout.splitlines()) == sent[2:]


def test_output_file_and_paging(
    cli: Callable[..., Result],
    bin: hookscope.Bin,
    sent: list[hookscope.CapturedRequest],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_export, "PAGE", 2)  # five requests: three pages, one short
    target = tmp_path / "hooks.jsonl"

    result = cli(*_args(bin, "-o", str(target)))

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr.strip() == f"exported 5 requests to {target}"
    assert wire_requests(target.read_text("utf-8").splitlines()) == sent
    assert not (tmp_path / "hooks.jsonl.part").exists()


def test_empty_bin(cli: Callable[..., Result], bin: hookscope.Bin) -> None:
    jsonl = cli(*_args(bin))
    har = cli(*_args(bin, "--format", "har"))
    table = cli(*_args(bin, "--format", "csv"))

    assert jsonl.stdout == ""
    assert json.loads(har.stdout)["log"]["entries"] == []
    header = next(csv.reader(io.StringIO(table.stdout)))
    columns = list(COLUMNS)
    assert header == [*columns[: columns.index("body") + 1], "body_encoding", "json"]


# -- HAR ---------------------------------------------------------------------------------------

_ISO_8601 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _pairs(items: Any) -> list[tuple[str, str]]:
    assert isinstance(items, list)
    for item in items:
        assert set(item) >= {"name", "value"}, item
        assert isinstance(item["name"], str) and isinstance(item["value"], str)
    return [(item["name"], item["value"]) for item in items]


def check_har(document: Any) -> list[dict[str, Any]]:
    """HAR 1.2's structure (required fields and their types), for a log without pages."""
    assert set(document) == {"log"}
    log = document["log"]
    assert log["version"] == "1.2"
    assert isinstance(log["creator"]["name"], str) and isinstance(log["creator"]["version"], str)
    assert isinstance(log["entries"], list)
    for entry in log["entries"]:
        assert set(entry) >= {"startedDateTime", "time", "request", "response", "cache", "timings"}
        assert _ISO_8601.match(entry["startedDateTime"]), entry["startedDateTime"]
        assert isinstance(entry["time"], int | float) and entry["time"] >= 0
        request = entry["request"]
        assert set(request) >= {"method", "url", "httpVersion", "cookies", "headers",
                                "queryString", "headersSize", "bodySize"}  # fmt: skip
        assert request["url"].startswith("http")
        assert request["httpVersion"].startswith("HTTP/")
        _pairs(request["cookies"])
        _pairs(request["headers"])
        _pairs(request["queryString"])
        assert isinstance(request["headersSize"], int) and isinstance(request["bodySize"], int)
        if "postData" in request:
            post = request["postData"]
            assert isinstance(post["mimeType"], str)
            assert isinstance(post["text"], str)
            _pairs(post.get("params", []))
        response = entry["response"]
        assert set(response) >= {"status", "statusText", "httpVersion", "cookies", "headers",
                                 "content", "redirectURL", "headersSize", "bodySize"}  # fmt: skip
        assert isinstance(response["status"], int)
        assert set(response["content"]) >= {"size", "mimeType"}
        assert isinstance(entry["cache"], dict)
        timings = entry["timings"]
        for name in ("send", "wait", "receive"):
            assert isinstance(timings[name], int | float) and timings[name] >= 0
        for name in ("blocked", "dns", "connect", "ssl"):
            assert timings.get(name, -1) >= -1
        assert all(not key[0].isalpha() or key in _ENTRY_FIELDS for key in entry)
    return list(log["entries"])


_ENTRY_FIELDS = {"pageref", "startedDateTime", "time", "request", "response", "cache", "timings",
                 "serverIPAddress", "connection", "comment"}  # fmt: skip


def test_har(
    cli: Callable[..., Result], bin: hookscope.Bin, sent: list[hookscope.CapturedRequest]
) -> None:
    result = cli(*_args(bin, "--format", "har"))

    assert result.exit_code == 0, result.output
    entries = check_har(json.loads(result.stdout))
    assert [entry["_id"] for entry in entries] == [r.id for r in sent]
    push, upload, form, plain, encoded = entries

    request = push["request"]
    assert request["method"] == "POST"
    assert request["url"] == f"{bin.url}/github/push?a=1&a=2&empty="
    assert _pairs(request["queryString"]) == [("a", "1"), ("a", "2"), ("empty", "")]
    assert [v for n, v in _pairs(request["headers"]) if n.lower() == "x-dup"] == ["one", "two"]
    assert _pairs(request["cookies"]) == [("sid", "abc"), ("theme", "dark")]
    assert request["postData"]["mimeType"] == "application/json"
    assert json.loads(request["postData"]["text"]) == {"zen": "ünïcödé", "n": 1}
    assert request["bodySize"] == sent[0].size
    assert datetime.fromisoformat(push["startedDateTime"]) == sent[0].received_at.replace(
        microsecond=sent[0].received_at.microsecond // 1000 * 1000
    )

    post = upload["request"]["postData"]
    assert post["encoding"] == "base64"
    assert base64.b64decode(post["text"]) == BINARY

    assert _pairs(form["request"]["postData"]["params"]) == [("name", "Ada"), ("lang", "en")]
    assert "postData" not in plain["request"]
    assert plain["request"]["url"] == f"{bin.url}/"
    assert encoded["request"]["url"] == f"{bin.url}/a%2Fb/%E2%82%AC?q=x+y"

    # hookscope keeps no responses: every entry carries the documented placeholder.
    assert push["response"]["status"] == 0
    assert push["response"]["content"] == {"size": 0, "mimeType": "x-unknown"}
    assert "does not record" in push["response"]["comment"]


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_has_the_dataframe_columns(
    cli: Callable[..., Result], bin: hookscope.Bin, sent: list[hookscope.CapturedRequest]
) -> None:
    result = cli(*_args(bin, "--format", "csv"))

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    columns = list(COLUMNS)
    assert list(rows[0]) == [*columns[: columns.index("body") + 1], "body_encoding", "json"]
    assert len(rows) == len(sent)
    for row, request in zip(rows, sent, strict=True):
        assert row["id"] == request.id
        assert datetime.fromisoformat(row["received_at"]) == request.received_at
        assert (row["method"], row["path"], row["query"]) == (
            request.method, request.path, request.query)  # fmt: skip
        assert row["content_type"] == (request.content_type or "")
        assert int(row["size"]) == request.size
        assert [tuple(pair) for pair in json.loads(row["headers"])] == list(
            request.headers.multi_items()
        )
        body = (
            row["body"].encode()
            if row["body_encoding"] == "utf-8"
            else base64.b64decode(row["body"])
        )
        assert body == request.body
    assert json.loads(rows[0]["json"]) == {"zen": "ünïcödé", "n": 1}
    assert rows[1]["body_encoding"] == "base64"
    assert rows[1]["json"] == ""


def test_csv_carries_the_servers_signature_verdicts(
    cli: Callable[..., Result], client: hookscope.Client
) -> None:
    secret = "gh-secret"
    signed = client.create_bin(secrets={"github": secret})
    body = b'{"zen": "hi"}'
    good = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    send(signed.url, content=body, headers={"x-hub-signature-256": good})
    send(signed.url, content=body + b" ", headers={"x-hub-signature-256": good})
    unsigned = client.create_bin()
    send(unsigned.url, content=body, headers={"x-hub-signature-256": good})

    rows = _cells(cli(*_args(signed, "--format", "csv")).stdout)
    plain = _cells(cli(*_args(unsigned, "--format", "csv")).stdout)

    verdicts = [(r["signature_valid"], r["signature_scheme"], r["signature_reason"]) for r in rows]
    assert verdicts == [("True", "github", ""), ("False", "github", "bad_signature")]
    assert (plain[0]["signature_valid"], plain[0]["signature_scheme"]) == ("", "")
    assert secret not in "".join(str(row) for row in rows)


# -- CSV: formulas -------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(1)", "\t=1", "\r=1"]
TEXT_COLUMNS = [
    "id", "method", "path", "query", "content_type", "remote_addr", "signature_scheme",
    "signature_reason", "body", "json",
]  # fmt: skip


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _neutralised(cell: str) -> str:
    """OWASP: a leading ' on a formula cell (and on a cell that starts with one already)."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r", "'") else cell


def _assert_neutralised(safe: list[dict[str, str]], raw: list[dict[str, str]]) -> None:
    assert len(safe) == len(raw)
    for safe_row, raw_row in zip(safe, raw, strict=True):
        assert list(safe_row) == list(raw_row)
        for column, cell in raw_row.items():
            assert safe_row[column] == _neutralised(cell), (column, cell)
            assert not safe_row[column].startswith(FORMULA_CHARS), (column, safe_row[column])


FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")


def test_csv_cells_never_start_a_formula_in_any_column() -> None:
    from hookscope.cli._formats import CsvWriter

    def crafted(payload: str, body: bytes, content_type: str) -> hookscope.CapturedRequest:
        return hookscope.CapturedRequest(
            id=payload, bin="b_x", received_at=datetime.now(UTC), method=payload, path=payload,
            query=payload, headers=httpx.Headers([("content-type", content_type)]),
            body=body, remote_addr=payload,
            # The verdict's fields come from the wire too: a server could write anything.
            signature=Verification(payload, False, payload),  # type: ignore[arg-type]
        )  # fmt: skip

    requests = [crafted(p, p.encode(), p) for p in [*FORMULAS, "'quoted"]]
    requests.append(crafted("x", b"-2", "application/json"))
    texts = {}
    for raw in (False, True):
        out = io.BytesIO()
        writer = CsvWriter(out, "http://x/h/b_x", raw=raw)
        writer.write(requests)
        writer.close()
        texts[raw] = out.getvalue().decode()

    safe, raw_cells = _cells(texts[False]), _cells(texts[True])
    _assert_neutralised(safe, raw_cells)
    for column in TEXT_COLUMNS:  # every text column held a formula, and none is left
        assert any(row[column].startswith(FORMULA_CHARS) for row in raw_cells), column
    assert [row["body"] for row in safe] == [*("'" + p for p in FORMULAS), "''quoted", "'-2"]
    assert safe[6]["method"] == "''quoted"  # so that dropping one leading ' gives it back
    assert safe[-1]["json"] == "'-2"
    assert safe[5]["query"] == "'\r=1"  # a CR inside a cell is quoted: no new row


def test_csv_export_of_real_captures_neutralises_formulas(
    cli: Callable[..., Result], bin: hookscope.Bin
) -> None:
    # As far as HTTP/2 lets them through: no tab or CR in a method, no CR in a query, no
    # whitespace at the ends of a header value. The body carries all of them.
    for payload in FORMULAS:
        simple = payload[0] not in "\t\r"
        method = payload.encode() if simple else b"POST"
        query = payload.encode() if payload[0] != "\r" else b"cr"
        headers = [(b"content-type", payload.encode())] if simple else []
        send_h2(bin.url, method, b"/x?" + query, headers, payload.encode())
    send(bin.url_for("/n"), content=b"-2", headers={"content-type": "application/json"})

    safe = cli(*_args(bin, "--format", "csv"))
    raw = cli(*_args(bin, "--format", "csv", "--csv-raw"))

    assert safe.exit_code == 0 and raw.exit_code == 0, safe.output + raw.output
    raw_rows = _cells(raw.stdout)
    _assert_neutralised(_cells(safe.stdout), raw_rows)
    assert [row["method"] for row in raw_rows[:4]] == [p.upper() for p in FORMULAS[:4]]
    assert [row["query"] for row in raw_rows[:6]] == [*FORMULAS[:5], "cr"]
    assert [row["body"] for row in raw_rows[:6]] == FORMULAS
    assert raw_rows[6]["json"] == "-2"
    assert [row["content_type"][:1] for row in raw_rows[:4]] == ["=", "+", "-", "@"]


def test_csv_raw_is_for_csv_only(cli: Callable[..., Result], bin: hookscope.Bin) -> None:
    result = cli(*_args(bin, "--format", "jsonl", "--csv-raw"))
    assert result.exit_code == 2
    assert "--csv-raw goes with --format csv" in result.stderr
