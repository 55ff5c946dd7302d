"""The JSON API against its own OpenAPI document, with schemathesis, on both backends.

Generated requests (valid and invalid) never get a 5xx, and every answer has the status,
content type and body the document describes. Half of the cases address a real bin with its
token, so that the deeper paths are reached, not only 401 and 404.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from hookscope._embedded import BackgroundServer, serve_in_background


@pytest.fixture(scope="module", params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def api_server(request: pytest.FixtureRequest) -> Iterator[BackgroundServer]:
    options: dict[str, Any] = {"max_requests": 50}
    if request.param == "redis":
        options["redis_url"] = request.getfixturevalue("redis_module_url")
    server = serve_in_background(**options)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_module_url(redis_server: Any) -> str:
    return str(redis_server.url)


@pytest.fixture(scope="module")
def api_schema(api_server: BackgroundServer) -> Any:
    document = httpx.get(f"{api_server.url}/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=api_server.url)
    return schema


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_the_document_is_served_and_names_every_route(api_server: BackgroundServer) -> None:
    document = httpx.get(f"{api_server.url}/api/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/bins",
        "/api/openapi.json",
        "/api/bins/{bin_id}",
        "/api/bins/{bin_id}/requests",
        "/api/bins/{bin_id}/requests/{request_id}",
        "/healthz",
        "/readyz",
    }


def _aim(case: Any, server: BackgroundServer) -> dict[str, str]:
    """Point half of the cases at a real bin (with a request in it) and its token."""
    parameters = case.path_parameters or {}
    if "bin_id" not in parameters:
        return {}
    if zlib.crc32(repr(sorted(parameters.items())).encode()) % 2:
        return {}
    created = httpx.post(f"{server.url}/api/bins", json={}).json()
    sent = httpx.post(f"{server.url}/h/{created['id']}", content=b"x")
    if "request_id" in parameters and parameters["request_id"].endswith("0"):
        parameters["request_id"] = sent.headers["x-hookscope-request-id"]
    parameters["bin_id"] = created["id"]
    return {"Authorization": f"Bearer {created['token']}"}


def test_no_5xx_and_answers_as_described(api_schema: Any, api_server: BackgroundServer) -> None:
    # Hypothesis directly (not schemathesis' pytest plugin): one bounded run per operation.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=_aim(case, api_server) or None, checks=CHECKS)

        run()
