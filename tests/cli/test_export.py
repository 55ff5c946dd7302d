"""``hookscope export``: every stored request as JSON lines, HAR 1.2 or CSV."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import send, wire_requests
from click.testing import Result

import hookscope
from hookscope._dataframe import COLUMNS
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
    assert header[: len(COLUMNS) + 1] == [*list(COLUMNS)[:10], "body_encoding", "json"]


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
