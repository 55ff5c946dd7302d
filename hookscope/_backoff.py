"""``Backoff``: how long to wait before trying again (the SDK's reconnects, ``forward``'s retries).

>>> backoff = Backoff(initial=1, factor=2, maximum=8, uniform=lambda low, high: high)
>>> [backoff.delay(attempt) for attempt in range(5)]
[1, 2, 4, 8, 8]
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    """Exponential delays with jitter: ``initial * factor**attempt``, capped at ``maximum``.

    Each delay is drawn between half and all of that value, so that many clients cut off
    by one server restart do not reconnect in lockstep.
    """

    def __init__(
        self,
        initial: float = 0.1,
        factor: float = 2.0,
        maximum: float = 5.0,
        *,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self._uniform = uniform

    def delay(self, attempt: int) -> float:
        """The delay before try number ``attempt + 1`` (``attempt`` failures so far)."""
        ceiling = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return self._uniform(ceiling / 2, ceiling)
