"""JSON errors: ``{"error": {"code": ..., "message": ...}}`` with a fitting status."""

from __future__ import annotations

import json

from quart import Response

__all__ = ["ApiProblem", "error_body", "error_response"]


class ApiProblem(Exception):
    """Raise from a handler to answer with a JSON error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_body(code: str, message: str) -> bytes:
    """The JSON error body, for Quart routes and the raw ASGI endpoints alike."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def error_response(status: int, code: str, message: str) -> Response:
    return Response(error_body(code, message), status=status, content_type="application/json")
