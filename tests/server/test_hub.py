"""``Hub`` and ``Watcher`` against a scripted feed and store (``_scripted.py``).

Each test scripts an ordering a real backend cannot be made to produce on demand: a feed lost
in the middle of a subscribe, a join cancelled while Redis has not confirmed yet, a reader that
stopped reading. What they check is the hub's bookkeeping: one feed subscription per watched
bin, none left behind, and every stream closed with the code its client acts on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from _scripted import A, B, Core, scripted_core, wait_for

from hookscope._contract import CloseCode
from hookscope.backends import BackendUnavailable, FeedLost
from hookscope.server._http import ApiProblem
from hookscope.server._hub import LiveBatch, LiveItem, Watcher, WatcherClosed

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def core() -> AsyncIterator[Core]:
    async with scripted_core() as started:
        yield started


async def received(watcher: Watcher) -> list[str]:
    """The ids queued for ``watcher`` now (it must have some)."""
    async with asyncio.timeout(5):
        return [item.id for item in await watcher.next_items()]


async def assert_reached(core: Core, bin_id: str, *watchers: Watcher) -> None:
    """A capture to ``bin_id`` now reaches each of ``watchers`` (and is all they get)."""
    sent = core.store.capture(bin_id)
    for watcher in watchers:
        assert await received(watcher) == [sent]


async def closed_with(watcher: Watcher) -> CloseCode:
    with pytest.raises(WatcherClosed) as closed:
        async with asyncio.timeout(5):
            while True:
                await watcher.next_items()
    return closed.value.code


# -- join and leave ----------------------------------------------------------------------------


async def test_one_subscription_per_bin_released_by_the_last_watcher(core: Core) -> None:
    a1, a2, a3 = [await core.hub.join(A) for _ in range(3)]
    b1 = await core.hub.join(B)
    assert core.feed.calls == [("subscribe", A), ("subscribe", B)]
    assert core.hub.watched == {A, B}

    await assert_reached(core, A, a1, a2, a3)

    await core.hub.leave(a1)
    await core.hub.leave(a2)
    assert core.feed.subscribed == {A, B}
    await core.hub.leave(a3)
    assert core.feed.calls_of(A) == ["subscribe", "unsubscribe"]
    assert core.feed.subscribed == {B}
    assert core.hub.watched == {B}
    assert await closed_with(a3) == CloseCode.NORMAL
    await core.hub.leave(b1)
    assert core.feed.subscribed == set()


async def test_leaving_twice_changes_nothing(core: Core) -> None:
    first, second = await core.hub.join(A), await core.hub.join(A)
    await core.hub.leave(first)
    await core.hub.leave(first)
    assert core.feed.subscribed == {A}
    await assert_reached(core, A, second)


async def test_concurrent_joins_of_one_bin_subscribe_once(core: Core) -> None:
    gate = core.feed.hold("subscribe", A)
    joining = [asyncio.create_task(core.hub.join(A)) for _ in range(5)]
    await gate.entered.wait()
    assert core.hub.watched == set()  # not before the feed confirms
    gate.open()
    watchers = await asyncio.gather(*joining)
    assert core.feed.calls == [("subscribe", A)]
    await assert_reached(core, A, *watchers)


async def test_a_slow_subscribe_holds_up_only_its_own_bin(core: Core) -> None:
    gate, joining_a = await core.feed.held("subscribe", A, core.hub.join(A))
    async with asyncio.timeout(5):
        b = await core.hub.join(B)  # a Redis node that does not answer holds up only its bins
    await assert_reached(core, B, b)
    gate.open()
    await joining_a


async def test_a_join_right_after_the_last_leave_subscribes_again_in_order(core: Core) -> None:
    watcher = await core.hub.join(A)
    gate, leaving = await core.feed.held("unsubscribe", A, core.hub.leave(watcher))
    joining = asyncio.create_task(core.hub.join(A))
    gate.open()
    await leaving
    again = await joining
    assert core.feed.calls_of(A) == ["subscribe", "unsubscribe", "subscribe"]
    assert core.feed.subscribed == {A}
    await assert_reached(core, A, again)


# -- cancellation ------------------------------------------------------------------------------


async def test_a_join_cancelled_while_subscribing_leaves_nothing_behind(core: Core) -> None:
    gate, joining = await core.feed.held("subscribe", A, core.hub.join(A))
    joining.cancel()
    with pytest.raises(asyncio.CancelledError):
        await joining
    gate.open()  # the feed's confirmation comes after the caller stopped waiting
    assert core.feed.subscribed == set()
    assert core.hub.watched == set()

    watcher = await core.hub.join(A)  # and the bin can be watched afterwards
    assert core.feed.subscribed == {A}
    await assert_reached(core, A, watcher)


async def test_a_cancelled_join_hands_the_subscribe_to_the_next_waiting_join(
    core: Core,
) -> None:
    _, first = await core.feed.held("subscribe", A, core.hub.join(A))
    second = asyncio.create_task(core.hub.join(A))
    await asyncio.sleep(0)  # its first step ends waiting for the bin, behind the first join
    assert not second.done()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    watcher = await second
    assert core.feed.calls == [("subscribe", A), ("subscribe", A)]
    assert core.feed.subscribed == {A}
    assert core.hub.watched == {A}
    await assert_reached(core, A, watcher)
    await core.hub.leave(watcher)
    assert core.feed.subscribed == set()


async def test_a_leave_cancelled_while_unsubscribing_still_unsubscribes(core: Core) -> None:
    watcher = await core.hub.join(A)
    gate, leaving = await core.feed.held("unsubscribe", A, core.hub.leave(watcher))
    leaving.cancel()  # e.g. the stream's task cancelled at shutdown
    with pytest.raises(asyncio.CancelledError):
        await leaving
    gate.open()
    await wait_for(lambda: core.feed.subscribed == set(), "the unsubscribe")
    assert core.hub.watched == set()


async def test_a_leave_under_way_when_the_hub_closes_ends_quietly(core: Core) -> None:
    watcher = await core.hub.join(A)
    _, leaving = await core.feed.held("unsubscribe", A, core.hub.leave(watcher))
    await core.hub.close()  # shutdown: the unsubscribe is cut short, its caller is not
    await leaving


# -- the feed lost -----------------------------------------------------------------------------


async def test_feed_lost_closes_every_stream_with_1012(core: Core) -> None:
    watchers = [await core.hub.join(A), await core.hub.join(A), await core.hub.join(B)]
    core.feed.emit(FeedLost("connection reset"))
    for watcher in watchers:
        assert await closed_with(watcher) == CloseCode.FEED_LOST
    assert core.hub.watched == set()
    for watcher in watchers:  # the feed dropped them itself: nothing to unsubscribe
        await core.hub.leave(watcher)
    assert [call for call, _ in core.feed.calls] == ["subscribe", "subscribe"]

    again = await core.hub.join(A)  # resuming subscribes anew
    assert core.feed.calls_of(A) == ["subscribe", "subscribe"]
    await assert_reached(core, A, again)


async def test_a_partial_feed_lost_closes_only_its_bins(core: Core) -> None:
    a, b = await core.hub.join(A), await core.hub.join(B)
    core.feed.emit(FeedLost("node 2 down", frozenset({A, "b_not_watched"})))
    assert await closed_with(a) == CloseCode.FEED_LOST
    assert core.hub.watched == {B}
    await assert_reached(core, B, b)


async def test_a_feed_lost_during_the_subscribe_fails_the_join(core: Core) -> None:
    gate, joining = await core.feed.held("subscribe", A, core.hub.join(A))
    core.feed.emit(FeedLost("connection reset"))
    gate.open()  # the feed confirms a subscription that the loss may have voided
    with pytest.raises(BackendUnavailable):
        await joining
    assert core.hub.watched == set()
    # Whatever the feed holds of it is undone: the hub counts nothing for A.
    await wait_for(lambda: core.feed.subscribed == set(), "the subscription to be undone")


async def test_a_feed_lost_for_other_bins_during_the_subscribe_does_not_fail_it(
    core: Core,
) -> None:
    gate, joining = await core.feed.held("subscribe", A, core.hub.join(A))
    core.feed.emit(FeedLost("node 3 down", frozenset({B})))
    gate.open()
    watcher = await joining
    assert core.feed.subscribed == {A}
    await assert_reached(core, A, watcher)
    await core.hub.leave(watcher)
    assert core.feed.subscribed == set()


async def test_a_feed_lost_for_its_bin_during_the_subscribe_fails_only_that_join(
    core: Core,
) -> None:
    b = await core.hub.join(B)
    gate, joining = await core.feed.held("subscribe", A, core.hub.join(A))
    core.feed.emit(FeedLost("node 2 down", frozenset({A})))
    gate.open()
    with pytest.raises(BackendUnavailable):
        await joining
    await assert_reached(core, B, b)
    await wait_for(lambda: core.feed.subscribed == {B}, "A's subscription to be undone")


async def test_a_late_leave_keeps_a_bin_that_was_subscribed_again(core: Core) -> None:
    """A watcher closed by a feed loss leaves after its bin was watched (subscribed) anew."""
    old = await core.hub.join(A)
    core.feed.emit(FeedLost("connection reset"))
    new = await core.hub.join(A)
    await core.hub.leave(old)
    assert core.feed.calls_of(A) == ["subscribe", "subscribe"]
    assert core.hub.watched == {A}
    await assert_reached(core, A, new)
    await core.hub.leave(new)
    assert core.feed.calls_of(A) == ["subscribe", "subscribe", "unsubscribe"]


async def test_a_late_leave_while_the_bin_is_subscribed_again(core: Core) -> None:
    """The same, with the new subscribe still waiting for the feed when the old one leaves."""
    old = await core.hub.join(A)
    core.feed.emit(FeedLost("connection reset"))
    gate, joining = await core.feed.held("subscribe", A, core.hub.join(A))
    await core.hub.leave(old)
    gate.open()
    new = await joining
    assert core.feed.calls_of(A) == ["subscribe", "subscribe"]
    assert core.feed.subscribed == {A}
    await assert_reached(core, A, new)


# -- lagging -----------------------------------------------------------------------------------


async def test_a_full_queue_closes_the_watcher_as_lagging_once() -> None:
    async with scripted_core(watcher_limit=3) as core:
        slow, fast = await core.hub.join(A), await core.hub.join(A)
        sent = []
        for _ in range(3):
            sent.append(core.store.capture(A))
            assert await received(fast) == sent[-1:]
        sent.append(core.store.capture(A))  # the fourth: slow's queue is full
        assert core.lagged == [None]
        assert await closed_with(slow) == CloseCode.LAGGING
        core.store.capture(A)
        assert core.lagged == [None]  # counted once
        assert core.hub.watched == {A}
        await core.hub.leave(slow)
        assert core.feed.subscribed == {A}  # fast still watches
        await core.hub.leave(fast)
        assert core.feed.subscribed == set()


async def test_the_last_watcher_lagging_then_leaving_unsubscribes() -> None:
    async with scripted_core(watcher_limit=1) as core:
        slow = await core.hub.join(A)
        core.store.capture(A)
        core.store.capture(A)
        assert core.lagged == [None]
        await core.hub.leave(slow)
        assert core.feed.subscribed == set()
        assert core.hub.watched == set()


async def test_a_lagging_watcher_whose_owner_is_stuck_is_abandoned_after_the_grace() -> None:
    async with scripted_core(watcher_limit=1, lag_grace=0.05) as core:
        stuck_forever = asyncio.Event()  # a send the client never reads
        watcher = await core.hub.join(A)
        owner = asyncio.create_task(stuck_forever.wait())
        watcher.owner = owner
        core.store.capture(A)
        core.store.capture(A)
        assert core.lagged == [None]
        async with asyncio.timeout(5):
            with pytest.raises(asyncio.CancelledError):
                await owner


async def test_an_owner_that_finished_in_time_is_not_cancelled() -> None:
    async with scripted_core(watcher_limit=1, lag_grace=0.05) as core:
        watcher = await core.hub.join(A)
        go_on = asyncio.Event()
        owner = asyncio.create_task(go_on.wait())
        watcher.owner = owner
        core.store.capture(A)
        core.store.capture(A)
        watcher.finished = True  # its stream ended within the grace, but its task goes on
        after_the_grace = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.1, after_the_grace.set_result, None)
        await after_the_grace
        assert not owner.done()
        go_on.set()
        await owner


# -- the bin deleted or expired ----------------------------------------------------------------


async def test_deleting_the_bin_closes_its_streams_with_4404_after_what_was_queued(
    core: Core,
) -> None:
    a, b = await core.hub.join(A), await core.hub.join(B)
    sent = core.store.capture(A)
    await core.store.delete_bin(A)
    assert await received(a) == [sent]  # captured before the deletion: still delivered
    assert await closed_with(a) == CloseCode.BIN_DELETED
    await core.hub.leave(a)
    assert core.feed.subscribed == {B}
    await assert_reached(core, B, b)


async def test_the_expiry_check_closes_the_streams_of_bins_gone_from_the_store() -> None:
    async with scripted_core(expiry_check=0.01) as core:
        a, b = await core.hub.join(A), await core.hub.join(B)
        del core.store.records[A]  # expired: a store need not say so
        assert await closed_with(a) == CloseCode.BIN_DELETED
        assert [A, B] in core.store.existing_calls
        await assert_reached(core, B, b)
        await core.hub.close()
        assert not [
            task
            for task in asyncio.all_tasks()
            if task.get_name() == "hookscope-expiry" and not task.done()
        ]


@pytest.mark.parametrize("failure", [BackendUnavailable("down"), RuntimeError("a bug")])
async def test_the_expiry_check_survives_a_failing_store(failure: Exception) -> None:
    async with scripted_core(expiry_check=0.01) as core:
        failures = [failure]

        async def fail_once() -> None:
            if failures:
                raise failures.pop()

        core.store.on_existing = fail_once
        a = await core.hub.join(A)
        del core.store.records[A]
        assert await closed_with(a) == CloseCode.BIN_DELETED  # by a later check
        assert not failures


# -- shutdown and the watcher's inbox ----------------------------------------------------------


async def test_close_all_closes_every_stream(core: Core) -> None:
    watchers = [await core.hub.join(A), await core.hub.join(B)]
    core.hub.close_all(CloseCode.FEED_LOST, "server restarting")
    for watcher in watchers:
        assert await closed_with(watcher) == CloseCode.FEED_LOST


async def test_a_watcher_gets_what_queued_up_in_one_batch(core: Core) -> None:
    watcher = await core.hub.join(A)
    sent = [core.store.capture(A) for _ in range(5)]
    assert await received(watcher) == sent
    waiting = asyncio.create_task(watcher.next_items())
    await asyncio.sleep(0)
    assert not waiting.done()
    waiting.cancel()  # safe to cancel: nothing is lost
    with pytest.raises(asyncio.CancelledError):
        await waiting
    late = core.store.capture(A)
    assert await received(watcher) == [late]


async def test_frames_are_built_once_per_item() -> None:
    item = LiveItem("5-1", '{"id":"5-1"}')
    assert item.key == (5, 1)
    assert item.ws_frame is item.ws_frame
    assert item.sse_frame is item.sse_frame
    assert '"5-1"' in item.ws_frame and "id: 5-1" in item.sse_frame


# -- batching (a batch window) -----------------------------------------------------------------

NEVER = 3600.0  # a window that does not end during a test: only a hand-over can end it


async def pending_now(watcher: Watcher) -> bool:
    """Whether something is queued for ``watcher`` once the loop has run what was due."""
    await asyncio.sleep(0)  # the hand-over of a quiet bin runs on the next loop turn
    waiting = asyncio.create_task(watcher.next_batch())
    await asyncio.sleep(0)
    if waiting.done():
        waiting.result()
        return True
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    return False


async def test_a_quiet_bin_hands_over_at_once_and_holds_the_rest_for_the_window() -> None:
    async with scripted_core(batch_window=NEVER) as core:
        watcher = await core.hub.join(A)
        first = core.store.capture(A)
        assert await received(watcher) == [first]  # not held: the bin was quiet
        core.store.capture(A)
        assert not await pending_now(watcher)  # held: the window is open
        await core.hub.leave(watcher)


async def test_what_arrives_within_the_window_goes_as_one_batch_shared_by_all() -> None:
    async with scripted_core(batch_window=0.05) as core:
        one, two = await core.hub.join(A), await core.hub.join(A)
        first = core.store.capture(A)
        assert await received(one) == [first]
        assert await received(two) == [first]
        held = [core.store.capture(A) for _ in range(3)]
        async with asyncio.timeout(5):
            batch_one, batch_two = await one.next_batch(), await two.next_batch()
        assert [item.id for item in batch_one] == held
        assert batch_one is batch_two  # one batch, its frame built once for both
        assert batch_one.ws_frame is batch_two.ws_frame
        assert batch_one.ws_frame.startswith('{"type":"batch","requests":[')
        await core.hub.leave(one)
        await core.hub.leave(two)


async def test_a_watcher_joining_during_the_window_gets_only_what_came_after() -> None:
    async with scripted_core(batch_window=NEVER) as core:
        early = await core.hub.join(A)
        first = core.store.capture(A)
        assert await received(early) == [first]
        before = core.store.capture(A)  # held
        late = await core.hub.join(A)
        after = core.store.capture(A)  # held too
        await core.store.delete_bin(A)  # hands over what was held, then closes
        assert await received(early) == [before, after]
        assert await received(late) == [after]
        assert await closed_with(early) == CloseCode.BIN_DELETED
        assert await closed_with(late) == CloseCode.BIN_DELETED


async def test_a_lost_feed_drops_what_was_held_and_closes_with_1012() -> None:
    async with scripted_core(batch_window=NEVER) as core:
        watcher = await core.hub.join(A)
        core.store.capture(A)
        await received(watcher)
        core.store.capture(A)  # held
        core.feed.emit(FeedLost("connection reset"))
        assert await closed_with(watcher) == CloseCode.FEED_LOST  # resumes from history


async def test_a_batch_that_overfills_a_queue_closes_the_watcher_as_lagging() -> None:
    async with scripted_core(watcher_limit=3, batch_window=0.05) as core:
        slow, fast = await core.hub.join(A), await core.hub.join(A)
        sent = [core.store.capture(A)]
        assert await received(fast) == sent
        sent += [core.store.capture(A) for _ in range(3)]  # held, then 1 + 3 > 3 for slow
        assert await received(fast) == sent[1:]
        assert core.lagged == [None]
        assert await closed_with(slow) == CloseCode.LAGGING
        assert core.hub.watched == {A}
        await core.hub.leave(slow)
        await core.hub.leave(fast)


async def test_several_batches_queued_for_a_slow_reader_come_as_one() -> None:
    async with scripted_core(batch_window=0.01) as core:
        watcher = await core.hub.join(A)
        sent = [core.store.capture(A)]
        await wait_for(lambda: watcher_has(watcher, 1), "the first hand-over")
        sent.append(core.store.capture(A))
        await wait_for(lambda: watcher_has(watcher, 2), "a second hand-over, unread")
        batch = await watcher.next_batch()
        assert [item.id for item in batch] == sent
        assert (
            batch.ws_frame
            == '{"type":"batch","requests":['
            + ",".join(core.store.logs[A][i][1] for i in range(2))
            + "]}"
        )
        await core.hub.leave(watcher)


def watcher_has(watcher: Watcher, batches: int) -> bool:
    return len(watcher._pending) >= batches  # batches handed over and not read yet


async def test_batch_frames() -> None:
    one = LiveBatch([LiveItem("5-1", '{"id":"5-1"}')])
    assert one.ws_frame == one.items[0].ws_frame  # a single request keeps its frame
    two = LiveBatch([*one, LiveItem("6-0", '{"id":"6-0"}')])
    assert two.ws_frame == '{"type":"batch","requests":[{"id":"5-1"},{"id":"6-0"}]}'
    assert two.sse_frame == one.sse_frame + two.items[1].sse_frame
    assert two.size == len('{"id":"5-1"}{"id":"6-0"}')


async def test_a_sink_gets_each_capture_at_once_outside_the_window_and_uncounted() -> None:
    async with scripted_core(batch_window=NEVER, max_watchers=1) as core:
        got: list[str] = []
        sink = await core.hub.join(A, sink=lambda batch: got.extend(i.id for i in batch.items))
        stream = await core.hub.join(A)  # the one counted watcher: the sink is not counted
        with pytest.raises(ApiProblem, match="live streams"):
            await core.hub.join(A)
        sent = [core.store.capture(A) for _ in range(3)]
        assert got == sent  # each in the step that stored it, before any hand-over
        assert await received(stream) == sent  # the stream: at the end of the loop's turn
        assert sink.push(LiveBatch([LiveItem("1-0", "{}")]))  # a no-op: nothing queued
        await core.hub.leave(sink)
        core.store.capture(A)
        assert got == sent
        assert core.hub.watched == {A}  # the stream still holds the subscription
        await core.hub.leave(stream)
        assert core.hub.watched == set()


async def test_a_sink_that_fails_is_closed_and_the_streams_still_get_the_capture(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with scripted_core(batch_window=NEVER) as core:

        def fails(batch: LiveBatch) -> None:
            raise RuntimeError("broken sink")

        broken = await core.hub.join(A, sink=fails)
        stream = await core.hub.join(A)
        with caplog.at_level(logging.ERROR, logger="hookscope"):
            sent = [core.store.capture(A) for _ in range(2)]
        assert await received(stream) == sent
        assert broken.closed
        assert [r.getMessage() for r in caplog.records if r.exc_info] == [
            f"a sink watching {A} failed: closed"
        ]
        await core.hub.leave(broken)
        await core.hub.leave(stream)
