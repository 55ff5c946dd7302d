"""Which server the bins live on, how it is chosen, and what is cleaned up."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from _support import ServerProcess, free_port
from conftest import INNER_INI, QUIET, RunPytest

import hookscope
from hookscope.pytest_plugin import HookscopeServer

RECORD_SERVER = """
import json, os

def test_record(hookscope_server, hookbin, pytestconfig):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    record = {"url": hookscope_server.url, "embedded": hookscope_server.embedded is not None,
              "source": hookscope_server.source, "bin": hookbin.id, "token": hookbin.token}
    (pytestconfig.rootpath / f"record-{worker}.json").write_text(json.dumps(record))
"""


def _records(pytester: pytest.Pytester) -> list[dict[str, object]]:
    paths = sorted(pytester.path.glob("record-*.json"))
    return [json.loads(path.read_text()) for path in paths]


def test_embedded_server_by_default_and_stopped_afterwards(user_tests: pytest.Pytester) -> None:
    user_tests.makepyfile(test_user=RECORD_SERVER)
    result = user_tests.runpytest(*QUIET)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("hookscope: *")  # no header line for the default
    [record] = _records(user_tests)
    assert record["embedded"] is True
    assert record["source"] == "embedded"
    url = str(record["url"])
    assert url.startswith("http://127.0.0.1:")
    with pytest.raises(hookscope.ConnectionFailed), hookscope.Client(url, timeout=2) as client:
        client.create_bin()


def test_on_the_embedded_server_each_bin_is_stored_under_its_tests_node_id(
    user_tests: pytest.Pytester,
) -> None:
    user_tests.makepyfile(
        test_user="""
        import hookscope, pytest

        def stored_name(server, bin):
            with hookscope.Client(server.url) as client:
                return client.bin(bin.id, bin.token).info()["name"]

        @pytest.mark.parametrize("n", range(12))
        def test_named(hookbin, hookscope_server, request, n):
            assert hookbin.name == stored_name(hookscope_server, hookbin) == request.node.nodeid

        @pytest.mark.skip
        def test_skipped(hookbin):
            pass

        @pytest.mark.asyncio
        async def test_async(async_hookbin, hookscope_server, request):
            assert async_hookbin.name == request.node.nodeid
            assert stored_name(hookscope_server, async_hookbin) == request.node.nodeid

        def test_after(hookbin, hookscope_server, request):
            assert hookbin.name == stored_name(hookscope_server, hookbin) == request.node.nodeid
        """
    )
    result = user_tests.runpytest(*QUIET)
    result.assert_outcomes(passed=14, skipped=1)


def test_bins_are_deleted_after_each_test_and_leftovers_at_the_end(
    run: RunPytest, hookscope_server: HookscopeServer, tmp_path: Path
) -> None:
    ids = tmp_path / "ids.json"
    result = run(
        f"""
        import json

        made = {{}}

        def test_fixtures(hookbin, async_hookbin):
            made["hookbin"] = [hookbin.id, hookbin.token]
            made["async_hookbin"] = [async_hookbin.id, async_hookbin.token]

        def test_own_bins_and_a_deleted_one(hookscope_server, hookbin):
            extra = hookscope_server.create_bin(name="extra")
            made["extra"] = [extra.id, extra.token]
            hookbin.delete()  # the fixture's own delete afterwards must not fail
            open({str(ids)!r}, "w").write(json.dumps(made))
        """
    )
    result.assert_outcomes(passed=2)
    made = json.loads(ids.read_text())
    with hookscope.Client(hookscope_server.url) as client:
        for bin_id, token in made.values():
            with pytest.raises(hookscope.BinNotFound):
                client.bin(bin_id, token).info()
    assert set(made) == {"hookbin", "async_hookbin", "extra"}


def test_url_precedence_option_then_env_then_ini(
    user_tests: pytest.Pytester, hookscope_server: HookscopeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    user_tests.makepyfile(test_user=RECORD_SERVER)
    user_tests.makeini(f"{INNER_INI}\nhookscope_url = {nowhere}\n")

    monkeypatch.setenv("HOOKSCOPE_URL", hookscope_server.url)  # env beats ini
    user_tests.runpytest(*QUIET).assert_outcomes(passed=1)
    assert _records(user_tests)[-1]["source"] == "HOOKSCOPE_URL"

    monkeypatch.setenv("HOOKSCOPE_URL", nowhere)  # the option beats env
    result = user_tests.runpytest(*QUIET, f"--hookscope-url={hookscope_server.url}/")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"hookscope: bins on {hookscope_server.url} (from --hookscope-url)"]
    )

    monkeypatch.delenv("HOOKSCOPE_URL")
    user_tests.makeini(f"{INNER_INI}\nhookscope_url = {hookscope_server.url}\n")
    result = user_tests.runpytest(*QUIET)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["hookscope: bins on * (from hookscope_url in *tox.ini)"])
    assert {record["url"] for record in _records(user_tests)} == {hookscope_server.url}


SETTINGS_CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def hookscope_server_settings():
    return {"max_body": 200, "max_requests": 2}
"""


