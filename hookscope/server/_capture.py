"""Capture: ``ANY /h/{bin}`` and ``ANY /h/{bin}/{path...}``.

The exact path, header order and duplicates come from the ASGI scope, not from Quart's
parsed request. Nothing is answered 2xx unless the backend stored it.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from quart import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from .._wire import encode_capture
from ..backends._base import BackendUnavailable, ResponseSpec
from ._errors import error_response
from ._state import state

if TYPE_CHECKING:
    from hypercorn.typing import HTTPScope

__all__ = ["CAPTURE_METHODS", "capture"]

# Werkzeug routes need a method list; this one covers HTTP and WebDAV.
CAPTURE_METHODS = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
    "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
    "SEARCH", "REPORT", "PURGE", "LINK", "UNLINK", "QUERY",
]  # fmt: skip

_REQUEST_ID_HEADER = "X-Hookscope-Request-Id"


def _sub_path(raw_path: bytes) -> str:
    """What follows ``/h/{bin}`` in the raw path, still percent-encoded; ``/`` when nothing."""
    rest = raw_path.decode("latin-1")[3:]  # drop "/h/"
    _, slash, sub = rest.partition("/")
    return "/" + sub if slash and sub else "/"


async def capture(bin_id: str, path: str = "") -> Response:
    app_state = state()
    metrics = app_state.metrics
    scope = cast("HTTPScope", request.scope)
    received_at = datetime.now(UTC)
    try:
        body = cast(bytes, await request.get_data(cache=False, as_text=False))
    except RequestEntityTooLarge:
        metrics.rejects.labels("too_large").inc()
        limit = app_state.settings.max_body
        return error_response(413, "too_large", f"body over the limit of {limit} bytes")
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    client = scope.get("client")
    payload = encode_capture(
        bin_id=bin_id,
        received_at=received_at,
        method=scope["method"],
        path=_sub_path(raw_path),
        query=scope["query_string"].decode("latin-1"),
        headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope["headers"]],
        body=body,
        remote_addr=client[0] if client else None,
        http_version=scope.get("http_version", "1.1"),
    )
    try:
        stored = await app_state.backend.append(bin_id, payload)
    except BackendUnavailable:
        metrics.rejects.labels("unavailable").inc()
        metrics.backend_errors.inc()
        return error_response(503, "unavailable", "storage is unavailable; nothing was stored")
    if stored is None:
        metrics.rejects.labels("unknown_bin").inc()
        return error_response(404, "bin_not_found", f"no bin {bin_id!r}")
    metrics.captures.inc()
    metrics.capture_bytes.inc(len(body))
    spec = stored.response
    if spec.delay_ms:
        await asyncio.sleep(spec.delay_ms / 1000)
    return _reply(spec, stored.id)


def _reply(spec: ResponseSpec, request_id: str) -> Response:
    if spec.body is None:
        body = json.dumps({"ok": True, "id": request_id})
        content_type = "application/json"
    else:
        body = spec.body
        content_type = "text/plain; charset=utf-8"
    response = Response(body, status=spec.status, content_type=content_type)
    for name, value in spec.headers.items():
        response.headers[name] = value
    response.headers[_REQUEST_ID_HEADER] = request_id
    return response
