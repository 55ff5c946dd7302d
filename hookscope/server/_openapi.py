"""``GET /api/openapi.json``: the JSON API described as OpenAPI 3.1.

Written by hand from the contract (``_contract``) so that it says what the server promises,
not what a framework infers; ``tests/server/test_openapi.py`` runs schemathesis against it
on both backends (no 5xx, every response as described).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .._contract import (
    DEFAULT_BIN_LIST,
    DEFAULT_PAGE,
    MAX_BIN_LIST,
    MAX_DELAY_MS,
    MAX_NAME,
    MAX_PAGE,
    MAX_TAIL,
    ErrorCode,
)
from .._version import __version__

__all__ = ["openapi"]

_ID = r"^[0-9]{1,20}-[0-9]{1,20}$"
_BIN_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    text = {
        400: "invalid input (see error.code)",
        401: "no token or API key",
        403: "wrong token or API key, a refused browser origin or host, or a closed listing",
        404: "no such bin or request",
        408: "the body took over 60 s to arrive",
        413: "the body is over --max-body",
        415: "the body is not JSON",
        429: "the client's address is over its rate (--ip-rate-limit); see Retry-After",
        431: "too many header lines or bytes (--max-headers, --max-header-bytes)",
        503: "storage unavailable, or too many connections; retry",
        507: "the server holds --max-bins bins, or its memory for bins is full",
    }
    return {str(status): _json(_ref("Error"), text[status]) for status in statuses}


_BIN_PARAM = {
    "name": "bin_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": _BIN_ID},
}
_READ: list[dict[str, list[str]]] = [{"binToken": []}]

_RESPONSE_SPEC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {"type": ["string", "null"]},
        "delay_ms": {"type": "integer", "minimum": 0, "maximum": MAX_DELAY_MS},
    },
}

_BIN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "url", "created_at", "response", "max_requests", "ttl_s", "name"],
    "properties": {
        "id": {"type": "string"},
        "token": {
            "type": "string",
            "description": "the secret that reads the bin",
        },
        "name": {"type": ["string", "null"]},
        "url": {"type": "string", "description": "the capture URL to give senders"},
        "created_at": {"type": "string", "format": "date-time"},
        "response": {**_RESPONSE_SPEC, "required": ["status", "headers", "body", "delay_ms"]},
        "max_requests": {"type": "integer", "minimum": 1},
        "ttl_s": {"type": "number", "exclusiveMinimum": 0},
        "signing": {
            "type": "array",
            "items": {"type": "string"},
            "description": "the schemes whose secret the bin holds (secrets are write-only)",
        },
    },
}

_SECRETS: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "signing secrets by scheme (github, stripe, standard-webhooks/svix, slack, "
    "shopify, twilio, gitlab): write-only, never returned",
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1024},
}

_CAPTURED: dict[str, Any] = {
    "type": "object",
    "description": "wire format v1; readers ignore unknown fields",
    "required": [
        "id",
        "bin",
        "received_at",
        "method",
        "path",
        "query",
        "headers",
        "body",
        "body_encoding",
        "size",
    ],
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "bin": {"type": "string"},
        "received_at": {"type": "string", "format": "date-time"},
        "method": {"type": "string"},
        "path": {"type": "string"},
        "query": {"type": "string"},
        "headers": {
            "type": "array",
            "items": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": 2,
            },
        },
        "body": {"type": "string"},
        "body_encoding": {"enum": ["utf-8", "base64"]},
        "size": {"type": "integer", "minimum": 0},
        "remote_addr": {"type": ["string", "null"]},
        "http_version": {"type": "string"},
        "signature": {
            "type": "object",
            "description": "the server's verdict, when the bin holds a secret for the scheme",
            "properties": {
                "scheme": {"type": "string"},
                "valid": {"type": "boolean"},
                "reason": {"type": ["string", "null"]},
            },
        },
    },
}


@cache
def openapi() -> dict[str, Any]:
    """The OpenAPI document (built once)."""
    bin_create = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": MAX_NAME},
            "response": {"oneOf": [_ref("ResponseSpec"), {"type": "null"}]},
            "max_requests": {"type": ["integer", "null"], "minimum": 1},
            "ttl_s": {"type": ["number", "null"], "exclusiveMinimum": 0},
            "secrets": _SECRETS,
        },
    }
    bin_patch = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "name": {"type": ["string", "null"], "maxLength": MAX_NAME},
            "response": {"oneOf": [_ref("ResponseSpec"), {"type": "null"}]},
            "secrets": {
                **_SECRETS,
                "description": "merged by scheme; null removes a scheme's secret",
                "additionalProperties": {"type": ["string", "null"]},
            },
        },
    }
    page = {
        "type": "object",
        "required": ["requests", "next"],
        "properties": {
            "requests": {"type": "array", "items": _ref("CapturedRequest")},
            "next": {"type": ["string", "null"]},
        },
    }
    bin_list = {
        "type": "object",
        "required": ["bins"],
        "properties": {
            "bins": {
                "type": "array",
                "items": {
                    "allOf": [_ref("Bin")],
                    "type": "object",
                    "required": ["token", "requests", "last_request_at"],
                    "properties": {
                        "requests": {"type": "integer", "minimum": 0},
                        "last_request_at": {
                            "type": ["string", "null"],
                            "format": "date-time",
                            "description": "when the newest stored request arrived",
                        },
                    },
                },
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hookscope",
            "version": __version__,
            "description": "Capture webhooks to bins; read them back, live or stored. "
            "Capture URLs (ANY /h/{bin}/...) accept anything and are not described here.",
        },
        "paths": {
            "/api/bins": {
                "get": {
                    "operationId": "listBins",
                    "summary": "The newest bins with their tokens (needs the API key when the "
                    "server has one; refused without one unless served on loopback only)",
                    "security": [{"apiKey": []}, {}],
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_BIN_LIST,
                                "default": DEFAULT_BIN_LIST,
                            },
                        }
                    ],
                    "responses": {
                        "200": _json(bin_list, "newest first"),
                        **_errors(400, 401, 403, 503),
                    },
                },
                "post": {
                    "operationId": "createBin",
                    "summary": "Create a bin (needs the API key when the server has one)",
                    "security": [{"apiKey": []}, {}],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": bin_create}},
                    },
                    "responses": {
                        "201": _json(_ref("Bin"), "the new bin, with its token"),
                        **_errors(400, 401, 403, 408, 413, 415, 429, 431, 503, 507),
                    },
                },
            },
            "/api/bins/{bin_id}": {
                "parameters": [_BIN_PARAM],
                "get": {
                    "operationId": "readBin",
                    "security": _READ,
                    "responses": {
                        "200": _json(_ref("Bin"), "the bin"),
                        **_errors(401, 403, 404, 431, 503),
                    },
                },
                "patch": {
                    "operationId": "updateBin",
                    "security": _READ,
                    "requestBody": {"content": {"application/json": {"schema": bin_patch}}},
                    "responses": {
                        "200": _json(_ref("Bin"), "the updated bin"),
                        **_errors(400, 401, 403, 404, 408, 413, 415, 431, 503, 507),
                    },
                },
                "delete": {
                    "operationId": "deleteBin",
                    "security": _READ,
                    "responses": {
                        "204": {"description": "deleted, with its history"},
                        **_errors(401, 403, 404, 431, 503),
                    },
                },
            },
            "/api/bins/{bin_id}/requests": {
                "parameters": [_BIN_PARAM],
                "get": {
                    "operationId": "listRequests",
                    "security": _READ,
                    "parameters": [
                        {
                            "name": "after",
                            "in": "query",
                            "schema": {"type": "string", "pattern": _ID},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_PAGE,
                                "default": DEFAULT_PAGE,
                            },
                        },
                        {
                            "name": "tail",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_TAIL},
                        },
                    ],
                    "responses": {
                        "200": _json(page, "oldest first; pass next as after for more"),
                        **_errors(400, 401, 403, 404, 431, 503),
                    },
                },
                "delete": {
                    "operationId": "clearRequests",
                    "security": _READ,
                    "responses": {
                        "204": {"description": "history cleared"},
                        **_errors(401, 403, 404, 431, 503),
                    },
                },
            },
            "/api/bins/{bin_id}/requests/{request_id}": {
                "parameters": [
                    _BIN_PARAM,
                    {
                        "name": "request_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "get": {
                    "operationId": "getRequest",
                    "security": _READ,
                    "responses": {
                        "200": _json(_ref("CapturedRequest"), "one stored request"),
                        **_errors(401, 403, 404, 431, 503),
                    },
                },
            },
            "/api/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "responses": {"200": {"description": "the process is up"}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "ready",
                    "responses": {
                        "200": {"description": "storage answers and accepts writes"},
                        **_errors(503),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "binToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the bin's token (also accepted as ?token=)",
                },
                "apiKey": {"type": "http", "scheme": "bearer", "description": "--api-key"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "examples": list(ErrorCode)},
                                "message": {"type": "string"},
                            },
                        }
                    },
                },
                "ResponseSpec": _RESPONSE_SPEC,
                "Bin": _BIN,
                "CapturedRequest": _CAPTURED,
            },
        },
    }
