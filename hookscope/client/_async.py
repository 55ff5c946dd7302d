"""``AsyncClient`` and ``AsyncBin``: the SDK for asyncio code.

async with hookscope.AsyncClient("http://127.0.0.1:8080") as client:
    bin = await client.create_bin(name="stripe")
    print(bin.url)                                  # give this to the sender
    paid = await bin.wait_for(method="POST", json={"type": "invoice.paid"})
    async for req in bin.stream():                  # forever, resuming by itself
        print(req.method, req.path)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from .._exceptions import ConnectionFailed, WaitTimeout
from .._ids import BEGINNING, id_key
from .._matching import Matcher, arrivals
from .._models import CapturedRequest
from ._errors import api_error
from ._protocol import StreamProtocol
from ._stream import USER_AGENT, AsyncStream

if TYPE_CHECKING:
    import pandas as pd

    from ..widget import LiveTable

__all__ = ["AsyncBin", "AsyncClient"]

PAGE_SIZE = 1000  # the server's largest page


class AsyncClient:
    """A connection to a hookscope server: creates and opens bins.

    ``api_key`` is needed to create bins on a server started with ``--api-key``.
    ``timeout`` bounds each HTTP call and each WebSocket handshake (seconds).
    """

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )

    async def create_bin(
        self,
        name: str | None = None,
        response: Mapping[str, Any] | None = None,
        max_requests: int | None = None,
        ttl_s: float | None = None,
    ) -> AsyncBin:
        """A new bin. ``response``: what it answers (``status``, ``headers``, ``body``,
        ``delay_ms``); ``max_requests`` and ``ttl_s`` default to the server's limits."""
        fields = {"name": name, "response": response, "max_requests": max_requests, "ttl_s": ttl_s}
        body = {key: value for key, value in fields.items() if value is not None}
        data = await self._call("POST", "/api/bins", self.api_key, json=body)
        return AsyncBin(self, data["id"], data["token"], url=data["url"], name=data.get("name"))

    def bin(self, id: str, token: str) -> AsyncBin:
        """An existing bin, from its id and token (no request is made)."""
        return AsyncBin(self, id, token)

    async def _send(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> httpx.Response:
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
        if response.is_error:
            raise api_error(response.status_code, response.content, what=f"{method} {path}")
        return response

    async def _call(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        response = await self._send(method, path, token, json=json, params=params)
        return response.json() if response.content else None

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
        self.url = url or f"{client.url}/h/{id}"
        self.name = name
        self._path = f"/api/bins/{id}"

    def url_for(self, path: str = "/") -> str:
        """The capture URL of ``path`` (may hold a query): ``bin.url_for("/github?x=1")``."""
        return self.url + "/" + path.lstrip("/")

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
        path = self._path + path
        return await self.client._call(method, path, self.token, json=json, params=params)

    async def requests(
        self, after: str | None = None, limit: int | None = None
    ) -> list[CapturedRequest]:
        """Stored requests, oldest first: all of them, or ``limit`` after the id ``after``.

        Pages through the server's pages of at most 1000 as needed.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        found: list[CapturedRequest] = []
        while limit is None or len(found) < limit:
            size = PAGE_SIZE if limit is None else min(PAGE_SIZE, limit - len(found))
            params: dict[str, Any] = {"limit": size}
            if after is not None:
                params["after"] = after
            page = await self._call("GET", "/requests", params=params)
            found += [CapturedRequest.from_wire(data) for data in page["requests"]]
            after = page["next"]
            if after is None:
                break
        return found

    async def tail(self, n: int = 10) -> list[CapturedRequest]:
        """The newest ``n`` requests (at most 1000), oldest first."""
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

    async def configure_response(
        self,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on. ``body=None``: the default JSON body.

        ``bin.configure_response(503, delay_ms=2000)`` tests a sender's retries.
        """
        spec = {"status": status, "headers": dict(headers or {}), "body": body}
        spec["delay_ms"] = delay_ms
        self._learn(await self._call("PATCH", "", json={"response": spec}))

    @overload
    async def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Mapping[str, str] | None = ...,
        json: Any = ...,
        query: Mapping[str, str | Sequence[str]] | None = ...,
        predicate: Callable[[CapturedRequest], object] | None = ...,
        count: Literal[1] = ...,
        timeout: float = ...,  # noqa: ASYNC109 (the deadline is the point of the call)
    ) -> CapturedRequest: ...

    @overload
    async def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Mapping[str, str] | None = ...,
        json: Any = ...,
        query: Mapping[str, str | Sequence[str]] | None = ...,
        predicate: Callable[[CapturedRequest], object] | None = ...,
        count: int,
        timeout: float = ...,  # noqa: ASYNC109
    ) -> CapturedRequest | list[CapturedRequest]: ...

    async def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        query: Mapping[str, str | Sequence[str]] | None = None,
        predicate: Callable[[CapturedRequest], object] | None = None,
        count: int = 1,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first request that matches (a list of the first ``count`` when ``count > 1``).

        Looks at the bin's history first, then waits for live requests. Raises
        ``WaitTimeout`` (an ``AssertionError``) after ``timeout`` seconds, listing what did
        arrive. Matching rules: ``hookscope._matching``.

            req = await bin.wait_for("POST", "/hooks/*", json={"event": "paid"}, timeout=5)
        """
        if count < 1:
            raise ValueError("count must be >= 1 (see assert_nothing_received for none)")
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        seen: list[CapturedRequest] = []
        found: list[CapturedRequest] = []
        try:
            async with asyncio.timeout(timeout):
                async with await self._open_stream(since=BEGINNING) as stream:
                    while len(found) < count:
                        request = await stream.next()
                        seen.append(request)
                        if matcher.matches(request):
                            found.append(request)
        except TimeoutError:
            wanted = "a request" if count == 1 else f"{count} requests ({len(found)} found)"
            raise WaitTimeout(
                f"waited {timeout:g} s for {wanted} matching {matcher.describe()} in bin "
                f"{self.id}; {arrivals(matcher, seen)}"
            ) from None
        return found[0] if count == 1 else found

    async def stream(
        self, since: str | None = None, tail: int | None = None
    ) -> AsyncIterator[CapturedRequest]:
        """Requests as they arrive, forever; reconnects and resumes by itself.

        Starts at the first iteration with the requests captured from then on; ``tail=N``
        first yields the newest N stored ones, ``since=ID`` everything stored after that id
        (``since="0-0"``: the whole history). Raises ``BinNotFound`` if the bin is deleted.

            async for req in bin.stream(tail=5):
                print(req.method, req.path)
        """
        async with await self._open_stream(since, tail) as stream:
            while True:
                yield await stream.next()

    async def _open_stream(self, since: str | None = None, tail: int | None = None) -> AsyncStream:
        """A stream cursor; without ``since``, fixes where it starts with one HTTP call."""
        if since is not None and tail is not None:
            raise ValueError("since and tail do not combine; pick one")
        initial: list[CapturedRequest] = []
        if since is None:
            # The newest stored id is where "from now on" begins; a reconnect before
            # anything arrives resumes from there instead of losing what came meanwhile.
            wanted = tail or 0
            newest = await self.tail(max(wanted, 1))
            since = newest[-1].id if newest else BEGINNING
            initial = newest[len(newest) - wanted :]
        else:
            id_key(since)  # ValueError for anything that is not a request id
        protocol = StreamProtocol(self.id, since, initial)
        return AsyncStream(self.client.url, self.token, protocol, open_timeout=self.client.timeout)

    async def dataframe(self, expand_json: bool = False) -> pd.DataFrame:
        """Every stored request as a DataFrame (columns: ``hookscope._dataframe``)."""
        from .._dataframe import to_dataframe

        return to_dataframe(await self.requests(), expand_json=expand_json)

    def live_table(self, **options: Any) -> LiveTable:
        """A Jupyter table of this bin's requests, live (``hookscope.widget.LiveTable``).

        ``options``: ``tail``, ``window``, ``max_rows``, ``interval``, ``display``.
        """
        from ..widget import LiveTable

        return LiveTable(self, **options)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<{type(self).__name__} {self.id}{name} {self.url}>"
