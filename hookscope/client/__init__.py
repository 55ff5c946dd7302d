"""The Python SDK: ``AsyncClient``/``AsyncBin`` for asyncio, ``Client``/``Bin`` mirroring them."""

from ._async import AsyncBin, AsyncClient
from ._sync import Bin, Client

__all__ = ["AsyncBin", "AsyncClient", "Bin", "Client"]
