"""docs/guides/pytest-ci.md, run as its reader would: its Python blocks are the files of a
small project (each block's first line names its file), run with pytest and xdist on the
embedded server, then against a shared Redis-backed server with an API key."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from _support import ServerProcess, markdown_blocks
from conftest import QUIET

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "pytest-ci.md"
TESTS = 8  # the test functions of the guide
API_KEY = "ci-team-key"


def _project() -> dict[str, str]:
    """File name → source: the guide's blocks, in order, appended per file."""
    files: dict[str, str] = {}
    for block in markdown_blocks(GUIDE):
        name, _, source = block.partition("\n")
        assert re.fullmatch(r"# \w+\.py", name), f"a block that names no file: {name!r}"
        files[name[2:]] = files.get(name[2:], "") + source + "\n"
    return files


@pytest.fixture
def project(user_tests: pytest.Pytester) -> pytest.Pytester:
    files = _project()
    assert set(files) == {"webhooks.py", "conftest.py", "test_webhooks.py"}
    for name, source in files.items():
        (user_tests.path / name).write_text(source)
    return user_tests


def test_the_guide_counts_its_tests() -> None:
    assert len(re.findall(r"^(?:async )?def test_", _project()["test_webhooks.py"], re.M)) == TESTS


def test_on_the_embedded_server_with_xdist(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*QUIET, "-n", "2")
    result.assert_outcomes(passed=TESTS)


@pytest.mark.redis
@pytest.mark.slow
def test_on_a_shared_redis_backed_server(
    project: pytest.Pytester,
    server_factory: Callable[..., ServerProcess],
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = server_factory("--redis-url", redis_url, "--workers", "2", "--api-key", API_KEY)

    by_options = project.runpytest_subprocess(
        *QUIET, "-n", "2", f"--hookscope-url={server.url}", f"--hookscope-api-key={API_KEY}"
    )
    monkeypatch.setenv("HOOKSCOPE_URL", server.url)
    monkeypatch.setenv("HOOKSCOPE_API_KEY", API_KEY)
    by_environment = project.runpytest_subprocess(*QUIET)

    # The test that needs the embedded server's settings skips, as the guide says; the
    # others pass on the shared server, whose bins are all gone afterwards.
    for result, source in ((by_options, "--hookscope-url"), (by_environment, "HOOKSCOPE_URL")):
        result.assert_outcomes(passed=TESTS - 1, skipped=1)  # the warning below: once a worker
        result.stdout.fnmatch_lines([f"hookscope: bins on {server.url} (from {source})"])
        result.stdout.fnmatch_lines(["*hookscope_server_settings*ignored*"])
    bins = httpx.get(f"{server.url}/api/bins", headers={"Authorization": f"Bearer {API_KEY}"})
    assert bins.json() == {"bins": []}
    # Without the key, the shared server creates no bin.
    monkeypatch.delenv("HOOKSCOPE_API_KEY")
    refused = project.runpytest_subprocess(*QUIET, "-k", "signup")
    refused.assert_outcomes(errors=1)
    refused.stdout.fnmatch_lines(["*Unauthorized*give the tests the key with --hookscope-api-key*"])
