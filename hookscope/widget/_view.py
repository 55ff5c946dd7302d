"""The ipywidgets view of a live table: native controls above one small anywidget table.

Threading: the kernel thread handles the page's events (filters, pause, clear, a click on a
row) and only tells the owner through callbacks; the owner's update loop is the only writer
of ``TableWidget``'s state, and writes it with ``show()``: one comm message per update, sending
a bounded window of rows, never the history.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

import anywidget
import ipywidgets
import traitlets

from .._display import printable
from ._render import detail_html, note_text, stats_text
from ._table import Snapshot, TableModel

__all__ = ["LiveTableView", "TableWidget"]

_STATIC = resources.files(__package__) / "_static"
_ALL = "All methods"


def _method_options(methods: list[str]) -> list[tuple[str, str]]:
    """The method filter's (label, value) pairs: captured methods are labelled ``printable``."""
    return [(_ALL, _ALL), *((printable(method), method) for method in methods)]


class TableWidget(anywidget.AnyWidget):
    """Header, rows and detail; state is written by the kernel only."""

    _esm = (_STATIC / "table.js").read_text(encoding="utf-8")
    _css = (_STATIC / "table.css").read_text(encoding="utf-8")

    url = traitlets.Unicode("").tag(sync=True)
    stats = traitlets.Dict().tag(sync=True)
    rows: traitlets.List[dict[str, Any]] = traitlets.List().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    detail = traitlets.Unicode("").tag(sync=True)


class LiveTableView(ipywidgets.VBox):  # type: ignore[misc]
    """Controls (method, search, pause, clear) and the ``TableWidget``.

    ``on_change`` is called (on the kernel thread) after the page changed the model;
    ``on_close`` when the view is closed, from Python or by the front end.
    """

    def __init__(
        self,
        model: TableModel,
        url: str,
        *,
        on_change: Callable[[], None],
        on_close: Callable[[], None],
    ) -> None:
        self._model = model
        self._on_change = on_change
        self._on_close = on_close
        self._detail_cache: tuple[str | None, str] = (None, "")
        # In a narrow output the controls wrap to a second line rather than shrink: buttons
        # keep their labels, the filter gives up width first.
        self.method = ipywidgets.Dropdown(
            options=_method_options([]),
            value=_ALL,
            description="Method",
            layout={"width": "190px", "flex": "0 0 auto"},
        )
        self.search = ipywidgets.Text(
            placeholder="path, query or body text",
            description="Filter",
            continuous_update=True,
            layout={"flex": "1 1 320px", "min_width": "220px", "max_width": "420px"},
        )
        button = {"width": "auto", "flex": "0 0 auto"}
        self.pause = ipywidgets.ToggleButton(
            description="Pause", icon="pause", value=False, layout=button
        )
        self.clear = ipywidgets.Button(description="Clear", icon="trash", layout=button)
        self.table = TableWidget(url=url)
        self.method.observe(self._filters_changed, names="value")
        self.search.observe(self._filters_changed, names="value")
        self.pause.observe(self._pause_changed, names="value")
        self.clear.on_click(self._clear_clicked)
        self.table.on_msg(self._page_message)
        controls = ipywidgets.HBox(
            [self.method, self.search, self.pause, self.clear], layout={"flex_flow": "row wrap"}
        )
        super().__init__([controls, self.table])
        self.add_class("hookscope-live-table")
        for widget in (self, self.table):
            if widget.comm is not None:
                widget.comm.on_close(lambda _msg: self.close())

    # -- from the page (kernel thread) --------------------------------------------------------

    def _filters_changed(self, _change: Any) -> None:
        method = None if self.method.value == _ALL else self.method.value
        self._model.set_filters(method=method, text=self.search.value)
        self._on_change()

    def _pause_changed(self, change: Any) -> None:
        if change["new"]:
            self._model.pause()
        else:
            self._model.resume()
        self.pause.description = "Resume" if change["new"] else "Pause"
        self.pause.icon = "play" if change["new"] else "pause"
        self._on_change()

    def _clear_clicked(self, _button: Any) -> None:
        self._model.clear()
        self._on_change()

    def _page_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("event") == "select":
            self._model.select(content.get("id") or None)
            self._on_change()

    def sync_controls(self) -> None:
        """Make the controls show the model's filters and pause (after a change from Python)."""
        method, text = self._model.filters
        if method is not None and method not in [value for _, value in self.method.options]:
            self.method.options = [*self.method.options, *_method_options([method])[1:]]
        self.method.value = method or _ALL
        if self.search.value.strip().casefold() != text:
            self.search.value = text
        self.pause.value = self._model.paused

    # -- from the update loop -----------------------------------------------------------------

    def show(self, snapshot: Snapshot, status: str) -> None:
        """Write the snapshot to the page: at most one comm message, nothing if nothing changed."""
        method, text = snapshot.method, snapshot.text
        stats = snapshot.stats
        state: dict[str, Any] = {
            "stats": {
                "count": stats.count,
                "rate": round(stats.rate, 1),
                "matching": stats.matching,
                "shown": len(snapshot.rows),
                "paused": stats.paused,
                "status": status,
                "text": stats_text(stats, status),
                "note": note_text(stats, len(snapshot.rows), bool(method or text)),
            },
            "rows": snapshot.rows,
            "selected": snapshot.selected or "",
            "detail": self._detail(snapshot.selected),
        }
        table = self.table
        changed = {name: value for name, value in state.items() if getattr(table, name) != value}
        if changed:
            with table.hold_sync():
                for name, value in changed.items():
                    setattr(table, name, value)
        options = _method_options(snapshot.methods)
        if list(self.method.options) != options:
            self.method.options = options  # rare: a method outside the standard ones arrived

    def _detail(self, selected: str | None) -> str:
        if self._detail_cache[0] != selected:
            detail = self._model.detail(selected, base_url=self.table.url) if selected else None
            self._detail_cache = (selected, detail_html(detail))
        return self._detail_cache[1]

    def close(self) -> None:
        if getattr(self, "_closing", False):
            return
        self._closing = True
        self._on_close()
        for widget in (self.method, self.search, self.pause, self.clear, self.table):
            widget.close()
        for child in self.children:
            child.close()
        super().close()
