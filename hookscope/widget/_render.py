"""Text and HTML for the view, made from the model's snapshot and details (escaped here, once).

The detail pane is the only HTML the page receives (table.js sets it as ``innerHTML``; rows are
plain text it sets with ``textContent``). Every captured value in it is ``html.escape``d; the
one-line ones (request line, headers, form fields) also go through ``printable``, so control
characters and bidi overrides show as escapes. Bodies are shown as they are, HTML-escaped.
"""

from __future__ import annotations

import html
from datetime import datetime

from .._display import printable, signature_detail, signature_mark
from ._detail import Detail
from ._table import Stats

__all__ = ["detail_html", "note_text", "stats_text"]


def stats_text(stats: Stats, status: str) -> str:
    """``"1,234 requests · 12.3/s · last 21:43:44 · streaming"``."""
    parts = [f"{stats.count:,} request" + ("" if stats.count == 1 else "s"), f"{stats.rate:.1f}/s"]
    if stats.last_received_at is not None:
        last = datetime.fromtimestamp(stats.last_received_at).strftime("%H:%M:%S")
        parts.append(f"last {last}")
    if stats.paused:
        parts.append(f"paused ({stats.pending:,} new)")
    parts.append(status)
    return " · ".join(parts)


def note_text(stats: Stats, shown: int, filtered: bool) -> str:
    if not stats.count:
        return "Waiting for requests…"
    if shown < stats.matching:
        what = "matching" if filtered else "in the table"
        return f"Showing the newest {shown:,} of {stats.matching:,} {what}; all are in table.df."
    if filtered:
        return f"{stats.matching:,} matching the filters."
    return ""


def _field(text: str) -> str:
    """A one-line captured value, as HTML."""
    return html.escape(printable(text))


def _table(pairs: list[tuple[str, str]], classes: str = "") -> str:
    rows = "".join(
        f"<tr><td>{_field(name)}</td><td>{_field(value)}</td></tr>" for name, value in pairs
    )
    return f"<table class='{classes}'>{rows}</table>" if classes else f"<table>{rows}</table>"


def _signature(detail: Detail) -> str:
    """The verdict (scheme, valid or not, reason, in words), or what to do to get one."""
    verdict = detail.signature
    if verdict is None:
        if detail.signature_scheme is None:
            return ""
        scheme = detail.signature_scheme
        note = (
            f"{scheme} (by its headers), not verified: the bin held no {scheme} secret when it "
            f'arrived. bin.set_secrets({{"{scheme}": ...}}) verifies the next ones; '
            f'req.verify("{scheme}", secret) this one.'
        )
        return f"<h4>Signature</h4><p>{_field(note)}</p>"
    state = "valid" if verdict.valid else "invalid"
    rows = [("scheme", verdict.scheme), ("verdict", f"{signature_mark(verdict)} {state}")]
    if not verdict.valid:
        rows += [("reason", verdict.reason or "?"), ("why", signature_detail(verdict))]
    return f"<h4>Signature</h4>{_table(rows, f'hs-signature hs-sig-{state}')}"


def detail_html(detail: Detail | None) -> str:
    """The detail pane: request line, all headers in arrival order, the body as its kind suits."""
    if detail is None:
        return ""
    esc = html.escape
    when = detail.received_at.astimezone().isoformat(timespec="milliseconds")
    summary = [
        ("id", detail.id),
        ("received", when),
        ("from", detail.remote_addr or "?"),
        ("size", f"{detail.size_text} ({detail.size:,} bytes)"),
        ("content type", detail.content_type or "(none)"),
    ]
    parts = [
        f"<h4 class='hs-request-line'>{_field(detail.method)} {_field(detail.target)} "
        f"HTTP/{_field(detail.http_version)}</h4>",
        _table(summary),
        _signature(detail),
        f"<h4>Headers ({len(detail.headers)})</h4>",
        _table(detail.headers),
    ]
    cut = " (truncated)" if detail.truncated else ""
    if detail.kind == "empty":
        parts.append("<h4>Body</h4><p>(empty)</p>")
    elif detail.kind == "form":
        parts.append(f"<h4>Form fields ({len(detail.form)})</h4>{_table(detail.form)}")
        parts.append(f"<h4>Raw body{cut}</h4><pre>{esc(detail.body)}</pre>")
    elif detail.kind == "binary":
        parts.append(
            f"<h4>Body: binary, {detail.size:,} bytes{cut}</h4>"
            f"<pre class='hs-hexdump'>{esc(detail.body)}</pre>"
        )
    else:
        parts.append(
            f"<h4>Body ({detail.kind}){cut}</h4><pre class='hs-body'>{esc(detail.body)}</pre>"
        )
    parts.append(f"<h4>curl</h4><pre>{esc(detail.curl)}</pre>")
    if detail.smee_inexact:  # our words, escaped all the same
        parts.append(
            "<p class='hs-smee-note'>Through a smee channel: smee-client would not forward this "
            f"body byte-exact ({esc(detail.smee_inexact)}); hookscope forward relays the exact "
            "bytes.</p>"
        )
    return f"<div class='hs-detail-{detail.kind}'>{''.join(parts)}</div>"
