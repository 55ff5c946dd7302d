"""Server-Sent Events: ``GET /api/bins/{bin}/events`` (a Quart route).

The same stream as the WebSocket (``_ws.py``), for browsers' ``EventSource`` and ``curl -N``:
``event: request`` with ``id:``, ``event: live`` once, ``: ping`` comments when idle,
``event: error`` before the end. Replays with ``since``, ``tail`` or ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from quart import Blueprint, Response, request

from .._contract import CLOSE_ERRORS, SSE_LIVE, SSE_PING, SSE_RETRY, sse_error, sse_requests
from ._auth import open_bin, query_args
from ._hub import Watcher, WatcherClosed
from ._replay import History, Mark, chunks, replay_args
from ._state import AppState, state

__all__ = ["event_stream", "sse"]

sse = Blueprint("sse", __name__, url_prefix="/api")


class _SseBody:
    """The SSE response body; closing it (always done by Quart) leaves the hub."""

    def __init__(
        self, app_state: AppState, watcher: Watcher, events: AsyncIterator[str], transport: str
    ) -> None:
        self._state = app_state
        self._watcher = watcher
        self._events = events
        self._closed = False
        self._gauge = app_state.metrics.watchers.labels(transport)
        self._gauge.inc()

    def __aiter__(self) -> _SseBody:
        return self

    async def __anext__(self) -> str:
        if self._watcher.owner is None:  # the task that sends the body, for abandon_later
            self._watcher.owner = asyncio.current_task()
        return await self._events.__anext__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._watcher.finished = True
        self._gauge.dec()
        try:
            await self._events.aclose()  # type: ignore[attr-defined]
        finally:
            await self._state.hub.leave(self._watcher)


async def _sse_events(
    app_state: AppState, watcher: Watcher, since: str | None, tail: int | None
) -> AsyncIterator[str]:
    settings = app_state.settings
    try:
        yield SSE_RETRY
        async for chunk in chunks(
            app_state.store,
            watcher,
            since,
            tail,
            page_size=settings.replay_page,
            page_bytes=settings.page_bytes,
            idle=settings.ping_interval,
        ):
            if chunk is Mark.LIVE:
                yield SSE_LIVE
            elif chunk is Mark.IDLE:
                yield SSE_PING
            elif isinstance(chunk, History):
                yield sse_requests(chunk.page)
            else:
                yield chunk.sse_frame
    except WatcherClosed as closed:
        yield sse_error(CLOSE_ERRORS[closed.code], closed.reason)


def event_stream(
    app_state: AppState, watcher: Watcher, events: AsyncIterator[str], transport: str = "sse"
) -> Response:
    """An event-stream response sending ``events``; the watcher leaves the hub when it ends."""
    response = Response(
        _SseBody(app_state, watcher, events, transport),
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # RESPONSE_TIMEOUT would cut the stream after 60 s
    return response


@sse.get("/bins/<bin_id>/events")
async def sse_stream(bin_id: str) -> Response:
    app_state = state()
    await open_bin(app_state.store, bin_id, request.scope["headers"], query_args(request.scope))
    since, tail = replay_args(request.args, request.headers.get("Last-Event-ID"))
    watcher = await app_state.hub.join(bin_id)
    return event_stream(app_state, watcher, _sse_events(app_state, watcher, since, tail))
