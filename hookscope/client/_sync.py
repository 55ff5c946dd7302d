"""``Client``, ``Bin`` and ``Stream``: the async SDK for code that does not ``await``.

    with hookscope.Client("http://127.0.0.1:8080") as client:
        bin = client.create_bin()
        print(bin.url)
        req = bin.wait_for("POST", json={"event": "paid"})
        for req in bin.stream():          # a plain iterator, resuming by itself
            print(req.method, req.path)

One logic: each ``Client`` runs an ``AsyncClient`` on a ``LoopThread`` (a private event loop
in a daemon thread) and waits for it, so it works in scripts and where a loop already runs
(Jupyter, ``async def``). ``close()`` (or leaving the ``with`` block) stops that thread; a
client that is never closed is closed when collected or at exit, without holding the exit up.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Unpack, overload

from .._loop_thread import LoopThread
from .._matching import Match, MatchCriteria
from .._models import CapturedRequest
from ._async import AsyncBin, AsyncClient
from ._stream import AsyncStream

if TYPE_CHECKING:
    import pandas as pd

    from ..widget import LiveTable

__all__ = ["Bin", "Client", "Stream"]


async def _open(url: str, api_key: str | None, seconds: float) -> AsyncClient:
    # Made on the loop whose connections it will hold.
    return AsyncClient(url, api_key=api_key, timeout=seconds)


class Client:
    """A connection to a hookscope server: creates and opens bins (see ``AsyncClient``)."""

    def __init__(self, url: str, *, api_key: str | None = None, timeout: float = 10.0) -> None:
        loop = LoopThread("hookscope-client", closed="this hookscope Client is closed")
        try:
            self._async = loop.call(_open, url, api_key, timeout)
        except BaseException:
            loop.stop()  # a bad URL must not leave a thread behind
            raise
        loop.on_stop(self._async.aclose)
        self._loop = loop
        self._finalizer = weakref.finalize(self, loop.stop)

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
        *,
        name: str | None = None,
        response: Mapping[str, Any] | None = None,
        max_requests: int | None = None,
        ttl_s: float | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> Bin:
        """A new bin; see ``AsyncClient.create_bin``."""
        created = self._loop.call(
            self._async.create_bin,
            name=name,
            response=response,
            max_requests=max_requests,
            ttl_s=ttl_s,
            secrets=secrets,
        )
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
        self._call = client._loop.call

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

    def smee_url(self, cursor: str | None = None) -> str:
        """The bin as a smee channel; see ``AsyncBin.smee_url``."""
        return self._async.smee_url(cursor)

    def info(self) -> dict[str, Any]:
        """The bin as the server describes it: name, url, response, limits, created_at."""
        return self._call(self._async.info)

    def requests(
        self, *, since: str | None = None, limit: int | None = None
    ) -> list[CapturedRequest]:
        """Stored requests, oldest first; see ``AsyncBin.requests``."""
        return self._call(self._async.requests, since=since, limit=limit)

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

    def respond_with(
        self,
        status: int = 200,
        *,
        body: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on; see ``AsyncBin.respond_with``."""
        self._call(
            self._async.respond_with,
            status,
            body=body,
            json=json,
            headers=headers,
            delay_ms=delay_ms,
        )

    def set_secrets(self, secrets: Mapping[str, str | None]) -> None:
        """Add or replace signing secrets by scheme; see ``AsyncBin.set_secrets``."""
        self._call(self._async.set_secrets, secrets)

    @overload
    def wait_for(
        self,
        method: str | Match | None = ...,
        path: str | None = ...,
        *,
        count: Literal[1] = ...,
        timeout: float = ...,
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest: ...

    @overload
    def wait_for(
        self,
        method: str | Match | None = ...,
        path: str | None = ...,
        *,
        count: int,
        timeout: float = ...,
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]: ...

    def wait_for(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        count: int = 1,
        timeout: float = 10,
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first matching request, from history then live; see ``AsyncBin.wait_for``."""
        match = Match.of(method, path, **criteria)
        return self._call(self._async.wait_for, match, count=count, timeout=timeout)

    def open_stream(self, *, since: str | None = None, tail: int | None = None) -> Stream:
        """A blocking cursor over the bin's requests, resuming by itself.

            with bin.open_stream(since="0-0") as cursor:
                req = cursor.next()

        ``since`` and ``tail`` as in ``AsyncBin.open_stream``.
        """
        return Stream(self.client, self._async.open_stream(since=since, tail=tail))

    def stream(
        self, *, since: str | None = None, tail: int | None = None
    ) -> Iterator[CapturedRequest]:
        """Requests as they arrive, forever, resuming by itself; see ``AsyncBin.stream``."""
        # A generator (not a bare return of the cursor) starts when first iterated, like the
        # async one, and its cursor keeps the client, and so its loop, alive meanwhile.
        with self.open_stream(since=since, tail=tail) as cursor:
            yield from cursor

    def dataframe(self, *, expand_json: bool = False) -> pd.DataFrame:
        """Every stored request as a DataFrame (the columns of ``hookscope.to_dataframe``)."""
        return self._call(self._async.dataframe, expand_json=expand_json)

    def live_table(self, **options: Any) -> LiveTable:
        """A Jupyter table of this bin's requests, live; see ``AsyncBin.live_table``."""
        # The client's one (lazy) import of the widget, which itself uses only the public API.
        from ..widget import LiveTable

        return LiveTable(self, **options)

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"<Bin {self.id}{name} {self.url}>"


class Stream:
    """``AsyncStream``, blocking: ``next()``, ``with``, and a plain iterator that never ends.

    Holds its client (and so the client's loop) alive for as long as it is in use.
    """

    def __init__(self, client: Client, cursor: AsyncStream) -> None:
        self.client = client
        self._cursor = cursor
        self._loop = client._loop

    @property
    def last_id(self) -> str | None:
        """The id of the last request ``next()`` returned (None before the first)."""
        return self._cursor.last_id

    def start(self) -> Stream:
        """Fix where the stream starts and connect; see ``AsyncStream.start``."""
        self._loop.call(self._cursor.start)
        return self

    def next(self) -> CapturedRequest:
        """The next request, waiting (and reconnecting) as long as it takes."""
        return self._loop.call(self._cursor.next)

    def close(self) -> None:
        """Close the connection; ``next()`` raises afterwards. Idempotent."""
        if not self._loop.running:
            return  # the client is closed, and its connections with it
        with contextlib.suppress(RuntimeError):  # the client was closed meanwhile
            if self._loop.in_loop_thread():
                # Collected on the loop's own thread, which cannot wait for itself.
                self._loop.submit(self._cursor.aclose)
            else:
                self._loop.call(self._cursor.aclose)

    def __enter__(self) -> Stream:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> CapturedRequest:
        return self.next()

    def __repr__(self) -> str:
        return f"<Stream {self._cursor.bin.id} last_id={self.last_id}>"
