"""``AsyncClient`` and ``AsyncBin``: the SDK for asyncio code.

async with hookscope.AsyncClient("http://127.0.0.1:8080") as client:
    bin = await client.create_bin(name="stripe")
    print(bin.url)                                  # give this to the sender
    paid = await bin.wait_for("POST", json={"type": "invoice.paid"})
    async for req in bin.stream():                  # forever, resuming by itself
        print(req.method, req.path)
"""

from __future__ import annotations

import asyncio
import contextlib
import json as jsonlib
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload
from urllib.parse import urlsplit

import httpx

from .._contract import MAX_PAGE, bin_path, capture_url, smee_url
from .._exceptions import ConnectionFailed
from .._ids import BEGINNING
from .._matching import Match, MatchCriteria, Waiting
from .._models import CapturedRequest
from ._errors import api_error
from ._stream import USER_AGENT, AsyncStream

if TYPE_CHECKING:
    import pandas as pd

    from ..widget import LiveTable

__all__ = ["AsyncBin", "AsyncClient"]


def _base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"{url!r} is not the base URL of a hookscope server (like http://127.0.0.1:8080)"
        )
    return url.rstrip("/")


def _response_spec(
    status: int = 200,
    *,
    body: str | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    delay_ms: int = 0,
) -> dict[str, Any]:
    """The API's ``response`` object for ``respond_with``'s arguments.

    ``json`` is sent as the body, with ``content-type: application/json`` unless ``headers``
    name another; ``body`` and ``json`` both None: the default body (``{"ok": true, ...}``).
    """
    headers = dict(headers or {})
    if json is not None:
        if body is not None:
            raise ValueError("respond_with() takes body= or json=, not both")
        body = jsonlib.dumps(json)
        if not any(name.lower() == "content-type" for name in headers):
            headers = {"content-type": "application/json", **headers}
    return {"status": status, "headers": headers, "body": body, "delay_ms": delay_ms}


