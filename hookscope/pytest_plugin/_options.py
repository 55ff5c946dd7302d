"""Which server the tests use: ``--hookscope-url``, else ``HOOKSCOPE_URL``, else the ini file.

Nothing set: an embedded server in the test process (one per xdist worker).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

__all__ = ["Options", "add_options", "read_options"]

URL_ENV = "HOOKSCOPE_URL"
API_KEY_ENV = "HOOKSCOPE_API_KEY"


@dataclass(frozen=True, slots=True)
class Options:
    url: str | None  # None: start an embedded server
    source: str  # where ``url`` came from, for messages
    api_key: str | None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("hookscope", "hookscope (webhook bins for tests)")
    group.addoption(
        "--hookscope-url",
        metavar="URL",
        default=None,
        help=f"use the hookscope server at URL (e.g. a shared Redis-backed one) instead of "
        f"starting one in the test process. Also ${URL_ENV} or the hookscope_url ini option.",
    )
    group.addoption(
        "--hookscope-api-key",
        metavar="KEY",
        default=None,
        help=f"API key for creating bins on a server started with --api-key "
        f"(default: ${API_KEY_ENV}).",
    )
    parser.addini(
        "hookscope_url",
        help=f"hookscope server for the tests (--hookscope-url and ${URL_ENV} take precedence)",
        default="",
    )


def _check_url(url: str, source: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise pytest.UsageError(
            f"{source} must be the base URL of a hookscope server, like "
            f"http://127.0.0.1:8080, not {url!r}"
        )
    return url.rstrip("/")


def read_options(config: pytest.Config) -> Options:
    """The options in force; ``pytest.UsageError`` for a malformed URL."""
    api_key = config.getoption("hookscope_api_key") or os.environ.get(API_KEY_ENV) or None
    candidates = [
        (config.getoption("hookscope_url"), "--hookscope-url"),
        (os.environ.get(URL_ENV), URL_ENV),
        (config.getini("hookscope_url"), f"hookscope_url in {config.inipath}"),
    ]
    for url, source in candidates:
        if url:
            return Options(_check_url(url, source), source, api_key)
    return Options(None, "embedded", api_key)
