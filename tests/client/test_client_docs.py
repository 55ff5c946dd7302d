"""The examples of docs/sdk.md run, top to bottom, as one script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).parents[2] / "docs" / "sdk.md"


def test_sdk_doc_examples_run() -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) >= 5
    result = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert "POST /events 1 42" in output
    assert "waited 0.5 s for a request matching POST /events" in output
    assert "(json.type: 'invoice.paid' != 'invoice.failed')" in output
    assert "streamed" in output
    assert "503 busy" in output
    assert "403 token_invalid" in output
