"""The README's self-contained Python example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    runnable = [block for block in blocks if "serve_in_background" in block]
    assert runnable, "the README lost its runnable example"
    for block in runnable:
        result = subprocess.run(
            [sys.executable, "-c", block], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert "POST /stripe 4200 application/json" in result.stdout
