"""The live table in a real browser: Debian's headless Chromium, driven by Playwright.

The test starts JupyterLab, or Notebook 7 (the classic Notebook's successor), on a free port
(token auth, its own directories), opens a notebook that shows a live table, sends requests
to the bin from here, and reads the rows the browser rendered. A screenshot is saved in the
test's temp dir. Everything it starts, it stops.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest
from _support import free_port, headless_chromium, wait_until

pytestmark = pytest.mark.browser

TIMEOUT_MS = 60_000

NOTEBOOK_SETUP = """\
import pathlib

import hookscope

server = hookscope.serve_in_background()
client = hookscope.Client(server.url)
bin = client.create_bin(name="browser", secrets={"github": "gh-secret"})
table = bin.live_table(window=20)
pathlib.Path("bin_url.txt").write_text(bin.url)
"""


# The application to start, and the path under which it opens a notebook.
UIS = {"jupyterlab": "/lab/tree/", "notebook": "/notebooks/"}


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    notebook_path: str

    def api(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"token {self.token}"})


@pytest.fixture(params=list(UIS))
def jupyterlab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab or Notebook 7 on 127.0.0.1 and a free port, with its own directories."""
    app = request.param
    root = tmp_path / "root"
    root.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }
    command = [
        sys.executable, "-m", app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    # Settings and workspaces live under JUPYTER_CONFIG_DIR. No "Jupyter news?" toast, please.
    news = tmp_path / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = (tmp_path / "jupyterlab.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, UIS[app])
    auth = {"Authorization": f"token {token}"}
    try:

        def up() -> bool:
            if process.poll() is not None:
                return True  # reported below, without waiting out the timeout
            return httpx.get(f"{lab.url}/api/status", headers=auth, timeout=2).status_code == 200

        wait_until(up, timeout=90, interval=0.2, what="JupyterLab to answer")
        if process.poll() is not None:
            log.flush()
            pytest.fail(f"{app} exited:\n" + (tmp_path / "jupyterlab.log").read_text()[-3000:])
        yield lab
    finally:
        # Shutting the server down also shuts down its kernels (and the server they run).
        if process.poll() is None:
            try:
                httpx.post(f"{lab.url}/api/shutdown", headers=auth, timeout=10)
                process.wait(30)
            except (httpx.HTTPError, subprocess.TimeoutExpired):
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        log.close()


@pytest.fixture
def chromium() -> Iterator[object]:
    with headless_chromium() as browser:
        yield browser


def write_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_SETUP)])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, path)


def kernel_idle(lab: Lab) -> bool:
    sessions = lab.api("/api/sessions").json()
    return any(session["kernel"]["execution_state"] == "idle" for session in sessions)


