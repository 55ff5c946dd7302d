"""``hookscope tail``: live lines from a real process, stopped by the test."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest
import stripe
from _support import ServerProcess, wait_until
from cli_support import CliProcess, send, wire_requests

import hookscope
from hookscope._embedded import BackgroundServer


def _tail(start: Callable[..., CliProcess], bin: hookscope.Bin, *args: str) -> CliProcess:
    # COLUMNS: the width previews are cut to (pytest may set a narrow one).
    env = {"HOOKSCOPE_URL": bin.client.url, "HOOKSCOPE_TOKEN": bin.token, "COLUMNS": "160"}
    return start("tail", bin.id, *args, env=env)


def test_json_lines_parse_back_to_the_requests(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    send(bin.url_for("/before?x=1"), content=b"\xff\xfe binary")
    tail = _tail(cli_process, bin, "--json", "--since", "0-0")
    send(bin.url_for("/dup"), json={"a": "ü"}, headers=[("X-D", "1"), ("X-D", "2")])
    send(bin.url, "GET")

    lines = tail.wait_for_stdout(3)

    assert wire_requests(lines) == bin.requests()
    assert tail.interrupt() == 0  # Ctrl-C
    assert tail.stderr == []  # quietly
    assert len(tail.stdout) == 3


def test_readable_lines(cli_process: Callable[..., CliProcess], bin: hookscope.Bin) -> None:
    for n in range(12):
        send(bin.url_for(f"/old/{n}"), content=b"x")
    tail = _tail(cli_process, bin)  # the newest 10, then live
    tail.wait_for_stdout(10)
    send(bin.url_for("/github/push?a=1&a=2"), content=b'{"zen": "Keep it\n  logically awesome."}',
         headers={"content-type": "application/json; charset=utf-8"})  # fmt: skip
    send(bin.url_for("/blob"), "PUT", content=bytes(range(256)) * 8,
         headers={"content-type": "application/octet-stream"})  # fmt: skip

    lines = tail.wait_for_stdout(12)

    assert [line.split()[2] for line in lines[:10]] == [f"/old/{n}" for n in range(2, 12)]
    assert re.match(
        r"^\d\d:\d\d:\d\d\.\d{3} POST +/github/push\?a=1&a=2 +application/json +39 B "
        r"+\{\"zen\": \"Keep it logically awesome.\"\}$",
        lines[10],
    ), lines[10]
    assert re.match(
        r"^.* PUT +/blob +application/octet-stream +2\.0 KiB +<binary> 00 01 02 03 04 05 06 07 …$",
        lines[11],
    ), lines[11]
    assert "\x1b[" not in "".join(lines)  # no colour when stdout is not a terminal
    assert tail.interrupt(signal.SIGTERM) == 0
    assert tail.stderr == []


def test_lines_show_the_servers_signature_verdict(
    cli_process: Callable[..., CliProcess], client: hookscope.Client
) -> None:
    secret = "whsec_tail_secret"
    bin = client.create_bin(secrets={"stripe": secret})
    body = '{"id": "evt_1", "type": "invoice.paid"}'
    now = stripe.WebhookSignature.generate_signature_header(body, secret)
    old = stripe.WebhookSignature.generate_signature_header(body, secret, int(time.time()) - 900)
    for content, header in ((body, now), (body + " ", now), (body, old)):
        headers = {"Stripe-Signature": header, "Content-Type": "application/json"}
        send(bin.url_for("/stripe"), content=content, headers=headers)
    send(bin.url_for("/health"), "GET")  # the bin holds a secret: unsigned is missing_header

    plain = _tail(cli_process, bin, "--no-color")
    coloured = _tail(cli_process, bin, "--color")
    lines = [line[13:] for line in plain.wait_for_stdout(4)]

    # COLUMNS=160: the path column is 32 wide, the content type 24, the size 10.
    columns = "/stripe".ljust(32) + "  " + "application/json".ljust(24) + "  "
    assert (
        lines
        == [
            "POST    ✓ " + columns + "      39 B  " + '{"id": "evt_1", "type": "invoice.paid"}',
            "POST    ✗ " + columns + "      40 B  stripe: bad_signature  "
            '{"id": "evt_1", "type": "invoice.paid"}',
            "POST    ✗ " + columns + "      39 B  stripe: timestamp_outside_tolerance  "
            '{"id": "evt_1", "type": "in…',  # cut to the terminal's width
            "GET     ✗ " + "/health".ljust(32) + "  " + "-".ljust(24) + "         0 B  "
            "stripe: missing_header",
        ]
    )
    shown = coloured.wait_for_stdout(4)
    assert "\x1b[32m\x1b[1m✓\x1b[0m" in shown[0]
    assert "\x1b[31m\x1b[1m✗\x1b[0m" in shown[1]
    assert "\x1b[31mstripe: bad_signature\x1b[0m" in shown[1]
    assert secret not in "".join(plain.stdout + shown)
    for process in (plain, coloured):
        assert process.interrupt() == 0
        assert process.stderr == []


def test_tail_zero_shows_only_new_requests(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    send(bin.url_for("/old"))
    tail = _tail(cli_process, bin, "--json", "--tail", "0")
    # "From now on" starts once tail has asked the server for the newest id; send until a
    # request shows, then check that everything from it on arrives and nothing before.
    sent: list[str] = []

    def arrived() -> bool:
        sent.append(send(bin.url_for("/new")))
        return bool(tail.stdout)

    wait_until(arrived, timeout=20, interval=0.1, what="tail to show a new request")
    first = wire_requests(tail.stdout[:1])[0]
    assert first.path == "/new"
    expected = sent[sent.index(first.id) :]
    got = wire_requests(tail.wait_for_stdout(len(expected)))
    assert [r.id for r in got] == expected
    assert tail.interrupt() == 0


def test_since_and_tail_do_not_combine(
    cli_process: Callable[..., CliProcess], embedded_server: BackgroundServer
) -> None:
    tail = cli_process("tail", "b_x", "--token", "t", "--since", "0-0", "--tail", "3",
                       "--url", embedded_server.url)  # fmt: skip

    assert tail.wait() == 2
    assert any("--since and --tail do not combine" in line for line in tail.stderr)


def test_deleted_bin_ends_tail_with_one_line(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    send(bin.url)
    tail = _tail(cli_process, bin, "--json", "--since", "0-0")
    tail.wait_for_stdout(1)

    bin.delete()

    assert tail.wait() == 1
    assert tail.stderr == [f"Error: bin {bin.id} was deleted"]


@pytest.mark.redis
def test_tail_resumes_across_a_server_restart(
    cli_process: Callable[..., CliProcess],
    server_factory: Callable[..., ServerProcess],
    redis_url: str,
) -> None:
    server = server_factory("--redis-url", redis_url)
    with hookscope.Client(server.url) as client:
        bin = client.create_bin()
        tail = _tail(cli_process, bin, "--json", "--since", "0-0")
        before = [send(bin.url_for(f"/before/{n}")) for n in range(3)]
        tail.wait_for_stdout(3)

        server.restart()
        after = [send(bin.url_for(f"/after/{n}")) for n in range(3)]

        lines = tail.wait_for_stdout(6)
        assert [r.id for r in wire_requests(lines)] == before + after
        assert wire_requests(lines) == bin.requests()
        # On stderr, a line when the stream broke and one when it resumed, where it resumed.
        tail.wait_for_stderr(f"reconnected, resuming after {before[-1]}")
        assert any("interrupted" in line for line in tail.stderr), tail.stderr
        assert all(len(line) <= 160 for line in tail.stderr), tail.stderr
        assert tail.interrupt() == 0
        assert len(tail.stdout) == 6


def test_smee_prints_the_channel_and_marks_what_it_would_not_forward_exactly(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    send(bin.url_for("/compact"), content=b'{"a":1}', headers={"content-type": "application/json"})
    send(bin.url_for("/pretty"), content=b'{"a": 1}', headers={"content-type": "application/json"})
    tail = _tail(cli_process, bin, "--no-color", "--since", "0-0", "--smee")
    channel = tail.wait_for_stderr("smee channel: ")
    assert bin.smee_url(cursor="smee") in channel
    compact, pretty = tail.wait_for_stdout(2)
    assert "/compact" in compact and "smee" not in compact
    assert "/pretty" in pretty and "[not byte-exact via smee]" in pretty
