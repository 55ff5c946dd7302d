"""The live table's test helpers: made-up requests, a fake stream, a comm that records."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from comm.base_comm import BaseComm

from hookscope._models import CapturedRequest

_EPOCH = datetime(2026, 11, 28, 21, 43, 44, tzinfo=UTC)


def make_request(
    seq: int,
    *,
    method: str = "POST",
    path: str = "/hook",
    query: str = "",
    body: bytes | str | dict[str, Any] = b"",
    content_type: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    at: datetime | None = None,
) -> CapturedRequest:
    """Request number ``seq`` (id ``"<ms>-<seq>"``, increasing with ``seq``)."""
    if isinstance(body, dict):
        body = json.dumps(body)
        content_type = content_type or "application/json"
    if isinstance(body, str):
        body = body.encode()
    moment = at or _EPOCH + timedelta(milliseconds=seq)
    pairs = [("host", "127.0.0.1"), *(headers or [])]
    if content_type:
        pairs.append(("content-type", content_type))
    return CapturedRequest(
        id=f"{int(_EPOCH.timestamp() * 1000)}-{seq}",
        bin="b_test",
        received_at=moment,
        method=method,
        path=path,
        query=query,
        headers=CapturedRequest.from_wire(
            {"id": "0-0", "bin": "b", "received_at": "2026-01-01T00:00:00Z", "method": "GET",
             "path": "/", "headers": pairs}
        ).headers,
        body=body,
        remote_addr="127.0.0.1",
    )  # fmt: skip


class FakeStream:
    """A stream factory for ``LiveTable(_stream=...)`` that the test feeds from its own thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, int | None]] = []
        self.opened = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[CapturedRequest | BaseException] | None = None

    def __call__(
        self, since: str | None, tail: int | None, ready: Callable[[], None]
    ) -> AsyncIterator[CapturedRequest]:
        self.calls.append((since, tail))
        return self._iterate(ready)

    async def _iterate(self, ready: Callable[[], None]) -> AsyncIterator[CapturedRequest]:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        ready()
        self.opened.set()
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                self.opened.clear()
                raise item
            yield item

    def feed(self, *items: CapturedRequest | BaseException) -> None:
        assert self.opened.wait(5), "the table never opened its stream"
        assert self._loop is not None
        assert self._queue is not None
        queue = self._queue
        for item in items:
            self._loop.call_soon_threadsafe(queue.put_nowait, item)


class RecordingComm(BaseComm):
    """Keeps every message a widget sends, as the kernel would publish it."""

    sent: ClassVar[list[tuple[str, str, dict[str, Any]]]] = []  # (comm id, msg type, data)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None,
                    buffers: Any = None, **keys: Any) -> None:  # fmt: skip
        RecordingComm.sent.append((self.comm_id, msg_type, data or {}))
