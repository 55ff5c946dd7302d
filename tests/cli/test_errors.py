"""Unknown bin, wrong token, server down: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _support import free_port
from click.testing import Result

import hookscope
from hookscope._embedded import BackgroundServer

COMMANDS = [
    pytest.param(["export"], id="export"),
    pytest.param(["tail"], id="tail"),
    pytest.param(["forward", "--to", "http://127.0.0.1:9/"], id="forward"),
]


def _one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_bin(
    cli: Callable[..., Result], embedded_server: BackgroundServer, command: list[str]
) -> None:
    result = cli(*command[:1], "b_doesNotExist", *command[1:],
                 "--url", embedded_server.url, "--token", "t")  # fmt: skip

    line = _one_error_line(result)
    assert line == (
        f"Error: no bin b_doesNotExist on {embedded_server.url} "
        "(deleted, expired, or a typo in the id?)"
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_wrong_token(
    cli: Callable[..., Result], bin: hookscope.Bin, embedded_server: BackgroundServer,
    command: list[str],
) -> None:  # fmt: skip
    result = cli(*command[:1], bin.id, *command[1:],
                 env={"HOOKSCOPE_URL": embedded_server.url, "HOOKSCOPE_TOKEN": "wrong"})  # fmt: skip

    line = _one_error_line(result)
    assert line.startswith(f"Error: the server refused the token for bin {bin.id}")
    assert "--token / HOOKSCOPE_TOKEN" in line


@pytest.mark.parametrize("command", COMMANDS)
def test_server_down(cli: Callable[..., Result], command: list[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = cli(*command[:1], "b_x", *command[1:], "--url", url, "--token", "t")

    line = _one_error_line(result)
    assert (
        line
        == f"Error: cannot reach a hookscope server at {url}: is it running? (--url / HOOKSCOPE_URL)"
    )


def test_server_down_on_new(cli: Callable[..., Result]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = cli("new", "--url", url)

    assert _one_error_line(result).startswith(f"Error: cannot reach a hookscope server at {url}")


@pytest.mark.parametrize("command", ["export", "tail"])
def test_missing_token_is_a_usage_error(cli: Callable[..., Result], command: str) -> None:
    result = cli(command, "b_x")

    assert result.exit_code == 2
    assert "a bin token is needed: pass --token or set HOOKSCOPE_TOKEN" in result.stderr


def test_bad_request_id(cli: Callable[..., Result]) -> None:
    result = cli("export", "b_x", "--token", "t", "--since", "yesterday")

    assert result.exit_code == 2
    assert "'yesterday' is not a request id" in result.stderr


def test_capture_url_as_bin_names_the_server(
    cli: Callable[..., Result], bin: hookscope.Bin
) -> None:
    # No --url: the server is the one in the capture URL.
    result = cli("export", bin.url + "/some/path", "--token", bin.token)

    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_not_a_capture_url(cli: Callable[..., Result]) -> None:
    result = cli("export", "http://127.0.0.1:8080/nothing", "--token", "t")

    assert result.exit_code == 2
    assert "is not a capture URL" in result.stderr
