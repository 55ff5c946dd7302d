"""Access checks: bin tokens for reads, the optional API key for creating bins."""

from __future__ import annotations

import hmac

from quart import request, websocket

from ..backends._base import BackendUnavailable, BinRecord
from ._errors import ApiProblem
from ._state import state

__all__ = ["load_bin", "require_api_key", "require_bin"]


def _presented_token(from_websocket: bool = False) -> str | None:
    source = websocket if from_websocket else request
    header = source.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    token = source.args.get("token")
    return token or None


def _matches(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode(), expected.encode())


async def load_bin(bin_id: str) -> BinRecord:
    """The bin, or 404; 503 when the backend is down."""
    try:
        record = await state().backend.get_bin(bin_id)
    except BackendUnavailable:
        state().metrics.backend_errors.inc()
        raise ApiProblem(503, "unavailable", "storage is unavailable; try again") from None
    if record is None:
        raise ApiProblem(404, "bin_not_found", f"no bin {bin_id!r} (deleted or expired?)")
    return record


async def require_bin(bin_id: str, *, from_websocket: bool = False) -> BinRecord:
    """The bin, if the caller shows its token: 401 without one, 403 with a wrong one."""
    record = await load_bin(bin_id)
    presented = _presented_token(from_websocket)
    if presented is None:
        raise ApiProblem(
            401,
            "token_required",
            "reading a bin needs its token: 'Authorization: Bearer <token>' or ?token=",
        )
    if not _matches(presented, record.token):
        raise ApiProblem(403, "token_invalid", "that token does not open this bin")
    return record


def require_api_key() -> None:
    """With ``--api-key`` set, creating bins needs ``Authorization: Bearer <key>``."""
    expected = state().settings.api_key
    if not expected:
        return
    presented = _presented_token()
    if presented is None:
        raise ApiProblem(
            401, "api_key_required", "this server needs 'Authorization: Bearer <api key>'"
        )
    if not _matches(presented, expected):
        raise ApiProblem(403, "api_key_invalid", "wrong API key")
