"""The small toolkit both kinds of endpoint share: problems, JSON errors, raw ASGI replies.

Quart routes raise ``ApiProblem`` (answered by one error handler); the raw ASGI endpoints
(capture, the WebSocket stream) answer the same problem with ``send_problem``. Either way the
body is ``_contract.error_body``; a storage failure is ``problem_of``'s one 503, and a limit
the store keeps is its status: 429 with ``Retry-After`` for a rate, 507 when storage is full,
503 with ``Retry-After`` when too many captures wait, or when the bodies being read already
hold the process's budget for them (``BodyBudget``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from quart import Response

from .._config import Settings
from .._contract import CloseCode, ErrorCode, error_body, error_frame
from ..backends import BackendUnavailable, LimitReached, QueueFull, RateLimited, StorageFull

__all__ = [
    "BODY_TIMEOUT",
    "JSON",
    "ApiProblem",
    "BodyBudget",
    "Hold",
    "base_url",
    "error_response",
    "limit_problem",
    "problem_of",
    "read_body",
    "refuse",
    "send_problem",
    "send_reply",
    "turn_away",
]

JSON = (b"content-type", b"application/json")
BODY_TIMEOUT = 60.0  # seconds for a client to deliver its whole body
_NO_CONTENT = frozenset({204, 304})  # RFC 9110: no body, no Content-Length


class ApiProblem(Exception):
    """An error answer: raise it from a handler, or send it from a raw ASGI endpoint.

    ``retry_after`` (seconds) is sent as ``Retry-After``, rounded up to whole seconds.
    """

    def __init__(
        self,
        status: int,
        code: ErrorCode | str,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message
        self.retry_after = retry_after

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """``[JSON]``, and ``Retry-After`` when there is one."""
        if self.retry_after is None:
            return [JSON]
        return [JSON, (b"retry-after", str(max(1, math.ceil(self.retry_after))).encode())]

    def __repr__(self) -> str:
        return f"<ApiProblem {self.status} {self.code}: {self.message}>"


UNAVAILABLE = ApiProblem(503, ErrorCode.UNAVAILABLE, "storage is unavailable; try again later")


def problem_of(error: BaseException) -> ApiProblem | None:
    """The answer to ``error``: itself for an ``ApiProblem``, 503 for a storage failure,
    the limit's status for a ``LimitReached``."""
    if isinstance(error, ApiProblem):
        return error
    if isinstance(error, BackendUnavailable):
        return UNAVAILABLE
    if isinstance(error, LimitReached):
        return limit_problem(error)
    return None


def limit_problem(error: LimitReached) -> ApiProblem:
    """The answer to a limit the store keeps (see the module docstring)."""
    if isinstance(error, RateLimited):
        return ApiProblem(429, error.code, error.message, retry_after=error.retry_after)
    if isinstance(error, StorageFull):
        return ApiProblem(507, error.code, error.message)
    if isinstance(error, QueueFull):
        return ApiProblem(503, error.code, error.message, retry_after=1)
    return ApiProblem(503, error.code, error.message)


def error_response(problem: ApiProblem) -> Response:
    """``problem`` as a Quart response."""
    response = Response(
        error_body(problem.code, problem.message),
        status=problem.status,
        content_type="application/json",
    )
    if problem.retry_after is not None:
        response.headers["Retry-After"] = problem.headers[1][1].decode()
    return response


def base_url(settings: Settings, scope: dict[str, Any]) -> str:
    """Where clients reach this server: ``--public-url``, else the request's scheme and host."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = next((v for n, v in scope["headers"] if n == b"host"), b"localhost")
    return f"{scope.get('scheme', 'http')}://{host.decode('latin-1')}"


class BodyBudget:
    """The bytes of request bodies this process holds while it reads and handles them
    (``Settings.body_budget``, ``HOOKSCOPE_BODIES_IN_FLIGHT``): without it, every connection
    could hold a ``--max-body`` at once. Used on the server's loop only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def hold(self) -> Hold:
        """A request's share, given back with ``Hold.release`` when it is done."""
        return Hold(self)

    def refusal(self) -> QueueFull:
        return QueueFull(
            ErrorCode.BODIES_IN_FLIGHT_FULL,
            f"the server holds {self.limit} bytes of request bodies in flight already; "
            "try again shortly",
        )


class Hold:
    """The bytes one request holds of a ``BodyBudget``."""

    __slots__ = ("budget", "size")

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def check(self, size: int) -> None:
        """``QueueFull`` when ``size`` more bytes would not fit now (nothing is held)."""
        if self.budget.used + size > self.budget.limit:
            raise self.budget.refusal()

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes; ``QueueFull`` (503, ``bodies_in_flight_full``) when they
        do not fit."""
        self.check(size)
        self.budget.used += size
        self.size += size

    def release(self) -> None:
        self.budget.used -= self.size
        self.size = 0


async def read_body(
    receive: Any, limit: int, *, keep: bool = True, hold: Hold | None = None
) -> bytes | None:
    """The whole body, or None when it grows past ``limit`` (the rest is not kept).

    ``keep=False`` reads it to the end and keeps nothing (the answer is a refusal). ``hold``:
    takes each chunk kept from its budget (``QueueFull`` when it does not fit; the caller
    releases the hold). Raises ``ConnectionResetError`` when the client hangs up first.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the sender hung up before its body was complete")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            if keep:
                if hold is not None:
                    hold.take(len(chunk))
                chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def send_reply(
    send: Any,
    status: int,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    *,
    head: bool = False,
) -> None:
    """A whole HTTP response on a raw ASGI ``send`` (no body and no length for 204/304).

    ``head``: the answer to a HEAD request: the length of ``body``, without it.
    """
    if status in _NO_CONTENT:
        body = b""
        headers = [(n, v) for n, v in headers if n != b"content-type"]
    else:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_problem(
    send: Any,
    problem: ApiProblem,
    *,
    extra: Iterable[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    """``problem`` as a JSON error on a raw ASGI ``send``; ``extra`` headers (``Allow``)."""
    body = error_body(problem.code, problem.message)
    await send_reply(send, problem.status, [*problem.headers, *extra], body, head=head)


async def turn_away(scope: dict[str, Any], receive: Any, send: Any, problem: ApiProblem) -> None:
    """``refuse`` a request that no handler has seen yet (a WebSocket's connect not received)."""
    if scope["type"] == "websocket" and (await receive())["type"] != "websocket.connect":
        return
    await refuse(scope, send, problem)


async def refuse(scope: dict[str, Any], send: Any, problem: ApiProblem) -> None:
    """Answer ``problem`` to an HTTP request or a WebSocket handshake (its connect received).

    A handshake is refused with the HTTP status where the server can send one (the
    ``websocket.http.response`` extension); elsewhere it is accepted, told why in an error
    frame and closed with 1008, which the SDK turns into the same exception.
    """
    if scope["type"] != "websocket":
        await send_problem(send, problem)
        return
    if "websocket.http.response" in (scope.get("extensions") or {}):
        body = error_body(problem.code, problem.message)
        headers = [*problem.headers, (b"content-length", str(len(body)).encode())]
        await send(
            {"type": "websocket.http.response.start", "status": problem.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": error_frame(problem.code, problem.message)})
    await send({"type": "websocket.close", "code": CloseCode.POLICY, "reason": problem.code})
