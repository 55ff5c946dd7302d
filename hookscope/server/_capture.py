"""Capture: ``ANY /h/{bin}`` and ``ANY /h/{bin}/{path...}``, served as raw ASGI.

Capture is the hot path, so it runs in front of Quart (see ``_asgi.py``): no request
context, no routing, no response object — measured at about 0.7x Quart's CPU per request.
Everything it stores comes from the ASGI scope: the raw path, header order and duplicates.
Nothing is answered 2xx unless the backend stored it. Rate limits are the store's (one
atomic step with the write); a refusal this process already knows of is answered before any
work, the body read and dropped.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from .._contract import REQUEST_ID_HEADER, ErrorCode, capture_url, split_capture_path
from .._ids import is_bin_id
from .._wire import encode_capture
from ..backends import QueueFull, ResponseSpec
from ..backends._rates import address_key
from ._http import (
    BODY_TIMEOUT,
    JSON,
    ApiProblem,
    Hold,
    base_url,
    limit_problem,
    read_body,
    send_problem,
    send_reply,
)
from ._signing import verdict
from ._state import AppState

__all__ = ["capture"]

_TEXT = (b"content-type", b"text/plain; charset=utf-8")
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()


def _declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def capture(state: AppState, scope: dict[str, Any], receive: Any, send: Any) -> None:
    hold = state.bodies.hold()  # the body's share of the process's budget, until stored
    try:
        await _capture(state, scope, receive, send, hold)
    finally:
        hold.release()


async def _capture(
    state: AppState, scope: dict[str, Any], receive: Any, send: Any, hold: Hold
) -> None:
    metrics = state.metrics
    received_at = datetime.now(UTC)
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    bin_id, sub_path = split_capture_path(raw_path)
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    limit = state.settings.max_body
    remote_addr = state.proxies.client(scope)
    rate_key = address_key(remote_addr) if state.settings.ip_rate_limit else None
    refused = state.store.denied(bin_id, rate_key) if is_bin_id(bin_id) else None

    declared = _declared_length(headers)
    keep = refused is None and is_bin_id(bin_id)  # else read to the end and dropped
    body: bytes | None = None
    if declared is None or declared <= limit:
        try:
            if keep and declared is not None:
                hold.check(declared)  # what cannot fit is refused before it is sent
            async with asyncio.timeout(BODY_TIMEOUT):
                # Held as it arrives, whatever the head declared (a sender holds what it sent).
                body = await read_body(receive, limit, keep=keep, hold=hold if keep else None)
        except QueueFull as full:
            metrics.rejects.labels(full.code).inc()
            await send_problem(send, limit_problem(full))
            return
        except TimeoutError:
            metrics.rejects.labels("body_timeout").inc()
            message = f"the body took over {BODY_TIMEOUT:g} s"
            await send_problem(send, ApiProblem(408, ErrorCode.BODY_TIMEOUT, message))
            return
        except ConnectionResetError:
            return  # nobody to answer; nothing stored
    if body is None:
        metrics.rejects.labels("too_large").inc()
        message = f"body over the limit of {limit} bytes"
        await send_problem(send, ApiProblem(413, ErrorCode.TOO_LARGE, message))
        return
    if not is_bin_id(bin_id):
        metrics.rejects.labels("unknown_bin").inc()
        await send_problem(send, ApiProblem(404, ErrorCode.BIN_NOT_FOUND, "no such bin"))
        return
    if refused is not None:
        metrics.rejects.labels(refused.code).inc()
        await send_problem(send, limit_problem(refused))
        return

    method: str = scope["method"]
    query = scope["query_string"].decode("latin-1")
    text_headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
    try:
        secrets = await state.secrets.get(bin_id)
        signature = None
        if secrets:
            signature = verdict(
                secrets,
                bin_id=bin_id,
                received_at=received_at,
                method=method,
                path=sub_path,
                query=query,
                headers=text_headers,
                body=body,
                url=capture_url(base_url(state.settings, scope), bin_id),
            )
        payload = encode_capture(
            bin_id=bin_id,
            received_at=received_at,
            method=method,
            path=sub_path,
            query=query,
            headers=text_headers,
            body=body,
            remote_addr=remote_addr,
            http_version=scope.get("http_version", "1.1"),
            signature=signature,
        )
        stored = await state.store.append(bin_id, payload, client=rate_key)
    except Exception as error:
        problem = state.problem(error)
        if problem is None:
            raise
        reason = "unavailable" if problem.code == ErrorCode.UNAVAILABLE else problem.code
        metrics.rejects.labels(reason).inc()
        await send_problem(send, problem)
        return
    if stored is None:
        metrics.rejects.labels("unknown_bin").inc()
        await send_problem(send, ApiProblem(404, ErrorCode.BIN_NOT_FOUND, f"no bin {bin_id!r}"))
        return
    metrics.captures.inc()
    metrics.capture_bytes.inc(len(body))
    del body, payload  # stored: what a response delay holds is not the body
    hold.release()

    spec = stored.response
    if spec.delay_ms:
        await asyncio.sleep(spec.delay_ms / 1000)
    status, reply_headers, reply_body = _response(spec, stored.id)
    await send_reply(send, status, reply_headers, reply_body)


def _response(spec: ResponseSpec, request_id: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    if spec.body is None:
        body = b'{"ok": true, "id": "' + request_id.encode() + b'"}'
        default_type = JSON
    else:
        body = spec.body.encode("utf-8")
        default_type = _TEXT
    headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in spec.headers.items()]
    if not any(name == b"content-type" for name, _ in headers):
        headers.append(default_type)
    headers.append((_REQUEST_ID, request_id.encode()))
    return spec.status, headers, body
