"""``hookscope forward``: byte-exact relay to a local receiver, in real processes."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable

import pytest
from _support import ServerProcess
from cli_support import CliProcess, Received, Receiver, send, send_h2, send_raw
from click.testing import Result

import hookscope

BINARY = bytes(range(256)) * 4
DROPPED = {"host", "content-length", "connection", "keep-alive", "te", "trailer",
           "transfer-encoding", "upgrade", "proxy-authorization", "x-named-hop"}  # fmt: skip


def _forward(
    start: Callable[..., CliProcess], bin: hookscope.Bin, to: str, *args: str
) -> CliProcess:
    env = {"HOOKSCOPE_URL": bin.client.url, "HOOKSCOPE_TOKEN": bin.token}
    return start("forward", bin.id, "--to", to, *args, env=env)


def _expected_headers(request: hookscope.CapturedRequest) -> list[tuple[str, str]]:
    return [(n, v) for n, v in request.headers.multi_items() if n.lower() not in DROPPED]


def assert_relayed(got: Received, request: hookscope.CapturedRequest, base: str = "") -> None:
    """``got`` is ``request``, byte for byte, apart from the hop-by-hop headers."""
    query = f"?{request.query}" if request.query else ""
    assert got.method == request.method
    assert got.target == (base + request.path if request.path != "/" else base or "/") + query
    assert got.body == request.body
    names = [name.lower() for name, _ in got.headers]
    assert names.count("host") == 1
    end_to_end = [
        (n.lower(), v) for n, v in got.headers if n.lower() not in ("host", "content-length")
    ]
    assert end_to_end == _expected_headers(request)
    lengths = [v for n, v in got.headers if n.lower() == "content-length"]
    assert lengths == [str(len(request.body))] if request.body else lengths in ([], ["0"])


def test_forward_is_byte_exact(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    send(bin.url_for("/github/push?a=1&a=2&raw=%zz%2F"), content=BINARY,
         headers=[("Content-Type", "application/octet-stream"), ("X-Dup", "one"),
                  ("X-Dup", "two"), ("Connection", "keep-alive, X-Named-Hop"),
                  ("X-Named-Hop", "drop me"), ("Keep-Alive", "timeout=5"),
                  ("Proxy-Authorization", "Basic eA=="), ("X-Latin", b"caf\xe9")])  # fmt: skip
    send(bin.url_for("/deep/a%2Fb/%E2%82%AC"), "PATCH", json={"ü": [1, 2]})
    send(bin.url, "GET")
    send(bin.url_for("/chunked"), content=iter([b"part one, ", b"part two"]))  # chunked
    send(bin.url_for("/empty"), "DELETE")
    requests = bin.requests()

    forward = _forward(cli_process, bin, receiver.url + "/base", "--since", "0-0")
    received = receiver.wait_for(len(requests))

    for got, request in zip(received, requests, strict=True):
        assert_relayed(got, request, "/base")
    assert received[0].target == "/base/github/push?a=1&a=2&raw=%zz%2F"
    assert [v for n, v in received[0].headers if n.lower() == "x-dup"] == ["one", "two"]
    assert received[2].target == "/base"
    lines = forward.wait_for_stdout(len(requests))
    for line, request in zip(lines, requests, strict=True):
        assert f" {request.id} {request.method} {request.path}" in line
        assert line.endswith(" ms)") and "→ 200 OK" in line
    assert forward.interrupt() == 0
    assert len(receiver.received) == len(requests)  # nothing repeated
    summary = "\n".join(forward.stderr)
    assert "forwarded 5 requests" in summary
    assert f"--since {requests[-1].id}" in summary


def test_target_status_is_printed_and_not_retried(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory(status=500)
    send(bin.url_for("/x"))

    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0", "--id-header",
                       "X-Hookscope-Request-Id")  # fmt: skip

    (line,) = forward.wait_for_stdout(1)
    assert line.endswith("→ 500 Internal Server Error") or "→ 500 Internal Server Error (" in line
    assert forward.interrupt() == 0
    (got,) = receiver.received
    assert ("X-Hookscope-Request-Id", bin.requests()[0].id) in got.headers


def test_since_resumes_after_a_given_id(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    ids = [send(bin.url_for(f"/n/{n}")) for n in range(4)]

    forward = _forward(cli_process, bin, receiver.url, "--since", ids[1])
    receiver.wait_for(2)
    ids.append(send(bin.url_for("/n/4")))

    received = receiver.wait_for(3)
    assert [r.target for r in received] == ["/n/2", "/n/3", "/n/4"]
    assert forward.interrupt() == 0


def test_without_since_only_new_requests_go(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    send(bin.url_for("/old"))
    forward = _forward(cli_process, bin, receiver.url)
    started = forward.wait_for_stderr("forwarding ")  # printed once the start is fixed
    assert f"after request {bin.requests()[0].id}" in started

    send(bin.url_for("/new"))

    assert [r.target for r in receiver.wait_for(1)] == ["/new"]
    assert forward.interrupt(signal.SIGTERM) == 0


def test_unreachable_target_is_retried_in_order(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory(start=False)  # the port is known; nothing listens yet
    ids = [send(bin.url_for(f"/n/{n}")) for n in range(3)]

    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0")
    retry = forward.wait_for_stderr("retrying in")
    assert ids[0] in retry and "target unreachable" in retry
    receiver.start()

    received = receiver.wait_for(3)
    assert [r.target for r in received] == ["/n/0", "/n/1", "/n/2"]
    forward.wait_for_stdout(3)
    assert forward.interrupt() == 0
    assert len(receiver.received) == 3


def test_stopped_while_retrying_names_the_waiting_request(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory(start=False)
    waiting = send(bin.url_for("/waiting"))
    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0")
    forward.wait_for_stderr("retrying in")

    assert forward.interrupt() == 0
    stderr = "\n".join(forward.stderr)
    assert f"not delivered yet: {waiting} (resuming sends it)" in stderr
    assert "last settled id: none; resume with: hookscope forward" in stderr
    assert "--since 0-0" in stderr
    assert receiver.received == []


def test_max_attempts_stops_and_tells_how_to_resume(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    first = send(bin.url_for("/delivered"))
    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0", "--max-attempts", "2")
    receiver.wait_for(1)
    receiver.stop()  # the target goes down
    failed = send(bin.url_for("/failed"))

    assert forward.wait() == 1
    stderr = "\n".join(forward.stderr)
    assert re.search(rf"{failed} POST /failed: NOT DELIVERED after 2 attempts", stderr), stderr
    # Resuming sends the failed one again, with the same options.
    assert f"--to {receiver.url} --max-attempts 2 --since {first}" in stderr
    assert "forwarded 1 request" in stderr
    assert "Traceback" not in stderr


def test_skip_failed_reports_and_goes_on(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory(start=False)
    skipped = send(bin.url_for("/skipped"))
    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0",
                       "--max-attempts", "1", "--skip-failed")  # fmt: skip
    forward.wait_for_stderr("NOT DELIVERED")
    receiver.start()
    send(bin.url_for("/delivered"))

    assert [r.target for r in receiver.wait_for(1)] == ["/delivered"]
    assert forward.interrupt() == 1  # something was not delivered
    stderr = "\n".join(forward.stderr)
    assert f"NOT delivered (skipped): {skipped}" in stderr
    assert "Traceback" not in stderr


def test_deleted_bin_stops_forward_with_a_summary(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    last = send(bin.url_for("/x"))
    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0")
    forward.wait_for_stdout(1)

    bin.delete()

    assert forward.wait() == 1
    assert forward.stderr[-1] == f"Error: bin {bin.id} was deleted"
    assert any(f"--since {last}" in line for line in forward.stderr)


def test_skip_failed_needs_max_attempts(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    forward = _forward(cli_process, bin, "http://127.0.0.1:9", "--skip-failed")

    assert forward.wait() == 2
    assert any("--skip-failed needs --max-attempts" in line for line in forward.stderr)


@pytest.mark.redis
def test_forward_survives_a_server_restart(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    server_factory: Callable[..., ServerProcess],
    redis_url: str,
) -> None:
    receiver = receiver_factory()
    server = server_factory("--redis-url", redis_url)
    with hookscope.Client(server.url) as client:
        bin = client.create_bin()
        forward = _forward(cli_process, bin, receiver.url + "/hooks", "--since", "0-0")
        before = [send(bin.url_for(f"/before/{n}"), content=bytes([n, 255])) for n in range(3)]
        receiver.wait_for(3)

        server.restart()  # every stream is cut; history stays in Redis
        after = [send(bin.url_for(f"/after/{n}"), content=bytes([n, 254])) for n in range(3)]

        received = receiver.wait_for(6)
        requests = bin.requests()
        assert [r.id for r in requests] == before + after
        for got, request in zip(received, requests, strict=True):
            assert_relayed(got, request, "/hooks")
        forward.wait_for_stdout(6)
        assert forward.interrupt() == 0
        assert len(receiver.received) == 6  # nothing repeated
        assert len(forward.stdout) == 6


def test_what_cannot_be_forwarded_is_skipped_and_the_run_goes_on(
    cli_process: Callable[..., CliProcess],
    receiver_factory: Callable[..., Receiver],
    bin: hookscope.Bin,
) -> None:
    receiver = receiver_factory()
    unforwardable = {
        send_raw(bin.url, b"POST", b"/#frag", b"x"): ("POST /#frag", "Invalid URL component 'path'"),
        send_h2(bin.url, b"A B", b"/space"): ("A B /space", "Illegal method characters"),
        send_h2(bin.url, b"PO\x1b]0;PWNED\x07ST", b"/title"): (
            "PO\\x1b]0;PWNED\\x07ST /title", "Illegal method characters"),
        send_h2(bin.url, b"POST", b"/\x1b[2J\x1bc"): (
            "POST /\\x1b[2J\\x1bc", "non-printable ASCII character in URL path"),
        send_h2(bin.url, b"POST", b"/q?\x9b2J"): ("POST /q?\\x9b2J", "is not ASCII"),
        send_h2(bin.url, b"POST", b"/vt", [(b"x-a", b"a\x0bb")]): (
            "POST /vt", "Illegal header value b'a\\x0bb'"),
    }  # fmt: skip
    quote = send_raw(bin.url, b"X'", b"/quote")  # a legal token: delivered
    good = send(bin.url_for("/good"), content=b"ok")

    forward = _forward(cli_process, bin, receiver.url, "--since", "0-0")

    received = receiver.wait_for(2)
    assert [(r.method, r.target, r.body) for r in received] == [
        ("X'", "/quote", b""),
        ("POST", "/good", b"ok"),
    ]
    assert len(forward.wait_for_stdout(2)) == 2  # both delivered lines are printed
    assert forward.interrupt() == 1  # requests were skipped
    skipped_lines = [line for line in forward.stderr if "CANNOT BE FORWARDED" in line]
    assert len(skipped_lines) == len(unforwardable)
    for line, (request_id, (what, why)) in zip(skipped_lines, unforwardable.items(), strict=True):
        assert f" {request_id} {what}: CANNOT BE FORWARDED, " in line, line
        assert why in line and line.endswith("; skipped"), line
    stderr = "\n".join(forward.stderr)
    assert f"cannot be forwarded (skipped): {', '.join(unforwardable)}" in stderr
    assert f"last settled id: {good}" in stderr
    assert "\x1b" not in stderr + "".join(forward.stdout)  # escaped, and no colour off a tty
    assert "Traceback" not in stderr
    assert quote in forward.stdout[0]


def test_id_header_must_be_a_header_name(cli: Callable[..., Result], bin: hookscope.Bin) -> None:
    result = cli("forward", bin.id, "--token", bin.token, "--url", bin.client.url,
                 "--to", "http://127.0.0.1:9", "--id-header", "X Id")  # fmt: skip
    assert result.exit_code == 2
    assert "'X Id' is not an HTTP header name" in result.stderr
