"""docs/guides/jupyter-webhooks.md runs as written: its blocks, top to bottom, as one script
(outside a kernel the live table streams without being displayed)."""

from __future__ import annotations

import re
from pathlib import Path

from _support import markdown_blocks, run_markdown

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "jupyter-webhooks.md"


def test_the_guide_runs_and_finds_what_it_says() -> None:
    assert len(markdown_blocks(GUIDE)) >= 7
    out = run_markdown(GUIDE)
    assert re.search(r"^http://127\.0\.0\.1:\d+/h/b_\S+/github$", out, re.M)
    assert re.search(r"<LiveTable \S+ 7 rows streaming>", out)
    # The server's verdicts: four valid, three rejected, each for the reason staged.
    assert len(re.findall(r"^\d+\s+/(?:github|stripe)\s+\w+\s+True\s+<NA>$", out, re.M)) == 4
    assert re.search(r"^bad_signature\s+2$", out, re.M)
    assert re.search(r"^timestamp_outside_tolerance\s+1$", out, re.M)
    assert out.count("<Verification stripe valid>") == 2  # the other secret; a wider window
    assert "<Verification github invalid: bad_signature>" in out
    assert """'{\\n  "action": "closed",\\n  "num'""" in out  # the re-encoded body, escaped
    # The bodies as columns.
    assert re.search(r"^invoice\.paid\s+2$", out, re.M)
    assert re.search(r"^pull_request\s+2$", out, re.M)
    assert re.search(r"^\s*opened\s+7\.0$", out, re.M) and re.search(
        r"^\s*closed\s+7\.0$", out, re.M
    )
    assert re.search(r"4200\.0\s+eur\s+True", out) and re.search(r"990\.0\s+eur\s+False", out)
