"""``GrowingFrame``: the live table's DataFrame, grown in place, equal to a rebuilt one."""

from __future__ import annotations

import dataclasses

import pandas as pd
from widget_support import make_request

from hookscope._dataframe import Record, records_to_dataframe, to_record
from hookscope._signatures import Verification
from hookscope.widget._frame import GrowingFrame


def _records(count: int, start: int = 0) -> list[Record]:
    made = []
    for seq in range(start, start + count):
        request = make_request(
            seq,
            path=f"/p/{seq}",
            body={"n": seq} if seq % 2 else b"\x00raw",
            content_type=None if seq % 5 == 0 else "text/plain",
        )
        if seq % 3 == 1:
            verdict = Verification("github", seq % 2 == 0, None if seq % 2 == 0 else "stale")
            request = dataclasses.replace(request, signature=verdict, remote_addr="10.0.0.1")
        made.append(to_record(request))
    return made


def test_grows_past_its_capacity_equal_to_a_rebuilt_frame() -> None:
    records = _records(5000)
    frame = GrowingFrame()
    pd.testing.assert_frame_equal(frame.frame(), records_to_dataframe([]))
    for start in range(0, 5000, 333):  # across several doublings
        frame.extend(records[start : start + 333])
        pd.testing.assert_frame_equal(frame.frame(), records_to_dataframe(records[: start + 333]))


def test_drops_and_compacts() -> None:
    records = _records(3000)
    frame = GrowingFrame()
    frame.extend(records[:2000])
    frame.drop_first(1500)  # past half the capacity: compacted
    frame.extend(records[2000:])
    pd.testing.assert_frame_equal(frame.frame(), records_to_dataframe(records[1500:]))
    frame.drop_first(10_000)
    assert len(frame) == 0 and frame.frame().empty
    frame.clear()
    frame.extend(records[:3])
    pd.testing.assert_frame_equal(frame.frame(), records_to_dataframe(records[:3]))


def test_a_frame_handed_out_never_changes_and_edits_stay_with_it() -> None:
    records = _records(1500)
    frame = GrowingFrame()
    frame.extend(records[:1000])
    held = frame.frame()
    held.loc[0, "path"] = "edited"
    held.loc[1, "size"] = -1
    held.loc[2, "signature_valid"] = True
    frame.extend(records[1000:])  # into the same arrays, past what `held` shows
    frame.drop_first(600)  # compacted into new arrays
    expected = records_to_dataframe(records[:1000])
    expected.loc[0, "path"] = "edited"
    expected.loc[1, "size"] = -1
    expected.loc[2, "signature_valid"] = True
    pd.testing.assert_frame_equal(held, expected)
    pd.testing.assert_frame_equal(frame.frame(), records_to_dataframe(records[600:]))
