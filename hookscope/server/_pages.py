"""The web inspector: ``GET /`` and ``GET /b/{bin}``, and the files they load, ``/assets/...``.

The pages are static files shipped in ``_web/`` (plain ES modules and CSS, no build step,
nothing from another host). A bin page learns its token from the URL fragment
(``/b/{bin}#token=...``), which browsers never send to a server, and sends it in an
``Authorization`` header (fetch) or a WebSocket subprotocol offer (the stream). Every response
here carries ``SECURITY_HEADERS``: a strict Content-Security-Policy (no inline code, nothing
from elsewhere, no framing), ``nosniff`` and no referrer.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from quart import Blueprint, Response, request

from .._contract import ErrorCode
from .._ids import is_bin_id
from ._http import ApiProblem

__all__ = ["CSP", "SECURITY_HEADERS", "pages"]

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",  # same-host ws: and wss: count as 'self' (CSP Level 3)
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_TYPES = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}

pages = Blueprint("pages", __name__)


@cache
def _files() -> dict[str, tuple[bytes, str, str]]:
    """Every shipped file by name: ``(content, content type, etag)``, read once."""
    found = {}
    for entry in resources.files(__package__).joinpath("_web").iterdir():
        kind = _TYPES.get(entry.name.rpartition(".")[2])
        if entry.is_file() and kind is not None:
            content = entry.read_bytes()
            etag = '"' + hashlib.sha256(content).hexdigest()[:20] + '"'
            found[entry.name] = (content, kind, etag)
    return found


def _serve(name: str) -> Response:
    found = _files().get(name)
    if found is None:
        raise ApiProblem(404, ErrorCode.NOT_FOUND, f"no file {name!r} here")
    content, kind, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("If-None-Match", ""):
        return Response(b"", status=304, headers=headers)
    return Response(content, content_type=kind, headers=headers)


@pages.after_app_request
async def _secure(response: Response) -> Response:
    """The headers go on every page and asset answer, errors included."""
    if request.path == "/" or request.path.startswith(("/b/", "/assets/")):
        response.headers.update(SECURITY_HEADERS)
    return response


@pages.get("/")
async def home() -> Response:
    return _serve("index.html")


@pages.get("/b/<bin_id>")
async def bin_page(bin_id: str) -> Response:
    if not is_bin_id(bin_id):
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, "no such bin (not a bin id)")
    return _serve("bin.html")


@pages.get("/assets/<name>")
async def asset(name: str) -> Response:
    if name.endswith(".html"):  # pages have their own URLs
        raise ApiProblem(404, ErrorCode.NOT_FOUND, f"no file {name!r} here")
    return _serve(name)
