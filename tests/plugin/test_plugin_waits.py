"""``hookbin`` as a user meets it: waits and assertions that pass, and failures that explain."""

from __future__ import annotations

from conftest import RunPytest


def test_waits_that_pass(run: RunPytest) -> None:
    result = run(
        """
        import httpx
        import hookscope

        def test_exact_path_and_method(hookbin):
            httpx.post(hookbin.url_for("/orders"), json={"id": 7})
            req = hookbin.wait_for(method="post", path="/orders", timeout=5)
            assert req.json() == {"id": 7}

        def test_glob_path(hookbin):
            httpx.post(hookbin.url_for("/github/push"), json={})
            assert hookbin.wait_for(path="/github/*").path == "/github/push"

        def test_json_subset_nested(hookbin):
            event = {"type": "invoice.paid", "data": {"object": {"id": "in_1", "amount": 900}}}
            httpx.post(hookbin.url, json=event)
            req = hookbin.wait_for(json={"data": {"object": {"amount": 900}}})
            assert req.json()["type"] == "invoice.paid"

        def test_headers_subset_any_case(hookbin):
            httpx.post(hookbin.url, content=b"{}", headers={"X-GitHub-Event": "push"})
            hookbin.wait_for(headers={"x-github-event": "push"})

        def test_query_subset(hookbin):
            httpx.get(hookbin.url_for("/cb?state=ok&code=1"))
            hookbin.wait_for(query={"state": "ok"})

        def test_predicate(hookbin):
            httpx.post(hookbin.url, content=b"x" * 2000)
            hookbin.wait_for(predicate=lambda req: len(req.body) > 1000)

        def test_waits_for_what_has_not_arrived_yet(hookbin):
            import threading
            sender = threading.Timer(0.2, httpx.post, [hookbin.url_for("/late")])
            sender.start()
            assert hookbin.wait_for(path="/late", timeout=5).method == "POST"
            sender.join()

        def test_count_returns_a_list_in_order(hookbin):
            for n in range(3):
                httpx.post(hookbin.url_for("/n"), json={"n": n})
            found = hookbin.wait_for(path="/n", count=3)
            assert [req.json()["n"] for req in found] == [0, 1, 2]

        def test_assert_received(hookbin):
            for path in ("/a", "/a", "/b"):
                httpx.post(hookbin.url_for(path))
            assert len(hookbin.assert_received(path="/a", count=2)) == 2
            hookbin.assert_received(path="/b")
            hookbin.assert_received(path="/c", count=0)
            assert [req.path for req in hookbin.requests()] == ["/a", "/a", "/b"]

        def test_assert_nothing_received(hookbin):
            httpx.post(hookbin.url_for("/a"))
            hookbin.assert_nothing_received(path="/b", within=0.1)
            hookbin.assert_nothing_received(path="/b", within=0)

        def test_clear(hookbin):
            httpx.post(hookbin.url_for("/a"))
            hookbin.wait_for(path="/a")
            hookbin.clear()
            assert hookbin.requests() == []

        def test_fresh_bin_per_test_named_after_it(hookbin, hookscope_server, request):
            assert hookbin.requests() == []
            assert hookbin.name == request.node.nodeid
            with hookscope.Client(hookscope_server.url) as client:
                stored = client.bin(hookbin.id, hookbin.token).info()
            assert stored["name"] == request.node.nodeid
        """
    )
    result.assert_outcomes(passed=12)


