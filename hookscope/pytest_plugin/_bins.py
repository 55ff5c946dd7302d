"""``HookBin`` and ``AsyncHookBin``: the bins the ``hookbin`` fixtures give a test.

    def test_signup_sends_a_webhook(hookbin, app):
        app.settings.webhook_url = hookbin.url_for("/users")
        app.sign_up("ada@example.com")
        req = hookbin.wait_for(method="POST", path="/users", json={"email": "ada@example.com"})
        assert req.headers["x-signature"]

Both run the same coroutines (``_checks``) on the plugin's own loop: ``HookBin`` blocks on
them, ``AsyncHookBin`` awaits them from whichever loop the test runs on. Every method of one
has the same name, arguments and result in the other.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

from .._matching import Matcher
from .._models import CapturedRequest
from ..client import AsyncBin
from . import _checks
from ._loop import LoopThread

__all__ = ["AsyncHookBin", "HookBin"]

Headers = Mapping[str, str]
Query = Mapping[str, str | Sequence[str]]
Predicate = Callable[[CapturedRequest], object]

DEFAULT_TIMEOUT = 10.0
DEFAULT_WITHIN = 1.0


def _response(
    status: int, body: str | None, json: Any, headers: Headers | None
) -> tuple[int, dict[str, str], str | None]:
    if json is not None:
        if body is not None:
            raise ValueError("respond_with() takes body= or json=, not both")
        body = jsonlib.dumps(json)
        if not any(name.lower() == "content-type" for name in headers or {}):
            headers = {"content-type": "application/json", **(headers or {})}
    return status, dict(headers or {}), body


def _check_count(count: int | None, least: int) -> None:
    if count is not None and count < least:
        raise ValueError(f"count must be >= {least}, not {count}")


def _blocking_hint() -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return ""
    return (
        "hint: this wait blocked the test's running event loop, so nothing scheduled on it "
        "could send; in async tests use the async_hookbin fixture and await its methods"
    )


class _Base:
    def __init__(self, bin: AsyncBin, loop: LoopThread) -> None:
        self._bin = bin
        self._loop = loop

    @property
    def id(self) -> str:
        """The bin's id (public: it is part of the capture URL)."""
        return self._bin.id

    @property
    def token(self) -> str:
        """The secret that reads the bin (``hookscope.Client(url).bin(id, token)``)."""
        return self._bin.token

    @property
    def name(self) -> str | None:
        """The bin's name: the test's node id."""
        return self._bin.name

    @property
    def url(self) -> str:
        """The capture URL to give the webhook sender; any path below it is captured too."""
        return self._bin.url

    def url_for(self, path: str = "/") -> str:
        """The capture URL of ``path`` (may hold a query): ``hookbin.url_for("/github?x=1")``."""
        return self._bin.url_for(path)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.url}>"


class HookBin(_Base):
    """A fresh bin for one test, deleted after it (the ``hookbin`` fixture)."""

    @overload
    def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Headers | None = ...,
        json: Any = ...,
        query: Query | None = ...,
        predicate: Predicate | None = ...,
        count: Literal[1] = ...,
        timeout: float = ...,
    ) -> CapturedRequest: ...

    @overload
    def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Headers | None = ...,
        json: Any = ...,
        query: Query | None = ...,
        predicate: Predicate | None = ...,
        count: int,
        timeout: float = ...,
    ) -> CapturedRequest | list[CapturedRequest]: ...

    def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first request that matches (a list of the first ``count`` when ``count > 1``).

        Looks at what already arrived, then waits for more. ``path`` is exact or a glob
        (``"/github/*"``); ``headers``, ``json`` and ``query`` match as subsets. After
        ``timeout`` seconds raises ``WaitTimeout`` (an ``AssertionError``) listing what did
        arrive and how each request differs.

            req = hookbin.wait_for("POST", "/github/*", json={"action": "opened"})
        """
        __tracebackhide__ = True
        _check_count(count, 1)
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        outcome = self._loop.call(_checks.wait_for, self._bin, matcher, count, timeout)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception(_blocking_hint())
        return outcome[0] if count == 1 else outcome

    def assert_received(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        count: int | None = None,
    ) -> list[CapturedRequest]:
        """Assert on what arrived so far: exactly ``count`` matching requests, or at least one.

        Does not wait (use ``wait_for`` for that). Returns the matching requests.

            hookbin.assert_received("POST", "/orders", count=1)
        """
        __tracebackhide__ = True
        _check_count(count, 0)
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        outcome = self._loop.call(_checks.assert_received, self._bin, matcher, count)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception()
        return outcome

    def assert_nothing_received(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        within: float = DEFAULT_WITHIN,
    ) -> None:
        """Assert that no matching request arrived, nor arrives within ``within`` seconds.

        Fails as soon as one does. ``within=0`` only looks at what arrived so far.

            hookbin.assert_nothing_received(path="/refunds", within=0.5)
        """
        __tracebackhide__ = True
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        failure = self._loop.call(_checks.assert_nothing_received, self._bin, matcher, within)
        if failure is not None:
            raise failure.exception(_blocking_hint())

    def respond_with(
        self,
        status: int = 200,
        body: str | None = None,
        *,
        json: Any = None,
        headers: Headers | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on; no arguments restore the default
        (200 with ``{"ok": true, "id": ...}``).

            hookbin.respond_with(503, delay_ms=200)   # watch the sender retry
        """
        status, headers, body = _response(status, body, json, headers)
        self._loop.call(self._bin.configure_response, status, headers, body, delay_ms)

    def requests(self) -> list[CapturedRequest]:
        """Every request the bin holds, oldest first."""
        return self._loop.call(self._bin.requests)

    def clear(self) -> None:
        """Forget every request so far (the bin and its URL stay)."""
        self._loop.call(self._bin.clear)

    def delete(self) -> None:
        """Delete the bin; the fixture does this after the test."""
        self._loop.call(self._bin.delete)


