"""The JSON API: bins, requests, paging, health, readiness and metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _server_http import MAX_BODY, Bin

from hookscope._embedded import serve_in_background


def test_create_bin_defaults(http: httpx.Client, embedded_server: Any) -> None:
    response = http.post("/api/bins")
    assert response.status_code == 201
    data = response.json()
    assert set(data) >= {"id", "token", "url", "created_at", "response", "max_requests", "ttl_s"}
    assert data["url"] == f"{embedded_server.url}/h/{data['id']}"
    assert data["response"] == {"status": 200, "headers": {}, "body": None, "delay_ms": 0}
    assert data["max_requests"] == 1000
    assert data["ttl_s"] == 7 * 86400
    assert data["created_at"].endswith("Z")
    assert len(data["token"]) >= 32 and data["id"].startswith("b_")


def test_create_bin_with_options(http: httpx.Client) -> None:
    body = {
        "name": "stripe",
        "response": {"status": 202, "headers": {"X-A": "1"}, "body": "ok", "delay_ms": 10},
        "max_requests": 5,
        "ttl_s": 60,
    }
    data = http.post("/api/bins", json=body).json()
    assert data["name"] == "stripe"
    assert data["response"] == body["response"]
    assert data["max_requests"] == 5
    assert data["ttl_s"] == 60


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"response": {"status": 99}}, "invalid_response"),
        ({"response": {"status": "200"}}, "invalid_response"),
        ({"response": {"headers": {"X": 1}}}, "invalid_response"),
        ({"response": {"headers": {"Bad\nName": "x"}}}, "invalid_response"),
        ({"response": {"body": 5}}, "invalid_response"),
        ({"response": {"delay_ms": -1}}, "invalid_response"),
        ({"response": {"colour": "red"}}, "invalid_response"),
        ({"max_requests": 0}, "invalid_max_requests"),
        ({"max_requests": 10**9}, "invalid_max_requests"),
        ({"ttl_s": -5}, "invalid_ttl_s"),
        ({"name": 7}, "invalid_name"),
        ({"nmae": "typo"}, "unknown_field"),
        # Settings the server would accept and then fail to serve at every capture (after
        # storing it, so senders retry and store duplicates): refused up front.
        ({"response": {"headers": {"X-A": "a\x0bb"}}}, "invalid_response"),
        ({"response": {"headers": {"X-A": "a\x0cb"}}}, "invalid_response"),
        ({"response": {"headers": {"X-A": "tab\tand\x7f"}}}, "invalid_response"),
        ({"response": {"headers": {"X-A": "caf\u00e9 \u20ac"}}}, "invalid_response"),
        ({"response": {"body": "\ud800"}}, "invalid_response"),
        ({"max_requests": 0.5}, "invalid_max_requests"),
        ({"max_requests": 2.0}, "invalid_max_requests"),
        ({"ttl_s": float("nan")}, "invalid_ttl_s"),
        ({"ttl_s": True}, "invalid_ttl_s"),
    ],
)
def test_create_bin_rejects_bad_input(http: httpx.Client, body: dict[str, Any], code: str) -> None:
    # json.dumps escapes lone surrogates and writes NaN, as a hostile client may.
    response = http.post(
        "/api/bins", content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_a_latin1_header_and_tab_are_fine(http: httpx.Client) -> None:
    response = {"headers": {"X-A": "caf\u00e9\tok"}, "body": "\u2603"}
    created = http.post("/api/bins", json={"response": response})
    assert created.status_code == 201
    hook = created.json()
    answer = http.post(f"/h/{hook['id']}")
    assert answer.status_code == 200
    assert answer.headers.raw[0] == (b"X-A", b"caf\xe9\tok") or (b"x-a", b"caf\xe9\tok") in [
        (n.lower(), v) for n, v in answer.headers.raw
    ]
    assert answer.content == "\u2603".encode()


def test_deeply_nested_json_is_400_not_500(http: httpx.Client) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = http.post("/api/bins", content=deep, headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    "query",
    [
        "after=1-0%0A",
        "after=%D9%A1-0",
        "limit=%D9%A1",
        "limit=9" + "9" * 5000,
        "tail=+5",
        "tail=%205",
    ],
)
def test_odd_ids_and_numbers_are_400_not_500(new_bin: Callable[..., Bin], query: str) -> None:
    hook = new_bin()
    answer = hook.api("GET", f"/requests?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"].startswith("invalid_")


def test_create_bin_rejects_non_json(http: httpx.Client) -> None:
    response = http.post(
        "/api/bins", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert http.post("/api/bins", json=[1]).status_code == 400


def test_read_update_delete_bin(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin(name="a")
    read = hook.api("GET")
    assert read.status_code == 200
    assert read.json()["name"] == "a"
    assert read.json()["token"] == hook.token

    patched = hook.api("PATCH", json={"name": "b", "response": {"status": 500, "body": "no"}})
    assert patched.status_code == 200
    assert patched.json()["name"] == "b"
    assert patched.json()["response"]["status"] == 500
    assert hook.capture().status_code == 500

    assert hook.api("PATCH", json={"max_requests": 3}).status_code == 400
    assert hook.api("PATCH", json={"response": {"status": 1}}).status_code == 400

    hook.capture()
    assert hook.api("DELETE").status_code == 204
    assert hook.api("GET").status_code == 404
    assert hook.capture().status_code == 404
    assert hook.api("GET", "/requests").status_code == 404


def test_paging_with_after_limit_and_next(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    for n in range(7):
        hook.capture(content=str(n).encode())
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if after:
            params["after"] = after
        page = hook.api("GET", "/requests", params=params).json()
        pages.append([r["body"] for r in page["requests"]])
        after = page["next"]
        if after is None:
            break
    assert pages == [["0", "1", "2"], ["3", "4", "5"], ["6"]]
    exact = hook.api("GET", "/requests", params={"limit": 7}).json()
    assert exact["next"] is None and len(exact["requests"]) == 7


def test_tail_returns_the_newest_oldest_first(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    for n in range(5):
        hook.capture(content=str(n).encode())
    page = hook.api("GET", "/requests", params={"tail": 2}).json()
    assert [r["body"] for r in page["requests"]] == ["3", "4"]
    assert page["next"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "x"},
        {"after": "nope"},
        {"tail": -1},
        {"tail": 2, "after": "1-0"},
        {"tail": 2, "limit": 5},
    ],
)
def test_bad_paging_is_400(new_bin: Callable[..., Bin], params: dict[str, Any]) -> None:
    response = new_bin().api("GET", "/requests", params=params)
    assert response.status_code == 400
    assert "error" in response.json()


def test_one_request_by_id_and_clear(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    request_id = hook.capture("/one", content=b"1").headers["x-hookscope-request-id"]
    one = hook.api("GET", f"/requests/{request_id}")
    assert one.status_code == 200
    assert one.json()["id"] == request_id and one.json()["path"] == "/one"
    assert hook.api("GET", "/requests/1-0").status_code == 404
    assert hook.api("GET", "/requests/garbage").status_code == 404

    assert hook.api("DELETE", "/requests").status_code == 204
    assert hook.requests() == []
    assert hook.api("GET", f"/requests/{request_id}").status_code == 404
    later = hook.capture(content=b"2").headers["x-hookscope-request-id"]
    assert [r["id"] for r in hook.requests()] == [later]


def test_health_ready_and_metrics(http: httpx.Client, new_bin: Callable[..., Bin]) -> None:
    assert http.get("/healthz").json()["ok"] is True
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["backend"] == "memory"

    hook = new_bin()
    before = http.get("/metrics").text
    hook.capture(content=b"12345")
    http.post("/h/b_missing")
    after = http.get("/metrics").text

    def value(text: str, name: str) -> float:
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in metrics")

    assert value(after, "hookscope_captures_total") == value(before, "hookscope_captures_total") + 1
    assert (
        value(after, "hookscope_capture_bytes_total")
        == value(before, "hookscope_capture_bytes_total") + 5
    )
    name = 'hookscope_rejects_total{reason="unknown_bin"}'
    assert value(after, name) == value(before, name) + 1
    assert 'hookscope_watchers{transport="ws"}' in after
    assert "hookscope_backend_errors_total" in after


def test_unknown_api_routes_answer_json(http: httpx.Client) -> None:
    response = http.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = http.put("/api/bins")
    assert response.status_code == 405
    assert "error" in response.json()


def test_api_methods_head_options_and_405(new_bin: Callable[..., Bin], http: httpx.Client) -> None:
    hook = new_bin()
    hook.capture("/a", content=b"x")
    page = hook.api("GET", "/requests")
    head = http.head(f"/api/bins/{hook.id}/requests", headers=hook.auth)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(page.content))
    options = http.options(f"/api/bins/{hook.id}")
    assert options.status_code == 204
    assert options.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
    refused = http.post(f"/api/bins/{hook.id}/requests", headers=hook.auth)
    assert refused.status_code == 405
    assert refused.headers["allow"] == "DELETE, GET, HEAD, OPTIONS"
    assert refused.json()["error"]["code"] == "method_not_allowed"
    assert http.head(f"/api/bins/{hook.id}/requests").status_code == 401  # errors too


def test_an_api_body_over_the_limit_is_413(small_http: httpx.Client) -> None:
    response = small_http.post("/api/bins", json={"name": "x" * MAX_BODY})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    declared = small_http.post("/api/bins", content=b"{}", headers={"content-type": "text/plain"})
    assert declared.status_code == 415


def test_public_url_shapes_capture_urls() -> None:
    with serve_in_background(public_url="https://hooks.example.com/") as server:
        data = httpx.post(server.url + "/api/bins").json()
    assert data["url"] == f"https://hooks.example.com/h/{data['id']}"


@pytest.mark.parametrize(
    "headers",
    [{"Content-Length": "3"}, {"Transfer-Encoding": "chunked"}, {"X Space": "1"},
     {"X-Emoji": "\U0001f600"}, {"": "x"}],
)  # fmt: skip
def test_response_headers_the_server_must_own_or_cannot_send_are_refused(
    http: httpx.Client, headers: dict[str, str]
) -> None:
    response = http.post("/api/bins", json={"response": {"headers": headers}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_response"


def test_latin1_response_header_is_sent(new_bin: Callable[..., Bin]) -> None:
    hook = new_bin(response={"headers": {"X-Name": "caf\xe9"}})
    assert hook.capture().headers.get_list("x-name") == ["caf\xe9"]


def test_an_unexpected_failure_is_a_json_500(monkeypatch: pytest.MonkeyPatch) -> None:
    with serve_in_background() as server:
        store = server._app.extensions["hookscope"].store

        async def broken(**_: Any) -> list[Any]:
            raise RuntimeError("a bug")

        monkeypatch.setattr(store, "list_bins", broken)
        response = httpx.get(server.url + "/api/bins")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_server_error"
