"""Access: the bin token guards every read; the API key guards bin creation."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from _server_http import Bin
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from hookscope._config import Settings, is_loopback
from hookscope._embedded import serve_in_background
from hookscope._serve import warn_if_exposed

READS = [
    ("GET", ""),
    ("PATCH", ""),
    ("DELETE", ""),
    ("GET", "/requests"),
    ("GET", "/requests/1-0"),
    ("DELETE", "/requests"),
    ("GET", "/events"),
]


@pytest.mark.parametrize(("method", "suffix"), READS)
def test_reads_need_the_token(
    http: httpx.Client, new_bin: Callable[..., Bin], method: str, suffix: str
) -> None:
    hook, other = new_bin(), new_bin()
    url = f"/api/bins/{hook.id}{suffix}"
    missing = http.request(method, url)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "token_required"
    wrong = http.request(method, url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "token_invalid"
    borrowed = http.request(method, url, headers={"Authorization": f"Bearer {other.token}"})
    assert borrowed.status_code == 403
    not_bearer = http.request(method, url, headers={"Authorization": f"Basic {hook.token}"})
    assert not_bearer.status_code == 401


def test_token_in_the_query_string(http: httpx.Client, new_bin: Callable[..., Bin]) -> None:
    hook = new_bin()
    url = f"/api/bins/{hook.id}/requests"
    assert http.get(url, params={"token": hook.token}).status_code == 200
    assert http.get(url, params={"token": hook.token + "x"}).status_code == 403


def ws_url(server: Any, bin_id: str, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + f"/api/bins/{bin_id}/ws{query}"


def test_websocket_handshake_is_refused_without_the_token(
    embedded_server: Any, new_bin: Callable[..., Bin]
) -> None:
    hook, other = new_bin(), new_bin()
    cases = [
        (ws_url(embedded_server, hook.id), {}, 401),
        (ws_url(embedded_server, hook.id), {"Authorization": "Bearer wrong"}, 403),
        (ws_url(embedded_server, hook.id), {"Authorization": f"Bearer {other.token}"}, 403),
        (ws_url(embedded_server, "b_unknown"), {"Authorization": f"Bearer {hook.token}"}, 404),
        (ws_url(embedded_server, hook.id, "?token=wrong"), {}, 403),
    ]
    for url, headers, status in cases:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=headers, open_timeout=5)
        assert refused.value.response.status_code == status, url
    with connect(ws_url(embedded_server, hook.id, f"?token={hook.token}")) as ws:
        assert ws.recv(timeout=5) == '{"type":"live"}'


def test_capture_needs_no_token(new_bin: Callable[..., Bin], http: httpx.Client) -> None:
    hook = new_bin()
    assert http.post(f"/h/{hook.id}").status_code == 200


def test_api_key_guards_bin_creation_only() -> None:
    with serve_in_background(api_key="s3cret") as server, httpx.Client(base_url=server.url) as c:
        assert c.post("/api/bins").status_code == 401
        assert c.post("/api/bins", headers={"Authorization": "Bearer nope"}).status_code == 403
        created = c.post("/api/bins", headers={"Authorization": "Bearer s3cret"})
        assert created.status_code == 201
        data = created.json()
        # Capture stays open to senders; reads use the bin token, not the key.
        assert c.post(f"/h/{data['id']}").status_code == 200
        auth = {"Authorization": f"Bearer {data['token']}"}
        assert c.get(f"/api/bins/{data['id']}/requests", headers=auth).status_code == 200


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKSCOPE_API_KEY", "from-env")
    assert Settings.from_env().api_key == "from-env"


def test_exposed_server_without_api_key_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hookscope.server"):
        warn_if_exposed(Settings(host="0.0.0.0"))
    assert "without --api-key" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hookscope.server"):
        warn_if_exposed(Settings(host="0.0.0.0", api_key="k"))
        warn_if_exposed(Settings(host="127.0.0.1"))
        warn_if_exposed(Settings(host="::1"))
    assert caplog.text == ""


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("::", False), ("10.1.2.3", False), ("example.com", False)],
)  # fmt: skip
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_ids_and_tokens_are_random_and_long(http: httpx.Client) -> None:
    bins = [http.post("/api/bins").json() for _ in range(20)]
    assert len({b["id"] for b in bins}) == 20
    assert len({b["token"] for b in bins}) == 20
    assert all(len(b["id"]) >= 2 + 22 for b in bins)  # 16 bytes urlsafe = 22 chars
