"""The upgrade recipe of docs/server.md: bins under the old key names become visible again."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import redis.asyncio
from conftest import Harness, payload, record

from hookscope._ids import id_key
from hookscope.backends._redis_keys import RedisKeys

pytestmark = [pytest.mark.asyncio, pytest.mark.redis]

DOCS = Path(__file__).parents[2] / "docs" / "server.md"
KEYS = RedisKeys()


@pytest.fixture
def backend_name() -> str:
    return "redis"


def recipe(url: str) -> str:
    """The shell recipe as the docs give it, pointed at ``url``."""
    found = re.search(r"```bash\n(export REDIS_URL=(\S+)\n.*?)```", DOCS.read_text(), re.S)
    assert found is not None, "the upgrade recipe is missing from docs/server.md"
    return found.group(1).replace(found.group(2), url, 1)


async def test_the_docs_recipe_renames_old_keys_to_the_new_scheme(harness: Harness) -> None:
    url = harness.settings.redis_url
    assert url is not None
    store = harness.store
    named, empty = record(name="orders"), record()
    for rec in (named, empty):
        await store.create_bin(rec)
    appended = [await store.append(named.id, payload(named.id, str(n).encode())) for n in range(3)]
    history = await store.read(named.id, after=None, limit=10)
    # The layout of the earlier version: same contents, other names (no stream for `empty`).
    async with redis.asyncio.Redis.from_url(url) as admin:
        for rec in (named, empty):
            await admin.rename(KEYS.meta(rec.id), f"hookscope:bin:{rec.id}")
        await admin.rename(KEYS.log(named.id), f"hookscope:req:{named.id}")
    assert await store.get_bin(named.id) is None

    shell = await asyncio.create_subprocess_exec("bash", "-euo", "pipefail", "-c", recipe(url))
    assert await asyncio.wait_for(shell.wait(), 30) == 0

    assert await store.get_bin(named.id) == named
    assert await store.get_bin(empty.id) == empty
    assert await store.read(named.id, after=None, limit=10) == history
    after = await store.append(named.id, payload(named.id))
    last = appended[-1]
    assert after is not None and last is not None and id_key(after.id) > id_key(last.id)
    async with redis.asyncio.Redis.from_url(url) as admin:
        assert await admin.keys("hookscope:bin:*") == []
        assert await admin.pttl(KEYS.meta(empty.id)) > 0  # the time to live carried over
