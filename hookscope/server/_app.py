"""The Quart app: capture, API, streams, health and metrics, with the backend's lifespan."""

from __future__ import annotations

import json
import logging
import os

from quart import Quart, Response
from werkzeug.exceptions import HTTPException

from .._config import Settings
from .._contract import CloseCode
from ..backends import Backend, BackendUnavailable, LimitReached, open_backend
from ._asgi import HotPaths
from ._connections import ConnectionGate, connection_limit
from ._guard import Guard
from ._http import ApiProblem, BodyBudget, error_response
from ._hub import Hub
from ._limits import HeaderLimits
from ._metrics import Metrics
from ._openapi import openapi
from ._pages import pages
from ._proxies import TrustedProxies
from ._signing import SecretCache
from ._smee import smee
from ._sse import sse
from ._state import AppState, state

__all__ = ["close_streams", "create_app"]

log = logging.getLogger("hookscope.server")


def create_app(settings: Settings | None = None, *, backend: Backend | None = None) -> Quart:
    """A hookscope app; the backend opens before serving and closes after.

    app = create_app(Settings(max_body=1024))
    """
    settings = settings or Settings()
    backend = backend or open_backend(settings)
    app = Quart("hookscope", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body
    metrics = Metrics()
    metrics.watch_memory(backend.store.usage)
    hub = Hub(
        backend.feed,
        backend.store,
        watcher_limit=settings.watcher_queue,
        watcher_bytes=settings.watcher_queue_bytes,
        max_watchers=settings.max_watchers_per_bin,
        lag_grace=settings.lag_grace,
        expiry_check=settings.expiry_check,
        batch_window=settings.batch_window,
        on_lagged=metrics.lagged.inc,
    )
    secrets = SecretCache(backend.store, settings.secret_cache)
    gate = ConnectionGate(connection_limit(settings))
    proxies = TrustedProxies(settings.trust_proxy)
    bodies = BodyBudget(settings.body_budget)
    metrics.watch_bodies(bodies)
    app_state = AppState(settings, backend, hub, metrics, secrets, gate, proxies, bodies)
    app.extensions["hookscope"] = app_state

    app.register_blueprint(sse)
    app.register_blueprint(smee)
    app.register_blueprint(pages)
    front = HeaderLimits(Guard(HotPaths(app.asgi_app, app_state), settings), settings, metrics)
    app.asgi_app = front  # type: ignore[method-assign,assignment]

    @app.before_serving
    async def open_backend_() -> None:
        await backend.start(hub.on_event)
        await hub.start()
        log.info("hookscope ready (backend: %s)", backend.name)

    @app.after_serving
    async def close_backend() -> None:
        hub.close_all(CloseCode.FEED_LOST, "server shutting down")
        await hub.close()
        await backend.close()

    @app.get("/api/openapi.json")
    async def openapi_document() -> Response:
        return Response(json.dumps(openapi()), content_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(f'{{"ok":true,"pid":{os.getpid()}}}', content_type="application/json")

    @app.get("/readyz")
    async def readyz() -> Response:
        if await state().store.ready():
            return Response(
                '{"ok":true,"backend":"' + backend.name + '"}', content_type="application/json"
            )
        raise BackendUnavailable(f"the {backend.name} backend is unreachable or refuses writes")

    @app.get("/metrics")
    async def metrics_text() -> Response:
        return Response(
            state().metrics.render(), content_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.errorhandler(ApiProblem)
    @app.errorhandler(BackendUnavailable)
    @app.errorhandler(LimitReached)
    async def problem(error: Exception) -> Response:
        found = state().api_problem(error)
        assert found is not None
        return error_response(found)

    @app.errorhandler(HTTPException)
    async def http_exception(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(ApiProblem(error.code or 500, code, error.description or code))

    return app


def close_streams(app: Quart, reason: str = "server restarting") -> None:
    """Close every live stream of ``app`` with 1012, so that its clients resume elsewhere."""
    app_state: AppState = app.extensions["hookscope"]
    app_state.hub.close_all(CloseCode.FEED_LOST, reason)