def test_server_settings_configure_the_embedded_server(user_tests: pytest.Pytester) -> None:
    user_tests.makeconftest(SETTINGS_CONFTEST)
    user_tests.makepyfile(
        test_user="""
        import httpx

        def test_small_server(hookscope_server, hookbin):
            assert hookscope_server.embedded.settings.max_body == 200
            assert httpx.post(hookbin.url, content=b"x" * 201).status_code == 413
            for n in range(3):
                httpx.post(hookbin.url, content=str(n))
            assert [req.body for req in hookbin.requests()] == [b"1", b"2"]
        """
    )
    user_tests.runpytest(*QUIET).assert_outcomes(passed=1)


def test_server_settings_are_ignored_with_a_warning_for_a_named_server(
    user_tests: pytest.Pytester, run: RunPytest, hookscope_server: HookscopeServer
) -> None:
    user_tests.makeconftest(SETTINGS_CONFTEST)
    result = run(
        """
        def test_bin(hookscope_server, hookbin):
            assert hookscope_server.embedded is None
        """
    )
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        [
            "*PytestWarning: hookscope_server_settings {'max_body': 200, 'max_requests': 2} are "
            f"ignored: the bins live on {hookscope_server.url} (from --hookscope-url)*"
        ]
    )


def test_a_malformed_url_is_a_usage_error(user_tests: pytest.Pytester) -> None:
    user_tests.makepyfile(test_user="def test_nothing(): pass")
    result = user_tests.runpytest(*QUIET, "--hookscope-url=localhost:8080")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--hookscope-url must be the base URL of a hookscope server, like http://127.0.0.1:8080,"
            " not 'localhost:8080'"
        ]
    )


def test_an_unreachable_server_fails_the_tests_that_need_it(user_tests: pytest.Pytester) -> None:
    user_tests.makepyfile(
        test_user="""
        def test_without_bins(): pass
        def test_with_a_bin(hookbin): pass
        """
    )
    url = f"http://127.0.0.1:{free_port()}"
    result = user_tests.runpytest(*QUIET, f"--hookscope-url={url}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [f"E   *ConnectionFailed: --hookscope-url names {url}, but no hookscope server answers *"]
    )


