"""The contract between server and clients, written once: codes, limits, URLs and frames.

Server, SDK, CLI, widget and pytest plugin all import these names; nothing here does I/O.
The captured-request wire format itself is ``_wire``.

    >>> CloseCode.LAGGING, CLOSE_ERRORS[CloseCode.LAGGING]
    (<CloseCode.LAGGING: 4008>, <ErrorCode.LAGGING: 'lagging'>)
    >>> ws_url("https://hooks.example.com/", "b_1", {"since": "5-0"})
    'wss://hooks.example.com/api/bins/b_1/ws?since=5-0'
    >>> split_capture_path(b"/h/b_1/github//push%20x")
    ('b_1', '/github//push%20x')
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from urllib.parse import urlencode

__all__ = [
    "CAPTURE_PREFIX",
    "CLOSE_ERRORS",
    "DEFAULT_BIN_LIST",
    "DEFAULT_PAGE",
    "LIVE_FRAME",
    "MAX_BIN_LIST",
    "MAX_DELAY_MS",
    "MAX_FRAME_HEADER",
    "MAX_NAME",
    "MAX_PAGE",
    "MAX_TAIL",
    "REQUEST_ID_HEADER",
    "SSE_LIVE",
    "SSE_PING",
    "SSE_RETRY",
    "WS_SUBPROTOCOL",
    "WS_TOKEN_PREFIX",
    "CloseCode",
    "ErrorCode",
    "FrameType",
    "batch_frame",
    "bin_path",
    "capture_url",
    "error_body",
    "error_frame",
    "request_frame",
    "smee_url",
    "split_capture_path",
    "sse_error",
    "sse_request",
    "sse_requests",
    "ws_url",
]


class CloseCode(enum.IntEnum):
    """WebSocket close codes of the stream (SSE sends the matching ``ErrorCode`` instead)."""

    NORMAL = 1000
    """The stream ended normally (the client left)."""
    POLICY = 1008
    """The handshake was refused where the server cannot answer it with HTTP (the error
    frame before it says why: token, bin, query)."""
    FEED_LOST = 1012
    """"Service restart": the server lost its live feed or is stopping; resume with since."""
    LAGGING = 4008
    """The reader fell behind; resume with ``since=<last id>``."""
    BIN_DELETED = 4404
    """The bin was deleted or expired; resuming cannot help."""


class ErrorCode(enum.StrEnum):
    """The ``code`` of every JSON error body and error frame the server sends."""

    # access
    TOKEN_REQUIRED = "token_required"
    TOKEN_INVALID = "token_invalid"
    API_KEY_REQUIRED = "api_key_required"
    API_KEY_INVALID = "api_key_invalid"
    INVALID_HOST = "invalid_host"
    HOST_NOT_ALLOWED = "host_not_allowed"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    BIN_LIST_CLOSED = "bin_list_closed"
    # lookups
    BIN_NOT_FOUND = "bin_not_found"
    REQUEST_NOT_FOUND = "request_not_found"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    # input
    INVALID_JSON = "invalid_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_RESPONSE = "invalid_response"
    INVALID_NAME = "invalid_name"
    INVALID_SECRETS = "invalid_secrets"
    INVALID_MAX_REQUESTS = "invalid_max_requests"
    INVALID_TTL = "invalid_ttl_s"
    INVALID_QUERY = "invalid_query"
    INVALID_SINCE = "invalid_since"
    INVALID_AFTER = "invalid_after"
    INVALID_TAIL = "invalid_tail"
    INVALID_LIMIT = "invalid_limit"
    RESPONSE_TOO_LARGE = "response_too_large"
    # capture
    TOO_LARGE = "too_large"
    BODY_TIMEOUT = "body_timeout"
    # limits (docs/server.md, "Limits")
    TOO_MANY_HEADERS = "too_many_headers"
    HEADERS_TOO_LARGE = "headers_too_large"
    BIN_RATE_LIMITED = "bin_rate_limited"
    ADDRESS_RATE_LIMITED = "address_rate_limited"
    TOO_MANY_BINS = "too_many_bins"
    MEMORY_FULL = "memory_full"
    CAPTURE_QUEUE_FULL = "capture_queue_full"
    BODIES_IN_FLIGHT_FULL = "bodies_in_flight_full"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    TOO_MANY_WATCHERS = "too_many_watchers"
    TOO_MANY_CURSORS = "too_many_cursors"
    # storage
    UNAVAILABLE = "unavailable"
    # streams (error frames, SSE error events)
    LAGGING = "lagging"
    BIN_DELETED = "bin_deleted"
    FEED_LOST = "feed_lost"
    CLOSED = "closed"


CLOSE_ERRORS: Mapping[CloseCode, ErrorCode] = {
    CloseCode.NORMAL: ErrorCode.CLOSED,
    CloseCode.FEED_LOST: ErrorCode.FEED_LOST,
    CloseCode.LAGGING: ErrorCode.LAGGING,
    CloseCode.BIN_DELETED: ErrorCode.BIN_DELETED,
}
"""The error code sent (error frame, SSE ``event: error``) when a stream ends with a close code."""

# -- limits --------------------------------------------------------------------------------------

MAX_PAGE = 1000
"""Most requests one ``GET .../requests`` page holds (``limit``)."""
DEFAULT_PAGE = 100
"""Requests per page when ``limit`` is not given."""
MAX_TAIL = 1000
"""Largest ``tail=N`` (list pages, streams, the live table, the CLI)."""
MAX_NAME = 200
"""Longest bin name, in characters."""
MAX_CURSORS = 100
"""Most named smee cursors one bin keeps (docs/smee.md)."""
MAX_DELAY_MS = 60_000
"""Longest configured response delay."""
MAX_BIN_LIST = 500
"""Most bins one ``GET /api/bins`` lists (``limit``), newest first."""
DEFAULT_BIN_LIST = 100
"""Bins listed when ``limit`` is not given."""

# -- URLs ----------------------------------------------------------------------------------------

CAPTURE_PREFIX = "/h/"
"""Capture URLs are ``{base}/h/{bin}[/{path...}]``."""
REQUEST_ID_HEADER = "X-Hookscope-Request-Id"
"""Sent with every capture reply: the id the request was stored under."""
MAX_FRAME_HEADER = "X-Hookscope-Max-Frame"
"""Sent with a WebSocket stream's handshake: the largest frame the server may send, in bytes."""


