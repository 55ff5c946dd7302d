"""How a captured request is read and shown: is its body JSON, text or binary; previews, hex
dumps, sizes; and what of it may reach a terminal.

One module for every view of a request: the DataFrame (``json`` column), the live table (rows,
detail pane) and the CLI (``tail`` lines, ``forward`` labels, CSV export). In particular, one
rule decides whether a body is JSON (``parse_json``), so that ``df.json`` and the table agree,
one rule (``printable``) escapes what a terminal would act on, wherever a captured value
meets one, and one wording says what the server's signature verdict is (``signature_mark``,
``signature_verdict``, ``signature_detail``).

>>> print(printable("POST\\x1b]0;pwned\\x07 /\\u202eexe.txt"))
POST\\x1b]0;pwned\\x07 /\\u202eexe.txt
>>> print(printable('{"a": "\\u202e\\x9b"}', json=True))
{"a": "\\u202e\\u009b"}
>>> format_size(1536)
'1.5 KiB'
>>> parse_json(b' {"a": 1}', "text/plain"), parse_json(b'"s"', None)
((True, {'a': 1}), (False, None))
>>> hexdump(b"\\x89PNG\\r\\n")
'00000000  89 50 4e 47 0d 0a                                 |.PNG..|'
>>> late = Verification("stripe", False, "timestamp_outside_tolerance")
>>> signature_mark(late), signature_verdict(late), signature_mark(None)
('✗', 'stripe: timestamp_outside_tolerance', '')
"""

from __future__ import annotations

import json
import json.scanner
import re
from datetime import datetime
from typing import Any, Literal

from werkzeug.http import parse_options_header

from ._models import CapturedRequest
from ._signatures import Verification

__all__ = [
    "FORM_TYPES",
    "BodyKind",
    "body_kind",
    "body_text",
    "clock_time",
    "decoded_text",
    "format_size",
    "hexdump",
    "is_json_type",
    "parse_json",
    "preview",
    "printable",
    "request_json",
    "signature_detail",
    "signature_mark",
    "signature_verdict",
]

BodyKind = Literal["empty", "json", "form", "text", "binary"]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_BINARY_TYPES = ("image/", "audio/", "video/", "application/octet-stream", "application/zip")
# Control characters that do not occur in text (tab, newlines and form feed do).
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}
_LOOKS_LIKE_JSON = re.compile(rb"[ \t\n\r]*[\[{]")
_JSON_SPACE = " \t\n\r"

_decoder = json.JSONDecoder()
# The decoder's own scanner, called directly: a third faster than json.loads on small bodies.
_scan_json = json.scanner.make_scanner(_decoder)  # type: ignore[arg-type]  # typeshed


# -- JSON: the one rule ----------------------------------------------------------------------


def is_json_type(media_type: str | None) -> bool:
    """``application/json``, ``text/json``, ``application/vnd.github+json``..."""
    return media_type is not None and (
        media_type == "application/json" or media_type.endswith(("+json", "/json"))
    )


def parse_json(body: bytes, media_type: str | None) -> tuple[bool, Any]:
    """``(True, value)`` when ``body`` is JSON, else ``(False, None)``.

    The rule: the body is one JSON document, in UTF-8, and either its content type says JSON
    (``application/json``, ``*/json``, ``*+json``) or it is an object or an array, whatever
    the content type (senders often say ``text/plain``, or nothing at all).
    """
    if not body or not (is_json_type(media_type) or _LOOKS_LIKE_JSON.match(body)):
        return False, None
    try:
        text = body.decode("utf-8")
        try:
            value, end = _scan_json(text, 0)
        except StopIteration:  # nothing at offset 0: leading whitespace, or not JSON
            return True, _decoder.decode(text)
    except (ValueError, RecursionError):  # not JSON after all, or absurdly nested
        return False, None
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return False, None  # more than one document
    return True, value


def request_json(request: CapturedRequest) -> tuple[bool, Any]:
    """``parse_json`` of a request's body and content type."""
    return parse_json(request.body, request.content_type)


# -- text and kinds ----------------------------------------------------------------------------


def decoded_text(request: CapturedRequest, limit: int | None = None) -> str | None:
    """The body (its first ``limit`` bytes) as text when it is text, else None.

    Text: it decodes (UTF-8, or the charset its content type declares) and has no control
    characters but tabs, newlines and form feeds.
    """
    return body_text(request.body, request.headers.get("content-type", ""), limit)


