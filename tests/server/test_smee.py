"""The smee channel, read by the real ``smee-client@5.0.0`` (npm, run with node).

A local receiver stands for the developer's app; smee-client forwards the bin's requests to it.
Checked: a GitHub-signed JSON webhook arrives with its headers and a valid signature; a form
body arrives as smee-client documents (as a JSON string); a killed and restarted client with
a ``cursor`` URL gets what it missed, once each; a Redis-backed server restarted under a running
client loses and repeats nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from _support import RedisServer, ServerProcess, wait_until

from hookscope._contract import MAX_CURSORS

NODE_PEERS = Path(__file__).parents[1] / "node"
SMEE = NODE_PEERS / "node_modules" / "smee-client" / "bin" / "smee.js"

pytestmark = pytest.mark.slow


class Receiver:
    """The app smee-client forwards to: records every request it gets."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        with self._lock:
            return [r["headers"]["x-hookscope-request-id"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


class Smee:
    """``smee --url SOURCE --target TARGET`` as a child process."""

    def __init__(self, source: str, target: str) -> None:
        if not SMEE.exists():
            pytest.fail("smee-client is missing: npm ci --prefix tests/node (.ci/run does it)")
        self.source, self.target = source, target
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self) -> Smee:
        self.output = []
        connected = threading.Event()
        self.process = subprocess.Popen(
            ["node", str(SMEE), "--url", self.source, "--target", self.target],
            cwd=NODE_PEERS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def drain(stream: Any) -> None:
            for line in stream:
                self.output.append(line)
                if "Connected to" in line:
                    connected.set()

        threading.Thread(target=drain, args=(self.process.stdout,), daemon=True).start()
        wait_until(connected.is_set, timeout=30, what="smee-client to connect")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def smee_factory() -> Iterator[Callable[[str, str], Smee]]:
    started: list[Smee] = []

    def start(source: str, target: str) -> Smee:
        client = Smee(source, target).start()
        started.append(client)
        return client

    yield start
    for client in started:
        client.kill()


def _bin(server: ServerProcess) -> dict[str, Any]:
    created: dict[str, Any] = httpx.post(f"{server.url}/api/bins", json={}).json()
    return created


def _channel(server: ServerProcess, bin: dict[str, Any], cursor: str | None = None) -> str:
    url = f"{server.url}/api/bins/{bin['id']}/smee?token={bin['token']}"
    return url + (f"&cursor={cursor}" if cursor else "")


def test_a_signed_github_webhook_arrives_and_still_verifies(
    server_factory: Callable[..., ServerProcess],
    receiver: Receiver,
    smee_factory: Callable[[str, str], Smee],
) -> None:
    server = server_factory()
    bin = _bin(server)
    smee_factory(_channel(server, bin), receiver.url)
    payload = {"action": "opened", "number": 7, "title": "caf\u00e9"}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)  # as GitHub sends
    secret = b"gh-secret"
    signature = "sha256=" + hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    sent = httpx.post(
        f"{server.url}/h/{bin['id']}/github?x=1",
        content=body.encode(),
        headers={
            "content-type": "application/json",
            "x-github-event": "pull_request",
            "x-hub-signature-256": signature,
        },
    )
    wait_until(lambda: receiver.received, timeout=20, what="the forwarded webhook")
    (got,) = receiver.received
    assert got["body"] == body.encode()  # compact JSON: byte-exact
    assert got["path"] == "/webhooks?x=1"
    assert got["headers"]["x-github-event"] == "pull_request"
    assert got["headers"]["x-hookscope-request-id"] == sent.headers["x-hookscope-request-id"]
    expected = hmac.new(secret, got["body"], hashlib.sha256).hexdigest()
    assert got["headers"]["x-hub-signature-256"] == f"sha256={expected}"


def test_a_form_body_arrives_as_smee_client_documents(
    server_factory: Callable[..., ServerProcess],
    receiver: Receiver,
    smee_factory: Callable[[str, str], Smee],
) -> None:
    server = server_factory()
    bin = _bin(server)
    smee_factory(_channel(server, bin), receiver.url)
    httpx.post(f"{server.url}/h/{bin['id']}", data={"a": "1", "b": "two words"})
    wait_until(lambda: receiver.received, timeout=20, what="the forwarded form")
    (got,) = receiver.received
    # smee-client sends JSON.stringify(body) as JSON: the form text as a JSON string.
    assert got["body"] == b'"a=1&b=two+words"'
    assert got["headers"]["content-type"] == "application/json"


def test_a_restarted_client_with_a_cursor_gets_what_it_missed_once(
    server_factory: Callable[..., ServerProcess],
    receiver: Receiver,
    smee_factory: Callable[[str, str], Smee],
) -> None:
    server = server_factory()
    bin = _bin(server)
    channel = _channel(server, bin, cursor="probot-dev")
    first = smee_factory(channel, receiver.url)
    before = httpx.post(f"{server.url}/h/{bin['id']}", json={"n": 0})
    wait_until(lambda: len(receiver.received) == 1, timeout=20, what="the first webhook")
    first.kill()
    ids = [before.headers["x-hookscope-request-id"]]
    for n in range(1, 21):
        sent = httpx.post(f"{server.url}/h/{bin['id']}", json={"n": n})
        ids.append(sent.headers["x-hookscope-request-id"])
    smee_factory(channel, receiver.url)  # a new process: no Last-Event-ID, only the cursor
    wait_until(lambda: len(receiver.received) >= 21, timeout=30, what="the 20 missed webhooks")
    assert sorted(receiver.ids()) == ids  # each once (smee-client posts them concurrently, so
    # the receiver may see them in any order; the channel's own order is checked below)


def _read_channel(url: str, count: int, headers: dict[str, str] | None = None) -> list[str]:
    """The ids of the first ``count`` unnamed events of a smee channel, in stream order."""
    ids: list[str] = []
    with httpx.stream("GET", url, headers=headers, timeout=20) as events:
        assert events.status_code == 200
        assert events.headers["content-type"].startswith("text/event-stream")
        event: dict[str, str] = {}
        for line in events.iter_lines():
            if line:
                field, _, value = line.partition(": ")
                event[field] = value
                continue
            if "data" in event and "event" not in event:
                assert json.loads(event["data"])["x-hookscope-request-id"] == event["id"]
                ids.append(event["id"])
                if len(ids) == count:
                    return ids
            event = {}
    return ids


def test_the_channel_replays_in_order_by_last_event_id_since_and_cursor(
    server_factory: Callable[..., ServerProcess],
) -> None:
    server = server_factory()
    bin = _bin(server)
    sent = [
        httpx.post(f"{server.url}/h/{bin['id']}", json={"n": n}).headers["x-hookscope-request-id"]
        for n in range(12)
    ]
    channel = _channel(server, bin)
    assert _read_channel(f"{channel}&since=0-0", 12) == sent
    assert _read_channel(channel, 7, headers={"Last-Event-ID": sent[4]}) == sent[5:]
    named = _channel(server, bin, cursor="dev")
    assert _read_channel(f"{named}&since={sent[1]}", 10) == sent[2:]  # the cursor: sent[11]
    later = [
        httpx.post(f"{server.url}/h/{bin['id']}", json={"n": n}).headers["x-hookscope-request-id"]
        for n in range(12, 15)
    ]
    assert _read_channel(named, 3) == later  # no id given: after the cursor
    refused = httpx.get(f"{channel}&since=nope")
    assert refused.status_code == 400
    assert httpx.get(channel.replace(bin["token"], "wrong")).status_code == 403


def test_a_bin_keeps_a_bounded_number_of_cursor_names(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """A cursor name is taken when a reader first connects under it; past ``MAX_CURSORS``
    a new name is refused (507), while the names a bin keeps still work."""
    server = server_factory()
    bin = _bin(server)
    for n in range(MAX_CURSORS):
        with httpx.stream("GET", _channel(server, bin, cursor=f"reader-{n}"), timeout=10) as ok:
            assert ok.status_code == 200
    refused = httpx.get(_channel(server, bin, cursor="one-more"), timeout=10)
    assert refused.status_code == 507
    assert refused.json()["error"]["code"] == "too_many_cursors"
    for url in (_channel(server, bin, cursor="reader-0"), _channel(server, bin)):
        with httpx.stream("GET", url, timeout=10) as ok:
            assert ok.status_code == 200


@pytest.mark.redis
def test_a_restarted_redis_backed_server_loses_and_repeats_nothing(
    server_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., RedisServer],
    receiver: Receiver,
    smee_factory: Callable[[str, str], Smee],
) -> None:
    redis = redis_factory()
    server = server_factory("--redis-url", redis.url)
    bin = _bin(server)
    smee_factory(_channel(server, bin), receiver.url)
    stored: list[str] = []

    def send(n: int) -> None:
        def delivered() -> bool:
            try:
                answer = httpx.post(f"{server.url}/h/{bin['id']}", json={"n": n}, timeout=2)
            except httpx.TransportError:
                return False  # the server is restarting: a sender retries
            if answer.status_code != 200:
                return False
            stored.append(answer.headers["x-hookscope-request-id"])
            return True

        wait_until(delivered, timeout=30, what=f"capture {n} to be stored")

    for n in range(10):
        send(n)
    server.restart()
    for n in range(10, 20):
        send(n)
    wait_until(lambda: len(receiver.received) >= 20, timeout=30, what="every webhook forwarded")
    assert sorted(receiver.ids()) == sorted(stored)
    assert len(receiver.ids()) == len(set(receiver.ids())) == 20
