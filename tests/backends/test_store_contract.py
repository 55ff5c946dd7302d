"""The Store half of the backend contract: bins and request logs, on every backend."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from conftest import Harness, payload, record

from hookscope._contract import MAX_CURSORS, ErrorCode
from hookscope._ids import id_key, new_bin_id
from hookscope.backends import ResponseSpec, StorageFull

pytestmark = pytest.mark.asyncio


async def test_create_get_update_delete(harness: Harness) -> None:
    store = harness.store
    rec = record(name="orders", response=ResponseSpec(status=202, body="hi"))
    await store.create_bin(rec)
    assert await store.get_bin(rec.id) == rec
    assert await store.get_bin(new_bin_id()) is None

    changed = await store.update_bin(rec.id, response=ResponseSpec(status=500, delay_ms=5))
    assert changed is not None
    assert changed.response == ResponseSpec(status=500, delay_ms=5)
    assert changed.name == "orders"
    renamed = await store.update_bin(rec.id, name="payments")
    assert renamed is not None and renamed.name == "payments"
    assert renamed.response.status == 500
    assert await store.get_bin(rec.id) == renamed
    assert await store.update_bin(new_bin_id(), name="x") is None

    assert await store.delete_bin(rec.id) is True
    assert await store.get_bin(rec.id) is None
    assert await store.delete_bin(rec.id) is False
    assert await store.read(rec.id, after=None, limit=10) is None


async def test_a_record_round_trips_exactly(harness: Harness) -> None:
    rec = record(
        name="",  # empty, not absent
        ttl_s=12.5,
        max_requests=7,
        response=ResponseSpec(201, {"X-A": "é", "retry-after": "5"}, "caf\u00e9 ☕", 250),
    )
    await harness.store.create_bin(rec)
    assert await harness.store.get_bin(rec.id) == rec


async def test_secrets_are_kept_merged_and_removed(harness: Harness) -> None:
    store = harness.store
    rec = record(secrets={"stripe": "whsec_a", "github": "gh"})
    await store.create_bin(rec)
    assert (await store.get_bin(rec.id)) == rec
    changed = await store.update_bin(rec.id, secrets={"stripe": "whsec_b", "github": None})
    assert changed is not None and changed.secrets == {"stripe": "whsec_b"}
    assert (await store.get_bin(rec.id)) == changed
    renamed = await store.update_bin(rec.id, name="n")  # secrets untouched
    assert renamed is not None and renamed.secrets == {"stripe": "whsec_b"}
    assert "whsec_b" not in repr(renamed)  # never in a log line by accident


async def test_a_bin_keeps_at_most_max_cursors_names(harness: Harness) -> None:
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    for n in range(MAX_CURSORS):
        assert await store.save_cursor(rec.id, f"reader-{n}", "" if n % 2 else "1-0") is True
    with pytest.raises(StorageFull) as full:
        await store.save_cursor(rec.id, "one-more", "1-0")
    assert full.value.code == ErrorCode.TOO_MANY_CURSORS
    assert await store.get_cursor(rec.id, "one-more") is None
    assert await store.save_cursor(rec.id, "reader-1", "2-0") is True  # a name it keeps
    assert await store.get_cursor(rec.id, "reader-1") == "2-0"
    assert await store.get_cursor(rec.id, "reader-3") == ""  # taken, no position yet
    # Taking a name again (a second first connection) leaves the position it has.
    assert await store.save_cursor(rec.id, "reader-1", "") is True
    assert await store.get_cursor(rec.id, "reader-1") == "2-0"
    assert (await store.get_bin(rec.id)) == rec


async def test_cursors_are_kept_per_name_and_go_with_the_bin(harness: Harness) -> None:
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    assert await store.get_cursor(rec.id, "probot") is None
    assert await store.save_cursor(rec.id, "probot", "5-0") is True
    assert await store.save_cursor(rec.id, "other", "7-1") is True
    assert await store.save_cursor(rec.id, "probot", "6-0") is True
    assert await store.get_cursor(rec.id, "probot") == "6-0"
    assert await store.get_cursor(rec.id, "other") == "7-1"
    assert (await store.get_bin(rec.id)) == rec  # cursors are not part of the record
    await store.delete_bin(rec.id)
    assert await store.get_cursor(rec.id, "probot") is None
    assert await store.save_cursor(rec.id, "probot", "8-0") is False


async def test_existing_names_only_live_bins(harness: Harness) -> None:
    store = harness.store
    alive, deleted, never = record(), record(), new_bin_id()
    await store.create_bin(alive)
    await store.create_bin(deleted)
    await store.delete_bin(deleted.id)
    assert await store.existing([alive.id, deleted.id, never]) == {alive.id}
    assert await store.existing([]) == set()


async def test_append_stores_and_returns_the_bins_response(harness: Harness) -> None:
    store = harness.store
    rec = record(response=ResponseSpec(status=201, headers={"x-a": "1"}))
    await store.create_bin(rec)
    stored = await store.append(rec.id, payload(rec.id, b'{"n": 1}'))
    assert stored is not None
    assert stored.response == rec.response
    wire = json.loads(stored.text)
    assert wire["id"] == stored.id
    assert wire["bin"] == rec.id
    assert wire["body"] == '{"n": 1}'
    assert await store.get_request(rec.id, stored.id) == stored.text
    assert await store.read(rec.id, after=None, limit=10) == [(stored.id, stored.text)]


async def test_append_to_unknown_bin_stores_nothing(harness: Harness) -> None:
    bin_id = new_bin_id()
    assert await harness.store.append(bin_id, payload(bin_id)) is None
    assert await harness.store.read(bin_id, after=None, limit=10) is None
    assert await harness.store.get_bin(bin_id) is None


async def test_ids_strictly_increase_and_paging_is_exclusive(harness: Harness) -> None:
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    ids = []
    for n in range(25):
        stored = await store.append(rec.id, payload(rec.id, str(n).encode()))
        assert stored is not None
        ids.append(stored.id)
    assert [id_key(i) for i in ids] == sorted({id_key(i) for i in ids})

    first = await store.read(rec.id, after=None, limit=10)
    assert first is not None and [i for i, _ in first] == ids[:10]
    second = await store.read(rec.id, after=first[-1][0], limit=10)
    assert second is not None and [i for i, _ in second] == ids[10:20]
    rest = await store.read(rec.id, after=second[-1][0], limit=10)
    assert rest is not None and [i for i, _ in rest] == ids[20:]
    assert await store.read(rec.id, after=ids[-1], limit=10) == []
    # An id that was never issued still pages correctly (it is a position, not a lookup).
    ms, seq = id_key(ids[4])
    between = await store.read(rec.id, after=f"{ms}-{seq}", limit=1)
    assert between is not None and between[0][0] == ids[5]

    tail = await store.tail(rec.id, 3)
    assert tail is not None and [i for i, _ in tail] == ids[-3:]
    assert await store.tail(rec.id, 0) == []
    assert await store.tail(rec.id, 1000) == await store.read(rec.id, after=None, limit=1000)


async def test_history_is_capped_at_max_requests(harness: Harness) -> None:
    store = harness.store
    rec = record(max_requests=5)
    await store.create_bin(rec)
    ids = []
    for n in range(12):
        stored = await store.append(rec.id, payload(rec.id, str(n).encode()))
        assert stored is not None
        ids.append(stored.id)
    kept = await store.read(rec.id, after=None, limit=100)
    assert kept is not None and [i for i, _ in kept] == ids[-5:]
    assert await store.get_request(rec.id, ids[0]) is None


async def test_clear_keeps_the_bin_and_ids_keep_increasing(harness: Harness) -> None:
    store = harness.store
    rec = record()
    await store.create_bin(rec)
    before = await store.append(rec.id, payload(rec.id))
    assert before is not None
    assert await store.clear(rec.id) is True
    assert await store.read(rec.id, after=None, limit=10) == []
    assert await store.get_bin(rec.id) is not None
    after = await store.append(rec.id, payload(rec.id))
    assert after is not None and id_key(after.id) > id_key(before.id)
    assert await store.clear(new_bin_id()) is False


async def test_bins_expire_after_their_ttl(harness: Harness) -> None:
    store = harness.store
    rec = record(ttl_s=0.3)
    await store.create_bin(rec)
    assert await store.append(rec.id, payload(rec.id)) is not None
    async with asyncio.timeout(10):
        while await store.get_bin(rec.id) is not None:
            await asyncio.sleep(0.05)
    assert await store.read(rec.id, after=None, limit=10) is None
    assert await store.append(rec.id, payload(rec.id)) is None
    assert await store.existing([rec.id]) == set()


async def test_concurrent_appends_are_all_stored(harness: Harness) -> None:
    store = harness.store
    rec = record(max_requests=1000)
    await store.create_bin(rec)
    results = await asyncio.gather(
        *(store.append(rec.id, payload(rec.id, str(n).encode())) for n in range(200))
    )
    history = await store.read(rec.id, after=None, limit=1000)
    assert history is not None
    assert sorted((r.id for r in results if r), key=id_key) == [i for i, _ in history]
    assert len(history) == 200


async def test_ready(harness: Harness) -> None:
    assert await harness.store.ready() is True


async def test_list_bins_newest_first_with_counts(harness: Harness) -> None:
    store = harness.store
    assert await store.list_bins(limit=10) == []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    recs = [record(name=f"n{n}", created_at=start + timedelta(seconds=n)) for n in range(5)]
    for rec in recs:
        await store.create_bin(rec)
    last = None
    for n in range(3):
        last = await store.append(recs[1].id, payload(recs[1].id, str(n).encode()))
    assert last is not None
    await store.delete_bin(recs[4].id)

    listed = await store.list_bins(limit=10)
    assert [s.record for s in listed] == [recs[3], recs[2], recs[1], recs[0]]
    assert [s.requests for s in listed] == [0, 0, 3, 0]
    assert [s.last_request_id for s in listed] == [None, None, last.id, None]
    assert [s.record.id for s in await store.list_bins(limit=2)] == [recs[3].id, recs[2].id]

    await store.clear(recs[1].id)
    cleared = await store.list_bins(limit=10)
    assert (cleared[2].requests, cleared[2].last_request_id) == (0, None)


async def test_list_bins_leaves_out_expired_bins(harness: Harness) -> None:
    store = harness.store
    short, long = record(ttl_s=0.3), record()
    await store.create_bin(short)
    await store.create_bin(long)
    async with asyncio.timeout(10):
        while await store.get_bin(short.id) is not None:
            await asyncio.sleep(0.05)
    assert [s.record.id for s in await store.list_bins(limit=10)] == [long.id]
