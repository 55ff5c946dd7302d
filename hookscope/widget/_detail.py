"""The detail of one request, as the table shows it when a row is selected.

detail = Detail.of(request)
detail.kind          # "json", "form", "text", "binary" or "empty"
detail.body          # pretty JSON, the text, or a hex dump (cut at ``limit``)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from .._display import BodyKind, body_kind, decoded_text, format_size, hexdump, request_json
from .._models import CapturedRequest, FormFile
from .._signatures import Verification
from .._smee import forwarded_exactly

__all__ = ["Detail"]

TEXT_LIMIT = 200_000
"""Characters of a text or JSON body shown; the rest is cut (``truncated``)."""
HEX_LIMIT = 4096
"""Bytes of a binary body shown as a hex dump."""


@dataclass(frozen=True, slots=True)
class Detail:
    """Everything the detail pane shows about one request."""

    id: str
    method: str
    path: str
    query: str
    received_at: datetime
    remote_addr: str | None
    http_version: str
    content_type: str | None
    size: int
    headers: list[tuple[str, str]]
    kind: BodyKind
    body: str
    truncated: bool
    form: list[tuple[str, str]]
    curl: str
    signature: Verification | None = None
    """The server's verdict on the signature, or None."""
    signature_scheme: str | None = None
    """The scheme the headers announce (``req.signature_scheme``), verdict or not."""
    smee_inexact: str | None = None
    """Why smee-client would not forward the body byte-exact (None: it would)."""

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def size_text(self) -> str:
        return format_size(self.size)

    @classmethod
    def of(cls, request: CapturedRequest, *, base_url: str = "http://localhost:8080") -> Detail:
        kind = body_kind(request)
        text = decoded_text(request)
        form: list[tuple[str, str]] = []
        if kind == "form":
            try:
                fields = request.form().items(multi=True)
                form = [(name, _form_value(value)) for name, value in fields]
            except ValueError:
                kind = "text" if text is not None else "binary"
        hexed = kind == "binary" or (kind == "form" and text is None)
        if kind == "json":
            body = json.dumps(request_json(request)[1], indent=2, ensure_ascii=False)
        elif hexed:
            body = hexdump(request.body, HEX_LIMIT)
        else:
            body = text or ""
        truncated = request.size > HEX_LIMIT if hexed else len(body) > TEXT_LIMIT
        return cls(
            id=request.id,
            method=request.method,
            path=request.path,
            query=request.query,
            received_at=request.received_at,
            remote_addr=request.remote_addr,
            http_version=request.http_version,
            content_type=request.content_type,
            size=request.size,
            headers=request.header_pairs,
            kind=kind,
            body=body[:TEXT_LIMIT],
            truncated=truncated,
            form=form,
            curl=_curl(request, base_url),
            signature=request.signature,
            signature_scheme=request.signature_scheme,
            smee_inexact=forwarded_exactly(request),
        )


def _curl(request: CapturedRequest, base_url: str) -> str:
    try:
        return request.to_curl(base_url)
    except ValueError as error:  # a NUL byte outside the body: no command line can hold it
        return f"({error})"


def _form_value(value: str | FormFile) -> str:
    if isinstance(value, FormFile):
        kind = value.content_type or "no content type"
        return f"<file {value.filename or '(unnamed)'}: {kind}, {format_size(len(value.data))}>"
    return value
