"""The docs site's pieces that are code: the API reference's coverage, and the mkdocs hook
(docs/_hooks/site.py) that adds the notebooks and examples and draws the live table.

``mkdocs build --strict`` itself runs in ``.ci/run`` (it executes the notebooks).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import hookscope
import hookscope.pytest_plugin

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_site_hooks", DOCS / "_hooks" / "site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _documented(page: str) -> set[str]:
    return set(re.findall(r"^::: (\S+)$", (DOCS / "reference" / page).read_text(), re.M))


def test_the_reference_documents_the_whole_public_surface() -> None:
    public = {f"hookscope.{name}" for name in hookscope.__all__ if name != "__version__"}
    assert _documented("hookscope.md") == public
    plugin = {f"hookscope.pytest_plugin.{name}" for name in hookscope.pytest_plugin.__all__}
    assert _documented("pytest_plugin.md") == plugin


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {path.relative_to(DOCS).as_posix() for path in DOCS.rglob("*.md")}
    assert {page for page in pages if f": {page}\n" not in nav} == set()


def _page(src_uri: str) -> Any:
    return SimpleNamespace(file=SimpleNamespace(src_uri=src_uri))


@pytest.mark.parametrize(
    ("src_uri", "markdown", "expected"),
    [
        (
            "jupyter.md",
            "[q](../notebooks/quickstart.ipynb) and [r](../tests/examples/test_retry_example.py)",
            "[q](notebooks/quickstart.ipynb) and [r](examples/test_retry_example.md)",
        ),
        (
            "guides/pytest-ci.md",
            "[ex](../../tests/examples/test_retry_example.py#the-code)",
            "[ex](../examples/test_retry_example.md#the-code)",
        ),
        # Links into docs/, to the web, or to what the site does not hold stay as they are
        # (the strict build fails on the last kind).
        ("sdk.md", "[s](signatures.md) [w](https://x.example/a.py)", None),
        ("sdk.md", "[x](../hookscope/_wire.py)", None),
    ],
)
def test_links_to_repository_files_point_at_their_pages(
    src_uri: str, markdown: str, expected: str | None
) -> None:
    relinked = _hooks().on_page_markdown(markdown, _page(src_uri), None, None)
    assert relinked == (expected or markdown)


def test_example_pages_hold_the_file_whole() -> None:
    path = ROOT / "tests" / "examples" / "test_retry_example.py"
    page = _hooks()._example_page(path)
    assert page.startswith("# testing a webhook sender's retries with ``hookbin.respond_with``")
    assert path.read_text() in page


HOSTILE = '<img src=x onerror="alert(1)">'


def _state(rows: list[dict[str, Any]], detail: str = "") -> dict[str, Any]:
    """The saved widget state of a live table as nbclient writes it (the parts drawn)."""
    return {
        "box": {"state": {"_dom_classes": ["hookscope-live-table"], "children": ["IPY_MODEL_t"]}},
        "t": {
            "state": {
                "url": f"http://h/h/b_x{HOSTILE}",
                "rows": rows,
                "selected": "2-0",
                "detail": detail,
                "stats": {"text": f"2 requests {HOSTILE}", "note": HOSTILE},
            }
        },
    }


def _page_html(state: dict[str, Any]) -> str:
    view = json.dumps({"model_id": "box", "version_major": 2})
    return (
        "<script>\n(function() {\n  function addWidgetsRenderer() { /* loads from a CDN */ }\n"
        "}());\n</script>\n<p>before</p>"
        f'<script type="application/vnd.jupyter.widget-view+json">{view}</script><p>after</p>'
        '<script type="application/vnd.jupyter.widget-state+json">'
        # nbconvert writes "/" as "\\/" inside a script (its escape_html_script filter).
        + json.dumps({"state": state}).replace("/", "\\/")
        + "</script>"
    )


def test_the_live_table_is_drawn_from_its_saved_state_with_every_value_escaped() -> None:
    rows = [
        {"id": "1-0", "time": "21:43:44.123", "method": "POST", "path": f"/a{HOSTILE}",
         "type": "text/html", "size_text": "3 B", "preview": f"<script>x</script>{HOSTILE}"},
        {"id": "2-0", "time": "21:43:45.000", "method": f"P{HOSTILE}", "path": "/b",
         "type": HOSTILE, "size_text": "0 B", "preview": "",
         "signature": f"✗ stripe: {HOSTILE}", "signature_state": "invalid"},
    ]  # fmt: skip
    html = _hooks().on_page_content(
        _page_html(_state(rows, detail="<h4>built by the kernel</h4>")),
        _page("notebooks/quickstart.ipynb"),
        None,
        None,
    )

    assert "<img" not in html and "<script>x" not in html and 'onerror="' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 8
    assert "jupyter.widget" not in html and "addWidgetsRenderer" not in html  # no CDN code
    assert "<p>before</p>" in html and "<p>after</p>" in html
    assert '<table class="hs-table hs-signed">' in html
    # The columns of table.js, in its order; the selected row and the verdict's colour.
    headers = re.findall(r'<th class="hs-col-(\w+)">', html)
    assert headers == ["time", "method", "signature", "path", "type", "size_text", "preview"]
    assert '<tr class="hs-row hs-method-other hs-selected">' in html
    assert '<td class="hs-col-signature hs-sig-invalid">' in html
    assert "<h4>built by the kernel</h4>" in html  # the detail: already escaped by the kernel
    assert html.startswith("<style>") and ".hookscope-live" in html


def test_a_widget_the_hook_cannot_draw_fails_the_build() -> None:
    other = {"box": {"state": {"_dom_classes": [], "children": []}}}
    with pytest.raises(ValueError, match="a widget other than the live table"):
        _hooks().on_page_content(_page_html(other), _page("notebooks/x.ipynb"), None, None)
