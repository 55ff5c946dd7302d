"""Nothing a sender captured reaches the terminal raw: ``tail``, ``--json``, ``export``, errors.

Hostile requests are captured for real: over HTTP/2, which lets ESC through in the method,
path, query and header values, and as raw HTTP/1.1 bytes (ESC in a header value). The
expected lines are written out by hand, escapes and all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import CliProcess, send_h2, send_raw
from click.testing import Result

import hookscope
from hookscope._display import clock_time
from hookscope._exceptions import HookscopeError
from hookscope.cli._common import _show_reconnects, run

OSC8 = b"\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # the colours hookscope itself adds


def _hostile(bin: hookscope.Bin) -> list[tuple[str, str]]:
    """Capture three hostile requests; returns ``(id, expected line after the time)``."""
    title = send_h2(
        bin.url,
        b"PO\x1b]0;PWNED\x07ST",
        b"/\x1b[2J\x1b[?1049h?\x9bq",
        [(b"content-type", b"text/plain\x1bc")],
        "a\u202etxt.exe \u2066b\u2069\x7f".encode(),
    )
    link = send_h2(bin.url, b"GET", b"/x?" + OSC8)
    reset = send_raw(bin.url, b"POST", b"/reset", b"\x1b[2J", [(b"Content-Type", b"\x1bc")])
    # COLUMNS=200 (below): the path column is 45 wide, the content type 24, the size 10.
    return [
        (title, "PO\\x1b]0;PWNED\\x07ST   " + "/\\x1b[2J\\x1b[?1049h?\\x9bq".ljust(45)
                + "  " + "text/plain\\x1bc".ljust(24) + "        20 B  "
                "a\\u202etxt.exe \\u2066b\\u2069\\x7f"),
        (link, "GET       " + "/x?\\x1b]8;;http://evil.example/\\x1b\\click\\x1b]8;;\\x1b\\"[:44]
               + "…"
               + "  -" + " " * 23 + "         0 B"),
        (reset, "POST      " + "/reset".ljust(45) + "  " + "\\x1bc".ljust(24) + "         4 B  "
                "<binary> 1b 5b 32 4a"),
    ]  # fmt: skip


def _tail(start: Callable[..., CliProcess], bin: hookscope.Bin, *args: str) -> CliProcess:
    env = {"HOOKSCOPE_URL": bin.client.url, "HOOKSCOPE_TOKEN": bin.token, "COLUMNS": "200"}
    return start("tail", bin.id, "--tail", "3", *args, env=env)


def test_tail_lines_show_escapes_not_escape_sequences(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    expected = [f"{clock_time(bin.get(id).received_at)} {line}" for id, line in _hostile(bin)]

    plain = _tail(cli_process, bin, "--no-color")
    coloured = _tail(cli_process, bin, "--color")

    assert plain.wait_for_stdout(3) == expected
    lines = coloured.wait_for_stdout(3)
    assert [SGR.sub("", line) for line in lines] == expected  # every ESC left is a colour
    assert all(line.startswith("\x1b[2m") for line in lines)  # the time, dim
    assert "\x1b[35m\x1b[1mPO\\x1b]0;PWNED\\x07ST\x1b[0m" in lines[0]  # the method, magenta
    assert "\x1b[36mtext/plain\\x1bc " in lines[0]  # the content type, cyan (padded)
    for process in (plain, coloured):
        assert process.interrupt() == 0
        assert process.stderr == []


def test_tail_json_is_the_same_json_with_nothing_raw(
    cli_process: Callable[..., CliProcess], bin: hookscope.Bin
) -> None:
    ids = [id for id, _ in _hostile(bin)]
    tail = _tail(cli_process, bin, "--json")
    lines = tail.wait_for_stdout(3)
    assert tail.interrupt() == 0

    assert [json.loads(line) for line in lines] == [bin.get(id).to_wire() for id in ids]
    assert all(line.isprintable() for line in lines)
    assert '"PO\\u001b]0;PWNED\\u0007ST"' in lines[0]
    assert '"query": "1049h?\\u009bq"' in lines[0]  # the first "?" begins the query
    assert "a\\u202etxt.exe \\u2066b\\u2069\\u007f" in lines[0]


@pytest.mark.parametrize("fmt", ["jsonl", "har"])
def test_export_json_is_printable_and_its_messages_too(
    cli: Callable[..., Result], bin: hookscope.Bin, tmp_path: Path, fmt: str
) -> None:
    ids = [id for id, _ in _hostile(bin)]
    credentials = ("--url", bin.client.url, "--token", bin.token)

    written = cli("export", bin.id, "--format", fmt, *credentials)
    output = tmp_path / "x\x1b[2J\u202e.out"
    to_file = cli("export", bin.id, "--format", fmt, "-o", str(output), *credentials)

    assert written.exit_code == 0 and to_file.exit_code == 0
    assert written.stdout.replace("\n", "").isprintable()
    if fmt == "jsonl":
        lines = written.stdout.splitlines()
        assert [json.loads(line) for line in lines] == [bin.get(id).to_wire() for id in ids]
    else:
        entries = json.loads(written.stdout)["log"]["entries"]
        assert entries[0]["request"]["method"] == "PO\x1b]0;PWNED\x07ST"
    assert output.read_text() == written.stdout
    assert to_file.stderr == f"exported 3 requests to {tmp_path}/x\\x1b[2J\\u202e.out\n"


def test_error_lines_are_escaped(cli: Callable[..., Result]) -> None:
    async def fail() -> None:
        raise HookscopeError("the server said \x1b]0;pwned\x07\u202e")

    with pytest.raises(Exception, match=r"said \\x1b\]0;pwned\\x07\\u202e$"):
        run(fail(), url="http://127.0.0.1:9")

    refused = cli("tail", "b_\x1b[2J", "--token", "t")
    assert refused.exit_code == 2
    assert "'b_\\x1b[2J' is not a bin id" in refused.stderr


def test_stream_messages_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    with _show_reconnects():
        logging.getLogger("hookscope.client").warning("closed (%s)", "reason \x1b[2J\x9b\u2066")
    line = capsys.readouterr().err
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3} ", line[:13]), line
    assert line[13:] == "hookscope: closed (reason \\x1b[2J\\x9b\\u2066)\n"


def test_stream_messages_are_cut_to_the_terminal_not_wrapped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    with _show_reconnects():
        logging.getLogger("hookscope.client").info("interrupted (%s)", "x" * 200)
        logging.getLogger("hookscope.client").info("reconnected")
    interrupted, reconnected = capsys.readouterr().err.splitlines()
    assert len(interrupted) == 60 and interrupted.endswith("…")
    assert reconnected.endswith(" hookscope: reconnected")  # INFO lines show: every reconnect


def test_new_escapes_what_the_server_answers(
    cli: Callable[..., Result], embedded_server: hookscope.BackgroundServer
) -> None:
    created = cli("new", "--url", embedded_server.url, "--name", "n\x1b]0;t\x07\u202e")
    as_json = cli("new", "--url", embedded_server.url, "--name", "n\x7f\u202e", "--json")

    assert created.exit_code == 0 and as_json.exit_code == 0
    assert "Created bin b_" in created.stdout
    assert " 'n\\x1b]0;t\\x07\\u202e'\n" in created.stdout
    assert '"name": "n\\u007f\\u202e"' in as_json.stdout
    assert json.loads(as_json.stdout)["name"] == "n\x7f\u202e"
    assert (created.stdout + as_json.stdout).replace("\n", "").isprintable()
