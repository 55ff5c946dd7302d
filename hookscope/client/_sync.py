"""``Client`` and ``Bin``: ``AsyncClient`` and ``AsyncBin`` for code that does not ``await``.

    with hookscope.Client("http://127.0.0.1:8080") as client:
        bin = client.create_bin()
        print(bin.url)
        req = bin.wait_for(method="POST", json={"event": "paid"})
        for req in bin.stream():          # a plain iterator, resuming by itself
            print(req.method, req.path)

One logic: each ``Client`` runs an ``AsyncClient`` on a private event loop in a daemon
thread and waits for it, so it works in scripts and where a loop already runs (Jupyter,
``async def``). ``close()`` (or leaving the ``with`` block) stops that thread; a client that
is never closed is closed when collected or at exit, without holding the exit up.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from .._models import CapturedRequest
from ._async import AsyncBin, AsyncClient
from ._portal import Portal

if TYPE_CHECKING:
    import pandas as pd

    from ..widget import LiveTable

__all__ = ["Bin", "Client"]


class Client:
    """A connection to a hookscope server: creates and opens bins (see ``AsyncClient``)."""

    def __init__(self, url: str, api_key: str | None = None, *, timeout: float = 10.0) -> None:
        portal = Portal()
        self._portal = portal

        async def build() -> AsyncClient:  # the HTTP client belongs to the portal's loop
            return AsyncClient(url, api_key, timeout=timeout)

        self._async = portal.call(build)
        self._finalizer = weakref.finalize(self, portal.stop, self._async.aclose)

    @property
    def url(self) -> str:
        return self._async.url

    @property
    def api_key(self) -> str | None:
        return self._async.api_key

    @property
    def timeout(self) -> float:
        return self._async.timeout

    def create_bin(
        self,
        name: str | None = None,
        response: Mapping[str, Any] | None = None,
        max_requests: int | None = None,
        ttl_s: float | None = None,
    ) -> Bin:
        """A new bin; see ``AsyncClient.create_bin``."""
        created = self._portal.call(self._async.create_bin, name, response, max_requests, ttl_s)
        return Bin(self, created)

    def bin(self, id: str, token: str) -> Bin:
        """An existing bin, from its id and token (no request is made)."""
        return Bin(self, self._async.bin(id, token))

    def close(self) -> None:
        """Close the HTTP connections and stop the client's thread. Idempotent."""
        self._finalizer()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Client {self.url}>"


class Bin:
    """One bin (see ``AsyncBin``): every method blocks until the server has answered."""

    def __init__(self, client: Client, async_bin: AsyncBin) -> None:
        self.client = client
        self._async = async_bin
        self._call = client._portal.call

    @property
    def id(self) -> str:
        return self._async.id

    @property
    def token(self) -> str:
        return self._async.token

    @property
    def url(self) -> str:
        return self._async.url

    @property
    def name(self) -> str | None:
        return self._async.name

    def url_for(self, path: str = "/") -> str:
        """The capture URL of ``path`` (may hold a query): ``bin.url_for("/github?x=1")``."""
        return self._async.url_for(path)

    def info(self) -> dict[str, Any]:
        """The bin as the server describes it: name, url, response, limits, created_at."""
        return self._call(self._async.info)

    def requests(self, after: str | None = None, limit: int | None = None) -> list[CapturedRequest]:
        """Stored requests, oldest first: all of them, or ``limit`` after the id ``after``."""
        return self._call(self._async.requests, after, limit)

    def tail(self, n: int = 10) -> list[CapturedRequest]:
        """The newest ``n`` requests (at most 1000), oldest first."""
        return self._call(self._async.tail, n)

    def get(self, id: str) -> CapturedRequest:
        """One stored request; ``RequestNotFound`` when it is gone or never was."""
        return self._call(self._async.get, id)

    def clear(self) -> None:
        """Drop every stored request (the bin stays; new ids keep increasing)."""
        self._call(self._async.clear)

    def delete(self) -> None:
        """Delete the bin and its history; open streams end with ``BinNotFound``."""
        self._call(self._async.delete)

    def configure_response(
        self,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on. ``body=None``: the default JSON body."""
        self._call(self._async.configure_response, status, headers, body, delay_ms)

    @overload
    def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Mapping[str, str] | None = ...,
        json: Any = ...,
        query: Mapping[str, str | Sequence[str]] | None = ...,
        predicate: Callable[[CapturedRequest], object] | None = ...,
        count: Literal[1] = ...,
        timeout: float = ...,
    ) -> CapturedRequest: ...

    @overload
    def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Mapping[str, str] | None = ...,
        json: Any = ...,
        query: Mapping[str, str | Sequence[str]] | None = ...,
        predicate: Callable[[CapturedRequest], object] | None = ...,
        count: int,
        timeout: float = ...,
    ) -> CapturedRequest | list[CapturedRequest]: ...

    def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        query: Mapping[str, str | Sequence[str]] | None = None,
        predicate: Callable[[CapturedRequest], object] | None = None,
        count: int = 1,
        timeout: float = 10,
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first matching request, from history then live; see ``AsyncBin.wait_for``."""
        wait = functools.partial(
            self._async.wait_for,
            method,
            path,
            headers=headers,
            json=json,
            query=query,
            predicate=predicate,
            count=count,
            timeout=timeout,
        )
        return self._call(wait)

    def stream(
        self, since: str | None = None, tail: int | None = None
    ) -> Iterator[CapturedRequest]:
        """Requests as they arrive, forever, resuming by itself; see ``AsyncBin.stream``."""
        opener = functools.partial(self._async._open_stream, since, tail)
        # A generator here (not a bare return) keeps this Bin, and so its Client and the
        # Client's loop, alive for as long as the iteration is.
        yield from self.client._portal.iterate(opener)

    def dataframe(self, expand_json: bool = False) -> pd.DataFrame:
        """Every stored request as a DataFrame (columns: ``hookscope._dataframe``)."""
        return self._call(self._async.dataframe, expand_json)

    def live_table(self, **options: Any) -> LiveTable:
        """A Jupyter table of this bin's requests, live (``hookscope.widget.LiveTable``)."""
        from ..widget import LiveTable

        return LiveTable(self, **options)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<Bin {self.id}{name} {self.url}>"
