"""Where a live table's requests come from: the SDK's stream cursor, on the table's loop.

The table runs its own event loop, so it opens its own ``AsyncClient`` there (a client's
connections belong to the loop that made them): the same server, API key and bin token as
the ``Bin`` or ``AsyncBin`` it was given. Only the client's public API is used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from .._models import CapturedRequest

__all__ = ["StreamFactory", "stream_factory"]

StreamFactory = Callable[
    [str | None, int | None, Callable[[], None]], AsyncIterator[CapturedRequest]
]
"""``factory(since, tail, ready)``: the bin's requests, run on the table's loop.

``since`` (exclusive) or else ``tail`` (the newest N, 0 for none) say where it starts; it
calls ``ready()`` once that start is fixed, before yielding anything.
"""


def stream_factory(bin: Any) -> StreamFactory:
    """``factory(since, tail, ready)`` for ``bin`` (a ``Bin`` or ``AsyncBin``)."""
    try:
        client = bin.client
        url, api_key, timeout = client.url, client.api_key, client.timeout
        bin_id, token = bin.id, bin.token
    except AttributeError:
        raise TypeError(f"LiveTable needs a hookscope Bin or AsyncBin, not {bin!r}") from None

    async def stream(
        since: str | None, tail: int | None, ready: Callable[[], None]
    ) -> AsyncIterator[CapturedRequest]:
        from ..client import AsyncClient

        own = AsyncClient(url, api_key=api_key, timeout=timeout)
        # Entering the cursor fixes where it starts and connects: a wrong token or a deleted
        # bin raises here, before ready(), and whatever is sent once ready() ran is shown.
        cursor = own.bin(bin_id, token).open_stream(since=since, tail=tail)
        async with own, cursor:
            ready()
            async for request in cursor:
                yield request

    return stream
