"""``Match``: what ``wait_for``, ``assert_received`` and ``assert_nothing_received`` look for.

    >>> paid = Match("POST", "/stripe/*", json={"type": "invoice.paid"})
    >>> paid.describe()
    "POST /stripe/* json={'type': 'invoice.paid'}"

The criteria are defined here once: ``Match``'s fields, and ``MatchCriteria`` for the keyword
ones, which every waiting or asserting method takes as ``**criteria`` (after ``method`` and
``path``, which may be positional). Those methods also take a ready ``Match`` in place of
``method``: ``bin.wait_for(paid)``.

``match.mismatch(req)`` names the first thing that differs (``"json.type: 'invoice.failed' !=
'invoice.paid'"``), or returns None when ``req`` matches; ``arrivals(match, requests)`` lists
what did arrive, one line per request, for assertion messages.

Rules: ``method`` ignores case; ``path`` is exact, or a glob (``fnmatch``) when it contains
``*``, ``?`` or ``[``; ``headers`` is a subset with case-insensitive names (a header sent
several times matches when one of its values does); ``json`` is a subset of the JSON body
(nested objects recursively, lists and scalars exactly); ``query`` is a subset of the query
parameters (a string matches one of the values, a list must equal all of them, in order);
``signed=True`` matches a request whose signature the server found valid under the bin's
secret, ``signed=False`` one it found invalid (a request without a verdict, captured while
the bin held no signing secret, matches neither); ``predicate`` is any callable that returns
True for a match.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from typing import Any, TypedDict, Unpack

from ._display import printable, signature_detail
from ._exceptions import WaitTimeout
from ._models import CapturedRequest

__all__ = ["Match", "MatchCriteria", "Waiting", "arrivals", "json_mismatch"]

_MISSING: Any = object()
_GLOB_CHARS = frozenset("*?[")


class MatchCriteria(TypedDict, total=False):
    """The keyword criteria of ``Match`` (all optional; every one given must hold)."""

    headers: Mapping[str, str]
    """A subset of the headers; names ignore case."""
    json: Any
    """A subset of the JSON body."""
    query: Mapping[str, str | Sequence[str]]
    """A subset of the query parameters."""
    signed: bool
    """The server's verdict on the signature: True valid (under the bin's secret), False invalid."""
    predicate: Callable[[CapturedRequest], object]
    """True for a match."""


def _is_glob(pattern: str) -> bool:
    return not _GLOB_CHARS.isdisjoint(pattern)


def _same(expected: Any, actual: Any) -> bool:
    # JSON has no int/bool overlap: true must not match 1.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def json_mismatch(expected: Any, actual: Any, where: str = "json") -> str | None:
    """The first difference of ``actual`` from the subset ``expected``, or None."""
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            found = actual.get(key, _MISSING)
            if found is _MISSING:
                return f"{where}.{key}: missing"
            difference = json_mismatch(value, found, f"{where}.{key}")
            if difference is not None:
                return difference
        return None
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{where}: {actual!r} != {list(expected)!r}"
        for index, (item, found) in enumerate(zip(expected, actual, strict=True)):
            difference = json_mismatch(item, found, f"{where}[{index}]")
            if difference is not None:
                return difference
        return None
    if not _same(expected, actual):
        return f"{where}: {actual!r} != {expected!r}"
    return None


def _signature_mismatch(request: CapturedRequest, signed: bool) -> str | None:
    """Why ``request``'s verdict is not the one wanted, in words a test's author can act on."""
    verdict = request.signature
    announced = request.signature_scheme  # from the headers: which secret the bin lacks
    if verdict is None:
        if announced is None:
            return (
                "signed: no verdict: the request carries no signature header hookscope knows, "
                "and the bin held no signing secret when it arrived (set_secrets(...))"
            )
        return (
            f"signed: no verdict: the bin held no secret for this request's {announced} "
            f"signature when it arrived; set one with set_secrets({{{announced!r}: ...}}) "
            "before the sender sends"
        )
    scheme = printable(verdict.scheme)
    if verdict.valid:
        return None if signed else f"signed: {scheme} signature valid, expected an invalid one"
    if not signed:
        return None
    difference = f"signed: {scheme} signature invalid: {printable(verdict.reason or '?')}"
    detail = signature_detail(verdict)
    if detail:
        difference += f" ({detail})"
    if verdict.reason == "missing_header" and announced not in (None, verdict.scheme):
        difference += (
            f"; it carries a {announced} signature, and the bin held no {announced} secret: "
            f"set_secrets({{{announced!r}: ...}})"
        )
    return difference


def _predicate_name(predicate: Callable[[CapturedRequest], object]) -> str:
    return getattr(predicate, "__name__", None) or repr(predicate)


@dataclass(frozen=True, eq=False, slots=True)
class Match:
    """The request(s) to wait for or assert on: every criterion given must hold.

    ``Match("POST", "/hooks/*", json={"event": "paid"})``; ``Match()`` matches anything.
    """

    method: str | None = None
    path: str | None = None
    _: KW_ONLY
    # The keyword criteria: the same names and types as ``MatchCriteria``.
    headers: Mapping[str, str] | None = None
    json: Any = None
    query: Mapping[str, str | Sequence[str]] | None = None
    signed: bool | None = None
    predicate: Callable[[CapturedRequest], object] | None = None

    def __post_init__(self) -> None:
        if self.method:
            object.__setattr__(self, "method", self.method.upper())
        for name in ("headers", "query"):
            value = getattr(self, name)
            object.__setattr__(self, name, dict(value) if value else None)

    @classmethod
    def of(
        cls,
        method: str | Match | None = None,
        path: str | None = None,
        **criteria: Unpack[MatchCriteria],
    ) -> Match:
        """``method`` when it is a ``Match`` already, else ``Match(method, path, **criteria)``."""
        if not isinstance(method, Match):
            return cls(method, path, **criteria)
        if path is not None or criteria:
            raise TypeError("give either a Match or criteria, not both")
        return method

    def matches(self, request: CapturedRequest) -> bool:
        """True when ``request`` meets every criterion."""
        return self.mismatch(request) is None

    def mismatch(self, request: CapturedRequest) -> str | None:
        """The first criterion ``request`` fails, said plainly (``"method: 'GET' != 'POST'"``).

        None when it matches.
        """
        if self.method is not None and request.method.upper() != self.method:
            return f"method: {request.method!r} != {self.method!r}"
        if self.path is not None:
            if _is_glob(self.path):
                if not fnmatch.fnmatchcase(request.path, self.path):
                    return f"path: {request.path!r} does not match {self.path!r}"
            elif request.path != self.path:
                return f"path: {request.path!r} != {self.path!r}"
        if self.headers is not None:
            for name, value in self.headers.items():
                found = request.headers.get_list(name)
                if not found:
                    return f"headers.{name.lower()}: missing"
                if value not in found:
                    shown = found[0] if len(found) == 1 else found
                    return f"headers.{name.lower()}: {shown!r} != {value!r}"
        if self.query is not None:
            params = request.query_params
            for name, wanted in self.query.items():
                values = params.get_list(name)
                if not values:
                    return f"query.{name}: missing"
                if isinstance(wanted, str):
                    if wanted not in values:
                        shown = values[0] if len(values) == 1 else values
                        return f"query.{name}: {shown!r} != {wanted!r}"
                elif values != list(wanted):
                    return f"query.{name}: {values!r} != {list(wanted)!r}"
        if self.json is not None:
            try:
                body = request.json()
            except ValueError:
                return f"json: body is not JSON ({request.content_type or 'no content-type'})"
            difference = json_mismatch(self.json, body)
            if difference is not None:
                return difference
        if self.signed is not None:
            difference = _signature_mismatch(request, self.signed)
            if difference is not None:
                return difference
        if self.predicate is not None and not self.predicate(request):
            return f"predicate {_predicate_name(self.predicate)}() returned false"
        return None

    def describe(self) -> str:
        """The criteria in one line: ``POST /hooks/* headers={...} json={...}``."""
        parts = [self.method or "any method", self.path or "any path"]
        if self.headers is not None:
            parts.append(f"headers={self.headers!r}")
        if self.query is not None:
            parts.append(f"query={self.query!r}")
        if self.json is not None:
            parts.append(f"json={self.json!r}")
        if self.signed is not None:
            parts.append(f"signed={self.signed!r}")
        if self.predicate is not None:
            parts.append(f"predicate={_predicate_name(self.predicate)}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"<Match {self.describe()}>"


def arrivals(match: Match, requests: Iterable[CapturedRequest], limit: int = 20) -> str:
    """What did arrive, one line per request with the first difference from ``match``.

    Shows the newest ``limit`` requests; says so when there were more.
    """
    seen = list(requests)
    if not seen:
        return "no request arrived at all"
    lines = [f"{len(seen)} request(s) arrived:"]
    if len(seen) > limit:
        lines.append(f"  ... {len(seen) - limit} older ones not shown")
    for request in seen[-limit:]:
        difference = match.mismatch(request)
        verdict = f"  ({difference})" if difference else "  (matches)"
        # Captured values reach the terminal through pytest: escaped (repr() already is).
        lines.append(
            f"  {request.id} {printable(request.method)} {printable(request.target)}{verdict}"
        )
    return "\n".join(lines)


class Waiting:
    """What a ``wait_for`` has seen: ``take`` each request in order until ``done``.

    waiting = Waiting(match, count=2)
    for request in arrivals: if waiting.take(request): break
    waiting.result() or raise waiting.timed_out(5, bin_id)
    """

    def __init__(self, match: Match, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be >= 1 (see assert_nothing_received for none)")
        self.match = match
        self.count = count
        self.seen: list[CapturedRequest] = []
        self.found: list[CapturedRequest] = []

    def take(self, request: CapturedRequest) -> bool:
        """Note ``request``; True once ``count`` have matched."""
        self.seen.append(request)
        if len(self.found) < self.count and self.match.matches(request):
            self.found.append(request)
        return self.done

    @property
    def done(self) -> bool:
        return len(self.found) == self.count

    def result(self) -> CapturedRequest | list[CapturedRequest]:
        """The first match when ``count`` is 1, else the list of them."""
        return self.found[0] if self.count == 1 else list(self.found)

    def timed_out(self, timeout: float, bin_id: str) -> WaitTimeout:
        """The error after ``timeout`` seconds, listing what did arrive."""
        count = self.count
        wanted = "a request" if count == 1 else f"{count} requests ({len(self.found)} found)"
        return WaitTimeout(
            f"waited {timeout:g} s for {wanted} matching {self.match.describe()} in bin "
            f"{bin_id}; {arrivals(self.match, self.seen)}"
        )
