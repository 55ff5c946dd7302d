"""Where a stream starts, said the same way by the SDK, the live table and the CLI.

- ``since=ID``: after that request id (exclusive; ``"0-0"``: the whole history);
- ``tail=N``: the newest N stored requests first (0 to ``MAX_TAIL``);
- neither (``since=None, tail=None``): from now on. ``tail=None`` always means "no tail".

The two do not combine.
"""

from __future__ import annotations

from ._contract import MAX_TAIL
from ._ids import id_key

__all__ = ["check_stream_start"]


def check_stream_start(since: str | None, tail: int | None) -> None:
    """``ValueError``, with a message for the user, unless ``since`` and ``tail`` are valid."""
    if since is not None and tail is not None:
        raise ValueError("since and tail do not combine; pick one")
    if since is not None:
        id_key(since)  # ValueError for anything that is not a request id
    if tail is not None and not 0 <= tail <= MAX_TAIL:
        raise ValueError(f"tail must be from 0 to {MAX_TAIL} (None: no tail)")
