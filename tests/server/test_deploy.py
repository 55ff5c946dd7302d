"""The deployment of docs/guides/deploy.md, for real: Redis, two hookscope processes and Caddy.

Caddy (Debian's package) terminates TLS with its internal CA (the test hands the CA's root to
the clients) in front of two ``hookscope serve`` processes sharing a private Redis. The
processes are started from ``deploy/hookscope@.service`` (its ExecStart and Environment
lines) and Caddy from ``deploy/Caddyfile``: the files the guide shows. Through the proxy:
the API key guards bin creation; capture URLs and the page come from ``--public-url``;
``remote_addr`` is the sender's, with Caddy's X-Forwarded-For believed only because
``--trust-proxy`` names Caddy; WebSocket and SSE streams resume on the second process when
the first is killed, losing and repeating nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from _support import RedisServer, ServerProcess, free_port, terminate, wait_until

import hookscope

DEPLOY = Path(__file__).parents[2] / "deploy"
API_KEY = "deploy-test-key"

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def unit_service(path: Path = DEPLOY / "hookscope@.service") -> tuple[list[str], dict[str, str]]:
    """``(serve arguments, environment)`` from the unit's ExecStart and Environment lines."""
    args: list[str] = []
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
        elif key == "ExecStart":
            words = shlex.split(value)
            assert words[1] == "serve", words
            args = words[2:]
    port = args.index("--port")
    del args[port : port + 2]  # the instance's port: the test picks free ones
    return args, env


