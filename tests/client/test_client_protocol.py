"""The stream protocol without I/O: frames, resuming, reconnect decisions, backoff."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

import hookscope
from hookscope._backoff import Backoff
from hookscope._contract import CloseCode, ErrorCode, error_frame, ws_url
from hookscope.client._protocol import StreamProtocol, StreamState


def wire(request_id: str, path: str = "/p") -> dict[str, Any]:
    return {
        "id": request_id,
        "bin": "b_x",
        "received_at": "2026-11-28T21:43:44.123456Z",
        "method": "POST",
        "path": path,
        "query": "",
        "headers": [],
        "body": "",
        "body_encoding": "utf-8",
        "size": 0,
        "remote_addr": None,
        "http_version": "1.1",
    }


def request_frame(request_id: str) -> str:
    return json.dumps({"type": "request", "request": wire(request_id)})


def batch_frame(*request_ids: str) -> str:
    return json.dumps({"type": "batch", "requests": [wire(i) for i in request_ids]})


def drain(protocol: StreamProtocol) -> list[str]:
    ids = []
    while (request := protocol.pop()) is not None:
        ids.append(request.id)
    return ids


def fixed_backoff() -> Backoff:
    return Backoff(initial=0.1, factor=2, maximum=1.0, uniform=lambda low, high: high)


def test_replay_then_live() -> None:
    protocol = StreamProtocol("b_x", "0-0")
    assert protocol.state is StreamState.CONNECTING
    assert protocol.query() == {"since": "0-0"}
    protocol.connected()
    assert protocol.state is StreamState.REPLAYING
    protocol.receive(batch_frame("1-0", "1-1", "2-0"))
    protocol.receive('{"type": "live"}')
    assert protocol.state is StreamState.LIVE
    protocol.receive(request_frame("3-0"))
    assert drain(protocol) == ["1-0", "1-1", "2-0", "3-0"]
    assert protocol.query() == {"since": "3-0"}
    assert protocol.pop() is None


def test_nothing_is_yielded_twice_across_a_reconnect() -> None:
    protocol = StreamProtocol("b_x", "5-0")
    protocol.connected()
    protocol.receive(batch_frame("4-0", "5-0", "6-0"))  # at or before since: already seen
    protocol.receive(request_frame("7-0"))
    assert protocol.closed(1012) > 0
    assert protocol.query() == {"since": "7-0"}
    protocol.connected()
    protocol.receive(batch_frame("6-0", "7-0", "8-0"))  # an overlapping replay
    protocol.receive(request_frame("8-0"))
    protocol.receive(request_frame("10-0"))
    assert drain(protocol) == ["6-0", "7-0", "8-0", "10-0"]


def test_ids_compare_as_numbers_not_strings() -> None:
    protocol = StreamProtocol("b_x", "9-0")
    protocol.connected()
    protocol.receive(batch_frame("10-0", "10-2", "10-10"))
    assert drain(protocol) == ["10-0", "10-2", "10-10"]


def test_initial_requests_come_first() -> None:
    first = hookscope.CapturedRequest.from_wire(wire("3-0"))
    protocol = StreamProtocol("b_x", "3-0", [first])
    protocol.connected()
    protocol.receive(request_frame("4-0"))
    assert drain(protocol) == ["3-0", "4-0"]


def test_unknown_frames_and_fields_are_ignored() -> None:
    protocol = StreamProtocol("b_x", "0-0")
    protocol.connected()
    protocol.receive('{"type": "hello", "x": 1}')
    protocol.receive(json.dumps({"type": "request", "request": {**wire("1-0"), "new": 1}, "v": 2}))
    assert drain(protocol) == ["1-0"]


def test_backoff_grows_is_capped_and_resets_when_data_flows() -> None:
    protocol = StreamProtocol("b_x", "0-0", backoff=fixed_backoff())
    protocol.connected()
    delays = [protocol.closed(None)] + [protocol.failed(OSError("refused")) for _ in range(5)]
    assert delays == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    protocol.connected()
    protocol.receive('{"type": "live"}')
    assert protocol.closed(None) == 0.1  # a working connection resets the backoff


def test_a_stream_that_never_connected_fails_fast() -> None:
    protocol = StreamProtocol("b_x", "0-0")
    with pytest.raises(hookscope.ConnectionFailed, match=r"b_x at http://h:1 .*is the server"):
        protocol.failed(ConnectionRefusedError("refused"), "http://h:1")
    assert protocol.state is StreamState.FAILED


def test_backoff_has_jitter() -> None:
    backoff = Backoff(initial=1, factor=2, maximum=8)
    delays = {backoff.delay(2) for _ in range(50)}
    assert all(2 <= delay <= 4 for delay in delays)
    assert len(delays) > 1
    assert all(4 <= backoff.delay(10) <= 8 for _ in range(50))


def test_lagging_reconnects_at_once_then_backs_off() -> None:
    protocol = StreamProtocol("b_x", "0-0", backoff=fixed_backoff())
    protocol.connected()
    protocol.receive(request_frame("1-0"))
    protocol.receive('{"type": "error", "code": "lagging", "message": "too slow"}')
    assert protocol.closed(4008, "lagging") == 0
    assert protocol.lagged == 1
    assert protocol.state is StreamState.CONNECTING
    protocol.connected()
    assert protocol.closed(4008) == 0.2  # lagging again without progress: back off


@pytest.mark.parametrize("code", [None, 1000, 1001, 1006, 1011, 1012, 4000, 4401, 4403])
def test_other_closes_reconnect(code: int | None) -> None:
    protocol = StreamProtocol("b_x", "0-0", backoff=fixed_backoff())
    protocol.connected()
    assert protocol.closed(code) == 0.1
    assert protocol.state is StreamState.CONNECTING


def test_deleted_bin_ends_the_stream() -> None:
    protocol = StreamProtocol("b_x", "0-0")
    protocol.connected()
    protocol.receive('{"type": "error", "code": "bin_deleted", "message": "the bin was deleted"}')
    with pytest.raises(hookscope.BinNotFound, match="b_x was deleted"):
        protocol.closed(4404, "the bin was deleted")
    assert protocol.state is StreamState.FAILED


@pytest.mark.parametrize(
    ("status", "code", "exception"),
    [
        (404, "bin_not_found", hookscope.BinNotFound),
        (401, "token_required", hookscope.Unauthorized),
        (403, "token_invalid", hookscope.Unauthorized),
        (400, "invalid_since", hookscope.ApiError),
    ],
)
def test_refused_handshakes_raise(status: int, code: str, exception: type[Exception]) -> None:
    protocol = StreamProtocol("b_x", "0-0")
    body = json.dumps({"error": {"code": code, "message": "no"}}).encode()
    with pytest.raises(exception):
        protocol.rejected(status, body)
    assert protocol.state is StreamState.FAILED


@pytest.mark.parametrize(
    ("code", "exception", "status"),
    [
        (ErrorCode.BIN_NOT_FOUND, hookscope.BinNotFound, 404),
        (ErrorCode.TOKEN_REQUIRED, hookscope.Unauthorized, 401),
        (ErrorCode.TOKEN_INVALID, hookscope.Unauthorized, 403),
        (ErrorCode.INVALID_SINCE, hookscope.ApiError, 0),
        ("some_future_code", hookscope.ApiError, 0),
    ],
)
def test_a_policy_close_raises_what_the_http_refusal_would(
    code: str, exception: type[hookscope.ApiError], status: int
) -> None:
    # Where the ASGI server cannot refuse a handshake with an HTTP status, the server accepts
    # it, sends an error frame, and closes with 1008: the same exception, never a retry.
    protocol = StreamProtocol("b_x", "0-0")
    protocol.connected()
    protocol.receive(error_frame(code, "no"))
    with pytest.raises(exception) as caught:
        protocol.closed(CloseCode.POLICY, "no")
    assert type(caught.value) is exception
    assert (caught.value.code, caught.value.status) == (code, status)
    assert str(caught.value).startswith("stream of b_x: no")
    assert protocol.state is StreamState.FAILED

    http = StreamProtocol("b_x", "0-0")
    body = json.dumps({"error": {"code": code, "message": "no"}}).encode()
    with pytest.raises(exception) as by_http:
        http.rejected(status or 400, body)
    assert str(by_http.value) == str(caught.value)


def test_a_policy_close_without_an_error_frame_is_not_retried() -> None:
    protocol = StreamProtocol("b_x", "0-0")
    protocol.connected()
    with pytest.raises(hookscope.ApiError, match=r"refused \(close code 1008: bad token\)"):
        protocol.closed(1008, "bad token")
    assert protocol.state is StreamState.FAILED


def test_a_policy_close_for_unavailable_storage_retries_like_a_503() -> None:
    protocol = StreamProtocol("b_x", "0-0", backoff=fixed_backoff())
    protocol.connected()
    protocol.receive(error_frame(ErrorCode.UNAVAILABLE, "storage is unavailable"))
    assert protocol.closed(CloseCode.POLICY) == 0.1
    assert protocol.state is StreamState.CONNECTING
    assert protocol.rejected(503, b"") == 0.2


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_refused_handshakes_retry_when_the_server_may_recover(status: int) -> None:
    protocol = StreamProtocol("b_x", "0-0", backoff=fixed_backoff())
    assert protocol.rejected(status, b"") == 0.1
    assert protocol.state is StreamState.CONNECTING


def test_reconnects_are_logged_louder_when_they_persist(
    client_log: list[tuple[int, str]],
) -> None:
    protocol = StreamProtocol("b_x", "7-0", backoff=fixed_backoff())
    protocol.connected()
    for _ in range(5):
        protocol.failed(ConnectionRefusedError())
    assert [level for level, _ in client_log] == [logging.INFO] * 3 + [logging.WARNING] * 2
    assert "since=7-0" in client_log[0][1]


def test_each_reconnection_is_logged_with_where_it_resumes(
    client_log: list[tuple[int, str]],
) -> None:
    protocol = StreamProtocol("b_x", "7-0", backoff=fixed_backoff())
    protocol.connected()
    assert client_log == []  # the first connection is not a reconnection
    protocol.receive('{"type": "live"}')
    protocol.closed(1012)
    protocol.connected()
    assert client_log[-1] == (logging.INFO, "stream of b_x reconnected, resuming after 7-0")


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/api/bins/b_x/ws?since=1-0"),
        ("https://hooks.example.com/", "wss://hooks.example.com/api/bins/b_x/ws?since=1-0"),
        ("HTTPS://h.example/prefix", "wss://h.example/prefix/api/bins/b_x/ws?since=1-0"),
    ],
)
def test_ws_url(base: str, expected: str) -> None:
    assert ws_url(base, "b_x", {"since": "1-0"}) == expected
