"""``CapturedRequest``: one captured HTTP request, as clients see it.

>>> req = CapturedRequest.from_wire({
...     "id": "1764366000123-0", "bin": "b_x", "received_at": "2026-11-28T21:43:44.123456Z",
...     "method": "POST", "path": "/github/push", "query": "a=1&a=2",
...     "headers": [["content-type", "application/json"]], "body": '{"zen": "hi"}',
...     "body_encoding": "utf-8", "size": 13, "remote_addr": "127.0.0.1",
...     "http_version": "1.1"})
>>> req.json()["zen"], req.headers["Content-Type"], req.query_params.get_list("a")
('hi', 'application/json', ['1', '2'])
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from werkzeug.datastructures import MultiDict
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header

from . import _signatures, _wire
from ._curl import curl_command
from ._signatures import Verification

__all__ = ["CapturedRequest", "FormFile"]


@dataclass(frozen=True, slots=True)
class FormFile:
    """A file field of a multipart form."""

    filename: str | None
    content_type: str | None
    data: bytes


def _new_headers(pairs: Any) -> httpx.Headers:
    # latin-1 maps every byte to one code point, so header bytes round-trip exactly.
    return httpx.Headers(pairs, encoding="latin-1")


def _verdict(data: Any) -> Verification | None:
    return Verification.from_wire(data) if isinstance(data, Mapping) else None


@dataclass(frozen=True, slots=True, repr=False)
class CapturedRequest:
    """One request captured by a bin: the exact bytes, every header, in arrival order.

    ``headers`` is case-insensitive and multi-valued (``headers.get_list("x-a")``);
    ``body`` is the original bytes. ``CapturedRequest.from_wire(req.to_wire()) == req``.
    """

    id: str
    bin: str
    received_at: datetime
    method: str
    path: str
    query: str = ""
    headers: httpx.Headers = field(default_factory=lambda: _new_headers([]))
    body: bytes = b""
    remote_addr: str | None = None
    http_version: str = "1.1"
    signature: Verification | None = None
    """The server's verdict on the signature, when the bin holds a secret for its scheme."""

    # -- wire format -------------------------------------------------------------------------

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> CapturedRequest:
        """Build from a wire-format dict; unknown fields are ignored."""
        try:
            return cls(
                id=data["id"],
                bin=data["bin"],
                received_at=_wire.parse_timestamp(data["received_at"]),
                method=data["method"],
                path=data.get("path") or "/",
                query=data.get("query") or "",
                headers=_new_headers([(name, value) for name, value in data.get("headers", [])]),
                body=_wire.decode_body(data.get("body", ""), data.get("body_encoding", "utf-8")),
                remote_addr=data.get("remote_addr"),
                http_version=data.get("http_version", "1.1"),
                signature=_verdict(data.get("signature")),
            )
        except KeyError as missing:
            raise ValueError(f"captured request lacks the field {missing}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> CapturedRequest:
        """Build from wire-format JSON text."""
        return cls.from_wire(_wire.loads(text))

    def to_wire(self) -> dict[str, Any]:
        """The wire-format dict (JSON-ready)."""
        body, encoding = _wire.encode_body(self.body)
        return {
            "id": self.id,
            "bin": self.bin,
            "received_at": _wire.format_timestamp(self.received_at),
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": [list(pair) for pair in self.header_pairs],
            "body": body,
            "body_encoding": encoding,
            "size": self.size,
            "remote_addr": self.remote_addr,
            "http_version": self.http_version,
            **({"signature": self.signature.to_wire()} if self.signature else {}),
        }

    def to_json(self) -> str:
        """The wire-format JSON text."""
        return json.dumps(self.to_wire(), ensure_ascii=False)

    # -- conveniences -----------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Body size in bytes."""
        return len(self.body)

    @property
    def header_pairs(self) -> list[tuple[str, str]]:
        """Every header as sent: ``(name, value)`` in arrival order, names in their own case."""
        return [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.headers.raw
        ]

    @property
    def target(self) -> str:
        """The path, then ``?query`` when there is one: ``/github/push?a=1``."""
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def content_type(self) -> str | None:
        """The media type without parameters, lower-cased (``"application/json"``), or None."""
        value = self.headers.get("content-type")
        return parse_options_header(value)[0].lower() if value else None

    @property
    def text(self) -> str:
        """The body decoded with the charset of its content type (UTF-8 by default)."""
        charset = "utf-8"
        value = self.headers.get("content-type")
        if value:
            charset = parse_options_header(value)[1].get("charset", charset)
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body)

    def verify(
        self,
        scheme: str,
        secret: str | bytes,
        *,
        tolerance: float = 300,
        now: datetime | float | None = None,
        url: str | None = None,
    ) -> Verification:
        """Check the signature over the exact captured bytes: truthy when valid, else
        ``.reason`` says why (``bad_signature``, ``missing_header``, ``malformed_header``,
        ``timestamp_outside_tolerance``, ``url_needed``). Schemes: docs/signatures.md.

            result = req.verify("stripe", "whsec_...")
            assert result, result.reason

        ``tolerance``: seconds of clock skew allowed (schemes with a timestamp); ``now``: the
        time to check against (default: now); ``url``: the full URL the sender called
        (``twilio`` signs it): ``bin.url_for(req.target)``.
        """
        return _signatures.verify(self, scheme, secret, tolerance=tolerance, now=now, url=url)

    @property
    def signature_scheme(self) -> str | None:
        """The signature scheme the headers announce (``"github"``, ``"stripe"``...), or None."""
        return _signatures.guess_scheme(self)

    @property
    def query_params(self) -> httpx.QueryParams:
        """The query string, decoded and multi-valued (``.get_list("a")``)."""
        return httpx.QueryParams(self.query)

    def form(self) -> MultiDict[str, str | FormFile]:
        """Form fields of an urlencoded or multipart body; files come as ``FormFile``.

        Raises ``ValueError`` when the body is not a form.
        """
        raw_type = self.headers.get("content-type", "")
        mimetype, options = parse_options_header(raw_type)
        mimetype = mimetype.lower()
        if mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise ValueError(f"body is not a form (content-type {raw_type or 'missing'!r})")
        parser = FormDataParser(max_form_memory_size=None, silent=False)
        _, fields, files = parser.parse(io.BytesIO(self.body), mimetype, len(self.body), options)
        result: MultiDict[str, str | FormFile] = MultiDict()
        for name, value in fields.items(multi=True):
            result.add(name, value)
        for name, storage in files.items(multi=True):
            result.add(name, FormFile(storage.filename, storage.content_type, storage.read()))
        return result

    def to_curl(self, base_url: str = "http://localhost:8080") -> str:
        """A ``curl`` command (POSIX ``sh``) that sends this request again to ``base_url`` + path.

        Safe to paste and run whatever was captured: every argument is quoted and expands to
        exactly the captured bytes, in printable characters only (``hookscope._curl``).
        Raises ``ValueError`` when the method, path, query or a header holds a NUL byte,
        which no command line can carry.
        """
        return curl_command(
            self.method, base_url, self.path, self.query, self.header_pairs, self.body
        )

    def __repr__(self) -> str:
        from ._display import printable  # _display imports this module

        kind = self.content_type or "no content-type"
        shown = printable(f"{self.method} {self.target} {kind}")  # reprs reach terminals
        return f"<CapturedRequest {self.id} {shown} {self.size} B>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CapturedRequest):
            return NotImplemented
        return self.to_wire() == other.to_wire()

    def __hash__(self) -> int:
        return hash((self.bin, self.id))