def test_api_key_for_a_locked_server(
    user_tests: pytest.Pytester,
    server_factory: Callable[..., ServerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = server_factory("--api-key", "sesame")
    user_tests.makepyfile(test_user="def test_bin(hookbin): assert hookbin.url")
    result = user_tests.runpytest(*QUIET, f"--hookscope-url={locked.url}")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["E   *Unauthorized: *--hookscope-api-key or $HOOKSCOPE_API_KEY"])
    user_tests.runpytest(
        *QUIET, f"--hookscope-url={locked.url}", "--hookscope-api-key=sesame"
    ).assert_outcomes(passed=1)
    monkeypatch.setenv("HOOKSCOPE_API_KEY", "sesame")
    user_tests.runpytest(*QUIET, f"--hookscope-url={locked.url}").assert_outcomes(passed=1)


ISOLATION_TESTS = """
import httpx
import pytest

@pytest.mark.parametrize("n", range(12))
def test_only_my_requests(hookbin, n):
    for _ in range(3):
        httpx.post(hookbin.url_for(f"/from/{n}"), json={"n": n})
    found = hookbin.wait_for(count=3)
    assert {req.json()["n"] for req in found} == {n}
    hookbin.assert_received(count=3)
"""


def test_xdist_workers_each_get_their_own_server(user_tests: pytest.Pytester) -> None:
    user_tests.makepyfile(test_user=ISOLATION_TESTS, test_record=RECORD_SERVER)
    result = user_tests.runpytest_subprocess(*QUIET, "-n", "2")
    result.assert_outcomes(passed=13)
    records = _records(user_tests)
    assert records, result.stdout.str()
    assert all(record["embedded"] for record in records)
    assert len({record["url"] for record in records}) == len(records)


@pytest.mark.redis
def test_a_shared_redis_backed_server_from_hookscope_url(
    user_tests: pytest.Pytester,
    server_factory: Callable[..., ServerProcess],
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As CI would: one Redis-backed server for the whole run, named in the environment, and
    # two xdist workers whose bins never mix.
    shared = server_factory(
        "--redis-url",
        redis_url,
        env={"HOOKSCOPE_PING_INTERVAL": "0.25"},  # a quick shutdown
    )
    monkeypatch.setenv("HOOKSCOPE_URL", shared.url)
    user_tests.makepyfile(
        test_user=ISOLATION_TESTS,
        test_record=RECORD_SERVER,
        test_failing="""
        import httpx

        def test_wrong_event(hookbin):
            httpx.post(hookbin.url_for("/stripe"), json={"type": "charge.failed"})
            hookbin.wait_for(path="/stripe", json={"type": "charge.succeeded"}, timeout=0.3)
        """,
    )
    result = user_tests.runpytest_subprocess(*QUIET, "-n", "2")
    result.assert_outcomes(passed=13, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"hookscope: bins on {shared.url} (from HOOKSCOPE_URL)",
            "E         *-0 POST /stripe  (json.type: 'charge.failed' != 'charge.succeeded')",
        ]
    )
    [record] = _records(user_tests)
    assert record["url"] == shared.url
    assert record["embedded"] is False


IN_PROCESS = """
import httpx
import pytest

import hookscope


def test_calls_in_process_answer_as_over_http(hookscope_server, hookbin):
    sent = httpx.post(hookbin.url_for("/a?x=1"), json={"n": 1})
    found = hookbin.wait_for("POST", "/a", query={"x": "1"}, json={"n": 1})
    assert found.id == sent.headers["x-hookscope-request-id"]
    hookbin.respond_with(418, body="teapot")
    assert httpx.post(hookbin.url).text == "teapot"
    assert len(hookbin.assert_received(count=2)) == 2
    with hookscope.Client(hookscope_server.url) as client:  # the same bin, over HTTP
        over_http = client.bin(hookbin.id, hookbin.token)
        assert [r.id for r in over_http.requests()] == [r.id for r in hookbin.requests()]
        assert over_http.info()["name"] == hookbin.name
    hookbin.delete()
    with pytest.raises(hookscope.BinNotFound):
        hookbin.requests()
"""


def test_the_embedded_servers_app_answers_the_plugin_in_process(
    user_tests: pytest.Pytester,
) -> None:
    # The plugin's calls run the embedded server's app on its loop (no socket): the same
    # answers and errors as over HTTP, and the server's checks (here its API key) hold.
    user_tests.makepyfile(test_user=IN_PROCESS)
    user_tests.runpytest(*QUIET).assert_outcomes(passed=1)
    user_tests.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def hookscope_server_settings():
            return {"api_key": "sesame"}
        """
    )
    result = user_tests.runpytest(*QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["E   *Unauthorized: *--hookscope-api-key or $HOOKSCOPE_API_KEY"])
    user_tests.runpytest(*QUIET, "--hookscope-api-key=sesame").assert_outcomes(passed=1)


def test_bins_with_secrets_are_made_when_asked(hookscope_server: HookscopeServer) -> None:
    bin = hookscope_server.create_bin(name="signed", secrets={"github": "s3cret"})
    try:
        with hookscope.Client(hookscope_server.url) as client:
            info = client.bin(bin.id, bin.token).info()
        assert (info["name"], info["signing"]) == ("signed", ["github"])
    finally:
        hookscope_server._discard(bin)


def test_the_embedded_server_on_uvicorn(user_tests: pytest.Pytester) -> None:
    user_tests.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def hookscope_server_settings():
            return {"server": "uvicorn"}

        @pytest.fixture(autouse=True)
        def on_uvicorn(hookscope_server):
            assert hookscope_server.embedded.server == "uvicorn"
        """
    )
    user_tests.makepyfile(test_user=IN_PROCESS)
    user_tests.runpytest(*QUIET).assert_outcomes(passed=1)
