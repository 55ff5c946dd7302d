"""The Jupyter live table: a bin's requests streaming into a table that is also a DataFrame.

table = hookscope.LiveTable(bin, tail=100)
table.wait_for_rows(1)
table.df.groupby("path").size()
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._live import LiveTable, TableState, stop_all

__all__ = ["LiveTable", "TableState", "stop_all"]


def __getattr__(name: str) -> object:
    # ``import hookscope.widget`` stays cheap: the table (and ipywidgets) load on first use.
    if name in __all__:
        from . import _live

        return getattr(_live, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
