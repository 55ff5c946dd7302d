"""The JSON API: bins and their stored requests, served as raw ASGI.

Every webhook test makes three calls here (create a bin, read its requests, delete it), and
the SDK, the CLI, the live table and the web page read through it; like capture it runs in
front of Quart (``_asgi.py``), on the toolkit in ``_http.py``: no request context, no routing
table, no response object. A path it does not know goes on to Quart (``/api/openapi.json``,
the SSE and smee streams, 404 for the rest).

    GET|POST      /api/bins
    GET|PATCH|DELETE  /api/bins/{bin}
    GET|DELETE    /api/bins/{bin}/requests
    GET           /api/bins/{bin}/requests/{request}

HEAD answers as GET without the body; OPTIONS names the methods; any other method is 405.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
from ._http import BODY_TIMEOUT, JSON, ApiProblem, base_url, read_body, send_problem, send_reply
from ._state import AppState

__all__ = ["api_route", "remove_bin", "rename_bin", "serve_api"]

log = logging.getLogger("hookscope.server")

_PATH = re.compile(r"^/api/bins(?:/([^/]+)(?:/(requests)(?:/([^/]+))?)?)?\Z")

Reply = tuple[int, bytes]  # status and JSON body (empty for 204)


@dataclass(slots=True)
class _Call:
    """One API request: what the handlers read."""

    state: AppState
    scope: dict[str, Any]
    receive: Any
    bin_id: str = ""
    request_id: str = ""
    args: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.args = query_args(self.scope)

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return self.scope["headers"]  # type: ignore[no-any-return]

    async def bin(self) -> BinRecord:
        """The bin of this request, if it shows the bin's token (404, 401, 403 otherwise)."""
        return await open_bin(self.state.store, self.bin_id, self.headers, self.args)

    async def body(self) -> dict[str, Any]:
        """The JSON object sent; 415 for any other declared type, even with an empty body: a
        browser form (``text/plain``, ``multipart/form-data``...) cannot send JSON cross-site."""
        declared = _mimetype(self.headers)
        if declared and declared != "application/json" and not declared.endswith("+json"):
            raise ApiProblem(
                415,
                ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                f"send JSON (Content-Type: application/json), not {declared}",
            )
        limit = self.state.settings.max_body
        hold = self.state.bodies.hold()  # until it is parsed
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                raw = await read_body(self.receive, limit, hold=hold)
            if raw is None:
                message = f"body over the limit of {limit} bytes"
                raise ApiProblem(413, ErrorCode.TOO_LARGE, message)
            return valid.body_object(raw)
        except TimeoutError:
            message = f"the body took over {BODY_TIMEOUT:g} s"
            raise ApiProblem(408, ErrorCode.BODY_TIMEOUT, message) from None
        finally:
            hold.release()

    def describe(self, record: BinRecord, *, with_token: bool = True) -> dict[str, Any]:
        """A bin as the API shows it."""
        data: dict[str, Any] = {
            "id": record.id,
            "name": record.name,
            "url": capture_url(base_url(self.state.settings, self.scope), record.id),
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

    def int_arg(
        self, name: str, code: ErrorCode, default: int | None, low: int, high: int
    ) -> int | None:
        raw = self.args.get(name)
        if raw is None:
            return default
        value = valid.bounded_int(raw, low, high)
        if value is None:
            raise ApiProblem(400, code, f"{name} must be an integer from {low} to {high}")
        return value


def _mimetype(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"content-type":
            return value.decode("latin-1").partition(";")[0].strip().lower()
    return ""


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


def _unknown(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ApiProblem(
            400, ErrorCode.UNKNOWN_FIELD, f"{what}: unknown field(s) {', '.join(sorted(unknown))}"
        )


# -- /api/bins ---------------------------------------------------------------------------------


async def create_bin(call: _Call) -> Reply:
    settings = call.state.settings
    check_api_key(settings.api_key, call.headers)
    data = await call.body()
    _unknown(data, {"name", "response", "max_requests", "ttl_s", "secrets"}, "a new bin takes")
    max_requests = valid.limit(data, "max_requests", settings.max_requests, integer=True)
    ttl_s = valid.limit(data, "ttl_s", settings.ttl, integer=False)
    response = data.get("response")
    sender = call.state.proxies.client(call.scope)
    record = await make_bin(
        call.state,
        name=valid.name(data),
        max_requests=max_requests,
        ttl_s=ttl_s,
        response=ResponseSpec() if response is None else valid.response_spec(response, settings),
        secrets={
            scheme: secret
            for scheme, secret in valid.secrets(data.get("secrets") or {}, removals=False).items()
            if secret is not None
        },
        client=address_key(sender) if sender and settings.ip_rate_limit else None,
    )
    return 201, _json(call.describe(record))


async def make_bin(
    state: AppState,
    *,
    name: str | None,
    max_requests: float | None = None,
    ttl_s: float | None = None,
    response: ResponseSpec | None = None,
    secrets: dict[str, str] | None = None,
    client: str | None = None,
) -> BinRecord:
    """What ``POST /api/bins`` does once the caller showed the API key and its fields were
    checked: a new bin, stored (``client``: the address its rate counts against). The pytest
    plugin, once it has made a bin through the API, makes the bins it keeps ahead with it
    in-process (``name`` checked as the API checks it)."""
    settings = state.settings
    record = BinRecord(
        id=new_bin_id(),
        token=new_token(),
        created_at=BinRecord.now(),
        max_requests=int(max_requests or settings.max_requests),
        ttl_s=float(ttl_s or settings.ttl),
        name=valid.name({"name": name}),
        response=response or ResponseSpec(),
        secrets=secrets or {},
    )
    await state.store.create_bin(record, client=client)
    state.secrets.put(record.id, record.secrets)
    return record


async def list_bins(call: _Call) -> Reply:
    """The newest bins, with their tokens: as guarded as creating bins, and never open to
    the network (a loopback bind behind ``--public-url`` is reachable through the proxy)."""
    settings = call.state.settings
    if not settings.api_key and (not settings.loopback or settings.public_url):
        raise ApiProblem(
            403,
            ErrorCode.BIN_LIST_CLOSED,
            "listing bins shows their tokens; on a server reachable from the network it "
            "needs --api-key (then send 'Authorization: Bearer <api key>')",
        )
    check_api_key(settings.api_key, call.headers)
    limit = call.int_arg("limit", ErrorCode.INVALID_LIMIT, DEFAULT_BIN_LIST, 1, MAX_BIN_LIST)
    assert limit is not None
    listed = []
    for summary in await call.state.store.list_bins(limit=limit):
        last = summary.last_request_id
        listed.append(
            {
                **call.describe(summary.record),
                "requests": summary.requests,
                "last_request_at": None if last is None else _time_of(last),
            }
        )
    return 200, _json({"bins": listed})


def _time_of(request_id: str) -> str:
    """When a request was stored, from its id (``<ms>-<seq>``)."""
    return format_timestamp(datetime.fromtimestamp(id_key(request_id)[0] / 1000, UTC))


# -- /api/bins/{bin} ---------------------------------------------------------------------------


async def read_bin(call: _Call) -> Reply:
    return 200, _json(call.describe(await call.bin()))


async def update_bin(call: _Call) -> Reply:
    await call.bin()
    data = await call.body()
    _unknown(data, {"name", "response", "secrets"}, "only name, response and secrets can change")
    response = data.get("response")
    secrets = data.get("secrets")
    state = call.state
    record = await state.store.update_bin(
        call.bin_id,
        name=valid.name(data),
        response=None if response is None else valid.response_spec(response, state.settings),
        secrets=None if secrets is None else valid.secrets(secrets, removals=True),
    )
    if record is None:
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {call.bin_id!r}")
    state.secrets.put(call.bin_id, record.secrets)
    return 200, _json(call.describe(record))


async def delete_bin(call: _Call) -> Reply:
    await call.bin()
    await remove_bin(call.state, call.bin_id)
    return 204, b""


async def remove_bin(state: AppState, bin_id: str) -> None:
    """What ``DELETE /api/bins/{bin}`` does once the caller showed the bin's token: the bin
    and its history go, and its signing secrets with them. (The pytest plugin, which holds
    the tokens of the bins it made, calls it in-process.)"""
    await state.store.delete_bin(bin_id)
    state.secrets.forget(bin_id)


async def rename_bin(state: AppState, bin_id: str, name: str) -> None:
    """What ``PATCH /api/bins/{bin}`` with ``{"name": ...}`` does once the caller showed the
    bin's token (``name`` checked as there; a bin gone meanwhile is left gone)."""
    await state.store.update_bin(bin_id, name=valid.name({"name": name}))


# -- /api/bins/{bin}/requests[/{request}] ------------------------------------------------------


def _page(stored: list[Stored], next_id: str | None) -> bytes:
    texts = ",".join(text for _, text in stored)
    return ('{"requests":[' + texts + '],"next":' + json.dumps(next_id) + "}").encode()


async def list_requests(call: _Call) -> Reply:
    await call.bin()
    store = call.state.store
    budget = call.state.settings.page_bytes
    tail = call.int_arg("tail", ErrorCode.INVALID_TAIL, None, 0, MAX_TAIL)
    after = call.args.get("after")
    if after is not None and not is_request_id(after):
        raise ApiProblem(
            400, ErrorCode.INVALID_AFTER, "after must be a request id like 1764366000123-0"
        )
    if tail is not None:
        if after is not None or "limit" in call.args:
            raise ApiProblem(
                400, ErrorCode.INVALID_QUERY, "tail does not combine with after or limit"
            )
        newest = await store.tail(call.bin_id, tail, max_bytes=budget)
        if newest is None:
            raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {call.bin_id!r}")
        return 200, _page(newest, None)
    limit = call.int_arg("limit", ErrorCode.INVALID_LIMIT, DEFAULT_PAGE, 1, MAX_PAGE)
    assert limit is not None
    page = await store.read(call.bin_id, after=after, limit=limit + 1, max_bytes=budget)
    if page is None:
        raise ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {call.bin_id!r}")
    has_more = len(page) > limit or page.cut
    stored = page[:limit]
    return 200, _page(stored, stored[-1][0] if has_more else None)


async def clear_requests(call: _Call) -> Reply:
    await call.bin()
    await call.state.store.clear(call.bin_id)
    return 204, b""


async def get_request(call: _Call) -> Reply:
    await call.bin()
    request_id = call.request_id
    if not is_request_id(request_id):
        raise ApiProblem(404, ErrorCode.REQUEST_NOT_FOUND, f"{request_id!r} is not a request id")
    text = await call.state.store.get_request(call.bin_id, request_id)
    if text is None:
        raise ApiProblem(404, ErrorCode.REQUEST_NOT_FOUND, f"no request {request_id} in this bin")
    return 200, text.encode()


# -- routing -----------------------------------------------------------------------------------

Handler = Callable[[_Call], Awaitable[Reply]]
Methods = Mapping[str, Handler]

_BINS: Methods = {"GET": list_bins, "POST": create_bin}
_BIN: Methods = {"GET": read_bin, "PATCH": update_bin, "DELETE": delete_bin}
_REQUESTS: Methods = {"GET": list_requests, "DELETE": clear_requests}
_REQUEST: Methods = {"GET": get_request}


def api_route(path: str) -> tuple[Methods, str, str] | None:
    """The methods of an API path, with the bin and request ids in it; None: not an API path."""
    match = _PATH.match(path)
    if match is None:
        return None
    bin_id, requests, request_id = match.groups()
    if bin_id is None:
        return _BINS, "", ""
    if requests is None:
        return _BIN, bin_id, ""
    if request_id is None:
        return _REQUESTS, bin_id, ""
    return _REQUEST, bin_id, request_id


def _allow(methods: Methods) -> bytes:
    offered = [*methods, "HEAD", "OPTIONS"] if "GET" in methods else [*methods, "OPTIONS"]
    return ", ".join(sorted(offered)).encode()


async def serve_api(
    state: AppState,
    scope: dict[str, Any],
    receive: Any,
    send: Any,
    route: tuple[Methods, str, str],
) -> None:
    """Answer an API request (``route`` from ``api_route``)."""
    methods, bin_id, request_id = route
    method: str = scope["method"]
    head = method == "HEAD"
    handler = methods.get("GET" if head else method)
    if handler is None:
        allow = (b"allow", _allow(methods))
        if method == "OPTIONS":
            await send_reply(send, 204, [allow], b"")
            return
        not_allowed = ApiProblem(
            405, ErrorCode.METHOD_NOT_ALLOWED, f"{method} is not allowed on {scope['path']}"
        )
        await send_problem(send, not_allowed, extra=[allow])
        return
    try:
        status, body = await handler(_Call(state, scope, receive, bin_id, request_id))
    except ConnectionResetError:
        return  # the client hung up mid-body: nobody to answer
    except Exception as error:
        problem = state.api_problem(error)
        if problem is None:  # a bug: said in the log, answered in JSON as every error is
            log.exception("%s %s failed", method, scope["path"])
            problem = ApiProblem(500, "internal_server_error", "the server failed; see its log")
        await send_problem(send, problem, head=head)
        return
    await send_reply(send, status, [JSON], body, head=head)
