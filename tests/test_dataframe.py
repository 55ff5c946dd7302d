"""``to_dataframe``: columns, dtypes, values, ``expand_json``, and the empty case."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from hookscope import CapturedRequest, to_dataframe
from hookscope._dataframe import COLUMNS, from_record, records_to_dataframe, to_record
from hookscope._models import _new_headers
from hookscope._signatures import Verification

START = datetime(2026, 11, 28, 21, 43, 44, 123456, tzinfo=UTC)


def make(n: int, **fields: object) -> CapturedRequest:
    values: dict[str, object] = {
        "id": f"{1_764_366_000_000 + n}-0",
        "bin": "b_test",
        "received_at": START + timedelta(microseconds=n),
        "method": "POST",
        "path": f"/p/{n}",
        "headers": _new_headers([("content-type", "application/json")]),
        "body": json.dumps({"n": n}).encode(),
        "remote_addr": "127.0.0.1",
    }
    values.update(fields)
    return CapturedRequest(**values)  # type: ignore[arg-type]


def expected_dtypes() -> dict[str, str]:
    return {name: str(pd.Series([], dtype=dtype).dtype) for name, dtype in COLUMNS.items()}


def test_columns_and_dtypes() -> None:
    frame = to_dataframe([make(0), make(1)])
    assert list(frame.columns) == list(COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == expected_dtypes()
    assert str(frame["received_at"].dtype) == "datetime64[us, UTC]"
    assert isinstance(frame["id"].dtype, pd.StringDtype)
    assert frame["size"].dtype == "int64"


def test_empty_input_gives_the_same_columns_and_dtypes() -> None:
    frame = to_dataframe([])
    assert len(frame) == 0
    assert list(frame.columns) == list(COLUMNS)
    assert {name: str(dtype) for name, dtype in frame.dtypes.items()} == expected_dtypes()
    expanded = to_dataframe([], expand_json=True)
    assert list(expanded.columns) == list(COLUMNS)


def test_values_are_exact() -> None:
    binary = make(
        1,
        method="PUT",
        path="/a%20b",
        query="x=1&x=2",
        headers=_new_headers(
            [("Content-Type", "application/octet-stream; x=1"), ("x-dup", "1"), ("x-dup", "2")]
        ),
        body=b"\xff\x00\x01",
        remote_addr=None,
    )
    frame = to_dataframe([make(0), binary])
    row = frame.iloc[1]
    assert row["id"] == binary.id
    assert row["received_at"] == pd.Timestamp(binary.received_at)
    assert row["received_at"].microsecond == 123457
    assert row["method"] == "PUT"
    assert row["path"] == "/a%20b"
    assert row["query"] == "x=1&x=2"
    assert row["content_type"] == "application/octet-stream"
    assert row["size"] == 3
    assert pd.isna(row["remote_addr"])
    assert row["headers"] == (
        ("Content-Type", "application/octet-stream; x=1"),
        ("x-dup", "1"),
        ("x-dup", "2"),
    )
    assert row["body"] == b"\xff\x00\x01"
    assert row["json"] is None
    assert frame.iloc[0]["json"] == {"n": 0}
    assert frame.iloc[0]["query"] == ""


@pytest.mark.parametrize(
    ("content_type", "body", "parsed"),
    [
        ("application/json", b'{"a": 1}', {"a": 1}),
        ("application/json; charset=utf-8", b"[1, 2]", [1, 2]),
        ("application/vnd.github+json", b'"s"', "s"),
        ("text/json", b"null", None),
        ("application/json", b"{not json", None),
        ("application/json", b"\xff", None),
        ("application/json", b"", None),
        ("application/json", b' \n{"a": 1}\r\n ', {"a": 1}),
        ("application/json", b'{"a": 1} {"b": 2}', None),
        ("application/json", b'{"a": 1}\x0b', None),  # not JSON whitespace
        ("application/json", b"[" * 100_000 + b"]" * 100_000, None),
        ("application/json", b"NaN", float("nan")),
        ("text/plain", b'{"a": 1}', {"a": 1}),  # an object or an array is JSON anyway
        (None, b' [1, {"a": 1}]', [1, {"a": 1}]),
        ("text/plain", b'"s"', None),  # a bare string is JSON only when it says so
        (None, b"12", None),
        ("text/plain", b"{not json", None),
    ],
    ids=[
        "object",
        "charset",
        "vendor-json",
        "text-json-null",
        "invalid",
        "not-utf8",
        "empty",
        "whitespace",
        "two-documents",
        "vertical-tab",
        "deep-nesting",
        "nan",
        "text-plain",
        "no-content-type",
        "text-plain-string",
        "no-content-type-number",
        "text-plain-invalid",
    ],
)
def test_json_column(content_type: str | None, body: bytes, parsed: object) -> None:
    headers = [("content-type", content_type)] if content_type else []
    frame = to_dataframe([make(0, headers=_new_headers(headers), body=body)])
    value = frame.iloc[0]["json"]
    assert value == parsed or (value != value and parsed != parsed)  # NaN is not NaN
    expected_type = content_type.split(";")[0] if content_type else None
    assert (frame.iloc[0]["content_type"] if content_type else None) == expected_type


def test_expand_json_flattens_objects_into_columns() -> None:
    requests = [
        make(0, body=json.dumps({"event": "paid", "data": {"amount": 10, "tags": ["a"]}}).encode()),
        make(1, body=json.dumps({"event": "failed", "data": {"reason": "card"}}).encode()),
        make(2, body=b"[1, 2]"),  # not an object: no json.* values
        make(3, headers=_new_headers([]), body=b"plain"),
    ]
    frame = to_dataframe(requests, expand_json=True)
    assert list(frame.columns) == [
        *COLUMNS,
        "json.event",
        "json.data.amount",
        "json.data.tags",
        "json.data.reason",
    ]
    assert frame["json.event"].tolist()[:2] == ["paid", "failed"]
    assert frame["json.data.amount"].iloc[0] == 10
    assert frame["json.data.tags"].iloc[0] == ["a"]
    assert frame["json.data.reason"].iloc[1] == "card"
    assert frame[["json.event"]].iloc[2:].isna().all().all()
    assert frame["json"].iloc[2] == [1, 2]  # the json column stays whole


def test_signature_columns_are_the_servers_verdicts() -> None:
    frame = to_dataframe(
        [
            make(0, signature=Verification("stripe", True)),
            make(1, signature=Verification("stripe", False, "timestamp_outside_tolerance")),
            make(2),  # the bin held no secret: no verdict
        ]
    )
    assert str(frame["signature_valid"].dtype) == "boolean"
    assert frame["signature_valid"].tolist() == [True, False, pd.NA]
    assert frame["signature_scheme"].tolist() == ["stripe", "stripe", pd.NA]
    assert frame["signature_reason"].tolist() == [pd.NA, "timestamp_outside_tolerance", pd.NA]
    # The usual questions read naturally: NA is neither valid nor invalid.
    assert frame[frame["signature_valid"] == False]["id"].tolist() == [make(1).id]  # noqa: E712
    assert frame["signature_valid"].fillna(False).sum() == 1
    assert frame["signature_valid"].isna().sum() == 1


def test_to_dataframe_takes_any_iterable() -> None:
    frame = to_dataframe(make(n) for n in range(3))
    assert frame["path"].tolist() == ["/p/0", "/p/1", "/p/2"]
    assert frame["received_at"].is_monotonic_increasing


def test_many_requests_convert_quickly() -> None:
    # The real measurement is bench/dataframe.py; this only guards against a gross regression.
    requests = [make(n) for n in range(20_000)]
    frame = to_dataframe(requests)
    assert len(frame) == 20_000
    assert frame["size"].sum() == sum(r.size for r in requests)


@pytest.mark.parametrize(
    "request_",
    [
        make(0),
        make(1, signature=Verification("stripe", False, "bad_signature")),
        make(2, signature=Verification("github", True)),
        make(
            3,
            method="PATCH",
            query="a=1&a=2",
            headers=_new_headers([("X-Dup", "1"), ("x-dup", "2"), ("X-Bytes", "caf\xe9")]),
            body=b"\xff\x00",
            remote_addr=None,
            http_version="2",
        ),
    ],
    ids=["json", "invalid-signature", "valid-signature", "binary-duplicates-latin1"],
)
def test_a_record_is_an_untracked_tuple_that_gives_the_request_back(
    request_: CapturedRequest,
) -> None:
    record = to_record(request_)
    assert type(record) is tuple
    assert from_record(record) == request_
    assert from_record(record).header_pairs == request_.header_pairs
    assert from_record(record).signature == request_.signature
    # A collection untracks a tuple once it has found its items untracked: nested tuples
    # (header pairs in headers in the record) can take one collection per level.
    for _ in range(3):
        gc.collect()
    # Immutable values all the way down: CPython stops tracking it, so however many a live
    # table holds, a full collection does not walk them.
    assert not gc.is_tracked(record)


def test_records_to_dataframe_is_to_dataframe() -> None:
    requests = [make(0), make(1, signature=Verification("stripe", True)), make(2, body=b"")]
    pd.testing.assert_frame_equal(
        records_to_dataframe([to_record(r) for r in requests]), to_dataframe(requests)
    )
    pd.testing.assert_frame_equal(
        records_to_dataframe([to_record(r) for r in requests], expand_json=True),
        to_dataframe(requests, expand_json=True),
    )
    pd.testing.assert_frame_equal(records_to_dataframe([]), to_dataframe([]))
