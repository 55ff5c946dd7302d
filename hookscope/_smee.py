"""A captured request as the event ``smee-client`` forwards, and whether it arrives byte-exact.

smee-client (5.x; Probot's ``WEBHOOK_PROXY_URL``) reads unnamed SSE events whose data is a JSON
object: ``body`` is forwarded as ``JSON.stringify(body)`` with ``content-type:
application/json``, ``query`` keys are set on the target URL, and every other key becomes a
request header. So only a compact JSON body — exactly what ``JSON.stringify(JSON.parse(body))``
gives back — arrives byte-exact; ``forwarded_exactly`` says which requests do (and why not).

    >>> js_stringify({"b": 1, "2": [1.5e-7, 1e21, 100.0], "a": "\\u00e9"})
    '{"2":[1.5e-7,1e+21,100],"b":1,"a":"é"}'
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from ._models import CapturedRequest

__all__ = ["event_data", "forwarded_exactly", "js_stringify"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
# Header names smee-client's fetch (undici) refuses, or that would describe the original bytes
# rather than what it forwards; and the keys the event itself uses.
_DROPPED = frozenset(
    {
        "host",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "expect",
        "te",
        "trailer",
        "proxy-connection",
        "body",
        "query",
        "timestamp",
    }
)
_FETCH_MODES = frozenset({"cors", "no-cors", "same-origin"})
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,9})\Z")


def _safe_value(value: str) -> bool:
    """What fetch accepts in a header value: ISO-8859-1, no CR, LF or NUL."""
    return all(ord(char) <= 0xFF and char not in "\r\n\0" for char in value)


def event_data(request: CapturedRequest) -> dict[str, Any]:
    """The JSON object of the smee event: headers, ``body``, ``query``, ``timestamp``.

    Headers are lower-cased and joined when repeated; those smee-client's fetch would refuse
    (or that describe the original encoding) are left out.
    """
    data: dict[str, Any] = {}
    for name, value in request.header_pairs:
        key = name.lower()
        if key in _DROPPED or not _TOKEN.match(key) or not _safe_value(value):
            continue
        if key == "sec-fetch-mode" and value not in _FETCH_MODES:
            continue
        data[key] = f"{data[key]}, {value}" if key in data else value
    data["x-hookscope-request-id"] = request.id
    data["body"] = _body(request)
    data["query"] = dict(parse_qsl(request.query, keep_blank_values=True))
    data["timestamp"] = int(request.received_at.timestamp() * 1000)
    return data


def _body(request: CapturedRequest) -> Any:
    text = request.body.decode("utf-8", errors="replace")
    parsed = _js_parse(text)
    return text if parsed is _NOT_JSON else parsed


_NOT_JSON: Any = object()


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN and Infinity


def _js_parse(text: str) -> Any:
    """What ``JSON.parse`` accepts, parsed (Python keeps big integers; JS would not)."""
    if not text.strip():
        return _NOT_JSON
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _js_number(value: float) -> str:
    """``Number.prototype.toString()`` of a double (ECMA-262 Number::toString)."""
    if value == 0:
        return "0"
    if math.isinf(value) or math.isnan(value):
        return "null"  # what JSON.stringify writes for them
    # repr() gives the shortest digits that round-trip, as JavaScript does; only the layout
    # differs (JavaScript writes exponents beyond 1e21 and below 1e-6 only).
    _, digit_tuple, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k, n = len(digits), exponent + len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        head = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{head}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return ("-" if value < 0 else "") + text


def js_stringify(value: Any) -> str:
    """``JSON.stringify`` of what ``JSON.parse`` made of the same JSON, in Python."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 2**53 else _js_number(float(value))
    if isinstance(value, float):
        return _js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(js_stringify(item) for item in value) + "]"
    if isinstance(value, dict):
        # JS objects list integer-like keys first, in numeric order, then the rest as created.
        indices = sorted((key for key in value if _INDEX.match(key)), key=int)
        others = [key for key in value if not _INDEX.match(key)]
        keys = [key for key in indices if int(key) < 2**32 - 1] + [
            key for key in indices if int(key) >= 2**32 - 1
        ]
        keys += others
        return "{" + ",".join(f"{js_stringify(k)}:{js_stringify(value[k])}" for k in keys) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def forwarded_exactly(request: CapturedRequest) -> str | None:
    """None when smee-client forwards this body byte-exact; else why not, in a few words."""
    body = request.body
    if not body:
        return 'an empty body is forwarded as ""'
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary body is forwarded as JSON text"
    parsed = _js_parse(text)
    if parsed is _NOT_JSON:
        kind = request.content_type or "no content type"
        return f"a body that is not JSON ({kind}) is forwarded as a JSON string"
    try:
        again = js_stringify(parsed)
    except RecursionError:
        return "a JSON body nested too deep to check"
    if again == text:
        return None
    if again.replace(" ", "") != text.translate({ord(c): None for c in " \t\r\n"}):
        return "JSON that JavaScript re-encodes differently (escapes, numbers or key order)"
    return "JSON with whitespace: smee-client forwards it compact"
