"""What a request body is, and how to show it: kind, one-line preview, hex dump, sizes, times.

Shared by the live table and the CLI's lines (``hookscope tail``, ``hookscope forward``).

>>> format_size(1536)
'1.5 KiB'
>>> hexdump(b"\\x89PNG\\r\\n")
'00000000  89 50 4e 47 0d 0a                                 |.PNG..|'
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from .._models import CapturedRequest

__all__ = [
    "BodyKind",
    "body_kind",
    "clock_time",
    "decoded_text",
    "format_size",
    "hexdump",
    "preview",
]

BodyKind = Literal["empty", "json", "form", "text", "binary"]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_BINARY_TYPES = ("image/", "audio/", "video/", "application/octet-stream", "application/zip")
# Control characters that do not occur in text (tab, newlines and form feed do).
_CONTROL = frozenset(range(32)) - {9, 10, 12, 13}


def is_json_type(media_type: str | None) -> bool:
    return media_type is not None and (
        media_type == "application/json" or media_type.endswith(("+json", "/json"))
    )


def decoded_text(request: CapturedRequest) -> str | None:
    """The body as text when it is text (decodes cleanly, no control characters), else None."""
    body = request.body
    if not body or (request.content_type or "").startswith(_BINARY_TYPES):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = request.text  # the declared charset, if any, may still decode it
        if "\ufffd" in text:
            return None
    if any(ord(char) in _CONTROL for char in text[:4096]):
        return None
    return text


def parsed_json(request: CapturedRequest) -> tuple[bool, Any]:
    """``(True, value)`` when the body is JSON (by content type or by its look), else
    ``(False, None)``."""
    body = request.body
    if not body:
        return False, None
    if not is_json_type(request.content_type) and body.lstrip()[:1] not in (b"{", b"["):
        return False, None
    try:
        return True, json.loads(body)
    except ValueError:
        return False, None


def body_kind(request: CapturedRequest) -> BodyKind:
    """``empty``, ``json``, ``form``, ``text`` or ``binary``."""
    if not request.body:
        return "empty"
    if request.content_type in FORM_TYPES:
        return "form"
    if parsed_json(request)[0]:
        return "json"
    return "text" if decoded_text(request) is not None else "binary"


def preview(request: CapturedRequest, limit: int = 80) -> str:
    """A one-line glimpse of the body: its text, whitespace collapsed, or its first bytes in hex."""
    body = request.body
    if not body:
        return ""
    text = decoded_text(request)
    if text is None:
        shown = " ".join(f"{byte:02x}" for byte in body[:8])
        return f"<binary> {shown}" + (" …" if len(body) > 8 else "")
    line = " ".join(text[: limit * 4].split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


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
