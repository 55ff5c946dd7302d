"""Fixtures of the page's tests: one headless Chromium per module, a server per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _support import headless_chromium
from web_support import API_KEY, Watched

from hookscope._embedded import BackgroundServer, serve_in_background


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per module."""
    with headless_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def web_server() -> Iterator[BackgroundServer]:
    """A memory-backed server in a thread, for one module's pages."""
    server = serve_in_background(max_requests=20_000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[BackgroundServer]:
    """A server whose bins need the API key ``API_KEY`` to be created and listed."""
    server = serve_in_background(api_key=API_KEY)
    yield server
    server.stop()


@pytest.fixture
def watched(chromium: Any) -> Iterator[Watched]:
    """A fresh page (its own context) with tripwires, 1000 x 760."""
    page = Watched.open(chromium)
    yield page
    page.close()
