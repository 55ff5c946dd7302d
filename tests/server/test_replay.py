"""The replay hand-over (``chunks``) against a scripted store and feed, with small pages.

``chunks`` is the one place that keeps "subscribe, replay, then live" exact: these tests make
captures arrive between the pages of a replay, storage fail on the second page, and the hub
close the watcher mid-replay, and check what a stream would send.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest
import pytest_asyncio
from _scripted import A, Core, scripted_core

from hookscope._contract import CloseCode
from hookscope._ids import id_key
from hookscope.backends import BackendUnavailable, FeedLost
from hookscope.server._hub import WatcherClosed
from hookscope.server._replay import Chunk, History, Mark, chunks

pytestmark = pytest.mark.asyncio

PAGE = 4


@pytest_asyncio.fixture
async def core() -> AsyncIterator[Core]:
    async with scripted_core() as started:
        yield started


class Sent:
    """What a stream sent, chunk by chunk, as ``("history" | "live", ids)`` and marks."""

    def __init__(self) -> None:
        self.chunks: list[tuple[str, list[str]] | Mark] = []

    def add(self, chunk: Chunk) -> None:
        if isinstance(chunk, History):
            self.chunks.append(("history", [request_id for request_id, _ in chunk.page]))
        elif isinstance(chunk, Mark):
            self.chunks.append(chunk)
        else:
            self.chunks.append(("live", [item.id for item in chunk]))

    @property
    def ids(self) -> list[str]:
        return [i for chunk in self.chunks if not isinstance(chunk, Mark) for i in chunk[1]]

    @property
    def pages(self) -> list[int]:
        return [len(c[1]) for c in self.chunks if not isinstance(c, Mark) and c[0] == "history"]


async def stream(
    core: Core,
    *,
    since: str | None = None,
    tail: int | None = None,
    until: str | None = None,
) -> Sent:
    """Join, then run ``chunks`` until id ``until`` was sent (or, without it, until ``live``)."""
    watcher = await core.hub.join(A)
    sent = Sent()
    try:
        async with (
            asyncio.timeout(5),
            aclosing(chunks(core.store, watcher, since, tail, page_size=PAGE)) as sending,
        ):
            async for chunk in sending:
                sent.add(chunk)
                if (until is None and chunk is Mark.LIVE) or (until and until in sent.ids):
                    return sent
    finally:
        await core.hub.leave(watcher)
    raise AssertionError("chunks() ended")


def assert_exact(ids: list[str], expected: list[str]) -> None:
    """Nothing dropped, nothing repeated, strictly increasing."""
    assert ids == expected
    keys = [id_key(i) for i in ids]
    assert all(a < b for a, b in itertools.pairwise(keys))


# -- paging ------------------------------------------------------------------------------------


async def test_since_replays_in_pages_then_goes_live(core: Core) -> None:
    history = [core.store.capture(A) for _ in range(10)]
    sent = await stream(core, since="0-0")
    assert sent.pages == [4, 4, 2]
    assert sent.chunks[-1] is Mark.LIVE
    assert_exact(sent.ids, history)
    # A short page is the last one read.
    assert core.store.reads == [(A, "0-0", 4), (A, history[3], 4), (A, history[7], 4)]


async def test_a_replay_of_whole_pages_ends_with_an_empty_read(core: Core) -> None:
    history = [core.store.capture(A) for _ in range(8)]
    sent = await stream(core, since="0-0")
    assert sent.pages == [4, 4]  # the empty third page sends nothing
    assert_exact(sent.ids, history)
    assert core.store.reads[-1] == (A, history[7], 4)


async def test_tail_replays_the_newest_in_one_piece(core: Core) -> None:
    history = [core.store.capture(A) for _ in range(10)]
    sent = await stream(core, tail=6)
    assert sent.pages == [6]
    assert_exact(sent.ids, history[-6:])
    assert core.store.reads == []


async def test_without_since_or_tail_live_comes_first(core: Core) -> None:
    core.store.capture(A)
    sent = await stream(core)
    assert sent.chunks == [Mark.LIVE]
    assert core.store.reads == []


# -- the hand-over -----------------------------------------------------------------------------


@pytest.mark.parametrize("since_index", [None, 0, 5])
async def test_captures_during_the_replay_arrive_once_and_in_order(
    core: Core, since_index: int | None
) -> None:
    """Captures land between pages: in history AND in the watcher's queue; each is sent once."""
    history = [core.store.capture(A) for _ in range(9)]
    since = "0-0" if since_index is None else history[since_index]

    async def capture_between_pages(read: int) -> None:
        if read <= 3:
            for _ in range(read):
                core.store.capture(A)

    core.store.on_read = capture_between_pages
    watcher = await core.hub.join(A)
    sent, last = Sent(), None
    async with (
        asyncio.timeout(5),
        aclosing(chunks(core.store, watcher, since, None, page_size=PAGE)) as sending,
    ):
        async for chunk in sending:
            sent.add(chunk)
            if chunk is Mark.LIVE:
                last = [core.store.capture(A) for _ in range(5)][-1]
            if last in sent.ids:
                break
    await core.hub.leave(watcher)
    assert len(core.store.ids(A)) > 9 + 5  # some arrived during the replay
    assert_exact(sent.ids, [i for i in core.store.ids(A) if id_key(i) > id_key(since)])


