"""Plugin tests run user-like test files with pytest's own ``pytester``.

Inner runs use the outer session's hookscope server (``--hookscope-url``), so that each one
does not start and stop a server of its own; the tests of the embedded default start one on
purpose.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from hookscope.pytest_plugin import HookscopeServer

# What every inner run is held to: leaked sockets, tasks or threads fail it.
INNER_INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings =
    error::pytest.PytestUnraisableExceptionWarning
    error::pytest.PytestUnhandledThreadExceptionWarning
"""

# Plugins the inner runs do not need; hypothesis alone would be re-imported (about a second)
# by every in-process run.
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")

RunPytest = Callable[..., pytest.RunResult]


@pytest.fixture
def user_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, hookscope_server: HookscopeServer
) -> pytest.Pytester:
    """A pytester directory with the inner ini and no hookscope variables from outside.

    In-process runs forget the modules they imported; the outer ``hookscope_server`` has
    imported (and so keeps) everything a server and a client need, once (with what
    tests/conftest.py imports first).
    """
    monkeypatch.delenv("HOOKSCOPE_URL", raising=False)
    monkeypatch.delenv("HOOKSCOPE_API_KEY", raising=False)
    pytester.makeini(INNER_INI)
    return pytester


@pytest.fixture
def run(user_tests: pytest.Pytester, hookscope_server: HookscopeServer) -> RunPytest:
    """``run(source, *args)``: write ``test_user.py`` and run it in-process on the shared server."""

    def run_source(source: str, *args: str) -> pytest.RunResult:
        user_tests.makepyfile(test_user=textwrap.dedent(source))
        return user_tests.runpytest(*QUIET, f"--hookscope-url={hookscope_server.url}", *args)

    return run_source
