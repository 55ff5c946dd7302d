"""mkdocs hooks: the repository's notebooks and pytest examples as pages of the site.

The notebooks (``notebooks/*.ipynb``) and the examples (``tests/examples/*.py``) stay where
the tests run them; this adds them to the site:

- each notebook as the page ``notebooks/NAME.ipynb``, which mkdocs-jupyter executes and
  renders (this runs before it, so that it sees them);
- each example as the page ``examples/NAME.md``: its docstring, then its code;
- a link in a page that points at one of those files in the repository (``../notebooks/
  quickstart.ipynb`` from ``docs/jupyter.md``, which works on a code host) is pointed at its
  page on the site instead; any other link out of ``docs/`` stays as it is, and the strict
  build fails on it;
- a notebook's live table is a widget, whose saved state the reader's browser could only
  draw with JavaScript fetched from a CDN: the page shows that state as a static table
  instead (every value escaped), and loads no widget code.
"""

from __future__ import annotations

import ast
import html
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parents[2]
DOCS = "docs"
TABLE_STATIC = ROOT / "hookscope" / "widget" / "_static"

_LINK = re.compile(r"(\]\()([^)\s#]+)(#[^)\s]*)?(\))")
_WIDGET_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">\s*(.*?)\s*</script>', re.S
)
_WIDGET_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">\s*(.*?)\s*</script>', re.S
)
_WIDGET_LOADER = re.compile(
    r"<script>\s*\(function\(\) \{\s*function addWidgetsRenderer.*?</script>", re.S
)


def _site_pages() -> dict[str, str]:
    """Repository path → the page's path under docs/ on the site."""
    pages = {f"notebooks/{path.name}": f"notebooks/{path.name}" for path in _notebooks()}
    for path in _examples():
        pages[f"tests/examples/{path.name}"] = f"examples/{path.stem}.md"
    return pages


def _notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def _examples() -> list[Path]:
    return sorted((ROOT / "tests" / "examples").glob("test_*.py"))


def _example_page(path: Path) -> str:
    source = path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    title, _, rest = docstring.partition("\n")
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", source)), default=0) + 1)
    return (
        f"# {title.removeprefix('Example: ').rstrip('.')}\n\n"
        f"`tests/examples/{path.name}` runs with the test suite.\n\n{rest.strip()}\n\n"
        f"{fence}python\n{source}{fence}\n"
    )


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns notebooks into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    for path in _notebooks():
        # A File with a source directory (the repository), not File.generated: mkdocs-jupyter's
        # wrapper reads the path from it.
        uri = f"notebooks/{path.name}"
        files.append(File(uri, str(ROOT), config.site_dir, config.use_directory_urls))
    for path in _examples():
        files.append(
            File.generated(config, f"examples/{path.stem}.md", content=_example_page(path))
        )
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    pages = _site_pages()
    here = posixpath.dirname(f"{DOCS}/{page.file.src_uri}")

    def relink(match: re.Match[str]) -> str:
        start, target, anchor, end = match.groups()
        if "://" in target:
            return match.group(0)
        in_repository = posixpath.normpath(posixpath.join(here, target))
        site_page = pages.get(in_repository)
        if site_page is None:
            return match.group(0)
        relative = posixpath.relpath(site_page, posixpath.dirname(page.file.src_uri) or ".")
        return f"{start}{relative}{anchor or ''}{end}"

    return _LINK.sub(relink, markdown)


def on_page_content(content: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not page.file.src_uri.endswith(".ipynb"):
        return content
    state_match = _WIDGET_STATE.search(content)
    if state_match is None:
        return content
    models = json.loads(state_match.group(1))["state"]

    def static(match: re.Match[str]) -> str:
        view = json.loads(match.group(1))
        rendered = _static_table(models, view["model_id"])
        if rendered is None:
            raise ValueError(f"{page.file.src_uri}: a widget other than the live table")
        return rendered

    content = _WIDGET_VIEW.sub(static, content)
    content = _WIDGET_STATE.sub("", content)
    content, loaders = _WIDGET_LOADER.subn("", content)
    if loaders != 1 or "jupyter.widget" in content:
        raise ValueError(f"{page.file.src_uri}: widget code left on the page")
    css = (TABLE_STATIC / "table.css").read_text(encoding="utf-8")
    return f"<style>{css}</style>\n{content}"


def _columns() -> list[tuple[str, str]]:
    """The table's columns, as table.js declares them (one list for both)."""
    script = (TABLE_STATIC / "table.js").read_text(encoding="utf-8")
    declared = re.search(r"const COLUMNS = \[(.*?)\];", script, re.S)
    assert declared is not None, "table.js: COLUMNS not found"
    return re.findall(r'\["(\w+)", "([^"]+)"\]', declared.group(1))


def _static_table(models: dict[str, Any], view_id: str) -> str | None:
    """The live table's last state, drawn as table.js draws it; None for another widget."""
    box = models.get(view_id, {}).get("state", {})
    if "hookscope-live-table" not in box.get("_dom_classes", []):
        return None
    children = [models[ref.removeprefix("IPY_MODEL_")]["state"] for ref in box["children"]]
    table = next(child for child in children if "rows" in child and "stats" in child)
    esc = html.escape
    columns = _columns()
    head = "".join(f'<th class="hs-col-{key}">{esc(title)}</th>' for key, title in columns)
    rows = []
    for row in table["rows"]:
        method = row["method"].lower() if re.fullmatch(r"[A-Za-z]+", row["method"]) else "other"
        cells = []
        for key, _ in columns:
            classes = f"hs-col-{key}"
            if key == "signature" and row.get("signature_state") in ("valid", "invalid"):
                classes += f" hs-sig-{row['signature_state']}"
            cells.append(f'<td class="{classes}">{esc(str(row.get(key) or ""))}</td>')
        selected = " hs-selected" if row["id"] == table["selected"] else ""
        rows.append(f'<tr class="hs-row hs-method-{method}{selected}">{"".join(cells)}</tr>')
    stats = table["stats"]
    signed = " hs-signed" if any(row.get("signature") for row in table["rows"]) else ""
    return (
        '<div class="jp-OutputArea-output hookscope-live">'
        '<div class="hs-header"><span class="hs-label">Capture URL</span>'
        f'<input class="hs-url" readonly value="{esc(table["url"])}">'
        f'<div class="hs-stats">{esc(stats.get("text", ""))}</div></div>'
        f'<div class="hs-scroll"><table class="hs-table{signed}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<div class="hs-note">{esc(stats.get("note", ""))}</div>'
        # The detail pane is the HTML the kernel built, every captured value escaped
        # (hookscope/widget/_render.py): the page in Jupyter shows the same.
        f'<div class="hs-detail">{table["detail"]}</div>'
        "</div>"
    )
