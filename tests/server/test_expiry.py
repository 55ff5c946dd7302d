"""An expired bin closes its streams with 4404 on every backend (the hub's expiry check).

Redis says nothing when keys expire, so the hub asks the store which watched bins still exist
every ``expiry_check`` seconds; the memory store also says so itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from hookscope._embedded import BackgroundServer, serve_in_background


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def server(request: pytest.FixtureRequest) -> Iterator[BackgroundServer]:
    settings: dict[str, object] = {"expiry_check": 0.1}
    if request.param == "redis":
        settings["redis_url"] = request.getfixturevalue("redis_url")
    started = serve_in_background(**settings)
    yield started
    started.stop()


def test_an_expired_bin_closes_its_streams(server: BackgroundServer) -> None:
    bin = httpx.post(f"{server.url}/api/bins", json={"ttl_s": 0.5}).json()

    async def watch() -> int | None:
        url = server.url.replace("http://", "ws://") + f"/api/bins/{bin['id']}/ws"
        auth = {"Authorization": f"Bearer {bin['token']}"}
        async with websockets.connect(url, additional_headers=auth, compression=None) as ws:
            assert json.loads(await ws.recv()) == {"type": "live"}
            async with asyncio.timeout(10):
                error = json.loads(await ws.recv())
                assert error["type"] == "error" and error["code"] == "bin_deleted"
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
        return closed.value.rcvd.code if closed.value.rcvd else None

    assert asyncio.run(watch()) == 4404
