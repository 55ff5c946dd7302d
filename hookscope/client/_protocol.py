"""The stream protocol, free of I/O: frames in, requests and reconnect decisions out.

One ``StreamProtocol`` follows one logical stream across any number of WebSocket
connections. The I/O layer (``_stream.py``) connects with ``protocol.query()``, feeds every
text frame to ``receive()``, takes requests with ``pop()``, and on a close or a failed
connection asks ``closed()`` / ``rejected()`` / ``failed()`` how long to wait before the next
attempt (or gets the exception to raise).

    protocol = StreamProtocol("b_1", since="0-0")
    protocol.connected()
    protocol.receive('{"type": "live"}')
    protocol.state                    # StreamState.LIVE

Resuming: every request received moves the cursor (``last_id``); reconnecting asks for
``since=<last id>``, and anything not newer than the cursor is dropped, so a request is
never yielded twice or lost across reconnects.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from typing import NoReturn

from .._backoff import Backoff
from .._contract import CloseCode, ErrorCode, FrameType
from .._exceptions import ApiError, BinNotFound, ConnectionFailed, HookscopeError
from .._ids import id_key
from .._models import CapturedRequest
from .._wire import loads
from ._errors import api_error, error_for_code

__all__ = ["StreamProtocol", "StreamState"]

log = logging.getLogger("hookscope.client")

_RETRY_STATUSES = frozenset({408, 425, 429})


def _retryable(status: int) -> bool:
    """A refusal the server may get over: it is busy, or its storage is (5xx)."""
    return status in _RETRY_STATUSES or status >= 500


class StreamState(enum.Enum):
    """Where a stream is; the history of connections is in the counters."""

    CONNECTING = "connecting"  # no connection: about to connect or waiting to retry
    REPLAYING = "replaying"  # connected; history after ``since`` still arriving
    LIVE = "live"  # connected and caught up: what follows is live
    FAILED = "failed"  # ended by an error that retrying cannot fix


class StreamProtocol:
    """The resume state machine of one stream of ``bin_id``, starting after ``since``.

    ``initial`` requests (fetched before, e.g. a tail, all at or before ``since``) come first.
    """

    def __init__(
        self,
        bin_id: str,
        since: str,
        initial: list[CapturedRequest] | None = None,
        *,
        backoff: Backoff | None = None,
    ) -> None:
        self.bin_id = bin_id
        self.state = StreamState.CONNECTING
        self.last_id = since
        self._last_key = id_key(since)
        self._pending: deque[CapturedRequest] = deque()
        self._backoff = backoff or Backoff()
        self._attempt = 0  # failed attempts since the last frame received
        self._error_frame: tuple[str, str] | None = None
        self.connections = 0
        self.lagged = 0
        # Fetched before the stream began: they precede ``since`` and go out first.
        self._pending.extend(initial or ())

    # -- what to connect to ------------------------------------------------------------------

    def query(self) -> dict[str, str]:
        """The query of the next connection: resume after the last request received."""
        return {"since": self.last_id}

    def connected(self) -> None:
        """A connection opened (the handshake succeeded)."""
        self.state = StreamState.REPLAYING
        self._error_frame = None
        self.connections += 1
        if self.connections > 1:
            log.info("stream of %s reconnected, resuming after %s", self.bin_id, self.last_id)

    # -- frames --------------------------------------------------------------------------------

    def receive(self, text: str | bytes) -> None:
        """Take one text frame from the server."""
        frame = loads(text)
        kind = frame.get("type")
        if kind == FrameType.REQUEST:
            self._accept(CapturedRequest.from_wire(frame["request"]))
        elif kind == FrameType.BATCH:
            for data in frame["requests"]:
                self._accept(CapturedRequest.from_wire(data))
        elif kind == FrameType.LIVE:
            self.state = StreamState.LIVE
            self._attempt = 0
        elif kind == FrameType.ERROR:
            self._error_frame = (str(frame.get("code")), str(frame.get("message")))
        # Unknown frame types are ignored, like unknown fields (forward compatibility).

    def _accept(self, request: CapturedRequest) -> None:
        key = id_key(request.id)
        if key <= self._last_key:
            return  # already received (a replay overlapping what came before)
        self._last_key = key
        self.last_id = request.id
        self._pending.append(request)
        self._attempt = 0

    def pop(self) -> CapturedRequest | None:
        """The next request to yield, or None when the stream must read more."""
        return self._pending.popleft() if self._pending else None

    @property
    def buffered(self) -> int:
        return len(self._pending)

    # -- endings -------------------------------------------------------------------------------

    def closed(self, code: int | None, reason: str = "") -> float:
        """The connection closed with ``code`` (None: dropped without a close frame).

        Returns the delay before reconnecting; raises when reconnecting cannot help: the bin
        was deleted (4404), or the server refused the stream (1008, after an error frame).
        """
        error = self._error_frame
        self._error_frame = None
        if code == CloseCode.BIN_DELETED:
            message = f"bin {self.bin_id} was deleted while streaming"
            self._fail(BinNotFound(message, code=ErrorCode.BIN_DELETED))
        if code == CloseCode.POLICY:
            return self._refused(error, reason)
        why = f"code {code}" if code is not None else "connection dropped"
        if error is not None:
            why += f", {error[0]}: {error[1]}"
        elif reason:
            why += f", {reason}"
        if code == CloseCode.LAGGING:
            self.lagged += 1
            # Behind, not broken: catch up at once (the replay comes in large batches).
            return self._retry(why, immediate=self._attempt == 0)
        return self._retry(why)

    def _refused(self, error: tuple[str, str] | None, reason: str) -> float:
        # The handshake was refused after all, with an error frame and a 1008 close (where the
        # ASGI server cannot answer it with an HTTP status): the frame's code says what the
        # HTTP body would have, and it is treated the same way.
        what = f"stream of {self.bin_id}"
        if error is None:
            detail = f": {reason}" if reason else ""
            self._fail(ApiError(f"{what} refused (close code 1008{detail})"))
        refusal = error_for_code(*error, what=what)
        if _retryable(refusal.status):
            return self._retry(f"refused with {refusal.code}: {error[1]}")
        self._fail(refusal)

    def rejected(self, status: int, body: bytes) -> float:
        """The handshake was refused with an HTTP ``status``: retry (5xx) or raise (4xx)."""
        if _retryable(status):
            return self._retry(f"handshake refused with HTTP {status}")
        self._fail(api_error(status, body, what=f"stream of {self.bin_id}"))

    def failed(self, error: BaseException, url: str = "") -> float:
        """Connecting failed (refused, reset, timed out): the delay before trying again.

        Raises ``ConnectionFailed`` when no connection ever opened: a wrong URL or a server
        that is not running should not look like a quiet stream.
        """
        if self.connections == 0:
            where = f" at {url}" if url else ""
            self._fail(
                ConnectionFailed(
                    f"cannot open the stream of {self.bin_id}{where} "
                    f"({type(error).__name__}: {error}); is the server running?"
                )
            )
        return self._retry(f"cannot connect: {error!r}")

    def _retry(self, why: str, *, immediate: bool = False) -> float:
        self.state = StreamState.CONNECTING
        delay = 0.0 if immediate else self._backoff.delay(self._attempt)
        self._attempt += 1
        level = logging.WARNING if self._attempt > 3 else logging.INFO
        log.log(
            level,
            "stream of %s interrupted (%s); reconnecting in %.2f s with since=%s",
            self.bin_id,
            why,
            delay,
            self.last_id,
        )
        return delay

    def _fail(self, error: HookscopeError) -> NoReturn:
        self.state = StreamState.FAILED
        raise error