class AsyncHookBin(_Base):
    """``HookBin`` for ``async def`` tests (the ``async_hookbin`` fixture): await each method.

    Works on any event loop, in pytest-asyncio's strict and auto modes and with any loop
    scope: the bin's connections live on the plugin's own loop, never on the test's.
    """

    @overload
    async def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Headers | None = ...,
        json: Any = ...,
        query: Query | None = ...,
        predicate: Predicate | None = ...,
        count: Literal[1] = ...,
        timeout: float = ...,  # noqa: ASYNC109 (the deadline is the point of the call)
    ) -> CapturedRequest: ...

    @overload
    async def wait_for(
        self,
        method: str | None = ...,
        path: str | None = ...,
        *,
        headers: Headers | None = ...,
        json: Any = ...,
        query: Query | None = ...,
        predicate: Predicate | None = ...,
        count: int,
        timeout: float = ...,  # noqa: ASYNC109
    ) -> CapturedRequest | list[CapturedRequest]: ...

    async def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> CapturedRequest | list[CapturedRequest]:
        """See ``HookBin.wait_for``: ``req = await async_hookbin.wait_for(path="/x")``."""
        __tracebackhide__ = True
        _check_count(count, 1)
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        outcome = await self._loop.acall(_checks.wait_for, self._bin, matcher, count, timeout)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception()
        return outcome[0] if count == 1 else outcome

    async def assert_received(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        count: int | None = None,
    ) -> list[CapturedRequest]:
        """See ``HookBin.assert_received``."""
        __tracebackhide__ = True
        _check_count(count, 0)
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        outcome = await self._loop.acall(_checks.assert_received, self._bin, matcher, count)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception()
        return outcome

    async def assert_nothing_received(
        self,
        method: str | None = None,
        path: str | None = None,
        *,
        headers: Headers | None = None,
        json: Any = None,
        query: Query | None = None,
        predicate: Predicate | None = None,
        within: float = DEFAULT_WITHIN,
    ) -> None:
        """See ``HookBin.assert_nothing_received``."""
        __tracebackhide__ = True
        matcher = Matcher(
            method, path, headers=headers, json=json, query=query, predicate=predicate
        )
        check = _checks.assert_nothing_received
        failure = await self._loop.acall(check, self._bin, matcher, within)
        if failure is not None:
            raise failure.exception()

    async def respond_with(
        self,
        status: int = 200,
        body: str | None = None,
        *,
        json: Any = None,
        headers: Headers | None = None,
        delay_ms: int = 0,
    ) -> None:
        """See ``HookBin.respond_with``."""
        status, headers, body = _response(status, body, json, headers)
        await self._loop.acall(self._bin.configure_response, status, headers, body, delay_ms)

    async def requests(self) -> list[CapturedRequest]:
        """Every request the bin holds, oldest first."""
        return await self._loop.acall(self._bin.requests)

    async def clear(self) -> None:
        """Forget every request so far (the bin and its URL stay)."""
        await self._loop.acall(self._bin.clear)

    async def delete(self) -> None:
        """Delete the bin; the fixture does this after the test."""
        await self._loop.acall(self._bin.delete)
