"""A bounded fuzz of the raw socket: random and mutated requests, both backends, seeded.

No answer is a 5xx (but hypercorn's own 501/505 for request lines it cannot parse and 503
for a storage outage, which cannot happen here), the server log holds no traceback, and the
server still answers afterwards. A few thousand requests, well under a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

import httpx
import pytest
from _support import RedisServer, ServerProcess

SEED = 20261202
REQUESTS = 2500
CONCURRENCY = 32

METHODS = [b"GET", b"POST", b"PUT", b"PATCH", b"DELETE", b"HEAD", b"OPTIONS", b"TRACE",
           b"PROPFIND", b"X'", b"G\x1bT", b"", b"\xff\xfe", b"POST POST", b"QUERY"]  # fmt: skip
PATHS = [b"/h/{bin}", b"/h/{bin}/a/b?x=1&x=2", b"/h/{bin}/%00%ff%zz", b"/h/{bin}/#frag",
         b"/h/b_none/x", b"/h/", b"/h/{bin}/..%2f..%2fetc", b"/api/bins", b"/api/bins/{bin}",
         b"/api/bins/{bin}/requests?after=1-0%0A&limit=9999999999999999999999",
         b"/api/bins/{bin}/requests?tail=-1", b"/api/bins/{bin}/requests/\xd9\xa1-0",
         b"/api/bins/{bin}/events?since=x", b"/api/bins/{bin}/ws?tail=1", b"/healthz",
         b"/readyz", b"/metrics", b"/api/openapi.json", b"*", b"http://localhost/h/{bin}",
         b"/" + b"a" * 9000, b"/h/{bin}/\x1b[2J\x1bc"]  # fmt: skip
HEADERS = [b"Host: localhost", b"Host: x..", b"Host: ", b"Content-Type: application/json",
           b"Content-Type: text/plain", b"Content-Length: 5", b"Content-Length: -1",
           b"Content-Length: 99999999999999999999", b"Transfer-Encoding: chunked",
           b"Transfer-Encoding: gzip, chunked", b"Authorization: Bearer x",
           b"Origin: https://evil.example", b"Connection: upgrade", b"Upgrade: websocket",
           b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
           b"Expect: 100-continue", b"X-A: \xff\x00\x7f", b"X:", b": novalue",
           b"Bad Header: x", b"X-Long: " + b"v" * 8000, b"Last-Event-ID: 1-0"]  # fmt: skip
BODIES = [b"", b"{}", b'{"name": "x"}', b"[" * 5000, b'{"response": {"status": 1e999}}',
          b'{"response": {"headers": {"a": "\\u000b"}}}', b'{"response": {"body": "\\ud800"}}',
          b'{"max_requests": 0.5}', b"\x00\xff" * 100, b"5\r\nhello\r\n0\r\n\r\n",
          b"zz\r\nnot hex\r\n"]  # fmt: skip


def _request(rng: random.Random, bin_id: str, token: str) -> bytes:
    """Half well-formed (they reach hookscope's code), half anything (they test hypercorn's
    parser and hookscope's refusals), a fifth of all then mutated."""
    wild = rng.random() < 0.5
    method = rng.choice(METHODS if wild else METHODS[:9])
    path = rng.choice(PATHS).replace(b"{bin}", bin_id.encode())
    headers = rng.sample(HEADERS if wild else HEADERS[3:17], rng.randint(0, 6))
    if not wild or rng.random() < 0.8:
        headers.insert(0, b"Host: localhost")
    if rng.random() < 0.5:
        headers.append(b"Authorization: Bearer " + token.encode())
    body = rng.choice(BODIES)
    if rng.random() < 0.5:
        headers.append(b"Content-Length: %d" % len(body))
    versions = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b""]
    version = rng.choice(versions) if wild else b"HTTP/1.1"
    raw = method + b" " + path + b" " + version + b"\r\n" + b"\r\n".join(headers)
    raw += b"\r\n\r\n" + body
    if wild and rng.random() < 0.4:  # mutate: flip, cut or duplicate bytes
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.randrange(256)
            elif choice < 0.75:
                del data[at:]
                break
            else:
                data[at:at] = data[at : at + rng.randint(1, 16)]
        raw = bytes(data)
    return raw + b"\r\n\r\n"


async def _send(port: int, raw: bytes) -> int | None:
    """The status of the first answer, or None when the server closed without one."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        raise AssertionError("the server stopped accepting connections") from None
    try:
        writer.write(raw)
        await writer.drain()
        async with asyncio.timeout(5):
            line = await reader.readline()
    except (TimeoutError, ConnectionError):
        return None  # an incomplete request the server keeps waiting for: fine
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


async def _fuzz(port: int, bin_id: str, token: str) -> dict[int | None, int]:
    rng = random.Random(SEED)
    raws = [_request(rng, bin_id, token) for _ in range(REQUESTS)]
    counts: dict[int | None, int] = {}
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(raw: bytes) -> None:
        async with limit:
            status = await _send(port, raw)
        counts[status] = counts.get(status, 0) + 1
        if status is not None and status >= 500 and status not in (501, 505):
            raise AssertionError(f"{status} for {raw[:300]!r}")

    await asyncio.gather(*(one(raw) for raw in raws))
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_fuzzed_requests_get_no_5xx_and_no_traceback(
    backend: str,
    server_factory: Callable[..., ServerProcess],
    redis_factory: Callable[..., RedisServer],
) -> None:
    args = ["--max-body", "64KiB"]
    if backend == "redis":
        args += ["--redis-url", redis_factory().url]
    server = server_factory(*args)
    created = httpx.post(f"{server.url}/api/bins", json={}).json()
    counts = asyncio.run(_fuzz(server.port, created["id"], created["token"]))
    assert sum(counts.values()) == REQUESTS
    assert counts.get(200, 0) > 50, counts  # the fuzz reached the real paths too
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    after = httpx.post(f"{server.url}/api/bins", json={}).json()  # the fuzz may delete its bin
    assert httpx.post(f"{server.url}/h/{after['id']}", content=b"ok").status_code == 200
    log = "".join(server.output)
    assert "Traceback" not in log, log[-5000:]
    print(f"\n{backend}: {sorted(counts.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))}")
