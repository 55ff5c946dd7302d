"""A bin as a smee channel: ``GET /api/bins/{bin}/smee?token=TOKEN[&cursor=NAME]``.

``smee-client`` (and Probot's ``WEBHOOK_PROXY_URL``) reads it as it reads smee.io, but nothing
is lost: ``id:`` is the request id, so a reconnecting client's ``Last-Event-ID`` (or
``?since=``) replays what it missed; a restarted client, which sends no ``Last-Event-ID``,
resumes after the last id sent under its ``cursor`` name. Events are unnamed, their data the
object smee-client forwards (``hookscope._smee.event_data``); keepalives are named ``ping``
events (smee-client ignores named events, and a quiet stream would hit undici's 300 s timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator

from quart import Blueprint, Response, request

from .._contract import SSE_RETRY, ErrorCode
from .._ids import is_request_id
from .._models import CapturedRequest
from .._smee import event_data
from ..backends import BackendUnavailable, StorageFull, Store
from ._auth import open_bin, query_args
from ._http import ApiProblem
from ._hub import Watcher, WatcherClosed
from ._replay import History, Mark, chunks
from ._sse import event_stream
from ._state import AppState, state

__all__ = ["PING_INTERVAL", "smee"]

smee = Blueprint("smee", __name__, url_prefix="/api")

PING_INTERVAL = 30.0
"""Seconds between ``event: ping`` keepalives on an idle channel."""
CURSOR_SAVE = 1.0
"""A cursor is written at most this often (and once more when the stream ends)."""

_CURSOR = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
_PING = "event: ping\ndata: {}\n\n"
_READY = "event: ready\ndata: {}\n\n"


def _event(request_id: str, text: str) -> str:
    data = event_data(CapturedRequest.from_json(text))
    return f"id: {request_id}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


class _Cursor:
    """Where a named reader got to: saved as events go out, throttled."""

    def __init__(self, store: Store, bin_id: str, name: str | None) -> None:
        self._store = store
        self._bin_id = bin_id
        self._name = name
        self._last: str | None = None
        self._saved: str | None = None
        self._at = 0.0

    async def sent(self, request_id: str) -> None:
        self._last = request_id
        if self._name is not None and time.monotonic() - self._at >= CURSOR_SAVE:
            await self.save()

    async def save(self) -> None:
        if self._name is None or self._last is None or self._last == self._saved:
            return
        self._at = time.monotonic()
        # The next save, or the client's id, will do (the name was taken when it connected).
        with contextlib.suppress(BackendUnavailable, StorageFull):
            await self._store.save_cursor(self._bin_id, self._name, self._last)
            self._saved = self._last


async def _events(
    app_state: AppState, watcher: Watcher, since: str | None, cursor: _Cursor
) -> AsyncIterator[str]:
    try:
        yield SSE_RETRY
        async for chunk in chunks(
            app_state.store,
            watcher,
            since,
            None,
            page_size=app_state.settings.replay_page,
            idle=PING_INTERVAL,
        ):
            if chunk is Mark.LIVE:
                yield _READY
            elif chunk is Mark.IDLE:
                yield _PING
            else:
                sent = (
                    chunk.page
                    if isinstance(chunk, History)
                    else [(i.id, i.text) for i in chunk.items]
                )
                yield "".join(_event(request_id, text) for request_id, text in sent)
                await cursor.sent(sent[-1][0])
    except WatcherClosed:
        return  # smee-client reconnects with Last-Event-ID (a deleted bin then answers 404)
    finally:
        await asyncio.shield(cursor.save())


@smee.get("/bins/<bin_id>/smee")
async def smee_channel(bin_id: str) -> Response:
    app_state = state()
    args = query_args(request.scope)
    await open_bin(app_state.store, bin_id, request.scope["headers"], args)
    name = args.get("cursor")
    if name is not None and not _CURSOR.match(name):
        raise ApiProblem(
            400, ErrorCode.INVALID_QUERY, "cursor must be 1 to 64 of A-Z a-z 0-9 _ . -"
        )
    since = request.headers.get("Last-Event-ID") or args.get("since")
    if since is not None and not is_request_id(since):
        raise ApiProblem(400, ErrorCode.INVALID_SINCE, "since must be a request id")
    if name is not None:
        saved = await app_state.store.get_cursor(bin_id, name)
        if saved is None:  # a new name: taken now, so that a bin's cursors stay few (507)
            await app_state.store.save_cursor(bin_id, name, "")
        if since is None:
            since = saved or None  # "": taken, but nothing sent under it yet
    watcher = await app_state.hub.join(bin_id)
    cursor = _Cursor(app_state.store, bin_id, name)
    return event_stream(app_state, watcher, _events(app_state, watcher, since, cursor), "smee")
