"""Wire format v1: a captured request as JSON text (frames around it: ``_contract``).

Everything that crosses a process boundary is built and read here: the server encodes a
capture once (``encode_capture``), the backend stamps its id (``with_id``) and stores the
text, and the API, WebSocket and SSE layers splice stored texts into responses without
decoding them again. Readers ignore unknown fields.

    >>> body, encoding = encode_body(b"\\xff\\x00")
    >>> (body, encoding)
    ('/wA=', 'base64')
    >>> decode_body(body, encoding)
    b'\\xff\\x00'
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "TEXT_OVERHEAD",
    "decode_body",
    "encode_body",
    "encode_capture",
    "escape_cost",
    "format_timestamp",
    "loads",
    "parse_timestamp",
    "with_id",
]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# JSON escapes (ensure_ascii=False): these bytes take two characters (\" \\ \n ...), the
# other control bytes six (\u0001); everything else, UTF-8 sequences included, stays as is.
_SHORT_ESCAPES = b'"\\\n\r\t\b\f'
_LONG_ESCAPES = bytes(c for c in range(0x20) if c not in _SHORT_ESCAPES)

TEXT_OVERHEAD = 64
"""Escaping may add up to half a body's size plus this many bytes before base64 is chosen."""


def escape_cost(body: bytes) -> int:
    """Bytes that JSON escaping adds to ``body`` as text (two passes in C, no decoding)."""
    without_short = body.translate(None, _SHORT_ESCAPES)
    without_long = without_short.translate(None, _LONG_ESCAPES)
    return (len(body) - len(without_short)) + 5 * (len(without_short) - len(without_long))


def _text_is_compact(body: bytes) -> bool:
    return escape_cost(body) <= len(body) // 2 + TEXT_OVERHEAD


def encode_body(body: bytes) -> tuple[str, str]:
    """``(text, encoding)``: UTF-8 text, or base64 when the bytes are not valid UTF-8 or when
    escaping them as JSON text would make them over 1.5 times as large (control bytes cost
    six: ``\\u0001``), so that a stored body is never much larger than its bytes.
    """
    if _text_is_compact(body):
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(text: str, encoding: str) -> bytes:
    """The exact bytes behind ``encode_body``'s ``(text, encoding)``."""
    if encoding == "utf-8":
        return text.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as error:
            raise ValueError(f"body is not valid base64: {error}") from None
    raise ValueError(f"unknown body_encoding {encoding!r} (expected 'utf-8' or 'base64')")


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``: ``2026-11-28T21:43:44.123456Z``."""
    # isoformat is several times cheaper than strftime (this runs on every capture).
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from ``format_timestamp``'s form (any RFC 3339 offset is accepted)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def encode_capture(
    *,
    bin_id: str,
    received_at: datetime,
    method: str,
    path: str,
    query: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    remote_addr: str | None,
    http_version: str,
    signature: Mapping[str, Any] | None = None,
) -> str:
    """A captured request as wire JSON *without* its ``id``, which the backend adds.

    The text always starts with ``{"bin":`` so that ``with_id`` can splice the id in front.
    """
    text, encoding = encode_body(body)
    return _dumps(
        {
            "bin": bin_id,
            "received_at": format_timestamp(received_at),
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body": text,
            "body_encoding": encoding,
            "size": len(body),
            "remote_addr": remote_addr,
            "http_version": http_version,
            **({"signature": signature} if signature is not None else {}),
        }
    )


def with_id(payload: str, request_id: str) -> str:
    """Splice ``"id"`` into the front of an ``encode_capture`` payload (no re-encoding)."""
    return '{"id":"' + request_id + '",' + payload[1:]


def loads(text: str | bytes) -> Any:
    """Parse wire JSON (one place, so a faster parser can be dropped in)."""
    return json.loads(text)