def test_a_failed_wait_lists_what_arrived_and_points_at_the_test(run: RunPytest) -> None:
    result = run(
        """
        import httpx

        def test_wrong_action(hookbin):
            httpx.post(hookbin.url_for("/github/pull_request"), json={"action": "closed"})
            httpx.get(hookbin.url_for("/health?probe=1"))
            hookbin.wait_for(method="POST", path="/github/*", json={"action": "opened"}, timeout=0.3)
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       hookbin.wait_for(method="POST", path="/github/*", json={"action": "opened"}, timeout=0.3)',
            "E       hookscope.*WaitTimeout: waited 0.3 s for a request matching "
            "POST /github/* json={'action': 'opened'} in bin b_*; 2 request(s) arrived:",
            "E         *-0 POST /github/pull_request  (json.action: 'closed' != 'opened')",
            "E         *-0 GET /health?probe=1  (method: 'GET' != 'POST')",
            "test_user.py:*: WaitTimeout",
        ]
    )
    # The plugin's own frames are hidden: the failure is the test's line.
    result.stdout.no_fnmatch_line("*hookscope/pytest_plugin/*")
    result.stdout.no_fnmatch_line("*hookscope/client/*")


def test_failure_texts(run: RunPytest) -> None:
    result = run(
        """
        import httpx

        def test_nothing_arrived(hookbin):
            hookbin.wait_for(path="/x", timeout=0.2)

        def test_too_few_for_count(hookbin):
            httpx.post(hookbin.url_for("/n"), json={"n": 1})
            hookbin.wait_for(path="/n", count=2, timeout=0.2)

        def test_missing_nested_key(hookbin):
            httpx.post(hookbin.url, json={"data": {"object": {}}})
            hookbin.wait_for(json={"data": {"object": {"amount": 900}}}, timeout=0.2)

        def test_missing_header(hookbin):
            httpx.post(hookbin.url, json={})
            hookbin.wait_for(headers={"X-Signature": "s"}, timeout=0.2)

        def test_not_json(hookbin):
            httpx.post(hookbin.url, content=b"a=1", headers={"content-type": "text/plain"})
            hookbin.wait_for(json={"a": 1}, timeout=0.2)

        def test_exact_count(hookbin):
            for _ in range(3):
                httpx.post(hookbin.url_for("/a"))
            hookbin.assert_received(path="/a", count=2)

        def test_at_least_one(hookbin):
            httpx.put(hookbin.url_for("/a"))
            hookbin.assert_received(method="POST", path="/a")

        def test_something_arrived(hookbin):
            httpx.post(hookbin.url_for("/refunds/9"))
            hookbin.assert_nothing_received(path="/refunds/*", within=5)

        def test_something_already_there(hookbin):
            httpx.post(hookbin.url_for("/refunds/9"))
            hookbin.assert_nothing_received(path="/refunds/*", within=0)
        """,
        "-q",
    )
    result.assert_outcomes(failed=9)
    result.stdout.fnmatch_lines_random(
        [
            "E       *WaitTimeout: waited 0.2 s for a request matching any method /x in bin b_*; "
            "no request arrived at all",
            "E       *WaitTimeout: waited 0.2 s for 2 requests (1 found) matching any method /n *",
            "E         *-0 POST /  (json.data.object.amount: missing)",
            "E         *-0 POST /  (headers.x-signature: missing)",
            "E         *-0 POST /  (json: body is not JSON (text/plain))",
            "E       AssertionError: expected exactly 2 requests matching any method /a in bin b_*, "
            "3 matched; 3 request(s) arrived:",
            "E       AssertionError: expected at least one request matching POST /a in bin b_*, "
            "none matched; 1 request(s) arrived:",
            "E         *-0 PUT /a  (method: 'PUT' != 'POST')",
            "E       AssertionError: expected no request matching any method /refunds/* in bin b_* "
            "within 5 s, but POST /refunds/9 arrived (*-0); 1 request(s) arrived:",
            "E       AssertionError: expected no request matching any method /refunds/* in bin b_* "
            "within 0 s, but POST /refunds/9 arrived (*-0); 1 request(s) arrived:",
        ]
    )


def test_failures_take_their_timeout_and_no_longer(run: RunPytest) -> None:
    # Fails fast where it can: a match during assert_nothing_received ends it at once.
    result = run(
        """
        import time
        import httpx

        def test_timeout_is_honoured(hookbin):
            started = time.monotonic()
            try:
                hookbin.wait_for(path="/never", timeout=0.3)
            except AssertionError:
                pass
            assert 0.25 < time.monotonic() - started < 3

        def test_nothing_received_fails_at_the_first_match(hookbin):
            httpx.post(hookbin.url)
            started = time.monotonic()
            try:
                hookbin.assert_nothing_received(within=30)
            except AssertionError:
                pass
            assert time.monotonic() - started < 5
        """
    )
    result.assert_outcomes(passed=2)


def test_bad_arguments_are_errors_not_failures(run: RunPytest) -> None:
    result = run(
        """
        import pytest

        def test_count_zero(hookbin):
            with pytest.raises(ValueError, match="count must be >= 1"):
                hookbin.wait_for(count=0)
            with pytest.raises(ValueError, match="count must be >= 0"):
                hookbin.assert_received(count=-1)
            with pytest.raises(ValueError, match="body= or json="):
                hookbin.respond_with(body="x", json={})
        """
    )
    result.assert_outcomes(passed=1)


def test_a_failing_predicate_shows_its_own_traceback(run: RunPytest) -> None:
    result = run(
        """
        def broken(req):
            return req.json()["missing"]

        def test_predicate_raises(hookbin):
            import httpx
            httpx.post(hookbin.url, json={})
            hookbin.wait_for(predicate=broken, timeout=2)
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ['*return req.json()[[]"missing"[]]', "E       KeyError: 'missing'"]
    )


def test_sync_bin_in_an_async_test_hints_at_async_hookbin(run: RunPytest) -> None:
    result = run(
        """
        import asyncio
        import httpx
        import pytest

        @pytest.mark.asyncio
        async def test_blocks_its_own_sender(hookbin):
            async def send():
                async with httpx.AsyncClient() as http:
                    await http.post(hookbin.url)
            task = asyncio.create_task(send())
            try:
                hookbin.wait_for(timeout=0.3)  # blocks the loop: send() never runs
            finally:
                await task
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E *hint: this wait blocked the test's running event loop*"])
