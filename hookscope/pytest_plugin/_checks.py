"""The plugin's assertions, written once as coroutines for the plugin's loop.

Each returns the matching requests, or a ``Failure``: the message of the ``AssertionError``
that the calling ``HookBin``/``AsyncHookBin`` method raises itself, in the test's thread, so
that pytest points at the test's line rather than at the plugin's loop. (``wait_for`` is
the SDK's own.)
"""

from __future__ import annotations

from dataclasses import dataclass

from .._display import printable
from .._exceptions import WaitTimeout
from .._matching import Match, arrivals
from .._models import CapturedRequest
from ..client import AsyncBin

__all__ = ["Failure", "assert_nothing_received", "assert_received"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an assertion failed."""

    message: str

    def exception(self, hint: str = "") -> AssertionError:
        return AssertionError(self.message + (f"\n{hint}" if hint else ""))


def _requests(count: int) -> str:
    return "1 request" if count == 1 else f"{count} requests"


async def assert_received(
    bin: AsyncBin, match: Match, count: int | None
) -> list[CapturedRequest] | Failure:
    """The matching requests stored so far: exactly ``count``, or at least one."""
    arrived = await bin.requests()
    found = [request for request in arrived if match.matches(request)]
    if (count is None and found) or len(found) == count:
        return found
    wanted = "at least one request" if count is None else f"exactly {_requests(count)}"
    matched = f"{len(found)} matched" if found else "none matched"
    return Failure(
        f"expected {wanted} matching {match.describe()} in bin {bin.id}, {matched}; "
        + arrivals(match, arrived)
    )


async def assert_nothing_received(bin: AsyncBin, match: Match, within: float) -> Failure | None:
    """None when no matching request is stored, nor arrives within ``within`` seconds.

    Fails as soon as one does: a passing check takes ``within``, a failing one no longer
    than it takes the request to arrive.
    """
    culprit: CapturedRequest | None
    if within > 0:
        try:
            culprit = await bin.wait_for(match, timeout=within)
        except WaitTimeout:
            culprit = None
    else:
        culprit = next((req for req in await bin.requests() if match.matches(req)), None)
    if culprit is None:
        return None
    return Failure(
        f"expected no request matching {match.describe()} in bin {bin.id} within "
        f"{within:g} s, but {printable(f'{culprit.method} {culprit.target}')} arrived "
        f"({culprit.id}); " + arrivals(match, await bin.requests())
    )
