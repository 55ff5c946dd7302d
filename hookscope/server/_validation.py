"""What the JSON API accepts: request bodies and bin settings, checked before anything is stored.

A setting the server could not serve is refused here with 400, never discovered at capture.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import _signatures
from .._config import Settings
from .._contract import MAX_DELAY_MS, MAX_NAME, ErrorCode
from ..backends import ResponseSpec
from ._http import ApiProblem

__all__ = ["body_object", "bounded_int", "limit", "name", "response_spec", "secrets"]

MAX_SECRET = 1024
"""Longest signing secret, in characters."""

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # RFC 9110 field names
_FRAMING = {"content-length", "transfer-encoding", "connection", "x-hookscope-request-id"}
_RESPONSE_FIELDS = {"status", "headers", "body", "delay_ms"}


def body_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` when empty); 400 otherwise."""
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiProblem(
            400, ErrorCode.INVALID_JSON, "the request body is not valid JSON"
        ) from None
    if not isinstance(data, dict):
        raise ApiProblem(400, ErrorCode.INVALID_JSON, "the request body must be a JSON object")
    return data


def bounded_int(raw: str, low: int, high: int) -> int | None:
    """``raw`` as an integer from ``low`` to ``high`` (plain ASCII digits), else None."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(high)) + 1:
        return None
    value = int(raw)
    return value if low <= value <= high else None


def _bad(message: str) -> ApiProblem:
    return ApiProblem(400, ErrorCode.INVALID_RESPONSE, message)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _header_value_ok(value: str) -> bool:
    # What HTTP/1.1 can carry: ISO-8859-1, no control characters but tab (RFC 9110 5.5).
    return all(c == "\t" or (" " <= c <= "~") or ("\xa0" <= c <= "\xff") for c in value)


def response_spec(data: Any, settings: Settings) -> ResponseSpec:
    """The ``response`` object of a bin, validated; 400 ``invalid_response`` says what is wrong.

    A body over ``--max-response-body`` (UTF-8 bytes), or headers beyond ``--max-headers``
    and ``--max-header-bytes``, is 400 ``response_too_large``.
    """
    if not isinstance(data, dict):
        raise _bad("response must be an object")
    unknown = set(data) - _RESPONSE_FIELDS
    if unknown:
        raise _bad(f"unknown response field(s): {', '.join(sorted(unknown))}")
    status = data.get("status", 200)
    if not _is_int(status) or not 200 <= status <= 599:
        raise _bad("response.status must be an integer from 200 to 599")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise _bad("response.headers must be an object of strings")
    for header, value in headers.items():
        if not _TOKEN.match(header):
            raise _bad(f"response header {header!r} is not a valid header name")
        if not _header_value_ok(value):
            raise _bad(
                f"response header {header!r}: the value must be ISO-8859-1 text without "
                "control characters"
            )
        if header.lower() in _FRAMING:
            raise _bad(f"response header {header!r} is set by the server")
    header_bytes = sum(len(name) + len(value) for name, value in headers.items())
    if len(headers) > settings.max_headers or header_bytes > settings.max_header_bytes:
        raise ApiProblem(
            400,
            ErrorCode.RESPONSE_TOO_LARGE,
            f"response.headers: at most {settings.max_headers} headers and "
            f"{settings.max_header_bytes} bytes (--max-headers, --max-header-bytes)",
        )
    body = data.get("body")
    if body is not None:
        if not isinstance(body, str):
            raise _bad("response.body must be a string (sent as UTF-8)")
        try:
            size = len(body.encode("utf-8"))
        except UnicodeEncodeError:
            raise _bad("response.body is not valid Unicode (a lone surrogate?)") from None
        if size > settings.max_response_body:
            raise ApiProblem(
                400,
                ErrorCode.RESPONSE_TOO_LARGE,
                f"response.body is {size} bytes; this server takes at most "
                f"{settings.max_response_body} (--max-response-body)",
            )
    delay = data.get("delay_ms", 0)
    if not _is_int(delay) or not 0 <= delay <= MAX_DELAY_MS:
        raise _bad(f"response.delay_ms must be an integer from 0 to {MAX_DELAY_MS}")
    return ResponseSpec(status=status, headers=dict(headers), body=body, delay_ms=delay)


def secrets(data: Any, *, removals: bool) -> dict[str, str | None]:
    """``{"scheme": "secret"}`` by canonical scheme name (``svix`` → ``standard-webhooks``).

    With ``removals`` (PATCH), a null value removes that scheme's secret.
    """
    if not isinstance(data, dict):
        raise ApiProblem(400, ErrorCode.INVALID_SECRETS, "secrets must be an object")
    found: dict[str, str | None] = {}
    for scheme, secret in data.items():
        try:
            canonical = _signatures.canonical(scheme)
        except ValueError as error:
            raise ApiProblem(400, ErrorCode.INVALID_SECRETS, str(error)) from None
        if secret is None and removals:
            found[canonical] = None
            continue
        if not isinstance(secret, str) or not 0 < len(secret) <= MAX_SECRET:
            raise ApiProblem(
                400,
                ErrorCode.INVALID_SECRETS,
                f"the {scheme} secret must be a string of 1 to {MAX_SECRET} characters"
                + (" (or null to remove it)" if removals else ""),
            )
        try:
            _signatures.read_secret(canonical, secret)
            secret.encode("utf-8")
        except (ValueError, UnicodeError) as error:
            raise ApiProblem(400, ErrorCode.INVALID_SECRETS, f"{scheme}: {error}") from None
        found[canonical] = secret
    return found


def name(data: dict[str, Any]) -> str | None:
    """The optional ``name``: a string of at most ``MAX_NAME`` characters."""
    value = data.get("name")
    if value is not None and (not isinstance(value, str) or len(value) > MAX_NAME):
        raise ApiProblem(
            400, ErrorCode.INVALID_NAME, f"name must be a string of at most {MAX_NAME} characters"
        )
    return value


def limit(data: dict[str, Any], key: str, ceiling: float, *, integer: bool) -> float | None:
    """An optional positive limit (``max_requests``, ``ttl_s``) no larger than the server's."""
    value = data.get(key)
    if value is None:
        return None
    kind = "an integer" if integer else "a number"
    valid = (
        _is_int(value)
        if integer
        else isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not valid or not 0 < value <= ceiling or value != value:  # value != value: NaN
        raise ApiProblem(
            400, f"invalid_{key}", f"{key} must be {kind} above 0 and at most {ceiling:g}"
        )
    return float(value)