async def test_since_is_exclusive_for_live_captures_too(core: Core) -> None:
    """A since= beyond what the bin holds: live captures up to it are not sent either."""
    sent_task = asyncio.create_task(stream(core, since="5-0", until="7-0"))
    while not core.store.reads:
        await asyncio.sleep(0)
    live = [core.store.capture(A) for _ in range(7)]  # 1-0 ... 7-0
    sent = await sent_task
    assert live[4] == "5-0"
    assert sent.chunks[0] is Mark.LIVE
    assert_exact(sent.ids, ["6-0", "7-0"])


# -- the stream ends ---------------------------------------------------------------------------


async def test_storage_failing_during_the_replay_closes_with_1012(core: Core) -> None:
    [core.store.capture(A) for _ in range(10)]

    async def fail_second(read: int) -> None:
        if read == 2:
            raise BackendUnavailable("Redis went away")

    core.store.on_read = fail_second
    with pytest.raises(WatcherClosed) as closed:
        await stream(core, since="0-0")
    assert closed.value.code == CloseCode.FEED_LOST


async def test_the_bin_deleted_during_the_replay_closes_with_4404(core: Core) -> None:
    [core.store.capture(A) for _ in range(10)]

    async def delete_before_second(read: int) -> None:
        if read == 2:
            await core.store.delete_bin(A)

    core.store.on_read = delete_before_second
    with pytest.raises(WatcherClosed) as closed:
        await stream(core, since="0-0")
    assert closed.value.code == CloseCode.BIN_DELETED


@pytest.mark.parametrize("why", ["feed lost", "lagging"])
async def test_a_watcher_closed_during_the_replay_replays_no_further(
    why: str,
) -> None:
    async with scripted_core(watcher_limit=3) as core:
        history = [core.store.capture(A) for _ in range(10)]

        async def close_before_second(read: int) -> None:
            if read == 2:
                if why == "feed lost":
                    core.feed.emit(FeedLost("connection reset"))
                else:
                    for _ in range(4):
                        core.store.capture(A)

        core.store.on_read = close_before_second
        watcher = await core.hub.join(A)
        sent = Sent()
        with pytest.raises(WatcherClosed) as closed:
            async for chunk in chunks(core.store, watcher, "0-0", None, page_size=PAGE):
                sent.add(chunk)  # ends by raising
        await core.hub.leave(watcher)
    code = CloseCode.FEED_LOST if why == "feed lost" else CloseCode.LAGGING
    assert closed.value.code == code
    assert sent.ids == history[:4]  # no more pages, and no "live" it could not keep
    assert Mark.LIVE not in sent.chunks


async def test_an_idle_stream_says_so_and_goes_on(core: Core) -> None:
    watcher = await core.hub.join(A)
    async with aclosing(chunks(core.store, watcher, None, None, page_size=PAGE, idle=0.01)) as idle:
        assert await anext(idle) is Mark.LIVE
        assert await anext(idle) is Mark.IDLE
        late = core.store.capture(A)
        assert [item.id for item in await anext(idle)] == [late]
    await core.hub.leave(watcher)
