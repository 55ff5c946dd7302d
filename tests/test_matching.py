"""Matchers: what wait_for and the pytest plugin look for, and how misses are explained."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hookscope import CapturedRequest
from hookscope._matching import Matcher, arrivals, json_mismatch
from hookscope._models import _new_headers


def make(
    method: str = "POST",
    path: str = "/hooks/stripe",
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: Any = None,
    raw: bytes | None = None,
    id: str = "1-0",
) -> CapturedRequest:
    if raw is None:
        raw = json.dumps(body).encode() if body is not None else b""
    if headers is None:
        headers = [("content-type", "application/json")] if body is not None else []
    return CapturedRequest(
        id=id,
        bin="b_test",
        received_at=datetime(2026, 11, 28, tzinfo=UTC),
        method=method,
        path=path,
        query=query,
        headers=_new_headers(headers),
        body=raw,
    )


PAID = make(body={"event": "paid", "data": {"amount": 10, "tags": ["a", "b"], "live": True}})


def test_empty_matcher_matches_everything() -> None:
    assert Matcher().matches(PAID)
    assert Matcher().matches(make("GET", "/", raw=b"\xff"))


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        (Matcher(method="post"), None),
        (Matcher(method="GET"), "method: 'POST' != 'GET'"),
        (Matcher(path="/hooks/stripe"), None),
        (Matcher(path="/hooks"), "path: '/hooks/stripe' != '/hooks'"),
        (Matcher(path="/hooks/*"), None),
        (Matcher(path="/hooks/str?pe"), None),
        (Matcher(path="/hooks/[st]tripe"), None),
        (Matcher(path="/other/*"), "path: '/hooks/stripe' does not match '/other/*'"),
        (Matcher(json={"event": "paid"}), None),
        (Matcher(json={"event": "failed"}), "json.event: 'paid' != 'failed'"),
        (Matcher(json={"data": {"amount": 10}}), None),
        (Matcher(json={"data": {"amount": 11}}), "json.data.amount: 10 != 11"),
        (Matcher(json={"data": {"currency": "eur"}}), "json.data.currency: missing"),
        (Matcher(json={"data": {"tags": ["a", "b"]}}), None),
        (Matcher(json={"data": {"tags": ["a"]}}), "json.data.tags: ['a', 'b'] != ['a']"),
        (Matcher(json={"data": {"live": 1}}), "json.data.live: True != 1"),
        (Matcher(json={"event": {"x": 1}}), "json.event: expected an object, got 'paid'"),
        (Matcher(predicate=lambda r: r.size > 0), None),
    ],
)
def test_mismatch_names_the_first_difference(matcher: Matcher, expected: str | None) -> None:
    assert matcher.mismatch(PAID) == expected
    assert matcher.matches(PAID) is (expected is None)


def test_glob_does_not_apply_to_plain_paths() -> None:
    # Without * ? [ a path is compared exactly, even if it looks like a prefix.
    assert not Matcher(path="/hooks/").matches(PAID)


def test_headers_are_a_case_insensitive_subset_and_multi_valued() -> None:
    req = make(headers=[("X-Event", "push"), ("x-dup", "1"), ("x-dup", "2")])
    assert Matcher(headers={"x-event": "push"}).matches(req)
    assert Matcher(headers={"X-EVENT": "push", "X-Dup": "2"}).matches(req)
    assert Matcher(headers={"x-event": "pull"}).mismatch(req) == "headers.x-event: 'push' != 'pull'"
    assert Matcher(headers={"x-dup": "3"}).mismatch(req) == "headers.x-dup: ['1', '2'] != '3'"
    assert Matcher(headers={"x-missing": "1"}).mismatch(req) == "headers.x-missing: missing"


def test_query_is_a_subset_of_the_parameters() -> None:
    req = make(query="a=1&a=2&b=x%20y")
    assert Matcher(query={"b": "x y"}).matches(req)
    assert Matcher(query={"a": "2"}).matches(req)  # a string: one of the values
    assert Matcher(query={"a": ["1", "2"]}).matches(req)  # a list: all of them, in order
    assert Matcher(query={"a": ["2", "1"]}).mismatch(req) == "query.a: ['1', '2'] != ['2', '1']"
    assert Matcher(query={"a": "3"}).mismatch(req) == "query.a: ['1', '2'] != '3'"
    assert Matcher(query={"c": "1"}).mismatch(req) == "query.c: missing"


def test_json_on_a_body_that_is_not_json() -> None:
    req = make(raw=b"a=1", headers=[("content-type", "application/x-www-form-urlencoded")])
    assert Matcher(json={"a": 1}).mismatch(req) == (
        "json: body is not JSON (application/x-www-form-urlencoded)"
    )


def test_json_lists_compare_exactly_and_bools_are_not_numbers() -> None:
    assert json_mismatch([1, {"a": 1}], [1, {"a": 1, "b": 2}]) is None  # objects in lists: subset
    assert json_mismatch([1, 2], [1, 2, 3]) == "json: [1, 2, 3] != [1, 2]"
    assert json_mismatch(True, 1) == "json: 1 != True"
    assert json_mismatch(1, 1.0) is None


def test_predicate_failure_is_named() -> None:
    def is_big(request: CapturedRequest) -> bool:
        return request.size > 10_000

    assert Matcher(predicate=is_big).mismatch(PAID) == "predicate is_big() returned false"


def test_describe() -> None:
    matcher = Matcher(
        "post", "/hooks/*", headers={"x-a": "1"}, query={"q": "1"}, json={"event": "paid"}
    )
    assert matcher.describe() == (
        "POST /hooks/* headers={'x-a': '1'} query={'q': '1'} json={'event': 'paid'}"
    )
    assert Matcher().describe() == "any method any path"
    assert repr(Matcher(method="GET")) == "<Matcher GET any path>"


def test_arrivals_lists_what_did_arrive() -> None:
    matcher = Matcher("POST", json={"event": "failed"})
    listing = arrivals(
        matcher,
        [
            PAID,
            make("GET", "/health", query="x=1", id="2-0"),
            make(body={"event": "failed"}, id="3-0"),
        ],
    )
    assert listing == (
        "3 request(s) arrived:\n"
        "  1-0 POST /hooks/stripe  (json.event: 'paid' != 'failed')\n"
        "  2-0 GET /health?x=1  (method: 'GET' != 'POST')\n"
        "  3-0 POST /hooks/stripe  (matches)"
    )
    assert arrivals(matcher, []) == "no request arrived at all"


def test_arrivals_shows_the_newest_when_many() -> None:
    many = [make(id=f"{n}-0", body={"n": n}) for n in range(30)]
    listing = arrivals(Matcher(json={"n": -1}), many, limit=3).splitlines()
    assert listing[0] == "30 request(s) arrived:"
    assert listing[1] == "  ... 27 older ones not shown"
    assert [line.split()[0] for line in listing[2:]] == ["27-0", "28-0", "29-0"]
