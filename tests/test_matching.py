"""``Match``: what wait_for and the pytest plugin look for, and how misses are explained."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hookscope import CapturedRequest, Match, MatchCriteria
from hookscope._matching import arrivals, json_mismatch
from hookscope._models import _new_headers
from hookscope._signatures import Verification


def make(
    method: str = "POST",
    path: str = "/hooks/stripe",
    *,
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: Any = None,
    raw: bytes | None = None,
    id: str = "1-0",
    signature: Verification | None = None,
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
        signature=signature,
    )


PAID = make(body={"event": "paid", "data": {"amount": 10, "tags": ["a", "b"], "live": True}})


def test_an_empty_match_matches_everything() -> None:
    assert Match().matches(PAID)
    assert Match().matches(make("GET", "/", raw=b"\xff"))


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        (Match(method="post"), None),
        (Match(method="GET"), "method: 'POST' != 'GET'"),
        (Match(path="/hooks/stripe"), None),
        (Match(path="/hooks"), "path: '/hooks/stripe' != '/hooks'"),
        (Match(path="/hooks/*"), None),
        (Match(path="/hooks/str?pe"), None),
        (Match(path="/hooks/[st]tripe"), None),
        (Match(path="/other/*"), "path: '/hooks/stripe' does not match '/other/*'"),
        (Match(json={"event": "paid"}), None),
        (Match(json={"event": "failed"}), "json.event: 'paid' != 'failed'"),
        (Match(json={"data": {"amount": 10}}), None),
        (Match(json={"data": {"amount": 11}}), "json.data.amount: 10 != 11"),
        (Match(json={"data": {"currency": "eur"}}), "json.data.currency: missing"),
        (Match(json={"data": {"tags": ["a", "b"]}}), None),
        (Match(json={"data": {"tags": ["a"]}}), "json.data.tags: ['a', 'b'] != ['a']"),
        (Match(json={"data": {"live": 1}}), "json.data.live: True != 1"),
        (Match(json={"event": {"x": 1}}), "json.event: expected an object, got 'paid'"),
        (Match(predicate=lambda r: r.size > 0), None),
    ],
)
def test_mismatch_names_the_first_difference(match: Match, expected: str | None) -> None:
    assert match.mismatch(PAID) == expected
    assert match.matches(PAID) is (expected is None)


def test_glob_does_not_apply_to_plain_paths() -> None:
    # Without * ? [ a path is compared exactly, even if it looks like a prefix.
    assert not Match(path="/hooks/").matches(PAID)


def test_headers_are_a_case_insensitive_subset_and_multi_valued() -> None:
    req = make(headers=[("X-Event", "push"), ("x-dup", "1"), ("x-dup", "2")])
    assert Match(headers={"x-event": "push"}).matches(req)
    assert Match(headers={"X-EVENT": "push", "X-Dup": "2"}).matches(req)
    assert Match(headers={"x-event": "pull"}).mismatch(req) == "headers.x-event: 'push' != 'pull'"
    assert Match(headers={"x-dup": "3"}).mismatch(req) == "headers.x-dup: ['1', '2'] != '3'"
    assert Match(headers={"x-missing": "1"}).mismatch(req) == "headers.x-missing: missing"


def test_query_is_a_subset_of_the_parameters() -> None:
    req = make(query="a=1&a=2&b=x%20y")
    assert Match(query={"b": "x y"}).matches(req)
    assert Match(query={"a": "2"}).matches(req)  # a string: one of the values
    assert Match(query={"a": ["1", "2"]}).matches(req)  # a list: all of them, in order
    assert Match(query={"a": ["2", "1"]}).mismatch(req) == "query.a: ['1', '2'] != ['2', '1']"
    assert Match(query={"a": "3"}).mismatch(req) == "query.a: ['1', '2'] != '3'"
    assert Match(query={"c": "1"}).mismatch(req) == "query.c: missing"


def test_json_on_a_body_that_is_not_json() -> None:
    req = make(raw=b"a=1", headers=[("content-type", "application/x-www-form-urlencoded")])
    assert Match(json={"a": 1}).mismatch(req) == (
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

    assert Match(predicate=is_big).mismatch(PAID) == "predicate is_big() returned false"


def test_describe() -> None:
    match = Match(
        "post",
        "/hooks/*",
        headers={"x-a": "1"},
        query={"q": "1"},
        json={"event": "paid"},
        signed=True,
    )
    assert match.describe() == (
        "POST /hooks/* headers={'x-a': '1'} query={'q': '1'} json={'event': 'paid'} signed=True"
    )
    assert Match().describe() == "any method any path"
    assert repr(Match(method="GET")) == "<Match GET any path>"


STRIPE_HEADER = [("stripe-signature", "t=1,v1=00")]


def signed(reason: str | None, scheme: str = "stripe") -> CapturedRequest:
    verdict = Verification(scheme, reason is None, reason)  # type: ignore[arg-type]
    return make(headers=STRIPE_HEADER, body={"a": 1}, signature=verdict)


def test_signed_true_wants_the_servers_valid_verdict() -> None:
    assert Match(signed=True).matches(signed(None))
    assert Match(signed=True).mismatch(signed("timestamp_outside_tolerance")) == (
        "signed: stripe signature invalid: timestamp_outside_tolerance (the signature matches, "
        "but its timestamp is outside the tolerance (a replay, or a clock that is off))"
    )
    assert Match(signed=True).mismatch(signed("bad_signature")) == (
        "signed: stripe signature invalid: bad_signature "
        "(the signature does not match the body and secret)"
    )


def test_signed_false_wants_an_invalid_verdict() -> None:
    assert Match(signed=False).matches(signed("bad_signature"))
    assert Match(signed=False).mismatch(signed(None)) == (
        "signed: stripe signature valid, expected an invalid one"
    )


def test_without_a_verdict_nothing_is_signed_and_the_message_says_what_to_do() -> None:
    # The bin held no secret when the request arrived: the server gave no verdict.
    stripe_signed = make(headers=STRIPE_HEADER, body={"a": 1})
    for wanted in (True, False):
        assert Match(signed=wanted).mismatch(stripe_signed) == (
            "signed: no verdict: the bin held no secret for this request's stripe signature "
            "when it arrived; set one with set_secrets({'stripe': ...}) before the sender sends"
        )
    assert Match(signed=True).mismatch(PAID) == (
        "signed: no verdict: the request carries no signature header hookscope knows, and the "
        "bin held no signing secret when it arrived (set_secrets(...))"
    )


def test_a_signature_of_another_scheme_is_named() -> None:
    # The bin holds a github secret only; the sender signed for Stripe.
    github_verdict = Verification("github", False, "missing_header")
    request = make(headers=STRIPE_HEADER, body={"a": 1}, signature=github_verdict)
    assert Match(signed=True).mismatch(request) == (
        "signed: github signature invalid: missing_header (the request carries no signature "
        "header of this scheme); it carries a stripe signature, and the bin held no stripe "
        "secret: set_secrets({'stripe': ...})"
    )


def test_a_verdict_from_the_wire_is_shown_escaped_and_unknown_reasons_do_not_break() -> None:
    hostile = Verification("st\x1b[2Jripe\u202e", False, "some_new_reason\x07")  # type: ignore[arg-type]
    request = make(body={"a": 1}, signature=hostile)
    assert Match(signed=True).mismatch(request) == (
        "signed: st\\x1b[2Jripe\\u202e signature invalid: some_new_reason\\x07"
    )


def test_arrivals_lists_what_did_arrive() -> None:
    match = Match("POST", json={"event": "failed"})
    listing = arrivals(
        match,
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
    assert arrivals(match, []) == "no request arrived at all"


def test_arrivals_shows_the_newest_when_many() -> None:
    many = [make(id=f"{n}-0", body={"n": n}) for n in range(30)]
    listing = arrivals(Match(json={"n": -1}), many, limit=3).splitlines()
    assert listing[0] == "30 request(s) arrived:"
    assert listing[1] == "  ... 27 older ones not shown"
    assert [line.split()[0] for line in listing[2:]] == ["27-0", "28-0", "29-0"]


def test_the_criteria_are_defined_once() -> None:
    # MatchCriteria (the **criteria of every wait and assertion) is Match's keyword fields.
    keyword = {f.name: str(f.type) for f in dataclasses.fields(Match) if f.kw_only}
    criteria = {
        name: getattr(hint, "__forward_arg__", hint)
        for name, hint in MatchCriteria.__annotations__.items()
    }
    assert list(criteria) == list(keyword)
    for name, hint in criteria.items():
        assert keyword[name] in (hint, f"{hint} | None"), name


def test_of_takes_a_match_or_criteria_not_both() -> None:
    paid = Match("post", json={"event": "paid"})
    assert Match.of(paid) is paid
    assert Match.of("POST", "/x", json={}).describe() == "POST /x json={}"
    with pytest.raises(TypeError, match="not both"):
        Match.of(paid, json={"event": "paid"})
    with pytest.raises(TypeError, match="not both"):
        Match.of(paid, "/x")


def test_arrivals_escape_what_a_terminal_would_act_on() -> None:
    hostile = make("G\x1b]0;owned\x07T", "/x\x1b[2J\u202e")
    listing = arrivals(Match(method="POST"), [hostile])
    assert "\x1b" not in listing and "\u202e" not in listing and "\x07" not in listing
    assert "\\x1b]0;owned\\x07" in listing and "\\u202e" in listing
    assert "\x1b" not in repr(hostile)
