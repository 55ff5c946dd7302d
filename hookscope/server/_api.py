"""The JSON API: bins and their stored requests (Quart routes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from quart import Blueprint, Response, request

from .._contract import (
    DEFAULT_BIN_LIST,
    DEFAULT_PAGE,
    MAX_BIN_LIST,
    MAX_PAGE,
    MAX_TAIL,
    ErrorCode,
    capture_url,
)
from .._ids import id_key, is_request_id, new_bin_id, new_token
from .._wire import format_timestamp
from ..backends import BinRecord, ResponseSpec, Stored
from ..backends._rates import address_key
from . import _validation as valid
from ._auth import check_api_key, open_bin, query_args
from ._http import ApiProblem
from ._openapi import openapi
from ._state import state

__all__ = ["api", "describe"]

api = Blueprint("api", __name__, url_prefix="/api")


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json")


def _base_url() -> str:
    public = state().settings.public_url
    return public.rstrip("/") if public else request.host_url.rstrip("/")


def describe(record: BinRecord, *, with_token: bool = True) -> dict[str, Any]:
    """A bin as the API shows it."""
    data: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "url": capture_url(_base_url(), record.id),
        "created_at": format_timestamp(record.created_at),
        "response": record.response.to_dict(),
        "max_requests": record.max_requests,
        "ttl_s": record.ttl_s,
        # The schemes the bin verifies, never the secrets (they are write-only).
        "signing": sorted(record.secrets),
    }
    if with_token:
        data["token"] = record.token
    return data


async def _authorized(bin_id: str) -> BinRecord:
    """The bin of this request, if it shows the bin's token."""
    return await open_bin(
        state().store, bin_id, request.scope["headers"], query_args(request.scope)
    )


async def _body() -> dict[str, Any]:
    """The JSON object sent; 415 for any other declared type, even with an empty body: a
    browser form (``text/plain``, ``multipart/form-data``...) cannot send JSON cross-site."""
    declared = request.mimetype
    if declared and declared != "application/json" and not declared.endswith("+json"):
        raise ApiProblem(
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"send JSON (Content-Type: application/json), not {declared}",
        )
    raw = await request.get_data(as_text=False)
    return valid.body_object(raw if isinstance(raw, bytes) else raw.encode())


