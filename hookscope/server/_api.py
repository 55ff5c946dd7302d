"""The JSON API: bins and their stored requests."""

from __future__ import annotations

import json
from typing import Any

from quart import Blueprint, Response, request

from .._ids import is_request_id, new_bin_id, new_token
from .._wire import format_timestamp
from ..backends._base import BinRecord, ResponseSpec, Stored
from ._auth import require_api_key, require_bin
from ._errors import ApiProblem
from ._state import state

__all__ = ["api"]

api = Blueprint("api", __name__, url_prefix="/api")

MAX_PAGE = 1000
DEFAULT_PAGE = 100


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def capture_url(bin_id: str) -> str:
    public = state().settings.public_url
    base = public.rstrip("/") if public else request.host_url.rstrip("/")
    return f"{base}/h/{bin_id}"


def describe(record: BinRecord, *, with_token: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "url": capture_url(record.id),
        "created_at": format_timestamp(record.created_at),
        "response": record.response.to_dict(),
        "max_requests": record.max_requests,
        "ttl_s": record.ttl_s,
    }
    if with_token:
        data["token"] = record.token
    return data


async def _body_object() -> dict[str, Any]:
    raw = await request.get_data()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ApiProblem(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_json", "the request body must be a JSON object")
    return data


def _response_spec(data: dict[str, Any]) -> ResponseSpec | None:
    if data.get("response") is None:
        return None
    try:
        return ResponseSpec.from_dict(data["response"])
    except ValueError as error:
        raise ApiProblem(400, "invalid_response", str(error)) from None


def _name(data: dict[str, Any]) -> str | None:
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > 200):
        raise ApiProblem(400, "invalid_name", "name must be a string of at most 200 characters")
    return name


def _positive_number(data: dict[str, Any], key: str, ceiling: float) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= ceiling:
        raise ApiProblem(400, f"invalid_{key}", f"{key} must be a number from 1 to {ceiling:g}")
    return float(value)


@api.post("/bins")
async def create_bin() -> Response:
    require_api_key()
    data = await _body_object()
    unknown = set(data) - {"name", "response", "max_requests", "ttl_s"}
    if unknown:
        raise ApiProblem(400, "unknown_field", f"unknown field(s): {', '.join(sorted(unknown))}")
    settings = state().settings
    max_requests = _positive_number(data, "max_requests", settings.max_requests)
    ttl_s = _positive_number(data, "ttl_s", settings.ttl)
    record = BinRecord(
        id=new_bin_id(),
        token=new_token(),
        created_at=BinRecord.now(),
        max_requests=int(max_requests or settings.max_requests),
        ttl_s=float(ttl_s or settings.ttl),
        name=_name(data),
        response=_response_spec(data) or ResponseSpec(),
    )
    await state().backend.create_bin(record)
    return _json(describe(record), 201)


@api.get("/bins/<bin_id>")
async def read_bin(bin_id: str) -> Response:
    record = await require_bin(bin_id)
    return _json(describe(record))


@api.patch("/bins/<bin_id>")
async def update_bin(bin_id: str) -> Response:
    await require_bin(bin_id)
    data = await _body_object()
    unknown = set(data) - {"name", "response"}
    if unknown:
        raise ApiProblem(
            400, "unknown_field", f"only name and response can change, not {sorted(unknown)}"
        )
    record = await state().backend.update_bin(
        bin_id, name=_name(data), response=_response_spec(data)
    )
    if record is None:
        raise ApiProblem(404, "bin_not_found", f"no bin {bin_id!r}")
    return _json(describe(record))


@api.delete("/bins/<bin_id>")
async def delete_bin(bin_id: str) -> Response:
    await require_bin(bin_id)
    await state().backend.delete_bin(bin_id)
    return Response(status=204)


def _page(stored: list[Stored], next_id: str | None) -> Response:
    texts = ",".join(text for _, text in stored)
    next_json = json.dumps(next_id)
    return Response(
        '{"requests":[' + texts + '],"next":' + next_json + "}",
        content_type="application/json",
    )


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiProblem(400, f"invalid_{name}", f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiProblem(400, f"invalid_{name}", f"{name} must be from {low} to {high}")
    return value


def request_id_arg(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None and not is_request_id(value):
        raise ApiProblem(
            400, f"invalid_{name}", f"{name} must be a request id like 1764366000123-0"
        )
    return value


@api.get("/bins/<bin_id>/requests")
async def list_requests(bin_id: str) -> Response:
    await require_bin(bin_id)
    backend = state().backend
    tail = _int_arg("tail", None, 0, MAX_PAGE)
    after = request_id_arg("after")
    if tail is not None:
        if after is not None or "limit" in request.args:
            raise ApiProblem(400, "invalid_query", "tail does not combine with after or limit")
        stored = await backend.tail(bin_id, tail)
        if stored is None:
            raise ApiProblem(404, "bin_not_found", f"no bin {bin_id!r}")
        return _page(stored, None)
    limit = _int_arg("limit", DEFAULT_PAGE, 1, MAX_PAGE)
    assert limit is not None
    stored = await backend.read(bin_id, after=after, limit=limit + 1)
    if stored is None:
        raise ApiProblem(404, "bin_not_found", f"no bin {bin_id!r}")
    has_more = len(stored) > limit
    stored = stored[:limit]
    return _page(stored, stored[-1][0] if has_more else None)


@api.get("/bins/<bin_id>/requests/<request_id>")
async def get_request(bin_id: str, request_id: str) -> Response:
    await require_bin(bin_id)
    if not is_request_id(request_id):
        raise ApiProblem(404, "request_not_found", f"{request_id!r} is not a request id")
    text = await state().backend.get_request(bin_id, request_id)
    if text is None:
        raise ApiProblem(404, "request_not_found", f"no request {request_id} in this bin")
    return Response(text, content_type="application/json")


@api.delete("/bins/<bin_id>/requests")
async def clear_requests(bin_id: str) -> Response:
    await require_bin(bin_id)
    await state().backend.clear(bin_id)
    return Response(status=204)
