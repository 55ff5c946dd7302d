"""hookscope: a self-hosted webhook inspector for Python people.

import hookscope

server = hookscope.serve_in_background()
with hookscope.Client(server.url) as client:
    bin = client.create_bin()
    print(bin.url)                       # give this to the webhook sender
    req = bin.wait_for(method="POST", json={"event": "paid"})
"""

from ._dataframe import to_dataframe
from ._embedded import BackgroundServer, serve_in_background
from ._exceptions import (
    ApiError,
    BinNotFound,
    ConnectionFailed,
    HookscopeError,
    RequestNotFound,
    ServerUnavailable,
    StreamLagged,
    Unauthorized,
    WaitTimeout,
)
from ._models import CapturedRequest, FormFile
from ._version import __version__
from .client import AsyncBin, AsyncClient, Bin, Client
from .widget import LiveTable

__all__ = [
    "ApiError",
    "AsyncBin",
    "AsyncClient",
    "BackgroundServer",
    "Bin",
    "BinNotFound",
    "CapturedRequest",
    "Client",
    "ConnectionFailed",
    "FormFile",
    "HookscopeError",
    "LiveTable",
    "RequestNotFound",
    "ServerUnavailable",
    "StreamLagged",
    "Unauthorized",
    "WaitTimeout",
    "__version__",
    "serve_in_background",
    "to_dataframe",
]
