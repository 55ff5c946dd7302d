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

from .._contract import MAX_TAIL, CloseCode, ErrorCode
from .._ids import id_key, is_request_id
from ..backends import BackendUnavailable, RequestLog, Stored
from ._http import ApiProblem
from ._hub import LiveBatch, LiveItem, Watcher, WatcherClosed
from ._validation import bounded_int

__all__ = ["Chunk", "History", "Mark", "chunks", "replay_args"]


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
        raise ApiProblem(400, ErrorCode.INVALID_QUERY, "since and tail do not combine; pick one")
    if since is not None and not is_request_id(since):
        raise ApiProblem(400, ErrorCode.INVALID_SINCE, "since must be a request id")
    tail = None
    if tail_raw is not None:
        tail = bounded_int(tail_raw, 0, MAX_TAIL)
        if tail is None:
            raise ApiProblem(
                400, ErrorCode.INVALID_TAIL, f"tail must be an integer from 0 to {MAX_TAIL}"
            )
    return since, tail


async def _replay(
    log: RequestLog,
    bin_id: str,
    since: str | None,
    tail: int | None,
    page_size: int,
    page_bytes: int | None,
) -> AsyncIterator[list[Stored]]:
    """History pages to send before going live, each within ``page_size`` requests and
    ``page_bytes`` of text (at least one request). A ``tail`` is one page: the newest that fit.

    Raises ``WatcherClosed`` if the bin vanishes, or (1012) if storage fails meanwhile.
    """
    try:
        if tail is not None:
            page = await log.tail(bin_id, tail, max_bytes=page_bytes)
            if page is None:
                raise WatcherClosed(CloseCode.BIN_DELETED, "the bin was deleted")
            if page:
                yield page
            return
        after = since
        while after is not None:
            page = await log.read(bin_id, after=after, limit=page_size, max_bytes=page_bytes)
            if page is None:
                raise WatcherClosed(CloseCode.BIN_DELETED, "the bin was deleted")
            if page:
                yield page
            more = len(page) == page_size or (page and page.cut)
            after = page[-1][0] if more else None
    except BackendUnavailable:
        raise WatcherClosed(CloseCode.FEED_LOST, "storage unavailable during replay") from None


def _groups(batch: LiveBatch, max_bytes: int | None) -> list[LiveBatch]:
    """``batch`` in runs of at most ``max_bytes`` of text (at least one item each)."""
    if max_bytes is None or batch.size <= max_bytes:
        return [batch]
    groups: list[list[LiveItem]] = [[]]
    size = 0
    for item in batch.items:
        if groups[-1] and size + item.size > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += item.size
    return [LiveBatch(group) for group in groups]


def _fresh(batch: LiveBatch, last_key: tuple[int, int]) -> LiveBatch | None:
    """The items of ``batch`` not sent yet (a replay may already have covered the first few)."""
    items = batch.items
    if items[0].key > last_key:
        return batch
    fresh = [item for item in items if item.key > last_key]
    return LiveBatch(fresh) if fresh else None


@dataclass(frozen=True, slots=True)
class History:
    """A page of stored requests, replayed before going live."""

    page: list[Stored]


class Mark(enum.Enum):
    LIVE = "live"  # the replay is done; what follows is live
    IDLE = "idle"  # nothing arrived for ``idle`` seconds


Chunk = History | Mark | LiveBatch


async def chunks(
    log: RequestLog,
    watcher: Watcher,
    since: str | None,
    tail: int | None,
    *,
    page_size: int,
    page_bytes: int | None = None,
    idle: float | None = None,
) -> AsyncIterator[Chunk]:
    """What a stream sends, in order: ``History`` pages, ``Mark.LIVE``, then live batches.

    The one place that keeps the hand-over exact: ids already sent (and, with ``since``, ids
    at or below it) are skipped. Every chunk holds at most ``page_bytes`` of request text, or
    one request. Raises ``WatcherClosed`` when the stream must end.
    """
    if since:
        watcher.sent_key = id_key(since)  # since is exclusive, live too
    async for page in _replay(log, watcher.bin_id, since, tail, page_size, page_bytes):
        watcher.raise_if_closed()  # closed meanwhile (lagging, feed lost): replay no further
        yield History(page)
        watcher.sent_key = id_key(page[-1][0])
    watcher.raise_if_closed()  # "live" promises that later captures will arrive
    yield Mark.LIVE
    while True:
        if idle is None:
            batch = await watcher.next_batch()
        else:
            try:
                async with asyncio.timeout(idle):
                    batch = await watcher.next_batch()
            except TimeoutError:
                yield Mark.IDLE
                continue
        fresh = _fresh(batch, watcher.sent_key)  # a watcher's writer may have sent some
        if fresh is not None:
            watcher.sent_key = fresh.items[-1].key
            for group in _groups(fresh, page_bytes):
                yield group
