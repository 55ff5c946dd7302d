"""Example: testing code that sends GitHub-style webhooks, with the ``hookbin`` fixture.

The code under test is ``RepoHooks``: it posts signed JSON to a subscriber's URL, the way
GitHub does (``X-GitHub-Event``, ``X-GitHub-Delivery``, ``X-Hub-Signature-256``). The tests
give it ``hookbin.url`` as the subscriber and check what arrived. No mock: real HTTP, to a
real server that the plugin starts (or the one ``HOOKSCOPE_URL`` names).

Run: ``pytest tests/examples/test_github_webhook_example.py``. Guide: docs/pytest.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import Any

import httpx

from hookscope import CapturedRequest
from hookscope.pytest_plugin import HookBin

# --- the code under test -------------------------------------------------------------------


class RepoHooks:
    """Delivers a repository's events to one subscriber, signed with a shared secret."""

    def __init__(self, url: str, secret: str, events: Iterable[str] = ("push",)) -> None:
        self.url = url
        self.secret = secret.encode()
        self.events = set(events)

    def emit(self, event: str, payload: dict[str, Any]) -> None:
        if event not in self.events:
            return
        body = json.dumps(payload).encode()
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        headers = {
            "content-type": "application/json",
            "user-agent": "GitHub-Hookshot/example",
            "x-github-event": event,
            "x-github-delivery": str(uuid.uuid4()),
            "x-hub-signature-256": f"sha256={signature}",
        }
        httpx.post(f"{self.url}/{event}", content=body, headers=headers, timeout=5)


# --- the tests -------------------------------------------------------------------------------

SECRET = "it's a secret to everybody"


def signature_is_valid(req: CapturedRequest) -> bool:
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(req.headers["x-hub-signature-256"], f"sha256={expected}")


def test_a_push_is_delivered_and_signed(hookbin: HookBin) -> None:
    hooks = RepoHooks(hookbin.url_for("/github"), SECRET)

    hooks.emit("push", {"ref": "refs/heads/main", "repository": {"full_name": "ada/engine"}})

    req = hookbin.wait_for(
        method="POST",
        path="/github/*",  # a glob; "/github/push" works too
        headers={"X-GitHub-Event": "push", "content-type": "application/json"},  # a subset
        json={"repository": {"full_name": "ada/engine"}},  # a subset, nested
        timeout=5,
    )
    assert signature_is_valid(req)  # the exact bytes that were sent, so the HMAC checks out
    assert uuid.UUID(req.headers["x-github-delivery"])


def test_each_delivery_has_its_own_id(hookbin: HookBin) -> None:
    hooks = RepoHooks(hookbin.url, SECRET)

    for n in range(3):
        hooks.emit("push", {"ref": f"refs/heads/feature-{n}"})

    pushes = hookbin.wait_for(path="/push", count=3)  # the first three matching, in order
    assert [req.json()["ref"] for req in pushes] == [f"refs/heads/feature-{n}" for n in range(3)]
    assert len({req.headers["x-github-delivery"] for req in pushes}) == 3
    assert all(signature_is_valid(req) for req in pushes)


def test_only_subscribed_events_are_sent(hookbin: HookBin) -> None:
    hooks = RepoHooks(hookbin.url, SECRET, events=["push", "release"])

    hooks.emit("star", {"action": "created"})
    hooks.emit("release", {"action": "published", "release": {"tag_name": "v1.0"}})

    hookbin.wait_for(headers={"x-github-event": "release"})
    # RepoHooks sends synchronously, so what it sent is there already: check at once.
    hookbin.assert_received(path="/release", count=1)
    hookbin.assert_nothing_received(headers={"x-github-event": "star"}, within=0)


def test_a_predicate_for_anything_else(hookbin: HookBin) -> None:
    hooks = RepoHooks(hookbin.url, SECRET)

    hooks.emit("push", {"commits": [{"id": "a1"}, {"id": "b2"}]})

    req = hookbin.wait_for(predicate=lambda req: len(req.json()["commits"]) == 2)
    assert signature_is_valid(req)
