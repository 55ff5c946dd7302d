"""``--trust-proxy``: X-Forwarded-For names the sender only when the peer is a trusted proxy.

(tests/server/test_deploy.py checks the same through a real Caddy.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hookscope._config import Settings
from hookscope._embedded import BackgroundServer
from hookscope.server._proxies import TrustedProxies


def _scope(peer: str, *forwarded: str) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 5000), "headers": headers}


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "sender"),
    [
        ([], "10.0.0.5", ["203.0.113.9"], "10.0.0.5"),  # never by default
        (["10.0.0.5"], "10.0.0.5", ["203.0.113.9"], "203.0.113.9"),
        (["10.0.0.5"], "198.51.100.1", ["203.0.113.9"], "198.51.100.1"),  # peer not trusted
        (["10.0.0.0/8"], "10.0.0.5", ["203.0.113.9, 10.0.0.7"], "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.5", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # spoof left
        (["10.0.0.0/8"], "10.0.0.5", ["6.6.6.6", "203.0.113.9"], "203.0.113.9"),  # 2 headers
        (["10.0.0.0/8"], "10.0.0.5", ["garbage, 10.0.0.7"], "10.0.0.7"),
        (["10.0.0.0/8"], "10.0.0.5", [], "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", ["203.0.113.9:4711"], "203.0.113.9"),
        (["::1"], "::1", ["[2001:db8::7]:443"], "2001:db8::7"),
    ],
)
def test_the_sender(trusted: list[str], peer: str, forwarded: list[str], sender: str) -> None:
    assert TrustedProxies(trusted).client(_scope(peer, *forwarded)) == sender


def test_bad_proxies_are_refused() -> None:
    with pytest.raises(ValueError, match="--trust-proxy takes an IP address or network"):
        Settings(trust_proxy=("proxy.example.com",))
    assert Settings.from_env({"HOOKSCOPE_TRUST_PROXY": "10.0.0.1, ::1"}).trust_proxy == (
        "10.0.0.1",
        "::1",
    )


@pytest.fixture(scope="module")
def behind_a_proxy(serve_on: Callable[..., Any]) -> Any:
    return serve_on(trust_proxy=["127.0.0.1"])


def _remote_addr(server: BackgroundServer, forwarded: str | None) -> str:
    bin = httpx.post(f"{server.url}/api/bins", json={}).json()
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    httpx.post(f"{server.url}/h/{bin['id']}", headers=headers)
    stored = httpx.get(
        f"{server.url}/api/bins/{bin['id']}/requests",
        headers={"Authorization": f"Bearer {bin['token']}"},
    ).json()["requests"]
    return str(stored[0]["remote_addr"])


def test_a_capture_records_the_sender_behind_a_trusted_proxy(
    behind_a_proxy: BackgroundServer, embedded_server: BackgroundServer
) -> None:
    assert _remote_addr(behind_a_proxy, "203.0.113.9") == "203.0.113.9"
    assert _remote_addr(behind_a_proxy, None) == "127.0.0.1"
    assert _remote_addr(embedded_server, "203.0.113.9") == "127.0.0.1"  # not trusted
