"""Which address a request came from, when proxies stand in between (``--trust-proxy``).

The socket's peer is the sender, unless it is a proxy named by ``--trust-proxy`` (an address
or a network, repeatable). Then ``X-Forwarded-For`` is read from the right, skipping every
trusted proxy, and the first address that is not one is the sender. Never by default: any
client can write an ``X-Forwarded-For`` header, so believing it unasked would let a sender
choose its address (and its rate-limit bucket).

    >>> proxies = TrustedProxies(["10.0.0.0/8"])
    >>> scope = {"client": ("10.0.0.5", 41000),
    ...          "headers": [(b"x-forwarded-for", b"203.0.113.9, 10.0.0.7")]}
    >>> proxies.client(scope), TrustedProxies([]).client(scope)
    ('203.0.113.9', '10.0.0.5')
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["TrustedProxies"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> str | None:
    """The IP address in one ``X-Forwarded-For`` entry (``1.2.3.4``, ``1.2.3.4:80``,
    ``[::1]:80``, ``::1``), normalised; None when there is none."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class TrustedProxies:
    """The proxies whose ``X-Forwarded-For`` is believed; see the module docstring."""

    def __init__(self, specs: Iterable[str]) -> None:
        # Settings checked them: each an address or a network.
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(spec.strip(), strict=False) for spec in specs
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, scope: Mapping[str, Any]) -> str | None:
        """The sender's address: the peer's, or the one trusted proxies vouch for."""
        peer = scope.get("client")
        address: str | None = peer[0] if peer else None
        if not self.networks or address is None or not self.trusts(address):
            return address
        hops = [
            entry
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
            for entry in value.decode("latin-1").split(",")
        ]
        for entry in reversed(hops):
            hop = _address(entry)
            if hop is None:
                return address  # a hop we cannot read: the last one we could is the answer
            if not self.trusts(hop):
                return hop
            address = hop
        return address
