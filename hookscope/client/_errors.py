"""Server errors as hookscope exceptions, with messages a user can act on.

One mapping by error code (``_contract.ErrorCode``), for both ways a server refuses: an HTTP
error body ``{"error": {"code", "message"}}`` and a stream's error frame before a 1008 close.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .._contract import ErrorCode
from .._exceptions import (
    ApiError,
    BinNotFound,
    RequestNotFound,
    ServerUnavailable,
    Unauthorized,
)

__all__ = ["api_error", "error_for_code"]


class _Known(NamedTuple):
    exception: type[ApiError]
    status: int  # what the server answers over HTTP with this code
    hint: str


_BY_CODE: dict[str, _Known] = {
    ErrorCode.BIN_NOT_FOUND: _Known(
        BinNotFound, 404, "check the bin id, or create a new bin with client.create_bin()"
    ),
    ErrorCode.REQUEST_NOT_FOUND: _Known(
        RequestNotFound, 404, "it may have been trimmed (max_requests) or cleared"
    ),
    ErrorCode.TOKEN_REQUIRED: _Known(Unauthorized, 401, "open the bin with client.bin(id, token)"),
    ErrorCode.TOKEN_INVALID: _Known(
        Unauthorized, 403, "use the token that create_bin() returned for this bin"
    ),
    ErrorCode.API_KEY_REQUIRED: _Known(
        Unauthorized, 401, "this server runs with --api-key: pass api_key= to the client"
    ),
    ErrorCode.API_KEY_INVALID: _Known(
        Unauthorized,
        403,
        "check the api_key given to the client (HOOKSCOPE_API_KEY on the server)",
    ),
    ErrorCode.UNAVAILABLE: _Known(
        ServerUnavailable, 503, "the server's storage is unreachable; retry shortly"
    ),
}


def _code_and_message(status: int, body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()[:200]
        return f"http_{status}", text or f"HTTP {status}"


def error_for_code(code: str, message: str, *, what: str, status: int | None = None) -> ApiError:
    """The exception for the error ``code`` the server gave about ``what``.

    ``status`` is the HTTP status it came with; None for a stream's error frame, where the
    status the server answers that code with over HTTP is used.
    """
    known = _BY_CODE.get(code)
    text = f"{what}: {message}" + (f" ({known.hint})" if known else "")
    if status is None:
        status = known.status if known else 0
    if known is not None:
        return known.exception(text, status=status, code=code)
    if status in (401, 403):
        return Unauthorized(text, status=status, code=code)
    if status == 503:
        return ServerUnavailable(text, status=status, code=code)
    if status == 404:
        text += " (is the client's URL the base URL of a hookscope server?)"
    return ApiError(text, status=status, code=code)


def api_error(status: int, body: bytes, *, what: str) -> ApiError:
    """The exception for an HTTP error response to ``what``.

    >>> str(api_error(404, b'{"error": {"code": "bin_not_found", "message": "no bin"}}',
    ...     what="GET /api/bins/b_x"))
    'GET /api/bins/b_x: no bin (check the bin id, or create a new bin with client.create_bin())'
    """
    code, message = _code_and_message(status, body)
    return error_for_code(code, message, what=what, status=status)
