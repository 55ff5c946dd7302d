"""Example: configuring the test session's server with ``hookscope_server_settings``.

The plugin starts one embedded server per test session (per xdist worker). A suite configures
it by overriding the session fixture ``hookscope_server_settings`` in its ``conftest.py``:
a dict of ``hookscope.serve_in_background()`` settings (those of ``hookscope serve``, see
docs/server.md). Here a small ``max_body`` makes the bin answer a large delivery with 413,
so a test can check what the sender does then, and ``max_requests`` bounds what a bin keeps.

``CONFTEST`` and ``TESTS`` are what a user writes. This file runs them as a suite of their own
(pytest's ``pytester``): the session has one server, so the override belongs in the suite's
top ``conftest.py``, not in a sub-directory that shares a session with others.

Run: ``pytest tests/examples/test_server_settings_example.py``. Guide: docs/pytest.md.
"""

from __future__ import annotations

import pytest

CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def hookscope_server_settings():
    return {"max_body": 1024, "max_requests": 10}
"""

TESTS = """
import httpx

# --- the code under test ------------------------------------------------------------------

def upload_report(url, report: bytes) -> str:
    # A sender that falls back to a summary when the receiver refuses a large body.
    response = httpx.post(url, content=report)
    if response.status_code == 413:
        httpx.post(url, json={"summary": report[:16].decode(), "size": len(report)})
        return "summary"
    response.raise_for_status()
    return "full"

# --- the tests -------------------------------------------------------------------------------

def test_a_large_report_falls_back_to_a_summary(hookbin):
    assert upload_report(hookbin.url, b"x" * 5000) == "summary"
    summary = hookbin.wait_for(json={"size": 5000})
    assert summary.json()["summary"] == "x" * 16
    hookbin.assert_received(count=1)  # the refused delivery was not stored

def test_a_small_report_is_sent_whole(hookbin):
    assert upload_report(hookbin.url, b"all good") == "full"
    assert hookbin.wait_for().body == b"all good"

def test_a_bin_keeps_the_newest_ten(hookbin):
    for n in range(12):
        httpx.post(hookbin.url, json={"n": n})
    assert [req.json()["n"] for req in hookbin.requests()] == list(range(2, 12))
"""


def test_the_example_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKSCOPE_URL", raising=False)  # the embedded server, configured
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_reports=TESTS)
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")
    result = pytester.runpytest(*quiet)
    result.assert_outcomes(passed=3)
