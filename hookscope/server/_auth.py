"""Access checks, one path for every endpoint: bin tokens for reads, the API key for creation.

They work on what every request has — its raw ASGI headers and query string — so that the
Quart routes (``request.scope``) and the raw ASGI stream endpoint use the same functions.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from .._contract import WS_TOKEN_PREFIX, ErrorCode
from .._ids import is_bin_id
from ..backends import BinRecord, Bins
from ._http import ApiProblem

__all__ = ["check_api_key", "open_bin", "query_args"]

RawHeaders = Iterable[tuple[bytes, bytes]]


def query_args(scope: Mapping[str, Any]) -> dict[str, str]:
    """The query string of an ASGI scope, decoded (first value of each name wins)."""
    raw: bytes = scope.get("query_string", b"")
    args: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        args.setdefault(name, value)
    return args


def _bearer(headers: RawHeaders) -> str | None:
    """The credentials of ``Authorization: Bearer ...``, if that is what the request sends."""
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            return None
    return None


def _offered_token(headers: RawHeaders) -> str | None:
    """The token offered as a WebSocket subprotocol ``hookscope.token.<token>``, if any."""
    for name, value in headers:
        if name == b"sec-websocket-protocol":
            for offered in value.decode("latin-1").split(","):
                offered = offered.strip()
                if offered.startswith(WS_TOKEN_PREFIX) and len(offered) > len(WS_TOKEN_PREFIX):
                    return offered[len(WS_TOKEN_PREFIX) :]
    return None


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


async def open_bin(
    bins: Bins, bin_id: str, headers: RawHeaders, args: Mapping[str, str]
) -> BinRecord:
    """The bin, if the request shows its token: ``Authorization: Bearer``, ``?token=`` or,
    on a WebSocket handshake from a browser, the subprotocol ``hookscope.token.<token>``.

    404 for no such bin, 401 without a token, 403 with a wrong one (constant-time compare).
    """
    if not is_bin_id(bin_id):
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, "no such bin (not a bin id)")
    record = await bins.get_bin(bin_id)
    if record is None:
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {bin_id!r} (deleted or expired?)")
    presented = _bearer(headers) or args.get("token") or _offered_token(headers)
    if presented is None:
        raise ApiProblem(
            401,
            ErrorCode.TOKEN_REQUIRED,
            "reading a bin needs its token: 'Authorization: Bearer <token>' or ?token= "
            f"(WebSocket: or the subprotocol {WS_TOKEN_PREFIX}<token>)",
        )
    if not _same(presented, record.token):
        raise ApiProblem(403, ErrorCode.TOKEN_INVALID, "that token does not open this bin")
    return record


def check_api_key(expected: str | None, headers: RawHeaders) -> None:
    """With ``--api-key`` set, creating bins needs ``Authorization: Bearer <key>``."""
    if not expected:
        return
    presented = _bearer(headers)
    if presented is None:
        raise ApiProblem(
            401, ErrorCode.API_KEY_REQUIRED, "this server needs 'Authorization: Bearer <api key>'"
        )
    if not _same(presented, expected):
        raise ApiProblem(403, ErrorCode.API_KEY_INVALID, "wrong API key")