def body_text(body: bytes, content_type: str, limit: int | None = None) -> str | None:
    """``decoded_text`` of a body sent with the ``content_type`` header's value (or "")."""
    body = body if limit is None else body[:limit]
    media_type, options = parse_options_header(content_type)
    if not body or media_type.lower().startswith(_BINARY_TYPES):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        cut = limit is not None and len(body) == limit and error.start >= len(body) - 3
        if cut and error.reason == "unexpected end of data":
            text = body[: error.start].decode("utf-8")  # a character cut at the limit
        else:
            try:
                text = body.decode(options.get("charset", "utf-8"), errors="replace")
            except LookupError:
                return None
            if "\ufffd" in text:
                return None
    if any(ord(char) in _CONTROL for char in text[:4096]):
        return None
    return text


def body_kind(request: CapturedRequest) -> BodyKind:
    """``empty``, ``json`` (by ``parse_json``), ``form``, ``text`` or ``binary``."""
    if not request.body:
        return "empty"
    if request_json(request)[0]:
        return "json"
    if request.content_type in FORM_TYPES:
        return "form"
    return "text" if decoded_text(request) is not None else "binary"


def preview(request: CapturedRequest, width: int = 80) -> str:
    """The body on one line, cut to ``width``: its text with whitespace collapsed and what
    else is not printable escaped (``printable``), or ``<binary>`` and its first bytes in hex.

    Safe to print on a terminal: nothing in it can move the cursor or change colours.
    """
    body = request.body
    if not body:
        return ""
    text = decoded_text(request, limit=width * 4 + 64)
    if text is None:
        line = "<binary> " + " ".join(f"{byte:02x}" for byte in body[:8])
        line += " …" if len(body) > 8 else ""
    else:
        line = printable(" ".join(text[: width * 4].split()))
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


# -- terminals ---------------------------------------------------------------------------------


def printable(text: str, *, json: bool = False) -> str:
    """``text`` with every character that ``str.isprintable()`` rejects shown as an escape.

    What a terminal would act on can then never reach it raw: C0 controls and ESC, DEL, C1
    controls (U+0080 to U+009F), bidi overrides and isolates (U+202A to U+202E, U+2066 to
    U+2069), and every other format, separator, surrogate, private-use or unassigned
    character (space stays). Shown as Python writes them: ``\\x1b``, ``\\u202e``, ``\\U000e0001``.

    ``json=True`` is for JSON text hookscope wrote (``json.dumps``): the escapes are JSON's
    ``\\uXXXX`` (a surrogate pair above U+FFFF), so the text stays the same JSON value, and
    the whitespace JSON allows between tokens (tab, LF, CR) is left as it is.
    """
    if text.isprintable():  # the usual case, at C speed
        return text
    if json:
        return "".join(c if c.isprintable() or c in _JSON_SPACE else _json_escape(c) for c in text)
    return "".join(c if c.isprintable() else _python_escape(c) for c in text)


def _python_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# -- signatures --------------------------------------------------------------------------------


def signature_mark(verdict: Verification | None) -> str:
    """``✓`` for a valid signature, ``✗`` for an invalid one, ``""`` without a verdict."""
    if verdict is None:
        return ""
    return "✓" if verdict.valid else "✗"


def signature_verdict(verdict: Verification) -> str:
    """``"stripe"`` when valid, ``"stripe: bad_signature"`` when not; terminal-safe.

    The scheme and reason come from the wire (a server wrote them): escaped like captured values.
    """
    scheme = printable(verdict.scheme)
    if verdict.valid:
        return scheme
    return f"{scheme}: {printable(verdict.reason or 'invalid')}"


def signature_detail(verdict: Verification) -> str:
    """The reason in words (``""`` when valid, or for a reason this version does not know)."""
    try:
        return verdict.detail
    except KeyError:  # a newer server's reason
        return ""


# -- numbers and times -------------------------------------------------------------------------


def format_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``3.0 MiB``."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"


def clock_time(moment: datetime) -> str:
    """``21:43:44.123``: ``moment`` in local time, to the millisecond."""
    local = moment.astimezone()
    return local.strftime("%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def hexdump(data: bytes, limit: int = 4096) -> str:
    """``hexdump -C``-style lines for the first ``limit`` bytes: offset, 16 bytes in hex, ASCII."""
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        left = " ".join(f"{byte:02x}" for byte in chunk[:8])
        right = " ".join(f"{byte:02x}" for byte in chunk[8:])
        ascii_ = "".join(chr(byte) if 32 <= byte < 127 else "." for byte in chunk)
        lines.append(f"{offset:08x}  {left:<23}  {right:<23}  |{ascii_}|")
    return "\n".join(lines)
