"""Captured requests as HAR 1.2 entries (http://www.softwareishard.com/blog/har-12-spec/).

hookscope keeps requests, not the responses it sent, so each entry's ``response`` is the
placeholder HAR tools use for a request without a response: status 0, empty headers,
``content.mimeType`` ``x-unknown``, sizes -1, and a ``comment`` saying so. Timings are
zero (required ones) or -1 (optional ones: not applicable). Bodies that are not UTF-8 go
in ``postData.text`` as base64 with ``postData.encoding: "base64"`` (the encoding field is
HAR's ``content.encoding``, which readers also accept on ``postData``). hookscope's own
fields use HAR's ``_`` prefix for custom fields: ``_id``, ``_bin``, ``_remoteAddress``.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

from .._models import CapturedRequest
from .._version import __version__
from .._wire import encode_body

__all__ = ["NO_RESPONSE", "har_entry", "har_log_head"]

NO_RESPONSE: dict[str, Any] = {
    "status": 0,
    "statusText": "",
    "httpVersion": "",
    "cookies": [],
    "headers": [],
    "content": {"size": 0, "mimeType": "x-unknown"},
    "redirectURL": "",
    "headersSize": -1,
    "bodySize": -1,
    "comment": "hookscope does not record the responses it sends",
}


def har_log_head() -> dict[str, Any]:
    """``log`` without its entries: version and creator."""
    return {"version": "1.2", "creator": {"name": "hookscope", "version": __version__}}


def _http_version(version: str) -> str:
    return version if version.upper().startswith("HTTP/") else f"HTTP/{version}"


def _cookies(request: CapturedRequest) -> list[dict[str, str]]:
    cookies: list[dict[str, str]] = []
    for header in request.headers.get_list("cookie"):
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header)
        except CookieError:
            continue  # a malformed header stays visible in "headers"
        cookies += [{"name": name, "value": morsel.value} for name, morsel in jar.items()]
    return cookies


def _post_data(request: CapturedRequest) -> dict[str, Any]:
    mime_type = request.headers.get("content-type", "")
    text, encoding = encode_body(request.body)
    data: dict[str, Any] = {"mimeType": mime_type, "params": [], "text": text}
    if encoding == "base64":
        data["encoding"] = "base64"
    elif request.content_type == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        data["params"] = [{"name": name, "value": value} for name, value in pairs]
    return data


def har_entry(request: CapturedRequest, capture_url: str) -> dict[str, Any]:
    """One HAR entry; ``capture_url`` is the bin's URL (``http://host/h/b_x``)."""
    har_request: dict[str, Any] = {
        "method": request.method,
        "url": capture_url.rstrip("/") + request.target,
        "httpVersion": _http_version(request.http_version),
        "cookies": _cookies(request),
        "headers": [{"name": name, "value": value} for name, value in request.header_pairs],
        "queryString": [
            {"name": name, "value": value}
            for name, value in parse_qsl(request.query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": request.size,
    }
    if request.body:
        har_request["postData"] = _post_data(request)
    return {
        "startedDateTime": request.received_at.isoformat(timespec="milliseconds"),
        "time": 0,
        "request": har_request,
        "response": NO_RESPONSE,
        "cache": {},
        "timings": {
            "blocked": -1,
            "dns": -1,
            "connect": -1,
            "send": 0,
            "wait": 0,
            "receive": 0,
            "ssl": -1,
        },
        "_id": request.id,
        "_bin": request.bin,
        "_remoteAddress": request.remote_addr,
    }
