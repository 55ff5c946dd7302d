"""The Jupyter live table: a bin's requests streaming into a table that is also a DataFrame.

table = hookscope.LiveTable(bin, tail=100)
table.wait_for_rows(1)
table.df.groupby("path").size()
"""

from ._live import LiveTable, TableState, stop_all

__all__ = ["LiveTable", "TableState", "stop_all"]
