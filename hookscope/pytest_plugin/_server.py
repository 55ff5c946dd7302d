"""``HookscopeServer``: the server a test session's bins live on (the ``hookscope_server`` fixture).

Either an embedded server started in the test process (memory backend, a free port, the
``hookscope_server_settings``), or an existing one named by ``--hookscope-url`` /
``HOOKSCOPE_URL``. Either way it also owns the plugin's loop thread and the one
``AsyncClient`` every bin of the session talks through.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json as jsonlib
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from .._config import Settings
from .._contract import MAX_NAME, capture_url
from .._embedded import BackgroundServer, serve_in_background
from .._exceptions import BinNotFound, ConnectionFailed, Unauthorized
from .._loop_thread import LoopThread
from ..client import AsyncBin, AsyncClient
from ..client._stream import USER_AGENT
from ._bins import AsyncHookBin, HookBin
from ._mirror import Mirror
from ._options import API_KEY_ENV, Options

__all__ = ["HookscopeServer"]

_CLOSED = "the hookscope pytest session is over; this bin is closed"
POOL_SIZE = 8
"""Bins an embedded server's session keeps made ahead, refilled when under ``POOL_LOW``."""
POOL_LOW = 3
POOL_MIN_TTL = 3600.0
"""Below this ``ttl`` (seconds), or with a small ``max_bins`` or an address rate, no pool."""


async def _check(url: str, source: str) -> None:
    """A clear error now, rather than a confusing one at the first bin, for a wrong URL."""
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            response = await http.get(url + "/healthz")
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise ConnectionFailed(
            f"{source} names {url}, but no hookscope server answers there "
            f"({type(error).__name__}: {error}); start one with `hookscope serve`, or unset "
            f"{source} to let the tests start their own"
        ) from None


async def _connect(url: str, api_key: str | None) -> AsyncClient:
    return AsyncClient(url, api_key=api_key)  # on the loop whose connections it will hold


class _InProcessClient(AsyncClient):
    """An ``AsyncClient`` whose API calls run the embedded server's app on its own loop: the
    same app, checks and answers, with no socket and no HTTP client. (Streams still connect
    over loopback, from the same loop.)

    Not httpx's ``ASGITransport``: building an ``httpx.Request`` and reading its response
    cost 3x what the API call itself does (docs/benchmarks.md, pytest round 3), and every
    webhook test makes three.
    """

    def __init__(self, server: BackgroundServer, api_key: str | None) -> None:
        super().__init__(server.url, api_key=api_key)
        self._app = server._app
        parts = urlsplit(server.url)
        self._host = parts.netloc.encode()
        self._server = (parts.hostname or "127.0.0.1", parts.port or 80)

    async def _exchange(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[int, bytes]:
        body = b"" if json is None else jsonlib.dumps(json).encode()
        headers = [(b"host", self._host), (b"user-agent", USER_AGENT.encode())]
        if token:
            headers.append((b"authorization", b"Bearer " + token.encode()))
        if json is not None:
            headers.append((b"content-type", b"application/json"))
        headers.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": urlencode(params or {}).encode(),
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 0),
            "server": self._server,
            "extensions": {},
        }
        answered = asyncio.Event()
        received = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        try:
            async with asyncio.timeout(self.timeout):
                await self._app(scope, receive, send)
        except TimeoutError:
            raise ConnectionFailed(
                f"the embedded hookscope server did not answer {method} {path} "
                f"in {self.timeout:g} s"
            ) from None
        finally:
            answered.set()
        return status, b"".join(chunks)


async def _connect_in_process(server: BackgroundServer, api_key: str | None) -> AsyncClient:
    return _InProcessClient(server, api_key)  # on the server's loop, which runs its app


def _pool_fits(settings: Settings) -> bool:
    """Whether bins made ahead behave as bins made when asked: their lifetime counts from
    when they are made, they count against ``max_bins``, and making them is rate-limited."""
    roomy = not settings.max_bins or settings.max_bins >= 100 * POOL_SIZE
    return settings.ttl >= POOL_MIN_TTL and roomy and not settings.ip_rate_limit


def _bin_name(name: str | None) -> str | None:
    if name is not None and len(name) > MAX_NAME:
        return "…" + name[-(MAX_NAME - 1) :]  # the end of a node id says the most
    return name


