"""Example: testing a webhook sender's retries with ``hookbin.respond_with``.

``respond_with(status, *, body=, json=, headers=, delay_ms=)`` sets what the bin answers from
then on, so a test can play a receiver that fails, recovers, or is too slow.

Run: ``pytest tests/examples/test_retry_example.py``. Guide: docs/pytest.md.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from hookscope.pytest_plugin import HookBin

# --- the code under test -------------------------------------------------------------------


def deliver(
    url: str,
    payload: dict[str, Any],
    *,
    attempts: int = 3,
    backoff: float = 0.02,
    timeout: float = 2.0,
) -> list[int | str]:
    """POST ``payload``, retrying 5xx answers and timeouts with exponential backoff.

    Every attempt carries the same ``Idempotency-Key``. Returns what each attempt got.
    """
    key = str(uuid.uuid4())
    outcomes: list[int | str] = []
    with httpx.Client(timeout=timeout) as http:
        for attempt in range(attempts):
            try:
                response = http.post(url, json=payload, headers={"idempotency-key": key})
            except httpx.TimeoutException:
                outcomes.append("timeout")
            else:
                outcomes.append(response.status_code)
                if response.status_code < 500:
                    break
            time.sleep(backoff * 2**attempt)
    return outcomes


# --- the tests -------------------------------------------------------------------------------


def test_gives_up_after_three_attempts(hookbin: HookBin) -> None:
    hookbin.respond_with(500, body="internal error")

    assert deliver(hookbin.url, {"order": 1}) == [500, 500, 500]

    attempts = hookbin.assert_received(json={"order": 1}, count=3)
    assert len({req.headers["idempotency-key"] for req in attempts}) == 1


def test_stops_retrying_once_the_receiver_recovers(hookbin: HookBin) -> None:
    hookbin.respond_with(503, headers={"retry-after": "1"})
    outcomes: list[int | str] = []
    sender = threading.Thread(
        target=lambda: outcomes.extend(deliver(hookbin.url, {"order": 2}, attempts=50))
    )
    sender.start()

    hookbin.wait_for(json={"order": 2})  # the first attempt has been refused...
    hookbin.respond_with(202, json={"queued": True})  # ...and now the receiver is back
    sender.join(timeout=10)

    assert outcomes[0] == 503
    assert outcomes[-1] == 202
    hookbin.assert_received(json={"order": 2}, count=len(outcomes))


def test_a_slow_receiver_gets_duplicates(hookbin: HookBin) -> None:
    hookbin.respond_with(200, delay_ms=300)  # slower than the sender will wait

    assert deliver(hookbin.url, {"order": 3}, attempts=2, timeout=0.1) == ["timeout", "timeout"]

    # The sender saw no answer, yet both attempts arrived: the receiver must use the key.
    first, second = hookbin.wait_for(json={"order": 3}, count=2)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]


def test_client_errors_are_not_retried(hookbin: HookBin) -> None:
    hookbin.respond_with(410, body="gone: unsubscribe")

    assert deliver(hookbin.url, {"order": 4}) == [410]
    hookbin.assert_received(count=1)
