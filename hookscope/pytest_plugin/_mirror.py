"""``Mirror``: a bin's captures on an embedded server, readable from the test's own thread.

A blocking ``hookbin.wait_for`` on the embedded server would otherwise cross to the server's
thread and back for every look at the history. On a VM, waking a thread that has sat idle
costs more than the whole look (docs/benchmarks.md, pytest round 3), and a webhook test made
three such round trips besides its own request. The mirror is a watcher in the server's hub,
joined when the bin is made (so it sees every capture): the hub hands it each batch on the
server's loop, and the test's thread reads them under a lock, waking only when one arrives.

It mirrors what the server stored and published, so a wait ends the same as over HTTP; when
its watcher is closed (the bin deleted, the feed lost, the server stopping), ``wait_for``
says so (None) and the bin falls back to the server's history and stream.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from .._matching import Waiting
from .._models import CapturedRequest

if TYPE_CHECKING:
    from ..server._hub import LiveBatch, Watcher

__all__ = ["Mirror"]


SLACK = 1000
SLACK_BYTES = 16 * 1024 * 1024
"""Captures (and their bytes) kept beyond ``keep`` for a wait under way; one that falls
further behind asks the server instead."""


class Mirror:
    """The stored texts of a bin's captures, newest last. A new wait starts with the newest
    ``keep`` (the bin's ``max_requests``: what its history holds); a wait under way reads on
    from where it was, up to ``SLACK`` captures behind."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._texts: deque[str] = deque()
        self._extra_bytes = 0  # of the texts beyond the newest ``keep``
        self._total = 0  # texts ever pushed: where a waiting reader resumes
        self._arrived = threading.Condition(threading.Lock())
        self.watcher: Watcher | None = None  # set once joined (on the server's loop)

    def push(self, batch: LiveBatch) -> None:
        """The hub's sink (on the server's loop)."""
        with self._arrived:
            texts = self._texts
            for item in batch.items:
                texts.append(item.text)
                if len(texts) > self._keep:  # one more text beyond the newest keep
                    self._extra_bytes += len(texts[-self._keep - 1])
            while len(texts) > self._keep and (
                len(texts) > self._keep + SLACK or self._extra_bytes > SLACK_BYTES
            ):
                self._extra_bytes -= len(texts.popleft())
            self._total += len(batch.items)
            self._arrived.notify_all()

    def _texts_after(self, total: int) -> tuple[list[str], int] | None:
        """The texts pushed after the first ``total``, and the new total; None when some of
        them are no longer kept."""
        new = self._total - total
        if new > len(self._texts):
            return None
        texts = list(self._texts)[len(self._texts) - new :] if new else []
        return texts, self._total

    def wait_for(self, waiting: Waiting, timeout: float) -> bool | None:
        """Feed ``waiting`` every capture in order until it is done (True) or ``timeout``
        seconds pass (False); None when the server must be asked: the watcher is closed, or
        this wait fell more than ``SLACK`` captures behind."""
        deadline = time.monotonic() + timeout
        with self._arrived:  # the history now: the newest ``keep``; then all that follows
            read = self._total - min(len(self._texts), self._keep)
        while True:
            watcher = self.watcher
            if watcher is None or watcher.closed:
                return None
            with self._arrived:
                after = self._texts_after(read)
                if after is None:
                    return None  # fell behind what is kept
                texts, read = after
                if not texts:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    # A close wakes nobody (the hub has no sink for it): look again now and then.
                    self._arrived.wait(min(left, 0.25))
                    continue
            for text in texts:
                if waiting.take(CapturedRequest.from_json(text)):
                    return True
