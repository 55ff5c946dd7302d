"""hookscope: a self-hosted webhook inspector for Python people.

import hookscope

server = hookscope.serve_in_background()
with hookscope.Client(server.url) as client:
    bin = client.create_bin()
    print(bin.url)                       # give this to the webhook sender
    req = bin.wait_for("POST", json={"event": "paid"})

The exceptions load with the package; everything else on first use, so that ``import
hookscope`` (which pytest does for the plugin in every run) stays cheap.
"""

import importlib as _importlib
import typing as _typing

from ._exceptions import (
    ApiError,
    BinNotFound,
    ConnectionFailed,
    HookscopeError,
    MissingExtra,
    RequestNotFound,
    ServerUnavailable,
    Unauthorized,
    WaitTimeout,
)
from ._version import __version__

if _typing.TYPE_CHECKING:
    from ._dataframe import to_dataframe
    from ._embedded import BackgroundServer, serve_in_background
    from ._matching import Match, MatchCriteria
    from ._models import CapturedRequest, FormFile
    from ._signatures import Verification
    from .client import AsyncBin, AsyncClient, AsyncStream, Bin, Client, Stream
    from .widget import LiveTable

__all__ = [
    "ApiError",
    "AsyncBin",
    "AsyncClient",
    "AsyncStream",
    "BackgroundServer",
    "Bin",
    "BinNotFound",
    "CapturedRequest",
    "Client",
    "ConnectionFailed",
    "FormFile",
    "HookscopeError",
    "LiveTable",
    "Match",
    "MatchCriteria",
    "MissingExtra",
    "RequestNotFound",
    "ServerUnavailable",
    "Stream",
    "Unauthorized",
    "Verification",
    "WaitTimeout",
    "__version__",
    "serve_in_background",
    "to_dataframe",
]

_LAZY = {
    "AsyncBin": ".client",
    "AsyncClient": ".client",
    "AsyncStream": ".client",
    "BackgroundServer": "._embedded",
    "Bin": ".client",
    "CapturedRequest": "._models",
    "Client": ".client",
    "FormFile": "._models",
    "LiveTable": ".widget",
    "Match": "._matching",
    "MatchCriteria": "._matching",
    "Stream": ".client",
    "Verification": "._signatures",
    "serve_in_background": "._embedded",
    "to_dataframe": "._dataframe",
}


def _public(value: _typing.Any) -> _typing.Any:
    # Tracebacks and reprs say hookscope.WaitTimeout, not hookscope._exceptions.WaitTimeout.
    if getattr(value, "__module__", "").startswith("hookscope."):
        value.__module__ = "hookscope"
    return value


for _name in __all__:
    if _name not in _LAZY and _name != "__version__":
        _public(globals()[_name])


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookscope' has no attribute {name!r}")
    value = _public(getattr(_importlib.import_module(module, __name__), name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
