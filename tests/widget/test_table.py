"""The table model without any widget: rows, filters, selection, detail, pause, clear, df."""

from __future__ import annotations

import dataclasses
import gc
import json
from collections import deque

import pandas as pd
import pytest
from widget_support import make_request

from hookscope._dataframe import to_dataframe, to_record
from hookscope._display import body_kind, decoded_text, format_size, hexdump, preview
from hookscope._signatures import Verification
from hookscope.widget._detail import HEX_LIMIT, Detail
from hookscope.widget._render import detail_html
from hookscope.widget._table import SEARCH_LIMIT, TableModel, _haystack


def burst(count: int, start: int = 1) -> list:
    methods = ["POST", "POST", "GET", "PUT"]
    return [
        make_request(
            seq,
            method=methods[seq % 4],
            path=f"/github/{'push' if seq % 2 else 'issues'}",
            body={"n": seq, "action": "opened" if seq % 3 else "closed"},
        )
        for seq in range(start, start + count)
    ]


def test_rows_newest_first_and_bounded_by_the_window() -> None:
    model = TableModel(window=10)
    assert model.ingest(burst(250)) == 250
    snap = model.snapshot(now=0)
    assert snap.stats.count == 250
    assert snap.stats.matching == 250
    assert [row["id"] for row in snap.rows] == [r.id for r in reversed(burst(250)[-10:])]
    row = snap.rows[0]
    assert row["method"] == "GET"
    assert row["path"] == "/github/issues"
    assert row["type"] == "application/json"
    assert row["preview"] == '{"n": 250, "action": "opened"}'
    assert row["size_text"] == format_size(row["size"])


def test_ingest_skips_ids_already_seen() -> None:
    model = TableModel()
    model.ingest(burst(5))
    assert model.ingest(burst(5)) == 0
    assert model.ingest(burst(7)) == 2
    assert model.count == 7
    assert model.last_id == burst(7)[-1].id


def test_filters_by_method_and_text() -> None:
    model = TableModel(window=1000)
    model.ingest(burst(100))
    model.set_filters(method="get")
    rows = model.snapshot(0).rows
    assert rows
    assert all(row["method"] == "GET" for row in rows)
    assert model.snapshot(0).stats.matching == 25

    model.set_filters(method="POST", text="PUSH")  # path, case-insensitive
    rows = model.snapshot(0).rows
    assert {row["path"] for row in rows} == {"/github/push"}
    assert all(row["method"] == "POST" for row in rows)

    model.set_filters(text='"closed"')  # body text
    assert {json.loads(r["preview"])["action"] for r in model.snapshot(0).rows} == {"closed"}

    model.ingest([make_request(1000, method="DELETE", path="/x", body='state "closed"')])
    assert model.snapshot(0).rows[0]["method"] == "DELETE"  # arrivals are filtered too
    model.set_filters()
    assert model.snapshot(0).stats.matching == 101
    assert "DELETE" in model.snapshot(0).methods


def test_pause_freezes_rows_but_not_the_data() -> None:
    model = TableModel(window=5)
    model.ingest(burst(10))
    model.pause()
    model.ingest(burst(5, start=11))
    snap = model.snapshot(0)
    assert snap.stats.paused
    assert snap.stats.pending == 5
    assert snap.rows[0]["id"] == burst(10)[-1].id
    assert snap.stats.count == 15
    assert len(model.dataframe()) == 15
    model.resume()
    assert model.snapshot(0).rows[0]["id"] == burst(15)[-1].id


def test_clear_forgets_rows_and_keeps_the_resume_point() -> None:
    model = TableModel()
    model.ingest(burst(10))
    model.select(burst(10)[3].id)
    model.clear()
    assert model.count == 0
    assert model.selected is None
    assert model.dataframe().empty
    assert model.last_id == burst(10)[-1].id
    assert model.ingest(burst(12)) == 2  # old ids do not come back
    assert list(model.dataframe().id) == [r.id for r in burst(12)[-2:]]


def test_dataframe_matches_to_dataframe_after_bursts() -> None:
    model = TableModel()
    requests = burst(300)
    for start in range(0, 300, 37):
        model.ingest(requests[start : start + 37])
        model.dataframe()  # built incrementally between bursts
    frame = model.dataframe()
    pd.testing.assert_frame_equal(frame, to_dataframe(requests))
    frame["method"] = "changed"  # the caller's copy only
    assert model.dataframe().method.iloc[0] != "changed"


def test_max_rows_drops_the_oldest() -> None:
    model = TableModel(window=10, max_rows=100)
    requests = burst(500)
    for start in range(0, 500, 25):
        model.ingest(requests[start : start + 25])
        model.dataframe()
    assert 100 <= model.count <= 110
    frame = model.dataframe()
    assert list(frame.id) == [r.id for r in requests[-model.count :]]
    assert frame.index.equals(pd.RangeIndex(model.count))


