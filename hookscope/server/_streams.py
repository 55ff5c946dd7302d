"""Live streams: WebSocket ``/api/bins/{bin}/ws`` and SSE ``/api/bins/{bin}/events``.

Both follow one order, so that nothing is dropped or sent twice across the hand-over:
join the hub (subscribed), replay history after ``since`` (or the ``tail``), say ``live``,
then forward live items, skipping ids already sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from quart import Blueprint, Response, request, websocket

from .._ids import id_key
from .._wire import LIVE_FRAME, batch_frame, error_frame
from ..backends._base import BackendUnavailable, Stored
from ._auth import require_bin
from ._errors import ApiProblem
from ._hub import CloseCode, LiveItem, Watcher, WatcherClosed
from ._state import AppState, state

__all__ = ["streams"]

streams = Blueprint("streams", __name__, url_prefix="/api")

REPLAY_PAGE = 500
_NOTHING_SENT = (-1, -1)


def _replay_args(
    args: dict[str, str], last_event_id: str | None = None
) -> tuple[str | None, int | None]:
    since = args.get("since") or last_event_id
    tail_raw = args.get("tail")
    if since is not None and tail_raw is not None:
        raise ApiProblem(400, "invalid_query", "since and tail do not combine; pick one")
    if since is not None:
        try:
            id_key(since)
        except ValueError:
            raise ApiProblem(400, "invalid_since", "since must be a request id") from None
    tail = None
    if tail_raw is not None:
        try:
            tail = int(tail_raw)
        except ValueError:
            raise ApiProblem(400, "invalid_tail", "tail must be an integer") from None
        if not 0 <= tail <= 1000:
            raise ApiProblem(400, "invalid_tail", "tail must be from 0 to 1000")
    return since, tail


async def _replay(
    app_state: AppState, bin_id: str, since: str | None, tail: int | None
) -> AsyncIterator[list[Stored]]:
    """History pages to send before going live; raises WatcherClosed if the bin vanishes."""
    backend = app_state.backend
    if tail is not None:
        page = await backend.tail(bin_id, tail)
        if page is None:
            raise WatcherClosed(CloseCode.BIN_DELETED, "the bin was deleted")
        if page:
            yield page
        return
    after = since
    while after is not None:
        page = await backend.read(bin_id, after=after, limit=REPLAY_PAGE)
        if page is None:
            raise WatcherClosed(CloseCode.BIN_DELETED, "the bin was deleted")
        if page:
            yield page
        after = page[-1][0] if len(page) == REPLAY_PAGE else None


def _fresh(items: list[LiveItem], last_key: tuple[int, int]) -> list[LiveItem]:
    """Items not sent yet (a replay may already have covered the first few)."""
    if items and items[0].key > last_key:
        return items
    return [item for item in items if item.key > last_key]


async def _join(app_state: AppState, bin_id: str) -> Watcher:
    try:
        return await app_state.hub.join(bin_id)
    except BackendUnavailable:
        app_state.metrics.backend_errors.inc()
        raise ApiProblem(503, "unavailable", "the live feed is unavailable; try again") from None


_ERROR_CODES = {
    CloseCode.LAGGING: "lagging",
    CloseCode.BIN_DELETED: "bin_deleted",
    CloseCode.FEED_LOST: "feed_lost",
    CloseCode.NORMAL: "closed",
}


@streams.websocket("/bins/<bin_id>/ws")
async def ws_stream(bin_id: str) -> None:
    await require_bin(bin_id, from_websocket=True)
    since, tail = _replay_args(websocket.args)
    app_state = state()
    watcher = await _join(app_state, bin_id)
    gauge = app_state.metrics.watchers.labels("ws")
    gauge.inc()
    try:
        await websocket.accept()
        last_key = _NOTHING_SENT
        try:
            async for page in _replay(app_state, bin_id, since, tail):
                await websocket.send(batch_frame(text for _, text in page))
                last_key = id_key(page[-1][0])
        except BackendUnavailable:
            raise WatcherClosed(CloseCode.FEED_LOST, "storage unavailable during replay") from None
        await websocket.send(LIVE_FRAME)
        while True:
            items = _fresh(await watcher.next_items(), last_key)
            if not items:
                continue
            if len(items) == 1:
                await websocket.send(items[0].ws_frame)
            else:
                await websocket.send(batch_frame(item.text for item in items))
            last_key = items[-1].key
    except WatcherClosed as closed:
        await websocket.send(error_frame(_ERROR_CODES[closed.code], closed.reason))
        await websocket.close(int(closed.code), closed.reason[:120])
    finally:
        gauge.dec()
        await app_state.hub.leave(watcher)


class _SseBody:
    """The SSE response body; closing it (always done by Quart) leaves the hub."""

    def __init__(self, app_state: AppState, watcher: Watcher, events: AsyncIterator[str]) -> None:
        self._state = app_state
        self._watcher = watcher
        self._events = events
        self._closed = False
        app_state.metrics.watchers.labels("sse").inc()

    def __aiter__(self) -> _SseBody:
        return self

    async def __anext__(self) -> str:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._state.metrics.watchers.labels("sse").dec()
        await self._events.aclose()  # type: ignore[attr-defined]
        await self._state.hub.leave(self._watcher)


def _sse_requests(page: list[Stored]) -> str:
    return "".join(f"id: {rid}\nevent: request\ndata: {text}\n\n" for rid, text in page)


async def _sse_events(
    app_state: AppState, watcher: Watcher, bin_id: str, since: str | None, tail: int | None
) -> AsyncIterator[str]:
    ping = app_state.settings.ping_interval
    last_key = _NOTHING_SENT
    try:
        yield "retry: 1000\n\n"
        try:
            async for page in _replay(app_state, bin_id, since, tail):
                yield _sse_requests(page)
                last_key = id_key(page[-1][0])
        except BackendUnavailable:
            raise WatcherClosed(CloseCode.FEED_LOST, "storage unavailable during replay") from None
        yield "event: live\ndata: {}\n\n"
        while True:
            try:
                async with asyncio.timeout(ping):
                    items = _fresh(await watcher.next_items(), last_key)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if not items:
                continue
            yield "".join(item.sse_frame for item in items)
            last_key = items[-1].key
    except WatcherClosed as closed:
        data = json.dumps({"code": _ERROR_CODES[closed.code], "message": closed.reason})
        yield f"event: error\ndata: {data}\n\n"


@streams.get("/bins/<bin_id>/events")
async def sse_stream(bin_id: str) -> Response:
    await require_bin(bin_id)
    since, tail = _replay_args(request.args, request.headers.get("Last-Event-ID"))
    app_state = state()
    watcher = await _join(app_state, bin_id)
    body = _SseBody(app_state, watcher, _sse_events(app_state, watcher, bin_id, since, tail))
    response = Response(
        body,
        content_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    response.timeout = None  # RESPONSE_TIMEOUT would cut the stream after 60 s
    return response
