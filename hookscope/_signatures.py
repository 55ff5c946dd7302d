"""Webhook signatures of the senders people use, checked over the exact captured bytes.

    result = req.verify("stripe", "whsec_...")
    if not result:
        print(result.reason)        # "timestamp_outside_tolerance"

Each scheme follows its sender's documentation and official library (the tests sign with
those libraries): what is signed, how the secret is read, which clock skew is tolerated.
Comparisons are constant-time. When several things are wrong, the signature is reported
before the clock: ``bad_signature`` means the body, the headers or the secret differ from
what the sender signed; ``timestamp_outside_tolerance`` means the signature is right but old.

========================= ======================================== ============================
scheme                    headers                                  signed, secret
========================= ======================================== ============================
``github``                ``X-Hub-Signature-256`` (``sha256=hex``) HMAC-SHA256(body);
                          or legacy ``X-Hub-Signature`` (sha1)     the webhook secret
``stripe``                ``Stripe-Signature: t=…,v1=…[,v1=…]``    HMAC-SHA256 hex of
                                                                   ``{t}.{body}``; ``whsec_…``
                                                                   as is; ``t`` not older
                                                                   than ``tolerance``
``standard-webhooks``     ``webhook-id``, ``webhook-timestamp``,   HMAC-SHA256 base64 of
(alias ``svix``)          ``webhook-signature: v1,… v1,…``         ``{id}.{ts}.{body}``;
                          (or the ``svix-*`` names)                ``whsec_`` + base64 key;
                                                                   ``ts`` within ±tolerance
``slack``                 ``X-Slack-Signature: v0=hex``,           HMAC-SHA256 hex of
                          ``X-Slack-Request-Timestamp``            ``v0:{ts}:{body}``; ±tol.
``shopify``               ``X-Shopify-Hmac-Sha256`` (base64)       HMAC-SHA256(body)
``twilio``                ``X-Twilio-Signature`` (base64)          HMAC-SHA1 (or SHA256 when
                                                                   ``X-Twilio-Webhooks-
                                                                   Signature-Settings`` says
                                                                   so) of the full URL called
                                                                   + sorted form parameters;
                                                                   needs ``url``
``gitlab``                ``X-Gitlab-Token``                       the token itself, compared
========================= ======================================== ============================
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

if TYPE_CHECKING:
    from ._models import CapturedRequest

__all__ = [
    "ALIASES",
    "SCHEMES",
    "Reason",
    "Verification",
    "guess_scheme",
    "verify",
]

Reason = Literal[
    "bad_signature",
    "missing_header",
    "malformed_header",
    "timestamp_outside_tolerance",
    "url_needed",
]

ALIASES = {"svix": "standard-webhooks"}
"""Other names of a scheme: ``verify("svix", ...)`` is ``verify("standard-webhooks", ...)``."""

_DETAILS: dict[str, str] = {
    "bad_signature": "the signature does not match the body and secret",
    "missing_header": "the request carries no signature header of this scheme",
    "malformed_header": "the signature header is not in this scheme's format",
    "timestamp_outside_tolerance": "the signature matches, but its timestamp is outside "
    "the tolerance (a replay, or a clock that is off)",
    "url_needed": "this scheme signs the URL the sender called: pass url=",
}


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict on one request's signature: truthy when valid, else ``reason`` says why
    and ``detail`` says it in words (the reasons: docs/signatures.md). ``req.verify(...)``
    returns one; ``req.signature`` is the server's, or None.

        result = req.verify("stripe", "whsec_...")
        if not result:
            print(result.reason, "-", result.detail)
    """

    scheme: str
    valid: bool
    reason: Reason | None = None

    def __bool__(self) -> bool:
        return self.valid

    @property
    def detail(self) -> str:
        """The reason in words (empty when valid)."""
        return _DETAILS.get(self.reason, "") if self.reason else ""  # a newer server's reason

    def to_wire(self) -> dict[str, Any]:
        """The optional ``signature`` field of the wire format."""
        return {"scheme": self.scheme, "valid": self.valid, "reason": self.reason}

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Verification:
        return cls(str(data["scheme"]), bool(data["valid"]), data.get("reason"))

    def __repr__(self) -> str:
        verdict = "valid" if self.valid else f"invalid: {self.reason}"
        return f"<Verification {self.scheme} {verdict}>"


