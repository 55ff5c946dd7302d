"""Fixtures for the live table's tests (helpers live in widget_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import comm
import pytest
from widget_support import FakeStream, RecordingComm


@pytest.fixture
def comms(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every comm message sent by widgets created in the test: (comm id, msg type, data)."""
    RecordingComm.sent = []
    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: RecordingComm(**kwargs))
    return RecordingComm.sent


@pytest.fixture
def fake_stream() -> FakeStream:
    return FakeStream()