class AsyncClient:
    """A connection to a hookscope server: creates and opens bins.

    ``api_key`` is needed to create bins on a server started with ``--api-key``.
    ``timeout`` bounds each HTTP call and each WebSocket handshake (seconds).
    """

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 10.0) -> None:
        self.url = _base_url(url)
        self.api_key = api_key
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )

    async def create_bin(
        self,
        *,
        name: str | None = None,
        response: Mapping[str, Any] | None = None,
        max_requests: int | None = None,
        ttl_s: float | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> AsyncBin:
        """A new bin. ``response``: what it answers (``status``, ``headers``, ``body``,
        ``delay_ms``); ``max_requests`` and ``ttl_s`` default to the server's limits.
        ``secrets``: signing secrets by scheme (``{"stripe": "whsec_..."}``); the server then
        verifies each capture and stores the verdict (``req.signature``). Write-only."""
        fields = {
            "name": name,
            "response": response,
            "max_requests": max_requests,
            "ttl_s": ttl_s,
            "secrets": dict(secrets) if secrets else None,
        }
        body = {key: value for key, value in fields.items() if value is not None}
        data = await self._call("POST", "/api/bins", self.api_key, json=body)
        return AsyncBin(self, data["id"], data["token"], url=data["url"], name=data.get("name"))

    def bin(self, id: str, token: str) -> AsyncBin:
        """An existing bin, from its id and token (no request is made)."""
        return AsyncBin(self, id, token)

    async def _call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        status, content = await self._exchange(method, path, token, json=json, params=params)
        if status >= 400:
            raise api_error(status, content, what=f"{method} {path}")
        return jsonlib.loads(content) if content else None

    async def _exchange(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[int, bytes]:
        """One API call's status and body. (The pytest plugin's client for its embedded
        server calls the app in-process instead.)"""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            response = await self._http.request(
                method, path, headers=headers, json=json, params=params
            )
        except httpx.TransportError as error:
            raise ConnectionFailed(
                f"cannot reach the hookscope server at {self.url} "
                f"({type(error).__name__}: {error}); is it running and is the URL right?"
            ) from error
        return response.status_code, response.content

    async def aclose(self) -> None:
        """Close the HTTP connections (streams close with their iterators)."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncClient {self.url}>"


class AsyncBin:
    """One bin: ``url`` is what senders get; the methods read what they sent.

    ``id`` and ``url`` are public (third parties see them); ``token`` opens the bin: keep it
    secret. ``name`` is None until known (``create_bin`` or ``info()`` tell it).
    """

    def __init__(
        self,
        client: AsyncClient,
        id: str,
        token: str,
        *,
        url: str | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.id = id
        self.token = token
        self.url = url or capture_url(client.url, id)
        self.name = name

    def url_for(self, path: str = "/") -> str:
        """The capture URL of ``path`` (may hold a query): ``bin.url_for("/github?x=1")``."""
        return self.url + "/" + path.lstrip("/")

    def smee_url(self, cursor: str | None = None) -> str:
        """The bin as a smee channel, for smee-client and Probot's ``WEBHOOK_PROXY_URL``
        (docs/smee.md). It holds the token: keep it secret. ``cursor`` names a reader whose
        position the server keeps, so that a restarted client resumes where it was.
        """
        return smee_url(self.url, self.token, cursor)

    async def info(self) -> dict[str, Any]:
        """The bin as the server describes it: name, url, response, limits, created_at."""
        data: dict[str, Any] = await self._call("GET", "")
        self._learn(data)
        return data

    def _learn(self, data: Mapping[str, Any]) -> None:
        self.url = data.get("url", self.url)
        self.name = data.get("name")

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
    ) -> Any:
        path = bin_path(self.id, path)
        return await self.client._call(method, path, self.token, json=json, params=params)

    async def requests(
        self, *, since: str | None = None, limit: int | None = None
    ) -> list[CapturedRequest]:
        """Stored requests, oldest first: all of them, or ``limit`` of them; ``since``: only
        those after that request id (the API's ``?after=``).

        Pages through the server's pages (``MAX_PAGE``, 1000) as needed.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        found: list[CapturedRequest] = []
        while limit is None or len(found) < limit:
            size = MAX_PAGE if limit is None else min(MAX_PAGE, limit - len(found))
            params: dict[str, Any] = {"limit": size}
            if since is not None:
                params["after"] = since
            page = await self._call("GET", "/requests", params=params)
            found += [CapturedRequest.from_wire(data) for data in page["requests"]]
            since = page["next"]
            if since is None:
                break
        return found

    async def _history(self) -> AsyncGenerator[CapturedRequest]:
        """Every stored request, oldest first, a page at a time."""
        params: dict[str, Any] = {"limit": MAX_PAGE}
        while True:
            page = await self._call("GET", "/requests", params=params)
            for data in page["requests"]:
                yield CapturedRequest.from_wire(data)
            if page["next"] is None:
                return
            params["after"] = page["next"]

    async def tail(self, n: int = 10) -> list[CapturedRequest]:
        """The newest ``n`` requests (at most ``MAX_TAIL``, 1000), oldest first."""
        page = await self._call("GET", "/requests", params={"tail": n})
        return [CapturedRequest.from_wire(data) for data in page["requests"]]

    async def get(self, id: str) -> CapturedRequest:
        """One stored request; ``RequestNotFound`` when it is gone or never was."""
        return CapturedRequest.from_wire(await self._call("GET", f"/requests/{id}"))

    async def clear(self) -> None:
        """Drop every stored request (the bin stays; new ids keep increasing)."""
        await self._call("DELETE", "/requests")

    async def delete(self) -> None:
        """Delete the bin and its history; open streams end with ``BinNotFound``."""
        await self._call("DELETE", "")

    async def respond_with(
        self,
        status: int = 200,
        *,
        body: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on; no arguments restore the default
        (200 with ``{"ok": true, "id": ...}``). ``json``: a JSON body.

            await bin.respond_with(503, delay_ms=2000)   # test a sender's retries
        """
        spec = _response_spec(status, body=body, json=json, headers=headers, delay_ms=delay_ms)
        self._learn(await self._call("PATCH", "", json={"response": spec}))

    async def set_secrets(self, secrets: Mapping[str, str | None]) -> None:
        """Add or replace signing secrets by scheme; ``None`` removes one. Write-only: the
        server never shows them again (``info()["signing"]`` names the schemes).

            await bin.set_secrets({"github": "gh-secret", "stripe": None})
        """
        self._learn(await self._call("PATCH", "", json={"secrets": dict(secrets)}))

    @overload
    async def wait_for(
        self,
        method: str | Match | None = ...,
        path: str | None = ...,
        *,
        count: Literal[1] = ...,
        timeout: float = ...,  # noqa: ASYNC109 (the deadline is the point of the call)
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest: ...

    @overload
    async def wait_for(
        self,
        method: str | Match | None = ...,
        path: str | None = ...,
        *,
        count: int,
        timeout: float = ...,  # noqa: ASYNC109
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]: ...

    async def wait_for(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        count: int = 1,
        timeout: float = 10,  # noqa: ASYNC109
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first request that matches (a list of the first ``count`` when ``count > 1``).

        ``method``, ``path`` and ``criteria`` (``headers``, ``json``, ``query``,
        ``predicate``) are a ``hookscope.Match``, or pass one as ``method``. Looks at the
        bin's history first (HTTP), then, when not all were there, waits for live requests
        on a stream that resumes after the last one seen. Raises ``WaitTimeout`` (an
        ``AssertionError``) after ``timeout`` seconds, listing what did arrive.

            req = await bin.wait_for("POST", "/hooks/*", json={"event": "paid"}, timeout=5)
        """
        waiting = Waiting(Match.of(method, path, **criteria), count)
        try:
            async with asyncio.timeout(timeout):
                # History first, over plain HTTP: most waits end there, with no stream opened.
                async with contextlib.aclosing(self._history()) as history:
                    async for request in history:
                        if waiting.take(request):
                            break
                if not waiting.done:
                    since = waiting.seen[-1].id if waiting.seen else BEGINNING
                    async with self.open_stream(since=since) as stream:
                        while not waiting.take(await stream.next()):
                            pass
        except TimeoutError:
            raise waiting.timed_out(timeout, self.id) from None
        return waiting.result()

    def open_stream(self, *, since: str | None = None, tail: int | None = None) -> AsyncStream:
        """A cursor over the bin's requests as they arrive, resuming by itself.

        ``since=ID``: after that request id (``"0-0"``: the whole history); ``tail=N``: the
        newest N stored first; neither: from now on. Entering it (``async with``, or
        ``await cursor.start()``) fixes that start and connects.

            async with bin.open_stream(tail=5) as cursor:
                req = await cursor.next()
        """
        return AsyncStream(self, since=since, tail=tail)

    async def stream(
        self, *, since: str | None = None, tail: int | None = None
    ) -> AsyncIterator[CapturedRequest]:
        """Requests as they arrive, forever; reconnects and resumes by itself.

        Starts when first iterated; ``since`` and ``tail`` as in ``open_stream``. Raises
        ``BinNotFound`` if the bin is deleted.

            async for req in bin.stream(tail=5):
                print(req.method, req.path)
        """
        async with self.open_stream(since=since, tail=tail) as cursor:
            async for request in cursor:
                yield request

    async def dataframe(self, *, expand_json: bool = False) -> pd.DataFrame:
        """Every stored request as a DataFrame (the columns of ``hookscope.to_dataframe``)."""
        from .._dataframe import to_dataframe

        return to_dataframe(await self.requests(), expand_json=expand_json)

    def live_table(self, **options: Any) -> LiveTable:
        """A Jupyter table of this bin's requests, live (``hookscope.LiveTable(bin, **options)``).

        ``options``: ``since``, ``tail``, ``window``, ``max_rows``, ``interval``, ``display``.
        """
        # The one place the client reaches into the widget, lazily: the widget depends on
        # the client (its public API only), never the other way round.
        from ..widget import LiveTable

        return LiveTable(self, **options)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__} {self.id}{name} {self.url}>"
