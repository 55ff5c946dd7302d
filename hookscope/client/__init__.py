"""The Python SDK: ``AsyncClient``/``AsyncBin``/``AsyncStream`` for asyncio, and ``Client``/
``Bin``/``Stream`` mirroring them name for name."""

from ._async import AsyncBin, AsyncClient
from ._stream import AsyncStream
from ._sync import Bin, Client, Stream

__all__ = ["AsyncBin", "AsyncClient", "AsyncStream", "Bin", "Client", "Stream"]
