"""SDK test helpers: send requests to bins, wait on conditions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx


def send(url: str, method: str = "POST", **kwargs: Any) -> str:
    """Capture one request at ``url``; returns its id."""
    response = httpx.request(method, url, timeout=10, **kwargs)
    assert response.status_code < 400, response.text
    return str(response.headers["x-hookscope-request-id"])


async def asend(http: httpx.AsyncClient, url: str, method: str = "POST", **kwargs: Any) -> str:
    response = await http.request(method, url, **kwargs)
    assert response.status_code < 400, response.text
    return str(response.headers["x-hookscope-request-id"])


async def eventually(condition: Callable[[], Any], within: float = 10, what: str = "") -> Any:
    """Wait until ``condition()`` is truthy, checking every 10 ms; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or condition}")
        await asyncio.sleep(0.01)


def metric(server_url: str, name: str) -> float:
    """One sample of the server's ``/metrics`` (``name`` with its labels, as printed)."""
    for line in httpx.get(server_url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


WS_WATCHERS = 'hookscope_watchers{transport="ws"}'
LAGGED = "hookscope_watchers_lagged_total"