class _Check:
    """What one scheme sees of a request: its headers, body, clock and URL."""

    def __init__(
        self,
        scheme: str,
        request: CapturedRequest,
        secret: bytes,
        tolerance: float,
        now: float,
        url: str | None,
    ) -> None:
        self.scheme = scheme
        self.request = request
        self.headers = request.headers
        self.body = request.body
        self.secret = secret
        self.tolerance = tolerance
        self.now = now
        self.url = url

    def result(self, reason: Reason | None = None) -> Verification:
        return Verification(self.scheme, reason is None, reason)

    def header(self, *names: str) -> str | None:
        for name in names:
            value: str | None = self.headers.get(name)
            if value is not None:
                return value.strip()
        return None

    def timely(self, timestamp: float, *, future_too: bool) -> Verification:
        too_old = timestamp < self.now - self.tolerance
        too_new = future_too and timestamp > self.now + self.tolerance
        return self.result("timestamp_outside_tolerance" if too_old or too_new else None)


def _mac(key: bytes, message: bytes, digest: Callable[..., Any] = hashlib.sha256) -> bytes:
    return hmac.new(key, message, digest).digest()


def _same(expected: bytes, presented: bytes) -> bool:
    return hmac.compare_digest(expected, presented)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    if text is None or not text.isascii() or not text.isdigit() or len(text) > 15:
        return None
    return int(text)


# -- the schemes --------------------------------------------------------------------------------


def _github(check: _Check) -> Verification:
    value = check.header("x-hub-signature-256")
    prefix, digest = "sha256=", hashlib.sha256
    if value is None:
        value = check.header("x-hub-signature")
        prefix, digest = "sha1=", hashlib.sha1
    if value is None:
        return check.result("missing_header")
    presented = _hex(value[len(prefix) :]) if value.startswith(prefix) else None
    if presented is None:
        return check.result("malformed_header")
    valid = _same(_mac(check.secret, check.body, digest), presented)
    return check.result(None if valid else "bad_signature")


def _stripe(check: _Check) -> Verification:
    value = check.header("stripe-signature")
    if value is None:
        return check.result("missing_header")
    items = [item.partition("=") for item in value.split(",")]
    stamps = [_int(v.strip()) for k, _, v in items if k.strip() == "t"]
    signatures = [_hex(v.strip()) for k, _, v in items if k.strip() == "v1"]
    if len(stamps) != 1 or stamps[0] is None or not signatures:
        return check.result("malformed_header")
    stamp = stamps[0]
    expected = _mac(check.secret, b"%d." % stamp + check.body)
    if not any(sig is not None and _same(expected, sig) for sig in signatures):
        return check.result("bad_signature")
    return check.timely(stamp, future_too=False)  # Stripe's own check: not too old


def _standard_webhooks(check: _Check) -> Verification:
    found = None
    for prefix in ("webhook-", "svix-"):
        names = (f"{prefix}id", f"{prefix}timestamp", f"{prefix}signature")
        values = [check.header(name) for name in names]
        if any(values):
            found = values
            break
    if found is None or not all(found):
        return check.result("missing_header")
    message_id, stamp_text, signatures = found
    assert message_id is not None and stamp_text is not None and signatures is not None
    try:
        stamp = float(stamp_text)
    except ValueError:
        return check.result("malformed_header")
    expected = _mac(check.secret, f"{message_id}.{stamp_text}.".encode() + check.body)
    presented = []
    for entry in signatures.split():
        version, comma, signature = entry.partition(",")
        if not comma:
            return check.result("malformed_header")
        if version == "v1":
            presented.append(_b64(signature))
    if not presented:
        return check.result("malformed_header")
    if not any(sig is not None and _same(expected, sig) for sig in presented):
        return check.result("bad_signature")
    return check.timely(stamp, future_too=True)


def _slack(check: _Check) -> Verification:
    value = check.header("x-slack-signature")
    stamp_text = check.header("x-slack-request-timestamp")
    if value is None or stamp_text is None:
        return check.result("missing_header")
    stamp = _int(stamp_text)
    presented = _hex(value[3:]) if value.startswith("v0=") else None
    if stamp is None or presented is None:
        return check.result("malformed_header")
    expected = _mac(check.secret, b"v0:%d:" % stamp + check.body)
    if not _same(expected, presented):
        return check.result("bad_signature")
    return check.timely(stamp, future_too=True)


def _shopify(check: _Check) -> Verification:
    value = check.header("x-shopify-hmac-sha256")
    if value is None:
        return check.result("missing_header")
    presented = _b64(value)
    if presented is None:
        return check.result("malformed_header")
    return check.result(
        None if _same(_mac(check.secret, check.body), presented) else "bad_signature"
    )


