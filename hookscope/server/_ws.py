"""The WebSocket stream: ``GET /api/bins/{bin}/ws?since=ID|tail=N``, served as raw ASGI.

Watchers are many and mostly idle, so each must be cheap: this endpoint runs in front of
Quart (see ``_asgi.py``) with one task and one small ``Watcher`` per connection, about a
quarter less memory than a Quart websocket handler. The order is ``_replay``'s: join the
hub, replay, ``live``, then live frames (batched when several queued up meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from .._contract import LIVE_FRAME, batch_frame, error_frame
from ..backends._base import BackendUnavailable
from ._auth import check_token, fetch_bin, query_args, scope_token
from ._errors import ApiProblem, error_body
from ._hub import CloseCode, Watcher, WatcherClosed
from ._replay import ERROR_CODES, History, Mark, chunks, replay_args
from ._state import AppState

__all__ = ["watch"]


async def _refuse(scope: dict[str, Any], send: Any, problem: ApiProblem) -> None:
    """Answer the handshake with an HTTP error (or a policy close where that is impossible)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008, "reason": problem.message[:120]})
        return
    body = error_body(problem.code, problem.message)
    await send(
        {
            "type": "websocket.http.response.start",
            "status": problem.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


async def _until_disconnect(receive: Any, watcher: Watcher) -> None:
    """Read (and drop) client messages; when the client goes, end the stream."""
    while (await receive())["type"] != "websocket.disconnect":
        pass
    watcher.close(CloseCode.NORMAL, "client left")


async def watch(
    state: AppState, scope: dict[str, Any], receive: Any, send: Any, bin_id: str
) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    args = query_args(scope)
    try:
        record = await fetch_bin(state.backend, bin_id)
        check_token(record, scope_token(scope["headers"], args))
        since, tail = replay_args(args)
        watcher = await state.hub.join(bin_id)
    except ApiProblem as problem:
        await _refuse(scope, send, problem)
        return
    except BackendUnavailable:
        state.metrics.backend_errors.inc()
        await _refuse(scope, send, ApiProblem(503, "unavailable", "storage is unavailable"))
        return

    gauge = state.metrics.watchers.labels("ws")
    gauge.inc()
    watcher.owner = asyncio.current_task()
    listener = asyncio.ensure_future(_until_disconnect(receive, watcher))
    try:
        await send({"type": "websocket.accept"})
        await _stream(state, send, watcher, bin_id, since, tail)
    except WatcherClosed as closed:
        if closed.code != CloseCode.NORMAL or not listener.done():
            code = ERROR_CODES[closed.code]
            await send({"type": "websocket.send", "text": error_frame(code, closed.reason)})
            await send(
                {"type": "websocket.close", "code": int(closed.code), "reason": closed.reason[:120]}
            )
    finally:
        watcher.finished = True
        gauge.dec()
        listener.cancel()
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await listener
        finally:
            await state.hub.leave(watcher)


async def _stream(
    state: AppState,
    send: Any,
    watcher: Watcher,
    bin_id: str,
    since: str | None,
    tail: int | None,
) -> None:
    async for chunk in chunks(state, watcher, bin_id, since, tail):
        if chunk is Mark.LIVE:
            text = LIVE_FRAME
        elif isinstance(chunk, History):
            text = batch_frame(text for _, text in chunk.page)
        elif isinstance(chunk, Mark):
            continue  # IDLE: never asked for here (hypercorn pings idle sockets)
        elif len(chunk) == 1:
            text = chunk[0].ws_frame
        else:
            text = batch_frame(item.text for item in chunk)
        await send({"type": "websocket.send", "text": text})