def capture_url(base_url: str, bin_id: str) -> str:
    """``http://host/h/b_1`` from a server's base URL."""
    return f"{base_url.rstrip('/')}{CAPTURE_PREFIX}{bin_id}"


def bin_path(bin_id: str, rest: str = "") -> str:
    """The API path of a bin: ``/api/bins/b_1``, ``bin_path("b_1", "/requests")``."""
    return f"/api/bins/{bin_id}{rest}"


def smee_url(capture: str, token: str, cursor: str | None = None) -> str:
    """A bin's smee channel (docs/smee.md) from its capture URL: the token in the query, as
    smee-client sends no headers.

    >>> smee_url("https://h.example.com/h/b_1", "tok", cursor="probot")
    'https://h.example.com/api/bins/b_1/smee?token=tok&cursor=probot'
    """
    base, _, bin_id = capture.rstrip("/").rpartition(CAPTURE_PREFIX)
    query = {"token": token, **({"cursor": cursor} if cursor else {})}
    return f"{base}{bin_path(bin_id, '/smee')}?{urlencode(query)}"


def ws_url(base_url: str, bin_id: str, query: Mapping[str, str]) -> str:
    """The stream URL of a bin: ``http`` becomes ``ws`` and ``https`` becomes ``wss``."""
    scheme, rest = base_url.rstrip("/").split("://", 1)
    ws_scheme = {"http": "ws", "https": "wss"}.get(scheme.lower(), scheme)
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{ws_scheme}://{rest}{bin_path(bin_id, '/ws')}{suffix}"


WS_SUBPROTOCOL = "hookscope.v1"
"""The WebSocket subprotocol the server accepts when a client offers it (the web page does)."""
WS_TOKEN_PREFIX = "hookscope.token."
"""A browser cannot set headers on a WebSocket: it offers ``hookscope.token.<token>`` as a
second subprotocol instead (tokens are URL-safe base64, valid protocol names), which keeps
the token out of the URL. The server never echoes it back."""


def split_capture_path(raw_path: bytes) -> tuple[str, str]:
    """``(bin id, sub-path)`` of ``/h/{bin}[/{path...}]``; the sub-path stays percent-encoded.

    >>> split_capture_path(b"/h/b_1"), split_capture_path(b"/h/b_1/")
    (('b_1', '/'), ('b_1', '/'))
    """
    rest = raw_path[len(CAPTURE_PREFIX) :].decode("latin-1")
    bin_id, slash, sub = rest.partition("/")
    return bin_id, ("/" + sub if slash and sub else "/")


# -- bodies and frames ---------------------------------------------------------------------------

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def error_body(code: str, message: str) -> bytes:
    """The JSON error body of every non-2xx API answer: ``{"error": {"code", "message"}}``."""
    return json.dumps({"error": {"code": str(code), "message": message}}).encode()


class FrameType(enum.StrEnum):
    """The ``type`` of a WebSocket frame (server to client)."""

    REQUEST = "request"
    BATCH = "batch"
    LIVE = "live"
    ERROR = "error"


def request_frame(request_json: str) -> str:
    """``{"type": "request", "request": ...}`` around one stored request text."""
    return '{"type":"request","request":' + request_json + "}"


def batch_frame(request_jsons: Iterable[str]) -> str:
    """``{"type": "batch", "requests": [...]}`` around several stored request texts, in order."""
    return '{"type":"batch","requests":[' + ",".join(request_jsons) + "]}"


LIVE_FRAME = '{"type":"live"}'
"""Sent once: the replay is done and what follows is live."""


def error_frame(code: str, message: str) -> str:
    """``{"type": "error", "code": ..., "message": ...}``, sent just before a close."""
    return _dumps({"type": "error", "code": str(code), "message": message})


SSE_RETRY = "retry: 1000\n\n"
"""First SSE bytes: an ``EventSource`` reconnects after one second."""
SSE_LIVE = "event: live\ndata: {}\n\n"
SSE_PING = ": ping\n\n"
"""A comment that keeps an idle SSE stream (and the proxies on its way) open."""


def sse_request(request_id: str, request_json: str) -> str:
    """One ``event: request`` whose ``id:`` is the request id (``Last-Event-ID`` resumes)."""
    return f"id: {request_id}\nevent: request\ndata: {request_json}\n\n"


def sse_requests(stored: Iterable[tuple[str, str]]) -> str:
    """``sse_request`` for each ``(id, text)``, concatenated."""
    return "".join(sse_request(request_id, text) for request_id, text in stored)


def sse_error(code: str, message: str) -> str:
    """``event: error`` with ``{"code", "message"}``, sent before the stream ends."""
    return f"event: error\ndata: {_dumps({'code': str(code), 'message': message})}\n\n"
