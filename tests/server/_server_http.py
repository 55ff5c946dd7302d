"""HTTP helpers shared by the server tests (a unique module name: conftest.py is not)."""

from __future__ import annotations

from typing import Any

import httpx

MAX_BODY = 4096


class Bin:
    """A bin created over the API, with a client that carries its token."""

    def __init__(self, client: httpx.Client, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id: str = data["id"]
        self.token: str = data["token"]
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def capture(self, path: str = "", **kwargs: Any) -> httpx.Response:
        method = kwargs.pop("method", "POST")
        return self.client.request(method, f"/h/{self.id}{path}", **kwargs)

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get(
            f"/api/bins/{self.id}/requests", params=params, headers=self.auth
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["requests"]
        return found

    def api(self, method: str, suffix: str = "", **kwargs: Any) -> httpx.Response:
        headers = {**self.auth, **kwargs.pop("headers", {})}
        return self.client.request(
            method, f"/api/bins/{self.id}{suffix}", headers=headers, **kwargs
        )
