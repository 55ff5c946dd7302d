"""The page's server side, without a browser: routes, security headers, GET /api/bins and the
token offered as a WebSocket subprotocol."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

import httpx
import pytest
from web_support import API_KEY
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from hookscope._config import Settings
from hookscope._contract import WS_SUBPROTOCOL, WS_TOKEN_PREFIX
from hookscope._embedded import BackgroundServer
from hookscope.server import create_app
from hookscope.server._pages import CSP

ASSETS = sorted(
    entry.name
    for entry in resources.files("hookscope.server").joinpath("_web").iterdir()
    if not entry.name.endswith(".html")
)
EXPECTED_CSP = {
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
}


def assert_secured(response: httpx.Response) -> None:
    assert set(response.headers["content-security-policy"].split("; ")) == EXPECTED_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.fixture
def http(embedded_server: BackgroundServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=embedded_server.url, timeout=10) as client:
        yield client


def new_bin(http: httpx.Client, **body: Any) -> dict[str, Any]:
    created = http.post("/api/bins", json=body)
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    return data


def test_pages_and_assets_carry_the_security_headers(http: httpx.Client) -> None:
    assert CSP.count(";") == len(EXPECTED_CSP) - 1
    home = http.get("/")
    assert home.status_code == 200
    assert home.headers["content-type"] == "text/html; charset=utf-8"
    assert_secured(home)
    bin_page = http.get("/b/b_AnyIdAtAll")  # served for any id: the token decides, in the page
    assert bin_page.status_code == 200
    assert_secured(bin_page)
    for page in (home, bin_page):
        assert "<script>" not in page.text  # only <script type="module" src=...>
        assert " style=" not in page.text and "<style" not in page.text
        assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere
    assert {"bin.js", "home.js", "style.css", "icon.svg"} <= set(ASSETS)
    types = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
    for name in ASSETS:
        answer = http.get(f"/assets/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith(types[name.rpartition(".")[2]])
        assert_secured(answer)
        if not name.endswith(".svg"):  # (an SVG names its XML namespace with a URL)
            assert "http://" not in answer.text and "https://" not in answer.text, name
        for markup in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert markup not in answer.text, (name, markup)


def test_errors_under_the_page_paths_are_secured_too(http: httpx.Client) -> None:
    for path in ("/assets/nothing.js", "/assets/index.html", "/assets/x/../", "/b/no%20id"):
        answer = http.get(path)
        assert answer.status_code == 404, path
        assert_secured(answer)
    head = http.head("/")
    assert head.status_code == 200
    assert_secured(head)


def test_assets_revalidate_with_their_etag(http: httpx.Client) -> None:
    first = http.get("/assets/bin.js")
    assert first.headers["cache-control"] == "no-cache"
    again = http.get("/assets/bin.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert_secured(again)


def test_bin_list_is_open_on_loopback_without_an_api_key(http: httpx.Client) -> None:
    made = [new_bin(http, name=f"list-{n}") for n in range(3)]
    http.post(f"/h/{made[1]['id']}/x", content=b"hello")
    http.post(f"/h/{made[1]['id']}/y", content=b"hello")
    listed = http.get("/api/bins", params={"limit": 500})
    assert listed.status_code == 200
    bins = {b["id"]: b for b in listed.json()["bins"]}
    assert [b["id"] for b in listed.json()["bins"]][:3] == [m["id"] for m in reversed(made)]
    second = bins[made[1]["id"]]
    assert second["token"] == made[1]["token"] and second["name"] == "list-1"
    assert second["requests"] == 2 and second["last_request_at"].endswith("Z")
    assert second["url"] == made[1]["url"]
    assert bins[made[0]["id"]]["requests"] == 0
    assert bins[made[0]["id"]]["last_request_at"] is None
    assert len(http.get("/api/bins", params={"limit": 1}).json()["bins"]) == 1
    for bad in ("0", "501", "x"):
        answer = http.get("/api/bins", params={"limit": bad})
        assert answer.status_code == 400
        assert answer.json()["error"]["code"] == "invalid_limit"


def test_bin_list_needs_the_api_key_when_there_is_one(keyed_server: BackgroundServer) -> None:
    url = f"{keyed_server.url}/api/bins"
    made = httpx.post(url, json={}, headers={"Authorization": f"Bearer {API_KEY}"}).json()
    missing = httpx.get(url)
    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "api_key_required")
    wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "api_key_invalid")
    token = httpx.get(url, headers={"Authorization": f"Bearer {made['token']}"})
    assert token.status_code == 403  # a bin's token is not the API key
    listed = httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"})
    assert [b["id"] for b in listed.json()["bins"]] == [made["id"]]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "settings",
    [
        Settings(host="0.0.0.0"),
        Settings(host="192.0.2.7"),
        Settings(host="127.0.0.1", public_url="https://hooks.example.com"),
    ],
    ids=["any-address", "an-interface", "loopback-behind-a-proxy"],
)
async def test_bin_list_is_closed_on_the_network_without_an_api_key(settings: Settings) -> None:
    app = create_app(settings)
    async with app.test_app() as test_app:
        client = test_app.test_client()
        headers = {"Host": "hooks.example.com"}
        answer = await client.get("/api/bins", headers=headers)
        assert answer.status_code == 403
        assert json.loads(await answer.get_data())["error"]["code"] == "bin_list_closed"
        created = await client.post("/api/bins", json={}, headers=headers)
        assert created.status_code == 201  # creating stays open, as before (with a warning)


def stream_url(server: BackgroundServer, bin_id: str, query: str = "") -> str:
    return server.url.replace("http://", "ws://") + f"/api/bins/{bin_id}/ws{query}"


def test_the_token_can_travel_as_a_subprotocol(
    embedded_server: BackgroundServer, http: httpx.Client
) -> None:
    made = new_bin(http)
    offer = [WS_SUBPROTOCOL, WS_TOKEN_PREFIX + made["token"]]
    with connect(stream_url(embedded_server, made["id"]), subprotocols=offer) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == WS_SUBPROTOCOL  # never the token: it is not echoed back
        assert ws.response.headers["sec-websocket-protocol"] == WS_SUBPROTOCOL
        assert json.loads(ws.recv(timeout=10)) == {"type": "live"}
        http.post(f"/h/{made['id']}/sub", content=b"x")
        frame = json.loads(ws.recv(timeout=10))
        assert frame["request"]["path"] == "/sub"

    other = new_bin(http)
    for token, status in ((other["token"], 403), ("", 401)):
        offer = [WS_SUBPROTOCOL] + ([WS_TOKEN_PREFIX + token] if token else [])
        with pytest.raises(InvalidStatus) as refused:
            connect(stream_url(embedded_server, made["id"]), subprotocols=offer)  # type: ignore[arg-type]
        assert refused.value.response.status_code == status


def test_clients_that_offer_no_subprotocol_get_none(
    embedded_server: BackgroundServer, http: httpx.Client
) -> None:
    made = new_bin(http)
    with connect(stream_url(embedded_server, made["id"], f"?token={made['token']}")) as ws:
        assert ws.subprotocol is None
        assert json.loads(ws.recv(timeout=10)) == {"type": "live"}
