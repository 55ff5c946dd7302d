"""Rate limits: one algorithm (GCRA, a token bucket kept as one number), two places.

The memory backend keeps its buckets here, in the process; the redis backend runs the same
arithmetic inside its Lua scripts (``_redis_scripts``) and keeps only ``Refusals`` here.

A bucket is its "theoretical arrival time" ``tat``: a request at ``now`` is admitted when
``max(tat, now) + interval - burst * interval <= now``, and then ``tat`` moves on by one
``interval``. A refused request changes nothing: a sender under its rate is never slowed,
and one over it gets exactly the wait until its next request would pass.

    >>> rate = Rate(per_second=1.0, burst=2)
    >>> admit(0.0, 10.0, rate), admit(11.0, 10.0, rate), admit(12.0, 10.0, rate)
    (11.0, 12.0, None)
    >>> wait(12.0, 10.0, rate)
    1.0
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections import OrderedDict

from .._config import Rate
from .._contract import ErrorCode
from ._types import RateLimited

__all__ = [
    "AddressBuckets",
    "Refusals",
    "address_key",
    "address_refusal",
    "admit",
    "bin_refusal",
    "wait",
]

ADDRESSES = 65_536
"""Address buckets a memory store keeps (least recently used dropped first)."""


def admit(tat: float, now: float, rate: Rate) -> float | None:
    """The bucket's new ``tat`` if a request at ``now`` is admitted, else None."""
    interval = 1.0 / rate.per_second
    new_tat = max(tat, now) + interval
    if new_tat - rate.burst * interval > now:
        return None
    return new_tat


def wait(tat: float, now: float, rate: Rate) -> float:
    """Seconds until a request would be admitted (0 when it would be now)."""
    interval = 1.0 / rate.per_second
    return max(0.0, max(tat, now) + interval - rate.burst * interval - now)


@functools.lru_cache(maxsize=4096)
def address_key(address: str | None) -> str | None:
    """The bucket of a client address: the address, or its /64 for IPv6 (one host's share).

    >>> address_key("203.0.113.9"), address_key("2001:db8:1:2:3:4:5:6")
    ('203.0.113.9', '2001:db8:1:2::/64')
    """
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # a Unix socket path or a test name: itself
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(parsed)


def bin_refusal(retry_after: float) -> RateLimited:
    return RateLimited(
        ErrorCode.BIN_RATE_LIMITED,
        f"this bin is over its rate limit; retry in {retry_after:.2f} s",
        retry_after,
    )


def address_refusal(retry_after: float) -> RateLimited:
    return RateLimited(
        ErrorCode.ADDRESS_RATE_LIMITED,
        f"your address is over its rate limit; retry in {retry_after:.2f} s",
        retry_after,
    )


class AddressBuckets:
    """The buckets of client addresses in this process, at most ``capacity`` of them.

    The least recently seen address is forgotten first: it starts again with a full bucket,
    which only an attacker with that many addresses (IPv6 counts per /64) can bring about.
    """

    def __init__(self, rate: Rate, capacity: int = ADDRESSES) -> None:
        self.rate = rate
        self._capacity = capacity
        self._tats: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tats)

    def admit(self, key: str, now: float) -> float | None:
        """The address's new ``tat`` if admitted (not stored until ``commit``), else None."""
        return admit(self._tats.get(key, 0.0), now, self.rate)

    def wait(self, key: str, now: float) -> float:
        return wait(self._tats.get(key, 0.0), now, self.rate)

    def commit(self, key: str, tat: float) -> None:
        self._tats[key] = tat
        self._tats.move_to_end(key)
        while len(self._tats) > self._capacity:
            self._tats.popitem(last=False)


class Refusals:
    """What the shared buckets (Redis) said lately: keys refused until a moment, per process.

    While a key is refused, requests for it are refused here without asking Redis (a flood
    costs Redis nothing); the moment its next request could pass, Redis is asked again.
    """

    def __init__(self, capacity: int = ADDRESSES) -> None:
        self._capacity = capacity
        self._until: OrderedDict[str, float] = OrderedDict()

    def refuse(self, key: str, seconds: float) -> None:
        if seconds <= 0:
            return
        self._until[key] = time.monotonic() + seconds
        self._until.move_to_end(key)
        while len(self._until) > self._capacity:
            self._until.popitem(last=False)

    def remaining(self, key: str) -> float:
        """Seconds ``key`` stays refused (0: ask Redis)."""
        until = self._until.get(key)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[key]
            return 0.0
        return left