class HookscopeServer:
    """The hookscope server of this test session: ``url`` is its base URL.

    ``create_bin()`` makes more bins than the fixtures give (a module-scoped one, or several
    per test); bins still alive at the end of the session are deleted then. ``settings``
    configure an embedded server (``hookscope.serve_in_background(**settings)``).
    """

    def __init__(
        self, options: Options | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        options = options or Options(None, "embedded", None)
        self.source = options.source
        self.api_key = options.api_key
        self.url = options.url or ""
        """The server's base URL (``--hookscope-url``, or the embedded server's)."""
        self.embedded: BackgroundServer | None = None
        """The embedded server started in the test process, or None for ``--hookscope-url``."""
        self._client: AsyncClient | None = None
        self._bins: dict[str, AsyncBin] = {}
        self._mirrors: dict[str, Mirror] = {}  # of the bins on an embedded server
        # On an embedded server only: bins made ahead (by id, oldest first), which a test
        # takes without waiting, each named after the test expected to take it; and bins
        # tests are done with, deleted when the pool is next refilled. A test whose bin was
        # named for it costs the server's thread no wake-up of its own (docs/benchmarks.md,
        # pytest round 3).
        self._ahead: dict[str, AsyncBin] | None = None
        self._named: dict[str, AsyncBin] = {}  # the bins made ahead, by the name they carry
        self._pool_lock = threading.Lock()
        self._done: collections.deque[AsyncBin] = collections.deque()
        self._refilling = False
        self._upkeeps: set[asyncio.Task[None]] = set()  # under way, for close() to await
        self._expected: list[str] = []  # the names of the tests that take bins, in order
        self._position: dict[str, int] = {}
        self._next_expected = 0  # the position of the test the next bin made is named for
        self._reached = -1  # the furthest position a test that took a bin had
        self._loop: LoopThread  # where the bins' calls run
        self._own_loop: LoopThread | None = None  # for a server named by URL
        try:
            if options.url is None:
                self.embedded = serve_in_background(**(settings or {}))
                self.url = self.embedded.url
                # The bins' calls run on the server's own loop and call its app in-process:
                # no socket and no hop between threads for creating, reading, deleting.
                self._loop = self.embedded._thread
                self._client = self._loop.call(_connect_in_process, self.embedded, self.api_key)
                if _pool_fits(self.embedded.settings):
                    self._ahead = {}
            else:
                self._loop = self._own_loop = LoopThread("hookscope-pytest", closed=_CLOSED)
                self._loop.call(_check, self.url, self.source)
                self._client = self._loop.call(_connect, self.url, self.api_key)
        except BaseException:
            self.close()
            raise

    def expect(self, names: Iterable[str]) -> None:
        """The node ids of the tests that will take bins, in the order they run: bins made
        ahead are named after them, so that the test taking one need not rename it. (A
        guess: a test that does not come, or comes elsewhere, costs a rename.)"""
        self._expected = [_bin_name(name) or "" for name in names]
        self._position = {name: at for at, name in enumerate(self._expected)}
        self._next_expected = 0
        self._reached = -1

    async def _create(self, name: str | None, secrets: Mapping[str, str] | None) -> AsyncBin:
        if self._client is None:
            raise RuntimeError("the hookscope pytest session is over; no more bins")
        try:
            created = await self._client.create_bin(name=_bin_name(name), secrets=secrets)
        except Unauthorized as error:
            raise Unauthorized(
                f"{error}; give the tests the key with --hookscope-api-key or ${API_KEY_ENV}",
                status=error.status,
                code=error.code,
            ) from None
        self._bins[created.id] = created
        await self._watch(created)
        return created

    async def _create_now(self, name: str | None, secrets: Mapping[str, str] | None) -> AsyncBin:
        await self._delete_done()
        return await self._create(name, secrets)

    async def _watch(self, bin: AsyncBin) -> None:
        """On an embedded server, the mirror that the bin's waits read."""
        if self.embedded is not None:
            mirror = self._mirrors[bin.id] = Mirror(self.embedded.settings.max_requests)
            hub = self.embedded._app.extensions["hookscope"].hub
            mirror.watcher = await hub.join(bin.id, sink=mirror.push)

    async def _make_ahead(self, name: str | None) -> AsyncBin:
        """A bin for the pool, made with the server's own step in-process: the same bin the
        API would make, for a session that has made one through the API (its key checked)."""
        from ..server._api import make_bin

        assert self.embedded is not None and self._client is not None
        state = self.embedded._app.extensions["hookscope"]
        record = await make_bin(state, name=name)
        bin = AsyncBin(
            self._client,
            record.id,
            record.token,
            url=capture_url(state.settings.public_url or self.url, record.id),
            name=record.name,
        )
        self._bins[bin.id] = bin
        await self._watch(bin)
        return bin

    def _take(self, name: str | None, secrets: Mapping[str, str] | None) -> AsyncBin:
        """A new bin named ``name``: on an embedded server, with a name and no secrets, one
        made ahead (named so, or renamed without waiting: the rename runs on the loop before
        any later call of the test's); otherwise one made now."""
        ahead = self._ahead
        name = _bin_name(name)
        if ahead is None or secrets or name is None:
            return self._loop.call(self._create_now, name, secrets)
        with self._pool_lock:
            at = self._position.get(name)
            if at is not None:
                self._reached = max(self._reached, at)
                if at >= self._next_expected:
                    self._next_expected = at + 1  # the pool fell behind: name bins further on
            bin = self._named.pop(name, None)
            if bin is not None:
                del ahead[bin.id]
            elif ahead and self._stale(oldest := next(iter(ahead.values()))):
                bin = ahead.pop(oldest.id)  # made for a test that did not come here
                if oldest.name is not None and self._named.get(oldest.name) is oldest:
                    del self._named[oldest.name]
            # else: a name not expected (a second bin in a test, a rerun) or not yet made
            # for: made now, leaving the bins made for the tests to come to them.
            refill: list[str | None] = []
            if len(ahead) < POOL_LOW and not self._refilling:
                self._refilling = True
                for _ in range(POOL_SIZE - len(ahead)):
                    at = self._next_expected
                    refill.append(self._expected[at] if at < len(self._expected) else None)
                    self._next_expected = at + 1
        # The session's first bin is made through the API (so a key the tests lack fails
        # them), and only then are bins made ahead, in-process.
        if bin is None:
            try:
                bin = self._loop.call(self._create_now, name, secrets)
            except BaseException:
                if refill:  # not made: neither are the bins ahead, nor their names given out
                    with self._pool_lock:
                        self._next_expected -= len(refill)
                    self._refilling = False
                raise
            rename = None
        else:
            rename = bin if bin.name != name else None
            bin.name = name
        if rename is not None or refill:
            self._loop.post(self._upkeep, rename, refill)
        return bin

    def _stale(self, bin: AsyncBin) -> bool:
        """Whether ``bin``, made ahead, waits for a test that will not take it here: one
        skipped, run by another xdist worker, or not expected at all."""
        at = self._position.get(bin.name) if bin.name is not None else None
        return at is None or at <= self._reached

    async def _upkeep(self, renamed: AsyncBin | None, refill: list[str | None]) -> None:
        """On the loop, for ``_take``: name the bin taken, delete the bins done with, and
        make bins ahead named ``refill``. Each calls the server's own step in-process (the
        plugin holds these bins' tokens, and has shown the API key making its first bin)."""
        from ..server._api import rename_bin

        assert self.embedded is not None
        state = self.embedded._app.extensions["hookscope"]
        task = asyncio.current_task()
        assert task is not None
        self._upkeeps.add(task)
        try:
            if renamed is not None:
                assert renamed.name is not None
                with contextlib.suppress(Exception):  # cosmetic: never the test's failure
                    await rename_bin(state, renamed.id, renamed.name)
            await self._delete_done()
            for name in refill:
                if self._ahead is None or self._client is None:
                    break
                bin = await self._make_ahead(name)
                with self._pool_lock:
                    self._ahead[bin.id] = bin
                    if name is not None:
                        self._named.setdefault(name, bin)
        except Exception:
            # Storage down, say (each test then makes its own through the API and sees why),
            # or the session ending meanwhile.
            self._ahead = None
        finally:
            self._upkeeps.discard(task)
            if refill:
                self._refilling = False

    async def _delete_done(self) -> None:
        while self._done:
            with contextlib.suppress(Exception):
                await self._delete(self._done.popleft())

    async def _delete(self, bin: AsyncBin) -> None:
        self._bins.pop(bin.id, None)
        mirror = self._mirrors.pop(bin.id, None)
        if self.embedded is not None:
            from ..server._api import remove_bin

            state = self.embedded._app.extensions["hookscope"]
            await remove_bin(state, bin.id)  # gone already (the test deleted it): no matter
            if mirror is not None and mirror.watcher is not None:
                await state.hub.leave(mirror.watcher)
            return
        with contextlib.suppress(BinNotFound):  # the test deleted it itself
            await bin.delete()

    def create_bin(
        self, *, name: str | None = None, secrets: Mapping[str, str] | None = None
    ) -> HookBin:
        """A new bin on this server, for sync code; ``secrets``: its signing secrets by
        scheme (``{"stripe": "whsec_..."}``), as ``hookscope.Client.create_bin`` takes them."""
        bin = self._take(name, secrets)
        return HookBin(bin, self._loop, self._mirrors.get(bin.id))

    def create_async_bin(
        self, *, name: str | None = None, secrets: Mapping[str, str] | None = None
    ) -> AsyncHookBin:
        """A new bin on this server, for ``async def`` tests (created synchronously)."""
        return AsyncHookBin(self._take(name, secrets), self._loop)

    def _discard(self, bin: HookBin | AsyncHookBin) -> None:
        if self._ahead is not None:
            self._done.append(bin._bin)  # deleted at the next refill or bin made now, or at close()
        else:
            self._loop.call(self._delete, bin._bin)

    def close(self) -> None:
        """Delete the bins still alive, close connections, stop an embedded server."""
        client, self._client = self._client, None
        self._ahead = None
        try:
            if client is not None:

                async def delete_and_close() -> None:
                    # A refill under way may be storing a bin: let it end first.
                    await asyncio.gather(*self._upkeeps, return_exceptions=True)
                    for bin in list(self._bins.values()):  # made ahead and not taken, too
                        with contextlib.suppress(Exception):  # storage down: the rest still
                            await self._delete(bin)
                    await client.aclose()

                self._loop.call(delete_and_close)
        finally:
            if self._own_loop is not None:
                self._own_loop.stop()
            if self.embedded is not None:
                self.embedded.stop()

    def __repr__(self) -> str:
        return f"<HookscopeServer {self.url} ({self.source})>"