class Caddy:
    """``caddy run`` with ``deploy/Caddyfile`` and its variables; ``url`` once it serves."""

    def __init__(self, directory: Path, upstreams: list[str], trusted: str, port: int) -> None:
        if shutil.which("caddy") is None:
            pytest.fail("caddy is missing: apt-get install -y caddy (.ci/run does it)")
        self.port = port
        self.url = f"https://localhost:{self.port}"
        self.directory = directory
        self.env = {
            **os.environ,
            "HOME": str(directory),
            "CADDY_HTTP_PORT": str(free_port()),
            "CADDY_HTTPS_PORT": str(self.port),
            "CADDY_DATA": str(directory / "data"),
            "HOOKSCOPE_SITE": f"localhost:{self.port}",
            "HOOKSCOPE_UPSTREAMS": " ".join(upstreams),
            "CADDY_TRUSTED_PROXIES": trusted,
        }
        self.output: list[str] = []
        self.process = subprocess.Popen(
            ["caddy", "run", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        self.ca = directory / "data" / "pki" / "authorities" / "local" / "root.crt"
        wait_until(self._serving, timeout=30, what=f"caddy on {self.url}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def _serving(self) -> bool:
        """Caddy answers over TLS with its CA (whatever the status: the upstreams may not be
        up yet, and then it says 502 once it has tried them)."""
        if self.process.poll() is not None:
            raise AssertionError("caddy exited:\n" + "".join(self.output))
        if not self.ca.exists():
            return False
        httpx.get(self.url + "/healthz", verify=self.tls(), timeout=15)
        return True

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def stop(self) -> None:
        terminate(self.process)


@pytest.fixture
def caddy_factory(tmp_path: Path) -> Iterator[Callable[..., Caddy]]:
    started: list[Caddy] = []

    def start(upstreams: list[str], port: int, trusted: str = "127.0.0.1/32") -> Caddy:
        caddy = Caddy(tmp_path / f"caddy-{len(started)}", upstreams, trusted, port)
        started.append(caddy)
        return caddy

    yield start
    for caddy in started:
        caddy.stop()


@pytest.fixture
def deployment(
    redis_factory: Callable[..., RedisServer],
    server_factory: Callable[..., ServerProcess],
    caddy_factory: Callable[..., Caddy],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Caddy, list[ServerProcess]]:
    redis = redis_factory()
    args, unit_env = unit_service()
    ports, site = [free_port(), free_port()], free_port()
    env = {
        **unit_env,
        "HOOKSCOPE_REDIS_URL": redis.url,
        "HOOKSCOPE_PUBLIC_URL": f"https://localhost:{site}",
        "HOOKSCOPE_API_KEY": API_KEY,  # what /etc/hookscope/env holds
    }
    # hookscope first: Caddy would mark upstreams that are not up yet as failed for a while.
    servers = [server_factory(*args, env=env, port=port) for port in ports]
    caddy = caddy_factory([f"127.0.0.1:{port}" for port in ports], site)
    # Clients trust Caddy's CA, as a deployment's clients trust its public CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(caddy.ca))
    return caddy, servers


def _client(caddy: Caddy) -> httpx.Client:
    return httpx.Client(base_url=caddy.url, verify=caddy.tls(), timeout=20)


def test_the_unit_and_the_caddyfile_are_what_the_guide_shows() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "guides" / "deploy.md").read_text()
    assert (DEPLOY / "Caddyfile").read_text().strip() in guide
    assert (DEPLOY / "hookscope@.service").read_text().strip() in guide
    args, env = unit_service()
    assert args == ["--host", "127.0.0.1"]
    assert env["HOOKSCOPE_TRUST_PROXY"] == "127.0.0.1"


def test_through_the_proxy(deployment: tuple[Caddy, list[ServerProcess]]) -> None:
    caddy, _ = deployment
    http = _client(caddy)
    assert http.post("/api/bins", json={}).status_code == 401  # the API key guards creation
    created = http.post("/api/bins", json={}, headers={"Authorization": f"Bearer {API_KEY}"}).json()
    assert created["url"] == f"{caddy.url}/h/{created['id']}"  # --public-url
    page = http.get(f"/b/{created['id']}")
    assert (
        page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    )
    assert http.get("/").status_code == 200

    # The sender as Caddy saw it: a load balancer it trusts said 203.0.113.9; hookscope
    # believes Caddy's X-Forwarded-For because --trust-proxy names Caddy's address.
    sent = http.post(
        f"/h/{created['id']}/paid", json={"n": 0}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert sent.status_code == 200
    auth = {"Authorization": f"Bearer {created['token']}"}
    (stored,) = http.get(f"/api/bins/{created['id']}/requests", headers=auth).json()["requests"]
    assert stored["remote_addr"] == "203.0.113.9"
    http.close()


def test_streams_resume_on_the_second_process(
    deployment: tuple[Caddy, list[ServerProcess]],
) -> None:
    caddy, (first, second) = deployment
    http = _client(caddy)

    async def scenario() -> tuple[list[str], list[str]]:
        async with hookscope.AsyncClient(caddy.url, api_key=API_KEY) as client:
            bin = await client.create_bin(name="failover")
            ids: list[str] = []

            def capture(n: int) -> None:
                # As a sender does: were a request caught by the dying process answered 502
                # (Caddy sends it again to the other one), it would be sent again.
                def stored() -> bool:
                    answer = http.post(bin.url_for(f"/n/{n}"), content=str(n).encode())
                    if answer.status_code in (502, 503):
                        return False
                    assert answer.status_code == 200, answer.text
                    ids.append(answer.headers["x-hookscope-request-id"])
                    return True

                wait_until(stored, timeout=30, what=f"capture {n} stored")

            received: list[str] = []
            async with bin.open_stream(since="0-0") as stream:
                for n in range(5):
                    await asyncio.to_thread(capture, n)
                for _ in range(5):
                    received.append((await stream.next()).id)
                first.kill()  # SIGKILL: no goodbye; Caddy moves to the second process
                for n in range(5, 10):
                    await asyncio.to_thread(capture, n)
                async with asyncio.timeout(60):
                    for _ in range(5):
                        received.append((await stream.next()).id)
            return ids, received

    ids, received = asyncio.run(scenario())
    assert received == ids  # every capture, once, in order, across the failover

    # SSE through the proxy resumes by Last-Event-ID on the second process too.
    bin = http.post("/api/bins", json={}, headers={"Authorization": f"Bearer {API_KEY}"}).json()
    sse_ids = [
        http.post(f"/h/{bin['id']}", content=b"x").headers["x-hookscope-request-id"]
        for _ in range(4)
    ]
    events: list[str] = []
    with http.stream(
        "GET",
        f"/api/bins/{bin['id']}/events?token={bin['token']}",
        headers={"Last-Event-ID": sse_ids[0]},
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("id: "):
                events.append(line[4:])
            if len(events) == 3:
                break
    assert events == sse_ids[1:]
    assert second.process is not None and second.process.poll() is None
    http.close()


def test_forwarded_for_is_never_believed_by_default(
    redis_factory: Callable[..., RedisServer],
    server_factory: Callable[..., ServerProcess],
    caddy_factory: Callable[..., Caddy],
) -> None:
    args, unit_env = unit_service()
    env = {key: value for key, value in unit_env.items() if key != "HOOKSCOPE_TRUST_PROXY"}
    env["HOOKSCOPE_REDIS_URL"] = redis_factory().url
    port, site = free_port(), free_port()
    env["HOOKSCOPE_PUBLIC_URL"] = f"https://localhost:{site}"
    server_factory(*args, env=env, port=port)
    caddy = caddy_factory([f"127.0.0.1:{port}"], site)
    with _client(caddy) as http:
        bin = http.post("/api/bins", json={}).json()
        http.post(f"/h/{bin['id']}", headers={"X-Forwarded-For": "203.0.113.9"})
        auth = {"Authorization": f"Bearer {bin['token']}"}
        (stored,) = http.get(f"/api/bins/{bin['id']}/requests", headers=auth).json()["requests"]
    assert stored["remote_addr"] == "127.0.0.1"  # Caddy's address, not what it was told
    assert json.dumps(stored).count("203.0.113.9") == 1  # kept as a header, nothing more