def test_rate_counts_the_last_ten_seconds() -> None:
    model = TableModel()
    requests = burst(50)
    model.ingest(requests)
    last = requests[-1].received_at.timestamp()
    assert model.rate(last) == pytest.approx(5.0)
    assert model.rate(last + 60) == 0


def test_detail_json_headers_and_curl() -> None:
    model = TableModel()
    request = make_request(
        1,
        path="/stripe",
        query="a=1&a=2",
        body={"type": "charge.succeeded", "data": {"amount": 2000}},
        headers=[("Stripe-Signature", "t=1,v1=abc"), ("X-Dup", "1"), ("X-Dup", "2")],
    )
    model.ingest([request])
    model.select(request.id)
    detail = model.detail()
    assert detail is not None
    assert detail.kind == "json"
    assert json.loads(detail.body) == {"type": "charge.succeeded", "data": {"amount": 2000}}
    assert '\n  "data": {\n    "amount": 2000' in detail.body  # pretty-printed
    assert ("X-Dup", "1") in detail.headers
    assert ("X-Dup", "2") in detail.headers
    assert detail.target == "/stripe?a=1&a=2"
    page = detail_html(detail)
    assert "Stripe-Signature" in page
    assert "charge.succeeded" in page
    assert "curl -X POST" in page


def test_signature_cell_and_detail() -> None:
    late = Verification("stripe", False, "timestamp_outside_tolerance")
    stripe_header = [("Stripe-Signature", "t=1,v1=abc")]
    requests = [
        dataclasses.replace(make_request(1, headers=stripe_header), signature=late),
        make_request(2, headers=stripe_header),  # signed, but the bin held no secret
        make_request(3),  # not signed at all
    ]
    model = TableModel()
    model.ingest(requests)
    rows = {row["id"]: row for row in model.snapshot(0).rows}
    assert rows[requests[0].id]["signature"] == "✗ stripe: timestamp_outside_tolerance"
    # Without a verdict, no signature keys: rows stay as small as before (a blank cell).
    assert [rows[r.id].get("signature_state") for r in requests] == ["invalid", None, None]

    pages = [detail_html(model.detail(r.id)) for r in requests]
    assert "<table class='hs-signature hs-sig-invalid'>" in pages[0]
    assert "<td>reason</td><td>timestamp_outside_tolerance</td>" in pages[0]
    assert "but its timestamp is outside the tolerance" in pages[0]
    assert "stripe (by its headers), not verified" in pages[1]
    assert "bin.set_secrets({&quot;stripe&quot;: ...})" in pages[1]
    assert "Signature" not in pages[2]


def test_detail_form_fields() -> None:
    form = make_request(
        1,
        body="name=Ada+Lovelace&tag=a&tag=b",
        content_type="application/x-www-form-urlencoded",
    )
    detail = Detail.of(form)
    assert detail.kind == "form"
    assert detail.form == [("name", "Ada Lovelace"), ("tag", "a"), ("tag", "b")]

    boundary = "XyZ"
    multipart = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n--{boundary}--\r\n"
    )
    detail = Detail.of(
        make_request(2, body=multipart, content_type=f"multipart/form-data; boundary={boundary}")
    )
    assert detail.kind == "form"
    assert detail.form[0] == ("title", "hello")
    assert detail.form[1] == ("file", "<file a.bin: application/octet-stream, 3 B>")
    assert "Form fields (2)" in detail_html(detail)


def test_detail_of_a_large_binary_multipart_body_says_it_is_truncated() -> None:
    boundary = "XyZ"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + bytes(range(256)) * 40
        + f"\r\n--{boundary}--\r\n".encode()
    )
    content_type = f"multipart/form-data; boundary={boundary}"
    detail = Detail.of(make_request(3, body=body, content_type=content_type))
    assert detail.kind == "form"
    assert len(detail.body.splitlines()) == HEX_LIMIT // 16
    assert detail.truncated


def test_detail_binary_is_a_hex_dump_with_its_size() -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    request = make_request(1, body=data, content_type="application/octet-stream")
    detail = Detail.of(request)
    assert detail.kind == "binary"
    assert detail.size == 10_240
    assert detail.truncated
    lines = detail.body.splitlines()
    assert len(lines) == HEX_LIMIT // 16
    assert lines[0] == (
        "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|"
    )
    assert "10,240 bytes" in detail_html(detail)
    assert preview(request) == "<binary> 00 01 02 03 04 05 06 07 …"


