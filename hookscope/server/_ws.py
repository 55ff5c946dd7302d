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

from .._contract import (
    CLOSE_ERRORS,
    LIVE_FRAME,
    MAX_FRAME_HEADER,
    WS_SUBPROTOCOL,
    CloseCode,
    batch_frame,
    error_frame,
)
from ._auth import open_bin, query_args
from ._direct import DirectWriter, direct_writer
from ._http import refuse
from ._hub import Watcher, WatcherClosed
from ._limits import max_frame
from ._replay import History, Mark, chunks, replay_args
from ._state import AppState

__all__ = ["watch"]


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
        await open_bin(state.store, bin_id, scope["headers"], args)
        since, tail = replay_args(args)
        watcher = await state.hub.join(bin_id)
    except Exception as error:
        problem = state.problem(error)
        if problem is None:
            raise
        if problem.status == 429:
            state.metrics.refusals.labels(problem.code).inc()
        await refuse(scope, send, problem)
        return

    gauge = state.metrics.watchers.labels("ws")
    gauge.inc()
    watcher.owner = asyncio.current_task()
    listener = asyncio.ensure_future(_until_disconnect(receive, watcher))
    try:
        frame_limit = str(max_frame(state.settings)).encode()
        accept: dict[str, Any] = {
            "type": "websocket.accept",
            "headers": [(MAX_FRAME_HEADER.lower().encode(), frame_limit)],
        }
        if WS_SUBPROTOCOL in scope.get("subprotocols", ()):
            accept["subprotocol"] = WS_SUBPROTOCOL  # never the token offer
        await send(accept)
        await _stream(
            state, send, watcher, since, tail, direct_writer(send, state.settings.page_bytes)
        )
    except WatcherClosed as closed:
        if closed.code != CloseCode.NORMAL or not listener.done():
            code = CLOSE_ERRORS[closed.code]
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
    since: str | None,
    tail: int | None,
    writer: DirectWriter | None,
) -> None:
    settings = state.settings
    async for chunk in chunks(
        state.store,
        watcher,
        since,
        tail,
        page_size=settings.replay_page,
        page_bytes=settings.page_bytes,
    ):
        if chunk is Mark.LIVE:
            text = LIVE_FRAME
        elif isinstance(chunk, History):
            text = batch_frame(text for _, text in chunk.page)
        elif isinstance(chunk, Mark):
            continue  # IDLE: never asked for here (hypercorn pings idle sockets)
        else:
            text = chunk.ws_frame  # built once, shared by the bin's watchers
        await send({"type": "websocket.send", "text": text})
        if chunk is Mark.LIVE:
            watcher.writer = writer  # live batches may now go straight to the socket