def _unknown(data: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ApiProblem(
            400, ErrorCode.UNKNOWN_FIELD, f"{what}: unknown field(s) {', '.join(sorted(unknown))}"
        )


@api.get("/openapi.json")
async def openapi_document() -> Response:
    return _json(openapi())


@api.post("/bins")
async def create_bin() -> Response:
    app_state = state()
    check_api_key(app_state.settings.api_key, request.scope["headers"])
    data = await _body()
    _unknown(data, {"name", "response", "max_requests", "ttl_s", "secrets"}, "a new bin takes")
    settings = app_state.settings
    max_requests = valid.limit(data, "max_requests", settings.max_requests, integer=True)
    ttl_s = valid.limit(data, "ttl_s", settings.ttl, integer=False)
    response = data.get("response")
    record = BinRecord(
        id=new_bin_id(),
        token=new_token(),
        created_at=BinRecord.now(),
        max_requests=int(max_requests or settings.max_requests),
        ttl_s=float(ttl_s or settings.ttl),
        name=valid.name(data),
        response=ResponseSpec() if response is None else valid.response_spec(response, settings),
        secrets={
            scheme: secret
            for scheme, secret in valid.secrets(data.get("secrets") or {}, removals=False).items()
            if secret is not None
        },
    )
    sender = app_state.proxies.client(request.scope)
    address = address_key(sender) if sender and settings.ip_rate_limit else None
    await app_state.store.create_bin(record, client=address)
    app_state.secrets.put(record.id, record.secrets)
    return _json(describe(record), 201)


@api.get("/bins")
async def list_bins() -> Response:
    """The newest bins, with their tokens: as guarded as creating bins, and never open to
    the network (a loopback bind behind ``--public-url`` is reachable through the proxy)."""
    settings = state().settings
    if not settings.api_key and (not settings.loopback or settings.public_url):
        raise ApiProblem(
            403,
            ErrorCode.BIN_LIST_CLOSED,
            "listing bins shows their tokens; on a server reachable from the network it "
            "needs --api-key (then send 'Authorization: Bearer <api key>')",
        )
    check_api_key(settings.api_key, request.scope["headers"])
    limit = _int_arg("limit", ErrorCode.INVALID_LIMIT, DEFAULT_BIN_LIST, 1, MAX_BIN_LIST)
    assert limit is not None
    listed = []
    for summary in await state().store.list_bins(limit=limit):
        last = summary.last_request_id
        listed.append(
            {
                **describe(summary.record),
                "requests": summary.requests,
                "last_request_at": None if last is None else _time_of(last),
            }
        )
    return _json({"bins": listed})


def _time_of(request_id: str) -> str:
    """When a request was stored, from its id (``<ms>-<seq>``)."""
    return format_timestamp(datetime.fromtimestamp(id_key(request_id)[0] / 1000, UTC))


@api.get("/bins/<bin_id>")
async def read_bin(bin_id: str) -> Response:
    return _json(describe(await _authorized(bin_id)))


@api.patch("/bins/<bin_id>")
async def update_bin(bin_id: str) -> Response:
    await _authorized(bin_id)
    data = await _body()
    _unknown(data, {"name", "response", "secrets"}, "only name, response and secrets can change")
    response = data.get("response")
    secrets = data.get("secrets")
    app_state = state()
    record = await app_state.store.update_bin(
        bin_id,
        name=valid.name(data),
        response=None if response is None else valid.response_spec(response, app_state.settings),
        secrets=None if secrets is None else valid.secrets(secrets, removals=True),
    )
    if record is None:
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {bin_id!r}")
    app_state.secrets.put(bin_id, record.secrets)
    return _json(describe(record))


@api.delete("/bins/<bin_id>")
async def delete_bin(bin_id: str) -> Response:
    await _authorized(bin_id)
    await state().store.delete_bin(bin_id)
    state().secrets.forget(bin_id)
    return Response(status=204)


def _page(stored: list[Stored], next_id: str | None) -> Response:
    texts = ",".join(text for _, text in stored)
    return Response(
        '{"requests":[' + texts + '],"next":' + json.dumps(next_id) + "}",
        content_type="application/json",
    )


def _int_arg(name: str, code: ErrorCode, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = valid.bounded_int(raw, low, high)
    if value is None:
        raise ApiProblem(400, code, f"{name} must be an integer from {low} to {high}")
    return value


def _request_id_arg(name: str, code: ErrorCode) -> str | None:
    value = request.args.get(name)
    if value is not None and not is_request_id(value):
        raise ApiProblem(400, code, f"{name} must be a request id like 1764366000123-0")
    return value


@api.get("/bins/<bin_id>/requests")
async def list_requests(bin_id: str) -> Response:
    await _authorized(bin_id)
    store = state().store
    budget = state().settings.page_bytes
    tail = _int_arg("tail", ErrorCode.INVALID_TAIL, None, 0, MAX_TAIL)
    after = _request_id_arg("after", ErrorCode.INVALID_AFTER)
    if tail is not None:
        if after is not None or "limit" in request.args:
            raise ApiProblem(
                400, ErrorCode.INVALID_QUERY, "tail does not combine with after or limit"
            )
        newest = await store.tail(bin_id, tail, max_bytes=budget)
        if newest is None:
            raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {bin_id!r}")
        return _page(newest, None)
    limit = _int_arg("limit", ErrorCode.INVALID_LIMIT, DEFAULT_PAGE, 1, MAX_PAGE)
    assert limit is not None
    page = await store.read(bin_id, after=after, limit=limit + 1, max_bytes=budget)
    if page is None:
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {bin_id!r}")
    has_more = len(page) > limit or page.cut
    stored = page[:limit]
    return _page(stored, stored[-1][0] if has_more else None)


@api.get("/bins/<bin_id>/requests/<request_id>")
async def get_request(bin_id: str, request_id: str) -> Response:
    await _authorized(bin_id)
    if not is_request_id(request_id):
        raise ApiProblem(404, ErrorCode.REQUEST_NOT_FOUND, f"{request_id!r} is not a request id")
    text = await state().store.get_request(bin_id, request_id)
    if text is None:
        raise ApiProblem(404, ErrorCode.REQUEST_NOT_FOUND, f"no request {request_id} in this bin")
    return Response(text, content_type="application/json")


@api.delete("/bins/<bin_id>/requests")
async def clear_requests(bin_id: str) -> Response:
    await _authorized(bin_id)
    await state().store.clear(bin_id)
    return Response(status=204)
