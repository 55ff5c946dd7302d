"""Request ids, bin ids and tokens.

A request id is ``"<ms>-<seq>"``, the form of a Redis Stream id: strictly increasing within
a bin and ordered by ``(ms, seq)``. The memory backend mints ids of the same form.
"""

from __future__ import annotations

import re
import secrets
import time

__all__ = [
    "BEGINNING",
    "IdClock",
    "id_key",
    "is_bin_id",
    "is_request_id",
    "new_bin_id",
    "new_token",
]

BEGINNING = "0-0"
"""Below every request id: ``since=BEGINNING`` replays everything a bin still holds."""

_ID = re.compile(r"^([0-9]{1,20})-([0-9]{1,20})\Z", re.ASCII)
_BIN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_MAX_PART = 2**64 - 1  # Redis Stream ids are two unsigned 64-bit integers


def is_request_id(value: str) -> bool:
    """True when ``value`` has the ``<ms>-<seq>`` form, each part within 64 bits."""
    match = _ID.match(value)
    return match is not None and int(match[1]) <= _MAX_PART and int(match[2]) <= _MAX_PART


def is_bin_id(value: str) -> bool:
    """True when ``value`` could be a bin id: 1 to 64 of ``A-Z a-z 0-9 _ -``.

    Every id hookscope mints has this form; anything else is no bin, without a lookup.
    """
    return _BIN_ID.match(value) is not None


def id_key(request_id: str) -> tuple[int, int]:
    """The sort key of a request id: ``id_key("5-1") < id_key("10-0")``.

    Raises ``ValueError`` for anything that is not ``<ms>-<seq>``.
    """
    match = _ID.match(request_id)
    if match is None or int(match[1]) > _MAX_PART or int(match[2]) > _MAX_PART:
        raise ValueError(f"not a request id: {request_id!r} (expected '<ms>-<seq>')")
    return int(match[1]), int(match[2])


def new_bin_id() -> str:
    """A public bin id: ``b_`` and 128 bits from :mod:`secrets`."""
    return "b_" + secrets.token_urlsafe(16)


def new_token() -> str:
    """A secret bin token: 256 bits from :mod:`secrets`."""
    return secrets.token_urlsafe(32)


class IdClock:
    """Mints strictly increasing ``<ms>-<seq>`` ids, like Redis's ``XADD *``.

    The millisecond part never goes backwards, even if the wall clock does.
    """

    __slots__ = ("_ms", "_seq")

    def __init__(self) -> None:
        self._ms = 0
        self._seq = 0

    def next(self) -> str:
        now = time.time_ns() // 1_000_000
        if now > self._ms:
            self._ms, self._seq = now, 0
        else:
            self._seq += 1
        return f"{self._ms}-{self._seq}"
