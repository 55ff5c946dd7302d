"""Fixtures of the page's tests: one headless Chromium per module, a server per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from web_support import API_KEY, CHROMIUM, CHROMIUM_ARGS, Watched

from hookscope._embedded import BackgroundServer, serve_in_background


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


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
