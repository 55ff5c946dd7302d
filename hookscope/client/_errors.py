"""Server error responses as hookscope exceptions, with messages a user can act on."""

from __future__ import annotations

import json

from .._exceptions import (
    ApiError,
    BinNotFound,
    RequestNotFound,
    ServerUnavailable,
    Unauthorized,
)

__all__ = ["api_error"]

_HINTS = {
    "bin_not_found": "check the bin id, or create a new bin with client.create_bin()",
    "request_not_found": "it may have been trimmed (max_requests) or cleared",
    "token_required": "open the bin with client.bin(id, token)",
    "token_invalid": "use the token that create_bin() returned for this bin",
    "api_key_required": "this server runs with --api-key: pass api_key= to the client",
    "api_key_invalid": "check the api_key given to the client (HOOKSCOPE_API_KEY on the server)",
    "unavailable": "the server's storage is unreachable; retry shortly",
}


def _code_and_message(status: int, body: bytes) -> tuple[str, str]:
    try:
        error = json.loads(body)["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = body.decode("utf-8", "replace").strip()[:200]
        return f"http_{status}", text or f"HTTP {status}"


def api_error(status: int, body: bytes, *, what: str) -> ApiError:
    """The exception for an error response (``{"error": {"code", "message"}}``) to ``what``.

    >>> str(api_error(404, b'{"error": {"code": "bin_not_found", "message": "no bin"}}',
    ...     what="GET /api/bins/b_x"))
    'GET /api/bins/b_x: no bin (check the bin id, or create a new bin with client.create_bin())'
    """
    code, message = _code_and_message(status, body)
    hint = _HINTS.get(code)
    text = f"{what}: {message}" + (f" ({hint})" if hint else "")
    if status == 404 and code == "bin_not_found":
        return BinNotFound(text, status=status, code=code)
    if status == 404 and code == "request_not_found":
        return RequestNotFound(text, status=status, code=code)
    if status in (401, 403):
        return Unauthorized(text, status=status, code=code)
    if status == 503:
        return ServerUnavailable(text, status=status, code=code)
    if status == 404:
        text += " (is the client's URL the base URL of a hookscope server?)"
    return ApiError(text, status=status, code=code)
