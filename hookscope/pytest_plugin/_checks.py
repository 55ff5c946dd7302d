"""What a bin's waits and assertions do, written once as coroutines for the plugin's loop.

Each returns its result, or a ``Failure``: the message of the ``AssertionError`` that the
calling ``HookBin``/``AsyncHookBin`` method raises itself, in the test's thread, so that
pytest points at the test's line rather than at the plugin's loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._exceptions import WaitTimeout
from .._matching import Matcher, arrivals
from .._models import CapturedRequest
from ..client import AsyncBin

__all__ = ["Failure", "assert_nothing_received", "assert_received", "wait_for"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a wait or an assertion failed; ``timeout``: raise ``WaitTimeout``."""

    message: str
    timeout: bool = False

    def exception(self, hint: str = "") -> AssertionError:
        message = self.message + (f"\n{hint}" if hint else "")
        return WaitTimeout(message) if self.timeout else AssertionError(message)


def _requests(count: int) -> str:
    return "1 request" if count == 1 else f"{count} requests"


async def _wait(
    bin: AsyncBin,
    matcher: Matcher,
    count: int,
    timeout: float,  # noqa: ASYNC109
) -> list[CapturedRequest]:
    found = await bin.wait_for(
        matcher.method,
        matcher.path,
        headers=matcher.headers,
        json=matcher.json,
        query=matcher.query,
        predicate=matcher.predicate,
        count=count,
        timeout=timeout,
    )
    return found if isinstance(found, list) else [found]


async def wait_for(
    bin: AsyncBin,
    matcher: Matcher,
    count: int,
    timeout: float,  # noqa: ASYNC109
) -> list[CapturedRequest] | Failure:
    """The first ``count`` matching requests, from the bin's history and then live."""
    try:
        return await _wait(bin, matcher, count, timeout)
    except WaitTimeout as error:
        return Failure(str(error), timeout=True)


async def assert_received(
    bin: AsyncBin, matcher: Matcher, count: int | None
) -> list[CapturedRequest] | Failure:
    """The matching requests stored so far: exactly ``count``, or at least one."""
    arrived = await bin.requests()
    found = [request for request in arrived if matcher.matches(request)]
    if (count is None and found) or len(found) == count:
        return found
    wanted = "at least one request" if count is None else f"exactly {_requests(count)}"
    matched = f"{len(found)} matched" if found else "none matched"
    return Failure(
        f"expected {wanted} matching {matcher.describe()} in bin {bin.id}, {matched}; "
        + arrivals(matcher, arrived)
    )


async def assert_nothing_received(bin: AsyncBin, matcher: Matcher, within: float) -> Failure | None:
    """None when no matching request is stored, nor arrives within ``within`` seconds.

    Fails as soon as one does: a passing check takes ``within``, a failing one no longer
    than it takes the request to arrive.
    """
    culprit: CapturedRequest | None
    if within > 0:
        try:
            culprit = (await _wait(bin, matcher, 1, within))[0]
        except WaitTimeout:
            culprit = None
    else:
        culprit = next((req for req in await bin.requests() if matcher.matches(req)), None)
    if culprit is None:
        return None
    return Failure(
        f"expected no request matching {matcher.describe()} in bin {bin.id} within "
        f"{within:g} s, but {culprit.method} {culprit.target} arrived ({culprit.id}); "
        + arrivals(matcher, await bin.requests())
    )
