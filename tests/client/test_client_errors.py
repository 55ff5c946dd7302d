"""Errors: every failure maps to the exception tree with a message that says what to do."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from _support import free_port

import hookscope
from hookscope._embedded import BackgroundServer, serve_in_background
from hookscope.client._errors import api_error


@pytest.mark.parametrize(
    ("status", "code", "exception", "hint"),
    [
        (404, "bin_not_found", hookscope.BinNotFound, "create a new bin"),
        (404, "request_not_found", hookscope.RequestNotFound, "trimmed"),
        (401, "token_required", hookscope.Unauthorized, "client.bin(id, token)"),
        (403, "token_invalid", hookscope.Unauthorized, "token that create_bin() returned"),
        (401, "api_key_required", hookscope.Unauthorized, "pass api_key="),
        (503, "unavailable", hookscope.ServerUnavailable, "retry"),
        (400, "invalid_tail", hookscope.ApiError, "tail must"),
        (404, "not_found", hookscope.ApiError, "base URL of a hookscope server"),
    ],
)
def test_api_errors_map_to_the_tree(
    status: int, code: str, exception: type[hookscope.ApiError], hint: str
) -> None:
    body = f'{{"error": {{"code": "{code}", "message": "tail must be small"}}}}'.encode()
    error = api_error(status, body, what="GET /x")
    assert type(error) is exception
    assert (error.status, error.code) == (status, code)
    assert hint in str(error)
    assert str(error).startswith("GET /x: tail must be small")


def test_a_body_that_is_not_an_api_error() -> None:
    error = api_error(502, b"<html>Bad Gateway</html>", what="GET /x")
    assert type(error) is hookscope.ApiError
    assert (error.status, error.code) == (502, "http_502")
    assert "Bad Gateway" in str(error)


def client_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "hookscope-client" and t.is_alive()}


def test_a_client_that_cannot_be_made_leaves_no_thread() -> None:
    before = client_threads()
    for url in ("not a url", "ftp://127.0.0.1:1", "http://"):
        with pytest.raises(ValueError, match="not the base URL of a hookscope server"):
            hookscope.Client(url)
    assert client_threads() == before


def test_connection_refused_is_connection_failed() -> None:
    client = hookscope.Client(f"http://127.0.0.1:{free_port()}", timeout=2)
    with client, pytest.raises(hookscope.ConnectionFailed, match="is it running"):
        client.create_bin()


@pytest.mark.asyncio
async def test_streams_and_waits_on_a_dead_server_fail_fast() -> None:
    async with hookscope.AsyncClient(f"http://127.0.0.1:{free_port()}", timeout=2) as client:
        bin = client.bin("b_x", "token")
        with pytest.raises(hookscope.ConnectionFailed, match="is it running"):
            await anext(bin.stream())  # the HTTP call that fixes "now"
        with pytest.raises(hookscope.ConnectionFailed, match="is the server running"):
            await anext(bin.stream(since="0-0"))  # straight to the WebSocket
        with pytest.raises(hookscope.ConnectionFailed):
            await bin.wait_for(timeout=5)


def test_unknown_bin_and_wrong_token(client: hookscope.Client, bin: hookscope.Bin) -> None:
    with pytest.raises(hookscope.BinNotFound, match="b_nope"):
        client.bin("b_nope", "token").requests()
    with pytest.raises(hookscope.Unauthorized, match="token") as caught:
        client.bin(bin.id, "wrong").info()
    assert caught.value.status == 403
    with pytest.raises(hookscope.RequestNotFound):
        bin.get("1-0")


def test_bad_arguments_are_api_errors(bin: hookscope.Bin) -> None:
    with pytest.raises(hookscope.ApiError, match="tail") as caught:
        bin.tail(5000)
    assert caught.value.status == 400
    with pytest.raises(hookscope.ApiError, match=r"response\.status"):
        bin.respond_with(status=99)


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[BackgroundServer]:
    with serve_in_background(api_key="sesame") as server:
        yield server


def test_api_key(keyed_server: BackgroundServer) -> None:
    anonymous = hookscope.Client(keyed_server.url)
    with anonymous, pytest.raises(hookscope.Unauthorized, match="pass api_key="):
        anonymous.create_bin()
    wrong = hookscope.Client(keyed_server.url, api_key="wrong")
    with wrong, pytest.raises(hookscope.Unauthorized, match="check the api_key"):
        wrong.create_bin()
    with hookscope.Client(keyed_server.url, api_key="sesame") as keyed:
        bin = keyed.create_bin()
        assert bin.requests() == []  # reading uses the bin's token, not the key
