"""hookscope's pytest plugin: wait for and assert on webhooks (``pytest11`` entry point).

    def test_checkout_notifies_the_shop(hookbin, shop):
        shop.webhook_url = hookbin.url
        shop.checkout(cart_id=7)
        hookbin.wait_for(method="POST", json={"event": "order.paid", "cart": 7})

Fixtures:

- ``hookscope_server`` (session): an embedded server on a free port in the test process (one
  per xdist worker), or the server named by ``--hookscope-url`` / ``$HOOKSCOPE_URL`` / the
  ``hookscope_url`` ini option. ``.url`` is its base URL.
- ``hookscope_server_settings`` (session): ``{}``; override it in a ``conftest.py`` to
  configure the embedded server (``hookscope.serve_in_background(**settings)``), e.g.
  ``{"max_body": 1024}``.
- ``hookbin``: a fresh ``HookBin`` per test, deleted afterwards.
- ``async_hookbin``: the same as an ``AsyncHookBin``, whose methods are awaited; a plain
  fixture, so it works in pytest-asyncio's strict and auto modes with any loop scope.
- ``hookbin_secrets``: ``{}``; the signing secrets (by scheme) both bins are created with.
  Override it in a ``conftest.py``, a module or a class, or parametrize it for one test, to
  have the server verify each capture from the start (``wait_for(..., signed=True)``).

Guide: docs/pytest.md; examples: tests/examples/.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ._options import add_options, read_options

if TYPE_CHECKING:
    from ._bins import AsyncHookBin, HookBin
    from ._server import HookscopeServer

__all__ = ["AsyncHookBin", "HookBin", "HookscopeServer"]

_TAKE_BINS = frozenset({"hookbin", "async_hookbin"})  # fixtures that make a bin per test


def __getattr__(name: str) -> object:
    # pytest imports this module in every run of every project where hookscope is installed:
    # the server and client code load only when a test asks for a bin.
    if name in ("AsyncHookBin", "HookBin"):
        from . import _bins

        return getattr(_bins, name)
    if name == "HookscopeServer":
        from ._server import HookscopeServer

        return HookscopeServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


class _Run:
    """One pytest run in this process, for the fixtures: its config, the tests that take
    bins, and the test being set up. Not pytest's ``request`` or ``pytestconfig`` fixtures:
    with ``request`` among a test's fixtures (``pytestconfig`` asks for it), pytest builds an
    ``inspect.signature`` for it in every test, as much time as the rest of ``hookbin``
    (docs/benchmarks.md, pytest round 3)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.expected: list[str] = []  # node ids of the tests that take bins, in order
        self.test: str | None = None  # the node id of the test being set up


_RUNS: list[_Run] = []
"""The runs under way, innermost last (pytester runs pytest inside pytest)."""


def _run(config: pytest.Config | None = None) -> _Run | None:
    """The run of ``config``; without one, the innermost: the one whose fixtures are set up."""
    for run in reversed(_RUNS):
        if config is None or run.config is config:
            return run
    return None


def _this_run() -> _Run:
    run = _run()
    if run is None:
        raise RuntimeError("hookscope's fixtures need hookscope's pytest plugin configured")
    return run


def pytest_configure(config: pytest.Config) -> None:
    read_options(config)  # a malformed URL is a usage error before any test runs
    _RUNS.append(_Run(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        _RUNS.remove(run)


def pytest_collection_finish(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.expected = [
            item.nodeid
            for item in session.items
            if _TAKE_BINS.intersection(getattr(item, "fixturenames", ()))
        ]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run(item.config)
    if run is not None:
        run.test = item.nodeid


def pytest_report_header(config: pytest.Config) -> str | None:
    options = read_options(config)
    if options.url is None:
        return None
    return f"hookscope: bins on {options.url} (from {options.source})"


@pytest.fixture(scope="session")
def hookscope_server_settings() -> dict[str, Any]:
    """Settings of the embedded server: ``hookscope.serve_in_background(**settings)``.

    Override it (session-scoped) in your ``conftest.py``::

        @pytest.fixture(scope="session")
        def hookscope_server_settings():
            return {"max_body": 1024, "max_requests": 50}

    The session has one server, so this configures it for every test of the session.
    A server named by ``--hookscope-url`` is configured where it runs: settings given here
    are then ignored, with a warning.
    """
    return {}


@pytest.fixture(scope="session")
def hookscope_server(hookscope_server_settings: dict[str, Any]) -> Iterator[HookscopeServer]:
    """The hookscope server of the session: embedded, or the one ``--hookscope-url`` names."""
    from ._server import HookscopeServer

    run = _this_run()
    options = read_options(run.config)
    if options.url is not None and hookscope_server_settings:
        warnings.warn(
            pytest.PytestWarning(
                f"hookscope_server_settings {hookscope_server_settings!r} are ignored: the "
                f"bins live on {options.url} (from {options.source}), not on an embedded server"
            ),
            stacklevel=1,
        )
    server = HookscopeServer(options, hookscope_server_settings)
    server.expect(run.expected)
    yield server
    server.close()


@pytest.fixture
def hookbin_secrets() -> Mapping[str, str]:
    """The signing secrets ``hookbin`` and ``async_hookbin`` are created with: ``{}``.

    Override it where the sender's secret is known, and the server verifies every capture
    from the first one (``hookbin.wait_for("POST", "/stripe", signed=True)``)::

        @pytest.fixture
        def hookbin_secrets():
            return {"stripe": STRIPE_SECRET}

    or for one test: ``@pytest.mark.parametrize("hookbin_secrets", [{"github": SECRET}])``.
    Mid-test, ``hookbin.set_secrets(...)`` changes them.
    """
    return {}


@pytest.fixture
def hookbin(
    hookscope_server: HookscopeServer,
    hookbin_secrets: Mapping[str, str],
) -> Iterator[HookBin]:
    """A fresh bin for this test (named after it), deleted afterwards.

    ``hookbin.url`` goes to the webhook sender; ``hookbin.wait_for(...)`` and
    ``hookbin.assert_received(...)`` check what it sent. It holds ``hookbin_secrets``.
    """
    name = _this_run().test
    bin = hookscope_server.create_bin(name=name, secrets=hookbin_secrets)
    yield bin
    hookscope_server._discard(bin)


@pytest.fixture
def async_hookbin(
    hookscope_server: HookscopeServer,
    hookbin_secrets: Mapping[str, str],
) -> Iterator[AsyncHookBin]:
    """``hookbin`` for ``async def`` tests: ``await async_hookbin.wait_for(...)``.

    Its I/O runs on the plugin's own loop, so it does not matter which loop the test (or its
    other fixtures) runs on.
    """
    name = _this_run().test
    bin = hookscope_server.create_async_bin(name=name, secrets=hookbin_secrets)
    yield bin
    hookscope_server._discard(bin)
