"""``_direct``: the frame written straight to a socket, and when there is no direct path."""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from hookscope.server._direct import direct_writer, text_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


def test_a_text_frame_is_one_unmasked_final_frame_any_client_reads() -> None:
    for text in ['{"type":"live"}', "é" * 200, "x" * 70_000]:  # 7-, 16- and 64-bit lengths
        frame = parse(text_frame(text))
        assert frame.opcode is Opcode.TEXT and frame.fin
        assert frame.data.decode() == text


def test_a_send_that_is_not_hypercorns_has_no_direct_path() -> None:
    async def send(message: dict[str, Any]) -> None:
        pass

    assert direct_writer(send, None) is None
    assert direct_writer(print, 1024) is None
