"""What a running app holds: its settings, backend, hub, metrics and open connections."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from quart import current_app

from .._config import Settings
from ..backends import Backend, BackendUnavailable, LimitReached, Store
from ._connections import ConnectionGate
from ._http import ApiProblem, BodyBudget, problem_of
from ._hub import Hub
from ._metrics import Metrics
from ._proxies import TrustedProxies
from ._signing import SecretCache

__all__ = ["AppState", "state"]

log = logging.getLogger("hookscope.server")

STORAGE_LOG_INTERVAL = 10.0
"""Storage failures are logged once when they start, then at most this often with a count."""


@dataclass(slots=True)
class AppState:
    settings: Settings
    backend: Backend
    hub: Hub
    metrics: Metrics
    secrets: SecretCache
    connections: ConnectionGate
    proxies: TrustedProxies
    bodies: BodyBudget
    _logged_at: float = field(default=0.0, init=False)
    _unlogged: int = field(default=0, init=False)

    @property
    def store(self) -> Store:
        return self.backend.store

    def problem(self, error: BaseException) -> ApiProblem | None:
        """``problem_of(error)``, counting storage failures (the one place that does).

        Limits reached (``LimitReached``) are counted by whoever answers them: a capture as a
        reject, anything else as a refusal.
        """
        if isinstance(error, BackendUnavailable):
            self.metrics.backend_errors.inc()
            self._log_storage_failure(error)
        return problem_of(error)

    def api_problem(self, error: BaseException) -> ApiProblem | None:
        """``problem(error)`` for an API call, counting a refusal (a limit, a rate)."""
        found = self.problem(error)
        if found is not None and (isinstance(error, LimitReached) or found.status == 429):
            self.metrics.refusals.labels(found.code).inc()
        return found

    def _log_storage_failure(self, error: BackendUnavailable) -> None:
        now = time.monotonic()
        if now - self._logged_at < STORAGE_LOG_INTERVAL:
            self._unlogged += 1
            return
        more = f" (and {self._unlogged} more since the last report)" if self._unlogged else ""
        log.warning("storage unavailable, answering 503: %s%s", error, more)
        self._logged_at, self._unlogged = now, 0


def state() -> AppState:
    """The state of the app handling the current request."""
    found: AppState = current_app.extensions["hookscope"]
    return found
