"""LiveTable on a real bin: the embedded server, the SDK's stream, requests over HTTP."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pandas as pd
import pytest
import stripe
from _support import wait_until

from hookscope._embedded import BackgroundServer
from hookscope._exceptions import BinNotFound, Unauthorized
from hookscope.client import AsyncClient, Client
from hookscope.widget import LiveTable, TableState


def send(url: str, count: int, start: int = 0) -> list[str]:
    """POST ``count`` JSON requests; the ids the server gave them."""
    with httpx.Client() as http:
        return [
            http.post(f"{url}/event/{n}", json={"n": n}).headers["x-hookscope-request-id"]
            for n in range(start, start + count)
        ]


def table_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "hookscope-live-table"]


def test_history_then_live_rows_match_the_bin(embedded_server: BackgroundServer) -> None:
    with Client(embedded_server.url) as client:
        bin = client.create_bin()
        sent = send(bin.url, 5)
        table = LiveTable(bin, since="0-0", display=False)  # the whole history first
        try:
            table.wait_for_rows(5)
            sent += send(bin.url, 120, start=5)
            frame = table.wait_for_rows(125)
            assert list(frame.id) == sent
            pd.testing.assert_frame_equal(frame, bin.dataframe())
            assert table.state is TableState.STREAMING
            assert table.dataframe(expand_json=True)["json.n"].tolist() == list(range(125))
        finally:
            table.close()
    assert not table_threads()


def test_tail_limits_the_history(embedded_server: BackgroundServer) -> None:
    with Client(embedded_server.url) as client:
        bin = client.create_bin()
        sent = send(bin.url, 10)
        with LiveTable(bin, tail=3, display=False) as table:
            assert list(table.wait_for_rows(3).id) == sent[-3:]
            sent += send(bin.url, 2, start=10)
            assert list(table.wait_for_rows(5).id) == sent[-5:]
        table.view.close()


def _select(table: Any, request_id: str) -> str:
    """Click the row of ``request_id``; the detail pane's HTML once it shows it."""
    widget = table.view.table
    widget._handle_custom_msg({"event": "select", "id": request_id}, [])
    wait_until(lambda: request_id in widget.detail, timeout=5, what="the detail")
    return str(widget.detail)


def test_rows_detail_and_df_show_the_servers_signature_verdicts(
    embedded_server: BackgroundServer,
) -> None:
    secret = "whsec_table_secret"
    body = '{"type": "invoice.paid"}'
    header = stripe.WebhookSignature.generate_signature_header(body, secret)
    with Client(embedded_server.url) as client:
        bin = client.create_bin(secrets={"stripe": secret})
        unsigned = client.create_bin()
        with LiveTable(bin, tail=0, display=False) as table:
            for content in (body, body + " "):
                httpx.post(bin.url, content=content, headers={"Stripe-Signature": header})
            frame = table.wait_for_rows(2)
            widget = table.view.table
            wait_until(lambda: len(widget.rows) == 2, timeout=5, what="the rows")
            rows = widget.rows  # newest first, as the page shows them
            assert [row["signature"] for row in rows] == ["✗ stripe: bad_signature", "✓ stripe"]
            assert [row["signature_state"] for row in rows] == ["invalid", "valid"]
            assert frame["signature_valid"].tolist() == [True, False]
            pd.testing.assert_frame_equal(frame, bin.dataframe())
            page = _select(table, str(frame.id[1]))
            assert "<td>reason</td><td>bad_signature</td>" in page
            assert "the signature does not match the body and secret" in page
            assert "<td>verdict</td><td>✓ valid</td>" in _select(table, str(frame.id[0]))
        table.view.close()
        with LiveTable(unsigned, tail=0, display=False) as table:
            httpx.post(unsigned.url, content=body, headers={"Stripe-Signature": header})
            frame = table.wait_for_rows(1)
            wait_until(lambda: table.view.table.rows, timeout=5, what="the row")
            assert "signature" not in table.view.table.rows[0]  # a blank cell
            assert frame["signature_valid"].isna().all()
            page = _select(table, str(frame.id[0]))
            assert "the bin held no stripe secret when it arrived" in page
        table.view.close()


def test_a_deleted_bin_fails_the_table(embedded_server: BackgroundServer) -> None:
    with Client(embedded_server.url) as client:
        bin = client.create_bin()
        table = LiveTable(bin, tail=0, display=False)
        send(bin.url, 1)
        table.wait_for_rows(1)
        bin.delete()
        with pytest.raises(Exception, match=r"(?i)bin"):
            table.wait_for_rows(2, timeout=10)
        assert table.state is TableState.FAILED
        table.close()


def test_a_refused_bin_raises_at_once(embedded_server: BackgroundServer) -> None:
    with Client(embedded_server.url) as client:
        bin = client.create_bin()
        wrong = client.bin(bin.id, "not-the-token")
        with pytest.raises(Unauthorized):
            LiveTable(wrong, display=False)
        bin.delete()
        with pytest.raises(BinNotFound):
            LiveTable(bin, display=False)
    assert not table_threads()


@pytest.mark.asyncio
async def test_an_async_bin_works_too(embedded_server: BackgroundServer) -> None:
    async with AsyncClient(embedded_server.url) as client:
        bin = await client.create_bin()
        table: Any = LiveTable(bin, tail=0, display=False)
        try:
            await asyncio.to_thread(send, bin.url, 3)
            frame = await asyncio.to_thread(table.wait_for_rows, 3)
            assert len(frame) == 3
        finally:
            await asyncio.to_thread(table.close)


EXIT_SCRIPT = """
import sys, threading, httpx, hookscope
from hookscope.widget import LiveTable
server = hookscope.serve_in_background()
client = hookscope.Client(server.url)
bin = client.create_bin()
table = LiveTable(bin, display=False)
httpx.post(bin.url, json={"a": 1})
table.wait_for_rows(1)
from hookscope.widget import stop_all
stop_all()  # what atexit runs when the kernel shuts down or restarts
print("threads:", sorted(t.name for t in threading.enumerate()))
print("state:", table.state.value)
"""


def test_interpreter_exit_stops_every_table(tmp_path: Any) -> None:
    import subprocess
    import sys

    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "hookscope-live-table" not in done.stdout
    assert "state: stopped" in done.stdout
