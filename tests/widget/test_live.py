"""LiveTable without a front end: a fake stream feeds it, a recording comm counts what it sends."""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest
from _support import wait_until
from widget_support import FakeStream, make_request

from hookscope._exceptions import BinNotFound, WaitTimeout
from hookscope.widget import LiveTable, TableState

BIN = SimpleNamespace(url="http://127.0.0.1:1/h/b_test")


def table_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hookscope-live-table"]


def updates_of(widget: Any, sent: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The state updates sent through ``widget``'s comm, in order."""
    return [
        data["state"]
        for comm_id, msg_type, data in list(sent)
        if comm_id == widget.comm.comm_id and msg_type == "comm_msg" and data["method"] == "update"
    ]


def last_stats(widget: Any, sent: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    stats = [state["stats"] for state in updates_of(widget, sent) if "stats" in state]
    return stats[-1] if stats else {}


@pytest.fixture
def live(fake_stream: FakeStream, comms: list[Any]) -> Any:
    tables: list[LiveTable] = []

    def start(**kwargs: Any) -> LiveTable:
        table = LiveTable(BIN, _stream=fake_stream, display=False, **kwargs)
        tables.append(table)
        return table

    yield start
    for table in tables:
        table.close()
    assert not table_threads()


def test_burst_is_coalesced_into_few_bounded_updates(
    live: Any, fake_stream: FakeStream, comms: list[Any]
) -> None:
    table = live(window=50, interval=0.1)
    total, per_tick = 3000, 100
    widget = table.view.table
    wait_until(lambda: updates_of(widget, comms), timeout=5, what="the first update")
    built = len(comms)  # creating the view sent its comm_open messages
    started = time.monotonic()
    for start in range(0, total, per_tick):  # ~2,000 requests/s for 1.5 s
        fake_stream.feed(
            *[make_request(seq, body={"n": seq}) for seq in range(start, start + per_tick)]
        )
        time.sleep(0.05)  # pacing the sender, not waiting for a result
    table.wait_for_rows(total, timeout=10)
    wait_until(
        lambda: last_stats(widget, comms).get("count") == total, timeout=5, what="final update"
    )
    elapsed = time.monotonic() - started

    updates = updates_of(widget, comms)
    # At most one update per interval (plus the first and the last), whatever the arrival rate.
    assert len(updates) <= elapsed / 0.1 + 3, (len(updates), elapsed)
    assert len(updates) < total / 50
    sizes = [len(json.dumps(state)) for state in updates]
    assert max(sizes) < 50 * 400 + 2000  # a window of rows, never the history
    assert max(len(state.get("rows", [])) for state in updates) == 50
    # Every comm message of the whole view, controls included, stays that few.
    assert len([m for m in comms[built:] if m[1] == "comm_msg"]) <= len(updates)

    frame = table.df
    assert len(frame) == total
    assert list(frame.id) == [make_request(s).id for s in range(total)]
    rows = updates[-1].get("rows", widget.rows)
    assert rows[0]["id"] == make_request(total - 1).id


def test_view_follows_filters_selection_pause_and_clear(
    live: Any, fake_stream: FakeStream, comms: list[Any]
) -> None:
    table = live(window=20)
    methods = ["POST", "GET"]
    fake_stream.feed(
        *[make_request(s, method=methods[s % 2], path=f"/p{s}", body={"n": s}) for s in range(40)]
    )
    table.wait_for_rows(40)
    widget, view = table.view.table, table.view

    view.method.value = "GET"  # as the page would set it
    wait_until(lambda: widget.rows and {r["method"] for r in widget.rows} == {"GET"}, timeout=5)
    view.search.value = "/p3"
    wait_until(lambda: {r["path"] for r in widget.rows} == {"/p3", "/p31", "/p33", "/p35", "/p37",
                                                            "/p39"}, timeout=5)  # fmt: skip
    assert last_stats(widget, comms)["matching"] == 6

    chosen = widget.rows[0]["id"]
    widget._handle_custom_msg({"event": "select", "id": chosen}, [])  # a click on the row
    wait_until(lambda: widget.selected == chosen and "Headers (" in widget.detail, timeout=5)
    assert "&quot;n&quot;: 39" in widget.detail
    sent = [s.get("detail", "") for s in updates_of(widget, comms)]
    assert sum(1 for html in sent if "Headers (" in html) == 1  # the detail is sent once

    view.pause.value = True
    fake_stream.feed(make_request(41, method="GET", path="/p39-late"))
    table.wait_for_rows(41)
    wait_until(lambda: "paused (1 new)" in last_stats(widget, comms).get("text", ""), timeout=5)
    assert widget.rows[0]["path"] == "/p39"
    view.pause.value = False
    wait_until(lambda: widget.rows[0]["path"] == "/p39-late", timeout=5)

    table.filter()  # from Python: the controls follow
    assert view.method.value == "All methods"
    assert view.search.value == ""
    view.clear.click()
    wait_until(lambda: widget.rows == [] and widget.detail == "", timeout=5)
    assert table.df.empty
    assert table.count == 0


def test_history_choice_and_resume_after_a_stream_failure(
    live: Any, fake_stream: FakeStream
) -> None:
    table = live(tail=25)
    fake_stream.feed(*[make_request(seq) for seq in range(5)])
    table.wait_for_rows(5)
    fake_stream.feed(OSError("connection reset"))
    wait_until(lambda: len(fake_stream.calls) == 2 and fake_stream.opened.is_set(), timeout=10)
    assert fake_stream.calls == [(None, 25), (make_request(4).id, None)]
    fake_stream.feed(*[make_request(seq) for seq in range(5, 9)])
    assert len(table.wait_for_rows(9)) == 9
    assert table.state is TableState.STREAMING
    assert isinstance(table.error, OSError)


@pytest.mark.parametrize(
    "start",
    [{}, {"tail": None}, {"tail": 0}, {"tail": 25}, {"since": "0-0"}, {"since": "5-1"}],
)
def test_the_table_starts_where_open_stream_would(
    live: Any, fake_stream: FakeStream, start: dict[str, Any]
) -> None:
    # The same arguments, meaning the same: tail=None is "no tail" (from now on).
    live(**start)
    wait_until(fake_stream.opened.is_set, timeout=5)
    assert fake_stream.calls[0] == (start.get("since"), start.get("tail"))


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ({"since": "0-0", "tail": 5}, "do not combine"),
        ({"tail": 1001}, "tail must be from 0 to 1000"),
        ({"since": "yesterday"}, "not a request id"),
    ],
)
def test_bad_starts_raise_at_once(
    fake_stream: FakeStream, start: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        LiveTable(BIN, _stream=fake_stream, display=False, **start)
    assert not table_threads()


def test_refusal_fails_the_table_and_wakes_waiters(live: Any, fake_stream: FakeStream) -> None:
    table = live()
    fake_stream.feed(BinNotFound("no such bin", status=404, code="not_found"))
    with pytest.raises(BinNotFound):
        table.wait_for_rows(1, timeout=10)
    wait_until(lambda: not table.running, timeout=5)
    assert table.state is TableState.FAILED
    assert "failed" in table.view.table.stats["text"]


def test_wait_for_rows_returns_once_the_page_has_the_rows(
    live: Any, fake_stream: FakeStream, comms: list[Any]
) -> None:
    # A notebook cell that waits for rows ends with the table on the page showing them.
    table = live(interval=0.5)
    for n in range(1, 4):
        fake_stream.feed(make_request(n))
        table.wait_for_rows(n)
        assert last_stats(table.view.table, comms)["count"] == n


def test_wait_for_rows_times_out_with_a_clear_message(live: Any) -> None:
    table = live()
    with pytest.raises(WaitTimeout, match="holds 0 rows, not 1"):
        table.wait_for_rows(1, timeout=0.2)


def test_stop_and_widget_close_leave_no_thread(fake_stream: FakeStream, comms: list[Any]) -> None:
    table = LiveTable(BIN, _stream=fake_stream, display=False)
    fake_stream.feed(make_request(1))
    table.wait_for_rows(1)
    table.stop()
    table.stop()  # idempotent
    assert not table.running
    assert table.state is TableState.STOPPED
    assert len(table.df) == 1
    table.filter(method="POST")  # still usable once stopped
    table.view.close()

    second = LiveTable(BIN, _stream=fake_stream, display=False)
    assert second.running
    second.view.table.comm.handle_close({"content": {"data": {}}})  # the page dropped the widget
    wait_until(lambda: not second.running, timeout=5)
    assert not table_threads()


def test_repr_and_context_manager(fake_stream: FakeStream, comms: list[Any]) -> None:
    with LiveTable(BIN, _stream=fake_stream, display=False) as table:
        assert repr(table).startswith("<LiveTable http://127.0.0.1:1/h/b_test 0 rows")
    assert not table.running
    table.view.close()


def test_importing_the_widget_package_stays_cheap() -> None:
    import subprocess
    import sys

    code = (
        "import sys, hookscope.widget; "
        "print(sorted(m for m in ('ipywidgets', 'anywidget', 'IPython') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
