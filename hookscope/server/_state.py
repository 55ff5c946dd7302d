"""What a running app holds: its settings, backend, hub, metrics and open connections."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from .._config import Settings
from ..backends import Backend, BackendUnavailable, Store
from ._connections import ConnectionGate
from ._http import ApiProblem, problem_of
from ._hub import Hub
from ._metrics import Metrics
from ._signing import SecretCache

__all__ = ["AppState", "state"]


@dataclass(slots=True)
class AppState:
    settings: Settings
    backend: Backend
    hub: Hub
    metrics: Metrics
    secrets: SecretCache
    connections: ConnectionGate

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
        return problem_of(error)


def state() -> AppState:
    """The state of the app handling the current request."""
    found: AppState = current_app.extensions["hookscope"]
    return found
