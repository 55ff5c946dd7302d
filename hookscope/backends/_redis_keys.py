"""Where a bin lives in Redis: its keys and its channel, all in one hash slot.

    >>> keys = RedisKeys("hookscope:")
    >>> keys.meta("b_1"), keys.log("b_1"), keys.channel("b_1")
    ('hookscope:{b_1}:meta', 'hookscope:{b_1}:log', 'hookscope:{b_1}:ch')
    >>> keys.bin_of_channel("hookscope:{b_1}:ch")
    'b_1'
    >>> keys.bins(), keys.address("203.0.113.9")
    ('hookscope:bins', 'hookscope:address:203.0.113.9')

The ``{bin}`` hash tag puts a bin's hash (``meta``: token, limits, response), its stream
(``log``: the captures, field ``r`` = wire JSON without the id) and its shard channel
(``ch``: each capture's full wire JSON, or ``!deleted``) in the same cluster slot, so that
one Lua script can touch all three on Redis Cluster as on a single Redis. The bin's rate
bucket is a field of its hash (``rl``).

Two keys belong to no bin: ``bins``, a sorted set of every bin id scored by its expiry (for
``--max-bins``, one slot on a cluster), and each client address's rate bucket.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DELETED", "RedisKeys"]

DELETED = "!deleted"
"""The control message that tells every process a bin was deleted."""


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "hookscope:"

    def meta(self, bin_id: str) -> str:
        return f"{self.prefix}{{{bin_id}}}:meta"

    def log(self, bin_id: str) -> str:
        return f"{self.prefix}{{{bin_id}}}:log"

    def channel(self, bin_id: str) -> str:
        return f"{self.prefix}{{{bin_id}}}:ch"

    def of(self, bin_id: str) -> list[str]:
        """``[meta, log, channel]``: the KEYS of every script."""
        return [self.meta(bin_id), self.log(bin_id), self.channel(bin_id)]

    def bin_of_channel(self, channel: str) -> str | None:
        """The bin a channel belongs to, or None for someone else's channel."""
        head, tail = self.prefix + "{", "}:ch"
        if channel.startswith(head) and channel.endswith(tail):
            return channel[len(head) : -len(tail)]
        return None

    def bins(self) -> str:
        """The index of bins: a sorted set of ids, scored by expiry (ms since the epoch)."""
        return f"{self.prefix}bins"

    def address(self, address_key: str) -> str:
        """The rate bucket of a client address (``_rates.address_key``)."""
        return f"{self.prefix}address:{address_key}"
