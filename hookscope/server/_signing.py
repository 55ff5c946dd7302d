"""Signature checks at capture: a bin's secrets, and the verdict stored with each request.

A bin with signing secrets (``POST /api/bins {"secrets": {"stripe": "whsec_..."}}``) gets a
verdict in every captured request: ``"signature": {"scheme", "valid", "reason"}``. The scheme
is the one the request's headers announce when the bin has its secret, else the bin's only (or
first) scheme, so that an unsigned request reads ``missing_header``.

Secrets are read through a small per-process cache (``ttl`` seconds, ``HOOKSCOPE_SECRET_CACHE``)
so that captures cost no extra storage round trip; a change made through this process is seen
at once, one made through another process within ``ttl``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from .. import _signatures
from .._models import CapturedRequest
from ..backends import Bins

__all__ = ["SecretCache", "verdict"]

_CACHED_BINS = 10_000


class SecretCache:
    """Each bin's signing secrets, read from the store at most once per ``ttl`` seconds."""

    def __init__(self, bins: Bins, ttl: float) -> None:
        self._bins = bins
        self._ttl = ttl
        self._entries: OrderedDict[str, tuple[float, Mapping[str, str]]] = OrderedDict()

    async def get(self, bin_id: str) -> Mapping[str, str]:
        now = time.monotonic()
        entry = self._entries.get(bin_id)
        if entry is not None and entry[0] > now:
            self._entries.move_to_end(bin_id)
            return entry[1]
        record = await self._bins.get_bin(bin_id)
        secrets: Mapping[str, str] = record.secrets if record is not None else {}
        self.put(bin_id, secrets)
        return secrets

    def put(self, bin_id: str, secrets: Mapping[str, str]) -> None:
        self._entries[bin_id] = (time.monotonic() + self._ttl, secrets)
        self._entries.move_to_end(bin_id)
        while len(self._entries) > _CACHED_BINS:
            self._entries.popitem(last=False)

    def forget(self, bin_id: str) -> None:
        self._entries.pop(bin_id, None)


def verdict(
    secrets: Mapping[str, str],
    *,
    bin_id: str,
    received_at: datetime,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    url: str,
) -> dict[str, Any] | None:
    """The ``signature`` field for a capture, or None when the bin holds no secret."""
    if not secrets:
        return None
    request = CapturedRequest(
        id="0-0",
        bin=bin_id,
        received_at=received_at,
        method=method,
        path=path,
        query=query,
        headers=httpx.Headers(headers, encoding="latin-1"),
        body=body,
    )
    guessed = request.signature_scheme
    scheme = guessed if guessed is not None and guessed in secrets else sorted(secrets)[0]
    full_url = (url if path == "/" else url + path) + (f"?{query}" if query else "")
    result = _signatures.verify(
        request, scheme, secrets[scheme], now=received_at.timestamp(), url=full_url
    )
    return result.to_wire()