def _with_and_without_port(url: str) -> list[str]:
    """Twilio signs the URL sometimes with the default port and sometimes without."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without = urlunsplit(parts._replace(netloc=prefix + shown))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{shown}:{parts.port or default}"))
    return [url, with_port, without]


def _twilio(check: _Check) -> Verification:
    value = check.header("x-twilio-signature")
    if value is None:
        return check.result("missing_header")
    presented = _b64(value)
    if presented is None:
        return check.result("malformed_header")
    if not check.url:
        return check.result("url_needed")
    settings = check.header("x-twilio-webhooks-signature-settings") or ""
    algorithm = "HMAC_SHA1"
    for part in settings.split(","):
        name, equals, chosen = part.partition("=")
        if equals and name.strip() == "algorithm" and chosen.strip():
            algorithm = chosen.strip().upper()
    digest = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}.get(algorithm)
    if digest is None:
        return check.result("malformed_header")
    suffix = ""
    body_hash = parse_qs(urlsplit(check.url).query).get("bodySHA256")
    if body_hash:  # JSON bodies: the URL carries the body's hash and the URL alone is signed
        if not hmac.compare_digest(hashlib.sha256(check.body).hexdigest(), body_hash[0]):
            return check.result("bad_signature")
    elif check.request.content_type == "application/x-www-form-urlencoded":
        text = check.body.decode("utf-8", "replace")
        params: dict[str, set[str]] = {}
        for name, item in parse_qsl(text, keep_blank_values=True):
            params.setdefault(name, set()).add(item)
        suffix = "".join(name + item for name in sorted(params) for item in sorted(params[name]))
    for candidate in _with_and_without_port(check.url):
        expected = _mac(check.secret, (candidate + suffix).encode("utf-8"), digest)
        if _same(expected, presented):
            return check.result()
    return check.result("bad_signature")


def _gitlab(check: _Check) -> Verification:
    value = check.headers.get("x-gitlab-token")  # not stripped: the token is compared as is
    if value is None:
        return check.result("missing_header")
    return check.result(None if _same(check.secret, value.encode("latin-1")) else "bad_signature")


def _stripe_secret(secret: str) -> bytes:
    return secret.encode("utf-8")


def _standard_webhooks_secret(secret: str) -> bytes:
    text = secret.removeprefix("whsec_")
    key = _b64(text + "=" * (-len(text) % 4))
    if not key:
        raise ValueError(
            "a standard-webhooks secret is 'whsec_' and base64 (no valid base64 found)"
        )
    return key


_Scheme = tuple[Callable[[_Check], Verification], Callable[[str], bytes], tuple[str, ...]]

_SCHEMES: dict[str, _Scheme] = {
    # name: (check, secret reader, headers that announce the scheme)
    "github": (_github, _stripe_secret, ("x-hub-signature-256", "x-hub-signature")),
    "stripe": (_stripe, _stripe_secret, ("stripe-signature",)),
    "standard-webhooks": (
        _standard_webhooks,
        _standard_webhooks_secret,
        ("webhook-signature", "svix-signature"),
    ),
    "slack": (_slack, _stripe_secret, ("x-slack-signature",)),
    "shopify": (_shopify, _stripe_secret, ("x-shopify-hmac-sha256",)),
    "twilio": (_twilio, _stripe_secret, ("x-twilio-signature",)),
    "gitlab": (_gitlab, _stripe_secret, ("x-gitlab-token",)),
}

SCHEMES: tuple[str, ...] = tuple(_SCHEMES)
"""Every scheme name ``verify`` takes (aliases: ``ALIASES``)."""


def canonical(scheme: str) -> str:
    """The scheme's own name (``svix`` → ``standard-webhooks``); ValueError for others."""
    name = ALIASES.get(scheme.lower(), scheme.lower())
    if name not in _SCHEMES:
        known = ", ".join([*SCHEMES, *ALIASES])
        raise ValueError(f"unknown signature scheme {scheme!r} (known: {known})")
    return name


def read_secret(scheme: str, secret: str | bytes) -> bytes:
    """The key bytes of ``secret`` for ``scheme``; ValueError when it cannot be one."""
    if isinstance(secret, bytes):
        return secret
    if not secret:
        raise ValueError("the secret is empty")
    return _SCHEMES[canonical(scheme)][1](secret)


def verify(
    request: CapturedRequest,
    scheme: str,
    secret: str | bytes,
    *,
    tolerance: float = 300,
    now: datetime | float | None = None,
    url: str | None = None,
) -> Verification:
    """Check ``request``'s signature under ``scheme`` and ``secret``; see the module docstring."""
    name = canonical(scheme)
    key = read_secret(name, secret)
    if isinstance(now, datetime):
        moment = now.timestamp()
    else:
        moment = time.time() if now is None else float(now)
    return _SCHEMES[name][0](_Check(name, request, key, tolerance, moment, url))


def guess_scheme(request: CapturedRequest) -> str | None:
    """The scheme whose signature header the request carries, or None."""
    for name, (_, _, announcing) in _SCHEMES.items():
        if any(header in request.headers for header in announcing):
            return name
    return None