def test_live_table_renders_rows_in_the_browser(
    jupyterlab: Lab, chromium: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    write_notebook(jupyterlab.root / "live.ipynb")
    page = chromium.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(f"{jupyterlab.url}{jupyterlab.notebook_path}live.ipynb?token={jupyterlab.token}")
    wait_until(lambda: kernel_idle(jupyterlab), timeout=60, what="the notebook's kernel")
    page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")

    widget = page.locator(".hookscope-live")
    expect(widget.locator(".hs-table")).to_be_visible()
    bin_file = jupyterlab.root / "bin_url.txt"
    bin_url = wait_until(lambda: bin_file.exists() and bin_file.read_text(), timeout=60)
    expect(widget.locator(".hs-url")).to_have_value(bin_url)

    paths = [f"/browser/{n}" for n in range(30)]
    with httpx.Client() as http:
        for n, path in enumerate(paths):
            if n % 5 == 4:
                http.get(bin_url + path, params={"n": n})
            else:
                http.post(bin_url + path, json={"n": n, "event": "browser.test"})
    stats = widget.locator(".hs-stats")
    expect(stats).to_have_attribute("data-count", "30")
    expect(stats).to_contain_text("30 requests")

    rendered = widget.locator("tbody td.hs-col-path")
    expect(rendered).to_have_count(20)  # the window: the newest 20, newest first
    expected = [p + (f"?n={n}" if n % 5 == 4 else "") for n, p in enumerate(paths)]
    assert rendered.all_inner_texts() == list(reversed(expected))[:20]
    methods = widget.locator("tbody td.hs-col-method").all_inner_texts()
    assert methods[:2] == ["GET", "POST"]  # /browser/29?n=29, /browser/28

    widget.locator("tbody tr").nth(1).click()  # a click shows the detail
    detail = widget.locator(".hs-detail")
    expect(detail.locator(".hs-request-line")).to_contain_text("POST /browser/28")
    expect(detail).to_contain_text('"event": "browser.test"')
    expect(widget.locator("tbody tr.hs-selected")).to_have_count(1)
    page.keyboard.press("ArrowDown")  # the keyboard moves the selection: to /browser/27
    expect(detail.locator(".hs-request-line")).to_contain_text("POST /browser/27")
    expect(widget.locator("tbody tr.hs-selected td.hs-col-path")).to_have_text("/browser/27")

    screenshot = tmp_path / "live-table.png"
    page.screenshot(path=str(screenshot), full_page=True)
    widget.screenshot(path=str(tmp_path / "widget.png"))
    assert screenshot.stat().st_size > 10_000

    page.get_by_placeholder("path, query or body text").fill("/browser/1")
    expect(rendered).to_have_count(11)  # /browser/1 and /browser/10 ... /browser/19
    assert all("/browser/1" in text for text in rendered.all_inner_texts())
    widget.screenshot(path=str(tmp_path / "filtered.png"))
    (tmp_path / "rendered.json").write_text(json.dumps(rendered.all_inner_texts()))

    # Markup a sender wrote stays text in rows and detail: no element made, nothing ran.
    page.get_by_placeholder("path, query or body text").fill("")
    img = '<img src=x onerror="window.__pwned=1">'
    httpx.post(bin_url + "/hostile", content=f"{img}<script>window.__pwned=2</script>",
               headers={"content-type": "text/plain" + img,
                        "x-evil": '</textarea><svg onload="window.__pwned=3">'})  # fmt: skip
    expect(widget.locator("tbody td.hs-col-type").first).to_have_text("text/plain" + img)
    expect(widget.locator("tbody td.hs-col-preview").first).to_contain_text("<script>")
    widget.locator("tbody tr").first.click()
    expect(detail.locator(".hs-request-line")).to_contain_text("POST /hostile")
    expect(detail).to_contain_text('</textarea><svg onload="window.__pwned=3">')
    assert widget.locator("img, script, svg, textarea").count() == 0
    assert page.evaluate("window.__pwned") is None

    # The server's signature verdicts: a green ✓, a red ✗ and the reason; in words in the detail.
    body = b'{"zen": "signed"}'
    signature = "sha256=" + hmac.new(b"gh-secret", body, hashlib.sha256).hexdigest()
    httpx.post(bin_url + "/signed", content=body, headers={"x-hub-signature-256": signature})
    signatures = widget.locator("tbody td.hs-col-signature")
    expect(signatures.first).to_have_text("✓ github")
    expect(signatures.first).to_have_class(re.compile(r"\bhs-sig-valid\b"))
    expect(signatures.nth(1)).to_have_text("✗ github: missing_header")  # /hostile: unsigned
    expect(signatures.nth(1)).to_have_class(re.compile(r"\bhs-sig-invalid\b"))
    expect(signatures.nth(1)).to_have_attribute("title", "✗ github: missing_header")
    color = signatures.first.evaluate("cell => getComputedStyle(cell).color")
    assert color == "rgb(26, 127, 55)", color  # the stylesheet's green
    widget.locator("tbody tr").first.click()
    expect(detail.locator(".hs-signature")).to_contain_text("✓ valid")
    widget.locator("tbody tr").nth(1).click()
    expect(detail.locator(".hs-signature.hs-sig-invalid")).to_contain_text(
        "the request carries no signature header of this scheme"
    )
    widget.screenshot(path=str(tmp_path / "signatures.png"))
    page.close()


NARROW_SETUP = """\
import pathlib

import hookscope

server = hookscope.serve_in_background()
client = hookscope.Client(server.url)
bin = client.create_bin(name="narrow", secrets={"stripe": "whsec_narrow"})
table = bin.live_table(window=40)
_ = pathlib.Path("bin_url.txt").write_text(bin.url)
"""
SELECT_OLDEST_SHOWN = "table.select(table.requests[-40].id)"


def _run_cell(page: Any, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell .cm-content").nth(index).click()
    page.keyboard.press("Shift+Enter")


def _layout(widget: Any) -> dict[str, Any]:
    """What a reader sees of the table: horizontal overflow, the box of each cell of the first
    row, whether rows are laid out on two lines, the buttons, and the content types cut."""
    return dict(
        widget.evaluate(
            """el => {
            const scroll = el.querySelector('.hs-scroll');
            const box = scroll.getBoundingClientRect();
            const row = el.querySelector('tbody tr');
            const cells = {};
            for (const td of row.cells) {
                if (getComputedStyle(td).display === 'none') continue;
                const r = td.getBoundingClientRect();
                cells[td.classList[0].replace('hs-col-', '')] =
                    {left: r.left - box.left, right: r.right - box.left, width: r.width};
            }
            const cut = (node) => node.scrollWidth > node.clientWidth + 1;
            return {
                width: box.width,
                overflow: scroll.scrollWidth - scroll.clientWidth,
                twoLines: getComputedStyle(row).display === 'grid',
                cells,
                buttons: [...el.closest('.hookscope-live-table').querySelectorAll('button')]
                    .map((b) => ({text: b.innerText.trim(), cut: cut(b)})),
                cutTypes: [...el.querySelectorAll('tbody td.hs-col-type')]
                    .filter(cut).map((td) => td.textContent),
            };
        }"""
        )
    )


def _selected_row_in_view(widget: Any) -> bool:
    return bool(
        widget.evaluate(
            """el => {
            const box = el.querySelector('.hs-scroll').getBoundingClientRect();
            const row = el.querySelector('tbody tr.hs-selected');
            if (!row) return false;
            const r = row.getBoundingClientRect();
            return r.top >= box.top && r.bottom <= box.bottom + 1;
        }"""
        )
    )


@pytest.mark.parametrize("jupyterlab", ["jupyterlab"], indirect=True)
def test_readable_at_1000_px_with_the_file_browser_open(
    jupyterlab: Lab, chromium: object, tmp_path: Path
) -> None:
    """JupyterLab at 1000 px with its file browser open leaves the output ~570 px: every
    column stays on screen (each request on two lines), the buttons keep their labels;
    ``table.select()`` scrolls the row into view; at 1440 px one line, no content type cut."""
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    cells = [
        nbformat.v4.new_code_cell(NARROW_SETUP),
        nbformat.v4.new_code_cell(SELECT_OLDEST_SHOWN),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, jupyterlab.root / "narrow.ipynb")
    page = chromium.new_page(viewport={"width": 1000, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page.goto(f"{jupyterlab.url}/lab/tree/narrow.ipynb?token={jupyterlab.token}")
    wait_until(lambda: kernel_idle(jupyterlab), timeout=60, what="the notebook's kernel")
    expect(page.locator(".jp-FileBrowser")).to_be_visible()  # JupyterLab's first layout
    _run_cell(page, 0)
    widget = page.locator(".hookscope-live")
    expect(widget.locator(".hs-table")).to_be_visible()
    bin_file = jupyterlab.root / "bin_url.txt"
    bin_url = wait_until(lambda: bin_file.exists() and bin_file.read_text(), timeout=60)
    with httpx.Client() as http:
        for n in range(36):
            http.post(f"{bin_url}/github/push/{n}", json={"n": n, "ref": "refs/heads/main"})
        http.post(bin_url + "/forms/contact", data={"name": "Ada", "topic": "engines"})
        http.put(bin_url + "/upload", content=bytes(range(64)),
                 headers={"content-type": "application/octet-stream"})  # fmt: skip
        http.post(bin_url + "/stripe", json={"type": "invoice.paid"},
                  headers={"stripe-signature": "t=1,v1=00"})  # fmt: skip
        http.get(bin_url + "/health", params={"check": ["db", "cache"]})
    expect(widget.locator(".hs-stats")).to_have_attribute("data-count", "40")

    narrow = _layout(widget)
    page.screenshot(path=str(tmp_path / "narrow-1000.png"), full_page=True)
    assert narrow["width"] < 700 and narrow["twoLines"], narrow
    assert narrow["overflow"] <= 0, narrow
    assert set(narrow["cells"]) == {"time", "method", "signature", "path", "type", "size_text",
                                    "preview"}, narrow  # fmt: skip
    for name, cell in narrow["cells"].items():
        on_screen = cell["left"] >= 0 and cell["right"] <= narrow["width"] + 1
        assert cell["width"] >= 60 and on_screen, (name, narrow)
    assert narrow["cells"]["preview"]["width"] >= narrow["width"] / 2, narrow
    assert narrow["buttons"] and not [b for b in narrow["buttons"] if b["cut"]], narrow
    assert {"Pause", "Clear", "Copy URL"} <= {b["text"] for b in narrow["buttons"]}, narrow
    assert "application/json" not in narrow["cutTypes"], narrow

    # table.select() from a cell: the oldest row shown, below the box's fold, comes into view.
    assert not widget.locator("tbody tr").last.evaluate(
        "tr => tr.getBoundingClientRect().bottom <= "
        "tr.closest('.hs-scroll').getBoundingClientRect().bottom"
    )
    _run_cell(page, 1)
    expect(widget.locator(".hs-detail .hs-request-line")).to_contain_text("POST /github/push/0")
    expect(widget.locator("tbody tr.hs-selected td.hs-col-path")).to_have_text("/github/push/0")
    wait_until(lambda: _selected_row_in_view(widget), timeout=30, what="the row in view")
    widget.screenshot(path=str(tmp_path / "selected-1000.png"))

    page.set_viewport_size({"width": 1440, "height": 900})
    wait_until(lambda: not _layout(widget)["twoLines"], timeout=30, what="one line per request")
    wide = _layout(widget)
    page.screenshot(path=str(tmp_path / "wide-1440.png"), full_page=True)
    assert wide["overflow"] <= 0 and wide["cutTypes"] == [], wide
    assert min(cell["width"] for cell in wide["cells"].values()) >= 60, wide
    page.close()
