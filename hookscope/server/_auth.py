"""Access checks: bin tokens for reads, the optional API key for creating bins.

The checks work on what every request has — its headers and query string — so that the
Quart routes and the raw ASGI stream endpoint share them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from urllib.parse import parse_qsl

from quart import request

from ..backends._base import Backend, BinRecord
from ._errors import ApiProblem
from ._state import state

__all__ = [
    "check_token",
    "fetch_bin",
    "load_bin",
    "query_args",
    "require_api_key",
    "require_bin",
    "scope_token",
]


def _bearer(header: str) -> str | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def query_args(scope: Mapping[str, object]) -> dict[str, str]:
    """The query string of an ASGI scope, decoded (first value of each name wins)."""
    raw = scope.get("query_string", b"")
    assert isinstance(raw, bytes)
    args: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        args.setdefault(name, value)
    return args


def scope_token(headers: list[tuple[bytes, bytes]], args: Mapping[str, str]) -> str | None:
    """The token a request presents: ``Authorization: Bearer`` first, then ``?token=``."""
    for name, value in headers:
        if name == b"authorization":
            token = _bearer(value.decode("latin-1"))
            if token:
                return token
            break
    return args.get("token") or None


def check_token(record: BinRecord, presented: str | None) -> None:
    """401 without a token, 403 with a wrong one (compared in constant time)."""
    if presented is None:
        raise ApiProblem(
            401,
            "token_required",
            "reading a bin needs its token: 'Authorization: Bearer <token>' or ?token=",
        )
    if not hmac.compare_digest(presented.encode(), record.token.encode()):
        raise ApiProblem(403, "token_invalid", "that token does not open this bin")


async def fetch_bin(backend: Backend, bin_id: str) -> BinRecord:
    """The bin, or 404 (``BackendUnavailable`` when the backend is down)."""
    record = await backend.get_bin(bin_id)
    if record is None:
        raise ApiProblem(404, "bin_not_found", f"no bin {bin_id!r} (deleted or expired?)")
    return record


async def load_bin(bin_id: str) -> BinRecord:
    """The bin of the current Quart request, or 404."""
    return await fetch_bin(state().backend, bin_id)


def _request_token() -> str | None:
    return _bearer(request.headers.get("Authorization", "")) or request.args.get("token") or None


async def require_bin(bin_id: str) -> BinRecord:
    """The bin, if the current Quart request shows its token."""
    record = await load_bin(bin_id)
    check_token(record, _request_token())
    return record


def require_api_key() -> None:
    """With ``--api-key`` set, creating bins needs ``Authorization: Bearer <key>``."""
    expected = state().settings.api_key
    if not expected:
        return
    presented = _bearer(request.headers.get("Authorization", ""))
    if presented is None:
        raise ApiProblem(
            401, "api_key_required", "this server needs 'Authorization: Bearer <api key>'"
        )
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiProblem(403, "api_key_invalid", "wrong API key")
