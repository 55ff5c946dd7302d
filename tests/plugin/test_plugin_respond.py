"""``respond_with``, observed by a real sender that retries: the reason it exists."""

from __future__ import annotations

from conftest import RunPytest

SENDER = """
import threading
import time
import uuid

import httpx

def deliver(url, payload, *, attempts=3, backoff=0.02, timeout=2.0):
    # A webhook sender as apps write them: retry on 5xx and timeouts with backoff, keep
    # the delivery id so the receiver can drop duplicates. Returns what each attempt saw.
    delivery = str(uuid.uuid4())
    seen = []
    with httpx.Client(timeout=timeout) as http:
        for attempt in range(attempts):
            try:
                response = http.post(url, json=payload, headers={"x-delivery": delivery})
            except httpx.TimeoutException:
                seen.append("timeout")
            else:
                seen.append(response.status_code)
                if response.status_code < 500:
                    return seen
            time.sleep(backoff * 2**attempt)
    return seen
"""


def test_a_sender_that_retries(run: RunPytest) -> None:
    result = run(
        SENDER
        + """
def test_gives_up_after_three_failures(hookbin):
    hookbin.respond_with(500, body="boom")
    assert deliver(hookbin.url, {"n": 1}) == [500, 500, 500]
    attempts = hookbin.assert_received(method="POST", json={"n": 1}, count=3)
    assert len({req.headers["x-delivery"] for req in attempts}) == 1

def test_recovers_once_the_receiver_does(hookbin):
    hookbin.respond_with(500)
    outcome = []
    sender = threading.Thread(
        target=lambda: outcome.extend(deliver(hookbin.url, {"n": 2}, attempts=50, backoff=0.01))
    )
    sender.start()
    hookbin.wait_for(json={"n": 2})           # the first attempt failed...
    hookbin.respond_with(202, json={"queued": True})  # ...then the receiver recovers
    sender.join(timeout=10)
    assert outcome[0] == 500 and outcome[-1] == 202
    hookbin.assert_received(json={"n": 2}, count=len(outcome))

def test_a_slow_receiver_makes_the_sender_time_out(hookbin):
    hookbin.respond_with(200, delay_ms=400)
    assert deliver(hookbin.url, {"n": 3}, attempts=2, timeout=0.1) == ["timeout", "timeout"]
    # Both attempts were delivered even though the sender saw neither answer:
    # exactly why receivers need the delivery id.
    hookbin.wait_for(json={"n": 3}, count=2)

def test_headers_and_body_reach_the_sender(hookbin):
    hookbin.respond_with(429, body="slow down", headers={"Retry-After": "7"})
    with httpx.Client() as http:
        response = http.post(hookbin.url, json={})
    assert response.status_code == 429
    assert response.text == "slow down"
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-hookscope-request-id"] == hookbin.requests()[0].id
    hookbin.respond_with()                    # back to the default answer
    assert http_default(hookbin.url) == (200, True)

def http_default(url):
    response = httpx.post(url)
    return response.status_code, response.json()["ok"]
"""
    )
    result.assert_outcomes(passed=4)
