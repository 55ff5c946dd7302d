"""Optional dependencies: the extras that install them, and a clear error when one is missing.

``pip install hookscope`` is the SDK, the CLI, the pytest plugin and the embedded server.
The rest comes with extras (docs/install.md):

========= ===================================== ======================================
extra     installs                              needed by
========= ===================================== ======================================
redis     redis-py                              ``--redis-url``, the redis backend
pandas    pandas                                ``bin.dataframe()``, ``to_dataframe``
jupyter   pandas, ipywidgets, anywidget, IPython ``LiveTable``, ``bin.live_table()``
uvicorn   uvicorn, httptools, uvloop            ``hookscope serve --server uvicorn``
all       all of the above
========= ===================================== ======================================
"""

from __future__ import annotations

import importlib

from ._exceptions import MissingExtra

__all__ = ["EXTRAS", "require"]

EXTRAS: dict[str, tuple[str, ...]] = {
    "redis": ("redis",),
    "pandas": ("pandas",),
    "jupyter": ("pandas", "ipywidgets", "anywidget", "IPython"),
    "uvicorn": ("uvicorn", "httptools"),
}
"""The modules each extra provides (import names)."""


def require(extra: str, feature: str) -> None:
    """Raise ``MissingExtra`` naming ``extra`` unless its modules import.

    >>> require("pandas", "to_dataframe()")  # pandas is installed here: nothing happens
    """
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise MissingExtra(
                f"{feature} needs {module}, which is not installed: "
                f"pip install 'hookscope[{extra}]'",
                extra=extra,
            ) from error
