"""The examples of docs/sdk.md run, top to bottom, as one script."""

from __future__ import annotations

from pathlib import Path

from _support import markdown_blocks, run_markdown

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def test_sdk_doc_examples_run() -> None:
    assert len(markdown_blocks(DOC)) >= 5
    output = run_markdown(DOC)
    assert "POST /events 1 42" in output
    assert "waited 0.5 s for a request matching POST /events" in output
    assert "(json.type: 'invoice.paid' != 'invoice.failed')" in output
    assert "streamed" in output
    assert "503 busy" in output
    assert "403 token_invalid" in output