def test_body_kinds() -> None:
    assert body_kind(make_request(1)) == "empty"
    assert body_kind(make_request(1, body="hello", content_type="text/plain")) == "text"
    assert body_kind(make_request(1, body='{"a": 1}', content_type="text/plain")) == "json"
    assert body_kind(make_request(1, body=b"\xff\xfe\x00", content_type=None)) == "binary"
    assert body_kind(make_request(1, body="{broken", content_type="application/json")) == "text"
    assert hexdump(b"AB") == "00000000  41 42" + " " * 45 + "|AB|"


def test_html_is_escaped() -> None:
    request = make_request(1, path="/<script>", body="<b>x</b>", content_type="text/html",
                           headers=[("x-evil", "<img src=x onerror=alert(1)>")])  # fmt: skip
    page = detail_html(Detail.of(request))
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;b&gt;x" in page


def test_snapshot_size_is_bounded_whatever_the_history() -> None:
    model = TableModel(window=50)
    model.ingest(burst(5000))
    size = len(json.dumps(model.snapshot(0).rows))
    model.ingest(burst(5000, start=5001))
    assert len(json.dumps(model.snapshot(0).rows)) < size * 1.2
    assert size < 50 * 400


def test_long_paths_are_cut_in_rows_but_not_in_the_detail() -> None:
    model = TableModel()
    request = make_request(1, path="/" + "x" * 5000, query="q=" + "y" * 5000)
    model.ingest([request])
    row = model.snapshot(0).rows[0]
    assert len(row["path"]) == 200
    assert row["path"].endswith("…")
    detail = model.detail(request.id)
    assert detail is not None
    assert detail.target == request.path + "?" + request.query


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_the_table_and_df_json_agree_on_what_is_json(content_type: str | None) -> None:
    bodies = ['{"event": "paid"}', "[1, 2]", '"just a string"', "{broken", "plain words"]
    requests = [
        make_request(n, body=body, content_type=content_type) for n, body in enumerate(bodies)
    ]
    model = TableModel()
    model.ingest(requests)
    frame = model.dataframe()
    pd.testing.assert_frame_equal(frame, to_dataframe(requests))
    for request, parsed in zip(requests, frame["json"], strict=True):
        detail = Detail.of(request)
        assert (detail.kind == "json") == (parsed is not None), (content_type, request.body)
        if parsed is not None:
            assert json.loads(detail.body) == parsed
    assert frame["json"].iloc[0] == {"event": "paid"}  # whatever the content type says


def _tracked(model: TableModel) -> int:
    """GC-tracked objects that the model holds in its containers (objects not descended)."""
    seen: set[int] = set()
    count = 0
    todo: list[object] = list(vars(model).values())
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        count += gc.is_tracked(item)
        if isinstance(item, dict):
            todo += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple | set | frozenset | deque):
            todo += list(item)
    return count


def test_rows_add_no_object_for_the_collector_to_walk() -> None:
    # A full collection walks every tracked object; the table keeps each row as a tuple of
    # immutable values, which CPython untracks, so 50,000 rows cost it nothing.
    def filled(rows: int) -> int:
        model = TableModel(window=10, max_rows=None)
        requests = burst(rows)
        requests[-1] = dataclasses.replace(
            requests[-1], signature=Verification("stripe", False, "bad_signature")
        )
        model.ingest(requests)
        model.snapshot(now=0)
        model.select(requests[3].id)
        model.set_filters(text="opened")  # builds a search text per row
        model.snapshot(now=0)
        # A collection untracks a tuple once it has found its items untracked: nested tuples
        # (header pairs in headers in the record) can take one collection per level.
        for _ in range(3):
            gc.collect()
        return _tracked(model)

    few, many = filled(100), filled(2000)
    assert many <= few + 50, (few, many)  # before: four per row (a _Row, the request, headers)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("Content-Type", "Application/JSON; charset=utf-8")], b'{"Event": "Paid"}'),
        ([("content-type", "text/plain; charset=iso-8859-1")], "café".encode("latin-1")),
        ([("content-type", "text/plain"), ("Content-Type", "text/csv")], b"a,b"),
        ([], b"no type at all"),
        ([("content-type", "application/octet-stream")], b"\x00\x01binary"),
        ([("content-type", "")], b""),
    ],
    ids=["json-params", "charset", "repeated", "none", "binary", "empty"],
)
def test_the_search_text_is_made_from_the_record_as_from_the_request(
    headers: list[tuple[str, str]], body: bytes
) -> None:
    request = make_request(1, path="/A%20b", query="X=1", headers=headers, body=body)
    text = decoded_text(request, limit=SEARCH_LIMIT * 4) or ""
    parts = (request.path, request.query, request.content_type or "", text[:SEARCH_LIMIT])
    assert _haystack(to_record(request)) == "\n".join(parts).casefold()
