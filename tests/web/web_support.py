"""Helpers for the page's browser tests (a unique module name: conftest.py is not).

``Watched`` opens a page with tripwires installed before any of its scripts run: a flag that
hostile payloads try to set (``window.__pwned``), a dialog listener (``alert()`` and friends),
CSP violation reports, console errors, uncaught exceptions and long tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

TIMEOUT_MS = 30_000
API_KEY = "s3cret-key"

TRIPWIRES = """
window.__pwned = 0;
window.__violations = [];
window.__longtasks = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
// Every row the list ever renders, by request id: rendering incrementally means each request
// gets one row element, once; rebuilding the list would render some twice.
window.__rows = { added: 0, removed: 0, ids: new Set() };
new MutationObserver((records) => {
  for (const record of records) {
    if (record.target.id !== "rows") continue;
    for (const node of record.addedNodes) {
      if (node.dataset && node.dataset.id) {
        window.__rows.added += 1;
        window.__rows.ids.add(node.dataset.id);
      }
    }
    for (const node of record.removedNodes) if (node.dataset && node.dataset.id) window.__rows.removed += 1;
  }
}).observe(document, { childList: true, subtree: true });
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longtasks.push(entry.duration);
}).observe({ type: "longtask", buffered: true });
"""


@dataclass
class Watched:
    """A page and what its tripwires caught."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Any, *, width: int = 1000, height: int = 760, **options: Any) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        context.add_init_script(TRIPWIRES)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        watched = cls(page)

        def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: watched.errors.append(f"uncaught: {error}"))
        page.on(
            "console",
            lambda message: message.type == "error" and watched.errors.append(message.text),
        )
        return watched

    def open_bin(self, base_url: str, bin: dict[str, Any]) -> None:
        """Open the bin's page and wait until its stream is live."""
        self.page.goto(f"{base_url}/b/{bin['id']}#token={bin['token']}")
        self.page.locator("#connection[data-state=live]").wait_for()

    def rows(self) -> Any:
        return self.page.locator("#rows .req")

    def wait_rows(self, count: int) -> None:
        self.page.wait_for_function(
            "n => document.querySelectorAll('#rows .req').length === n", arg=count
        )

    def rendered(self) -> tuple[int, int, int]:
        """``(row elements added, removed, distinct requests among those added)``."""
        found = self.page.evaluate(
            "[window.__rows.added, window.__rows.removed, window.__rows.ids.size]"
        )
        return int(found[0]), int(found[1]), int(found[2])

    def longtasks(self) -> list[float]:
        return list(self.page.evaluate("window.__longtasks"))

    def assert_clean(self, *, allow_errors: tuple[str, ...] = ()) -> None:
        """No script of a payload ran, nothing was blocked, nothing failed."""
        assert self.page.evaluate("window.__pwned") == 0
        assert self.dialogs == []
        assert self.page.evaluate("window.__violations") == []
        unexpected = [e for e in self.errors if not any(a in e for a in allow_errors)]
        assert unexpected == []

    def close(self) -> None:
        self.page.context.close()


def new_bin(base_url: str, **body: Any) -> dict[str, Any]:
    created = httpx.post(f"{base_url}/api/bins", json=body, timeout=10)
    assert created.status_code == 201, created.text
    data: dict[str, Any] = created.json()
    return data


def stored(base_url: str, bin: dict[str, Any], *, tail: int | None = None) -> list[dict[str, Any]]:
    """The stored requests of ``bin``, oldest first: the first 1000, or the newest ``tail``."""
    answer = httpx.get(
        f"{base_url}/api/bins/{bin['id']}/requests",
        params={"limit": 1000} if tail is None else {"tail": tail},
        headers={"Authorization": f"Bearer {bin['token']}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["requests"]
    return found
