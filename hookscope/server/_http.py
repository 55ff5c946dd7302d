"""The small toolkit both kinds of endpoint share: problems, JSON errors, raw ASGI replies.

Quart routes raise ``ApiProblem`` (answered by one error handler); the raw ASGI endpoints
(capture, the WebSocket stream) answer the same problem with ``send_problem``. Either way the
body is ``_contract.error_body`` and a storage failure is ``problem_of``'s one 503.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from quart import Response

from .._contract import CloseCode, ErrorCode, error_body, error_frame
from ..backends import BackendUnavailable

__all__ = [
    "JSON",
    "ApiProblem",
    "error_response",
    "problem_of",
    "refuse",
    "send_problem",
    "send_reply",
]

JSON = (b"content-type", b"application/json")
_NO_CONTENT = frozenset({204, 304})  # RFC 9110: no body, no Content-Length


class ApiProblem(Exception):
    """An error answer: raise it from a handler, or send it from a raw ASGI endpoint."""

    def __init__(self, status: int, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = str(code)
        self.message = message

    def __repr__(self) -> str:
        return f"<ApiProblem {self.status} {self.code}: {self.message}>"


UNAVAILABLE = ApiProblem(503, ErrorCode.UNAVAILABLE, "storage is unavailable; try again later")


def problem_of(error: BaseException) -> ApiProblem | None:
    """The answer to ``error``: itself for an ``ApiProblem``, 503 for a storage failure."""
    if isinstance(error, ApiProblem):
        return error
    if isinstance(error, BackendUnavailable):
        return UNAVAILABLE
    return None


def error_response(problem: ApiProblem) -> Response:
    """``problem`` as a Quart response."""
    return Response(
        error_body(problem.code, problem.message),
        status=problem.status,
        content_type="application/json",
    )


async def send_reply(
    send: Any, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes
) -> None:
    """A whole HTTP response on a raw ASGI ``send`` (no body and no length for 204/304)."""
    if status in _NO_CONTENT:
        body = b""
        headers = [(n, v) for n, v in headers if n != b"content-type"]
    else:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_problem(send: Any, problem: ApiProblem) -> None:
    """``problem`` as a JSON error on a raw ASGI ``send``."""
    await send_reply(send, problem.status, [JSON], error_body(problem.code, problem.message))


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
        headers = [JSON, (b"content-length", str(len(body)).encode())]
        await send(
            {"type": "websocket.http.response.start", "status": problem.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": error_frame(problem.code, problem.message)})
    await send({"type": "websocket.close", "code": CloseCode.POLICY, "reason": problem.code})
