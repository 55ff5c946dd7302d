"""The request ``hookscope forward`` sends for a captured one: pure, no I/O.

    >>> relay_url("http://localhost:3000/api", "/github/push", "a=1&a=2")
    'http://localhost:3000/api/github/push?a=1&a=2'
    >>> relay_url("http://localhost:3000/api", "/", "")
    'http://localhost:3000/api'

Byte-exact: the method, the captured path (still percent-encoded) appended to the target's
path, the raw query, every end-to-end header in arrival order with duplicates, and the body.
Hop-by-hop headers (RFC 9110 7.6.1, and any named by ``Connection``) are dropped; ``Host``
and ``Content-Length`` are set for the new hop.

A captured request that the HTTP client cannot even build (a ``#`` or a control character
in its path, a query that is not ASCII, a method that is not ASCII) raises ``CannotForward``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from .._models import CapturedRequest

__all__ = ["HOP_BY_HOP", "CannotForward", "relay_headers", "relay_request", "relay_url"]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)


class CannotForward(ValueError):
    """This request cannot be sent as HTTP/1.1 whatever the target does; the message says why."""


def _split(target: str, path: str, query: str) -> tuple[str, str]:
    parts = urlsplit(target)
    full_path = (parts.path.rstrip("/") + path) if path != "/" else (parts.path or "/")
    queries = [q for q in (parts.query, query) if q]
    return f"{parts.scheme}://{parts.netloc}", full_path + (
        "?" + "&".join(queries) if queries else ""
    )


def relay_url(target: str, path: str, query: str) -> str:
    """``target`` with ``path`` appended to its path and ``query`` after its own query.

    A captured path of ``/`` (nothing after the bin) leaves the target's path as it is.
    """
    origin, raw_path = _split(target, path, query)
    return origin + raw_path


def relay_headers(request: CapturedRequest) -> list[tuple[bytes, bytes]]:
    """The captured headers to send on: arrival order and duplicates kept, hop-by-hop gone."""
    raw = request.headers.raw
    named = {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.split(b",")
    }
    headers = [
        (name, value)
        for name, value in raw
        if name.lower() not in HOP_BY_HOP
        and name.lower() not in named
        and not name.lower().startswith(b"proxy-")
    ]
    had_length = any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in raw)
    if request.body or had_length:
        headers.append((b"content-length", str(len(request.body)).encode("ascii")))
    return headers


def relay_request(
    request: CapturedRequest, target: str, *, id_header: str | None = None
) -> httpx.Request:
    """The request to send to ``target``; ``id_header`` names a header for the request id.

    Raises ``CannotForward`` when the client cannot build it.
    """
    _, raw_path = _split(target, request.path, request.query)
    if not request.method.isascii():
        raise CannotForward("its method is not ASCII, and HTTP/1.1 methods are")
    try:
        # raw_path: sent as captured, not re-quoted (the server keeps path and query latin-1).
        url = httpx.URL(target).copy_with(raw_path=raw_path.encode("latin-1"))
    except UnicodeError:
        raise CannotForward(
            "its path or query is not ASCII, which the HTTP client refuses"
        ) from None
    except httpx.InvalidURL as error:
        raise CannotForward(f"the HTTP client refuses its path or query ({error})") from None
    headers = relay_headers(request)
    if id_header:
        headers.append((id_header.encode("ascii"), request.id.encode("ascii")))
    # httpx.Request (not client.build_request) adds no client defaults: no User-Agent,
    # Accept or Accept-Encoding that the sender did not send. It puts Host first.
    return httpx.Request(request.method, url, headers=headers, content=request.body)
