"""The backend contract: ONE suite, run against the memory and the redis backend.

Each test gets a started backend whose live events land in ``events``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import pytest_asyncio

from hookscope._ids import id_key, new_bin_id, new_token
from hookscope._wire import encode_capture
from hookscope.backends import Backend, BinRecord, ResponseSpec
from hookscope.backends._base import BinDeleted, Captured, FeedEvent
from hookscope.backends.memory import MemoryBackend
from hookscope.backends.redis import RedisBackend


@dataclass
class Harness:
    backend: Backend
    events: list[FeedEvent] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def on_event(self, event: FeedEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait_events(self, count: int, timeout: float = 5.0) -> list[FeedEvent]:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events

    def captured(self, bin_id: str) -> list[Captured]:
        return [e for e in self.events if isinstance(e, Captured) and e.bin_id == bin_id]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture
async def harness(backend_name: str, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    backend: Backend
    if backend_name == "memory":
        backend = MemoryBackend(sweep_interval=0.05)
    else:
        backend = RedisBackend(request.getfixturevalue("redis_url"), expiry_check=0.05)
    harness = Harness(backend)
    await backend.start(harness.on_event)
    yield harness
    await backend.close()


def record(**changes: object) -> BinRecord:
    values: dict[str, object] = {
        "id": new_bin_id(),
        "token": new_token(),
        "created_at": datetime.now(UTC),
        "max_requests": 100,
        "ttl_s": 3600.0,
    }
    values.update(changes)
    return BinRecord(**values)  # type: ignore[arg-type]


def payload(bin_id: str, body: bytes = b"{}", path: str = "/") -> str:
    return encode_capture(
        bin_id=bin_id,
        received_at=datetime.now(UTC),
        method="POST",
        path=path,
        query="",
        headers=[("content-type", "application/json")],
        body=body,
        remote_addr="127.0.0.1",
        http_version="1.1",
    )


pytestmark = pytest.mark.asyncio


async def test_create_get_update_delete(harness: Harness) -> None:
    backend = harness.backend
    rec = record(name="orders", response=ResponseSpec(status=202, body="hi"))
    await backend.create_bin(rec)
    assert await backend.get_bin(rec.id) == rec
    assert await backend.get_bin(new_bin_id()) is None

    changed = await backend.update_bin(rec.id, response=ResponseSpec(status=500, delay_ms=5))
    assert changed is not None
    assert changed.response == ResponseSpec(status=500, delay_ms=5)
    assert changed.name == "orders"
    renamed = await backend.update_bin(rec.id, name="payments")
    assert renamed is not None and renamed.name == "payments"
    assert renamed.response.status == 500
    assert await backend.get_bin(rec.id) == renamed
    assert await backend.update_bin(new_bin_id(), name="x") is None

    assert await backend.delete_bin(rec.id) is True
    assert await backend.get_bin(rec.id) is None
    assert await backend.delete_bin(rec.id) is False
    assert await backend.read(rec.id, after=None, limit=10) is None


async def test_append_stores_and_returns_the_bins_response(harness: Harness) -> None:
    backend = harness.backend
    rec = record(response=ResponseSpec(status=201, headers={"x-a": "1"}))
    await backend.create_bin(rec)
    stored = await backend.append(rec.id, payload(rec.id, b'{"n": 1}'))
    assert stored is not None
    assert stored.response == rec.response
    wire = json.loads(stored.text)
    assert wire["id"] == stored.id
    assert wire["bin"] == rec.id
    assert wire["body"] == '{"n": 1}'
    assert await backend.get_request(rec.id, stored.id) == stored.text
    assert await backend.read(rec.id, after=None, limit=10) == [(stored.id, stored.text)]


async def test_append_to_unknown_bin_stores_nothing(harness: Harness) -> None:
    bin_id = new_bin_id()
    assert await harness.backend.append(bin_id, payload(bin_id)) is None
    assert await harness.backend.read(bin_id, after=None, limit=10) is None
    assert await harness.backend.get_bin(bin_id) is None


async def test_ids_strictly_increase_and_paging_is_exclusive(harness: Harness) -> None:
    backend = harness.backend
    rec = record()
    await backend.create_bin(rec)
    ids = []
    for n in range(25):
        stored = await backend.append(rec.id, payload(rec.id, str(n).encode()))
        assert stored is not None
        ids.append(stored.id)
    assert [id_key(i) for i in ids] == sorted({id_key(i) for i in ids})

    first = await backend.read(rec.id, after=None, limit=10)
    assert first is not None and [i for i, _ in first] == ids[:10]
    second = await backend.read(rec.id, after=first[-1][0], limit=10)
    assert second is not None and [i for i, _ in second] == ids[10:20]
    rest = await backend.read(rec.id, after=second[-1][0], limit=10)
    assert rest is not None and [i for i, _ in rest] == ids[20:]
    assert await backend.read(rec.id, after=ids[-1], limit=10) == []
    # An id that was never issued still pages correctly (it is a position, not a lookup).
    ms, seq = id_key(ids[4])
    between = await backend.read(rec.id, after=f"{ms}-{seq}", limit=1)
    assert between is not None and between[0][0] == ids[5]

    tail = await backend.tail(rec.id, 3)
    assert tail is not None and [i for i, _ in tail] == ids[-3:]
    assert await backend.tail(rec.id, 0) == []
    assert await backend.tail(rec.id, 1000) == await backend.read(rec.id, after=None, limit=1000)


async def test_history_is_capped_at_max_requests(harness: Harness) -> None:
    backend = harness.backend
    rec = record(max_requests=5)
    await backend.create_bin(rec)
    ids = []
    for n in range(12):
        stored = await backend.append(rec.id, payload(rec.id, str(n).encode()))
        assert stored is not None
        ids.append(stored.id)
    kept = await backend.read(rec.id, after=None, limit=100)
    assert kept is not None and [i for i, _ in kept] == ids[-5:]
    assert await backend.get_request(rec.id, ids[0]) is None


async def test_clear_keeps_the_bin_and_ids_keep_increasing(harness: Harness) -> None:
    backend = harness.backend
    rec = record()
    await backend.create_bin(rec)
    before = await backend.append(rec.id, payload(rec.id))
    assert before is not None
    assert await backend.clear(rec.id) is True
    assert await backend.read(rec.id, after=None, limit=10) == []
    assert await backend.get_bin(rec.id) is not None
    after = await backend.append(rec.id, payload(rec.id))
    assert after is not None and id_key(after.id) > id_key(before.id)
    assert await backend.clear(new_bin_id()) is False


async def test_bins_expire_after_their_ttl(harness: Harness) -> None:
    backend = harness.backend
    rec = record(ttl_s=0.3)
    await backend.create_bin(rec)
    assert await backend.append(rec.id, payload(rec.id)) is not None
    async with asyncio.timeout(10):
        while await backend.get_bin(rec.id) is not None:
            await asyncio.sleep(0.05)
    assert await backend.read(rec.id, after=None, limit=10) is None
    assert await backend.append(rec.id, payload(rec.id)) is None


async def test_live_events_follow_history_order(harness: Harness) -> None:
    backend = harness.backend
    rec = record(max_requests=1000)
    await backend.create_bin(rec)
    await backend.subscribe(rec.id)
    results = await asyncio.gather(
        *(backend.append(rec.id, payload(rec.id, str(n).encode())) for n in range(300))
    )
    assert all(result is not None for result in results)
    await harness.wait_events(300)
    history = await backend.read(rec.id, after=None, limit=1000)
    assert history is not None
    live = harness.captured(rec.id)
    assert [(e.id, e.text) for e in live] == history
    assert len({e.id for e in live}) == 300


async def test_live_events_only_for_subscribed_bins_after_unsubscribe(
    harness: Harness, backend_name: str
) -> None:
    backend = harness.backend
    watched, other = record(), record()
    await backend.create_bin(watched)
    await backend.create_bin(other)
    await backend.subscribe(watched.id)
    await backend.append(other.id, payload(other.id))
    await backend.append(watched.id, payload(watched.id))
    await harness.wait_events(1)
    assert harness.captured(watched.id)
    if backend_name == "redis":  # memory may deliver everything; the hub filters
        assert not harness.captured(other.id)
        await backend.unsubscribe(watched.id)
        await backend.subscribe(other.id)  # a round trip after the unsubscribe
        await backend.append(watched.id, payload(watched.id))
        await backend.append(other.id, payload(other.id))
        await harness.wait_events(2)
        assert len(harness.captured(watched.id)) == 1


async def test_delete_tells_subscribers(harness: Harness) -> None:
    backend = harness.backend
    rec = record()
    await backend.create_bin(rec)
    await backend.subscribe(rec.id)
    await backend.delete_bin(rec.id)
    events = await harness.wait_events(1)
    assert BinDeleted(rec.id) in events


async def test_expiry_tells_subscribers(harness: Harness) -> None:
    backend = harness.backend
    rec = record(ttl_s=0.3)
    await backend.create_bin(rec)
    await backend.subscribe(rec.id)
    events = await harness.wait_events(1, timeout=10)
    assert BinDeleted(rec.id) in events


async def test_ready(harness: Harness) -> None:
    assert await harness.backend.ready() is True
