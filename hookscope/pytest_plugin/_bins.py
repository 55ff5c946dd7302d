"""``HookBin`` and ``AsyncHookBin``: the bins the ``hookbin`` fixtures give a test.

    def test_signup_sends_a_webhook(hookbin, app):
        app.settings.webhook_url = hookbin.url_for("/users")
        app.sign_up("ada@example.com")
        req = hookbin.wait_for("POST", "/users", json={"email": "ada@example.com"})
        assert req.headers["x-signature"]

Both wrap one ``AsyncBin`` on the plugin's own loop: ``HookBin`` blocks on its calls,
``AsyncHookBin`` awaits them from whichever loop the test runs on. ``wait_for`` and
``respond_with`` are the SDK's; the assertions are ``_checks``. Every method of one has the
same name, arguments and result in the other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Literal, Unpack, overload

from .._exceptions import WaitTimeout
from .._loop_thread import LoopThread
from .._matching import Match, MatchCriteria, Waiting
from .._models import CapturedRequest
from ..client import AsyncBin
from . import _checks
from ._mirror import Mirror

__all__ = ["AsyncHookBin", "HookBin"]

DEFAULT_TIMEOUT = 10.0
DEFAULT_WITHIN = 1.0


def _check_count(count: int | None) -> None:
    if count is not None and count < 0:
        raise ValueError(f"count must be >= 0, not {count}")


def _blocking_hint() -> str:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return ""
    return (
        "hint: this wait blocked the test's running event loop, so nothing scheduled on it "
        "could send; in async tests use the async_hookbin fixture and await its methods"
    )


def _timed_out(error: WaitTimeout, hint: str = "") -> WaitTimeout:
    # Raised anew in the test's thread (``from None``), so that pytest shows the test's line
    # rather than the plugin's loop.
    return WaitTimeout(f"{error}\n{hint}" if hint else str(error))


class _Base:
    def __init__(self, bin: AsyncBin, loop: LoopThread, mirror: Mirror | None = None) -> None:
        self._bin = bin
        self._loop = loop
        self._mirror = mirror  # on an embedded server: its captures, read on this thread

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
        timeout: float = DEFAULT_TIMEOUT,
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]:
        """The first request that matches (a list of the first ``count`` when ``count > 1``).

        Looks at what already arrived, then waits for more. ``path`` is exact or a glob
        (``"/github/*"``); ``headers``, ``json`` and ``query`` match as subsets;
        ``signed=True`` wants the server's verdict that the signature is valid under the
        bin's secret (rules: ``hookscope.Match``). After ``timeout`` seconds raises
        ``WaitTimeout`` (an ``AssertionError``) listing what did arrive and how each request
        differs.

            req = hookbin.wait_for("POST", "/github/*", json={"action": "opened"})
        """
        __tracebackhide__ = True
        match = Match.of(method, path, **criteria)
        if self._mirror is not None:
            waiting = Waiting(match, count)
            started = time.monotonic()
            outcome = self._mirror.wait_for(waiting, timeout)
            if outcome is True:
                return waiting.result()
            if outcome is False:
                raise _timed_out(waiting.timed_out(timeout, self.id), _blocking_hint())
            timeout = max(0.0, timeout - (time.monotonic() - started))  # closed: ask the server
        try:
            return self._loop.call(self._bin.wait_for, match, count=count, timeout=timeout)
        except WaitTimeout as error:
            raise _timed_out(error, _blocking_hint()) from None

    def assert_received(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        count: int | None = None,
        **criteria: Unpack[MatchCriteria],
    ) -> list[CapturedRequest]:
        """Assert on what arrived so far: exactly ``count`` matching requests, or at least one.

        Does not wait (use ``wait_for`` for that). Returns the matching requests.

            hookbin.assert_received("POST", "/orders", count=1)
        """
        __tracebackhide__ = True
        _check_count(count)
        match = Match.of(method, path, **criteria)
        outcome = self._loop.call(_checks.assert_received, self._bin, match, count)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception()
        return outcome

    def assert_nothing_received(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        within: float = DEFAULT_WITHIN,
        **criteria: Unpack[MatchCriteria],
    ) -> None:
        """Assert that no matching request arrived, nor arrives within ``within`` seconds.

        Fails as soon as one does. ``within=0`` only looks at what arrived so far.

            hookbin.assert_nothing_received(path="/refunds", within=0.5)
        """
        __tracebackhide__ = True
        match = Match.of(method, path, **criteria)
        failure = self._loop.call(_checks.assert_nothing_received, self._bin, match, within)
        if failure is not None:
            raise failure.exception(_blocking_hint())

    def respond_with(
        self,
        status: int = 200,
        *,
        body: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        delay_ms: int = 0,
    ) -> None:
        """What the bin answers senders from now on; no arguments restore the default
        (200 with ``{"ok": true, "id": ...}``).

            hookbin.respond_with(503, delay_ms=200)   # watch the sender retry
        """
        respond = self._bin.respond_with
        self._loop.call(respond, status, body=body, json=json, headers=headers, delay_ms=delay_ms)

    def set_secrets(self, secrets: Mapping[str, str | None]) -> None:
        """Add or replace the bin's signing secrets by scheme (``None`` removes one): the
        server then verifies each later capture, which ``signed=True`` waits for.

            hookbin.set_secrets({"stripe": "whsec_..."})
            hookbin.wait_for("POST", "/stripe", signed=True)

        Write-only (the SDK's ``Bin.set_secrets``). To start the test with them, override
        the ``hookbin_secrets`` fixture.
        """
        self._loop.call(self._bin.set_secrets, secrets)

    def requests(self) -> list[CapturedRequest]:
        """Every request the bin holds, oldest first."""
        return self._loop.call(self._bin.requests)

    def clear(self) -> None:
        """Forget every request so far (the bin and its URL stay)."""
        self._mirror = None  # what it holds is history no more: ask the server from now on
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
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
        **criteria: Unpack[MatchCriteria],
    ) -> CapturedRequest | list[CapturedRequest]:
        """See ``HookBin.wait_for``: ``req = await async_hookbin.wait_for(path="/x")``."""
        __tracebackhide__ = True
        match = Match.of(method, path, **criteria)
        try:
            return await self._loop.acall(self._bin.wait_for, match, count=count, timeout=timeout)
        except WaitTimeout as error:
            raise _timed_out(error) from None

    async def assert_received(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        count: int | None = None,
        **criteria: Unpack[MatchCriteria],
    ) -> list[CapturedRequest]:
        """See ``HookBin.assert_received``."""
        __tracebackhide__ = True
        _check_count(count)
        match = Match.of(method, path, **criteria)
        outcome = await self._loop.acall(_checks.assert_received, self._bin, match, count)
        if isinstance(outcome, _checks.Failure):
            raise outcome.exception()
        return outcome

    async def assert_nothing_received(
        self,
        method: str | Match | None = None,
        path: str | None = None,
        *,
        within: float = DEFAULT_WITHIN,
        **criteria: Unpack[MatchCriteria],
    ) -> None:
        """See ``HookBin.assert_nothing_received``."""
        __tracebackhide__ = True
        match = Match.of(method, path, **criteria)
        failure = await self._loop.acall(_checks.assert_nothing_received, self._bin, match, within)
        if failure is not None:
            raise failure.exception()

    async def respond_with(
        self,
        status: int = 200,
        *,
        body: str | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        delay_ms: int = 0,
    ) -> None:
        """See ``HookBin.respond_with``."""
        respond = self._bin.respond_with
        await self._loop.acall(
            respond, status, body=body, json=json, headers=headers, delay_ms=delay_ms
        )

    async def set_secrets(self, secrets: Mapping[str, str | None]) -> None:
        """See ``HookBin.set_secrets``."""
        await self._loop.acall(self._bin.set_secrets, secrets)

    async def requests(self) -> list[CapturedRequest]:
        """Every request the bin holds, oldest first."""
        return await self._loop.acall(self._bin.requests)

    async def clear(self) -> None:
        """Forget every request so far (the bin and its URL stay)."""
        await self._loop.acall(self._bin.clear)

    async def delete(self) -> None:
        """Delete the bin; the fixture does this after the test."""
        await self._loop.acall(self._bin.delete)
