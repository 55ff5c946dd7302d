"""What the WebSocket and SSE streams share: replay arguments, history pages, de-duplication.

Both follow one order, so that nothing is dropped or sent twice across the hand-over:
join the hub (subscribed), replay history after ``since`` (or the ``tail``), say ``live``,
then forward live items, skipping ids already sent.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from .._ids import id_key
from ..backends._base import BackendUnavailable, Stored
from ._errors import ApiProblem
from ._hub import CloseCode, LiveItem, Watcher, WatcherClosed
from ._state import AppState

__all__ = ["ERROR_CODES", "REPLAY_PAGE", "Chunk", "History", "Mark", "chunks", "replay_args"]

REPLAY_PAGE = 500
_NOTHING_SENT = (-1, -1)

ERROR_CODES = {
    CloseCode.LAGGING: "lagging",
    CloseCode.BIN_DELETED: "bin_deleted",
    CloseCode.FEED_LOST: "feed_lost",
    CloseCode.NORMAL: "closed",
}


def replay_args(
    args: Mapping[str, str], last_event_id: str | None = None
) -> tuple[str | None, int | None]:
    """``(since, tail)`` from the query, or SSE's ``Last-Event-ID``; 400 when invalid.

    ``Last-Event-ID`` wins over the query: an ``EventSource`` reconnects to the URL it was
    opened with (``?since=`` or ``?tail=`` still in it) and adds where it got to.
    """
    if last_event_id:
        args = {"since": last_event_id}
    since = args.get("since")
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
    """History pages to send before going live.

    Raises ``WatcherClosed`` if the bin vanishes, or (1012) if storage fails meanwhile.
    """
    backend = app_state.backend
    try:
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
    except BackendUnavailable:
        raise WatcherClosed(CloseCode.FEED_LOST, "storage unavailable during replay") from None


def _fresh(items: list[LiveItem], last_key: tuple[int, int]) -> list[LiveItem]:
    """Items not sent yet (a replay may already have covered the first few)."""
    if items and items[0].key > last_key:
        return items
    return [item for item in items if item.key > last_key]


@dataclass(frozen=True, slots=True)
class History:
    """A page of stored requests, replayed before going live."""

    page: list[Stored]


class Mark(enum.Enum):
    LIVE = "live"  # the replay is done; what follows is live
    IDLE = "idle"  # nothing arrived for ``idle`` seconds


Chunk = History | Mark | list[LiveItem]


async def chunks(
    app_state: AppState,
    watcher: Watcher,
    bin_id: str,
    since: str | None,
    tail: int | None,
    *,
    idle: float | None = None,
) -> AsyncIterator[Chunk]:
    """What a stream sends, in order: ``History`` pages, ``Mark.LIVE``, then live items.

    The one place that keeps the hand-over exact: ids already sent (and, with ``since``, ids
    at or below it) are skipped. Raises ``WatcherClosed`` when the stream must end.
    """
    last_key = id_key(since) if since else _NOTHING_SENT  # since is exclusive, live too
    async for page in _replay(app_state, bin_id, since, tail):
        yield History(page)
        last_key = id_key(page[-1][0])
    yield Mark.LIVE
    while True:
        if idle is None:
            items = await watcher.next_items()
        else:
            try:
                async with asyncio.timeout(idle):
                    items = await watcher.next_items()
            except TimeoutError:
                yield Mark.IDLE
                continue
        items = _fresh(items, last_key)
        if items:
            yield items
            last_key = items[-1].key
