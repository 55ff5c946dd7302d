"""The README's self-contained Python examples run as written, each as a script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def _runnable() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    return [block for block in blocks if "serve_in_background" in block]


def _run(block: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", block], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_examples_run() -> None:
    runnable = _runnable()
    assert len(runnable) == 2, "the README lost a runnable example"
    blocking, asynchronous = sorted(runnable, key=lambda block: "asyncio.run(" in block)
    assert "POST /stripe 4200 application/json" in _run(blocking)
    lines = _run(asynchronous).splitlines()
    assert [line.split()[1:3] for line in lines] == [["POST", f"/events/{n}"] for n in range(3)]
    assert lines[2].endswith("{'n': 2}")


def test_readme_curl_sends_json() -> None:
    curls = [line for line in README.read_text().splitlines() if line.startswith("curl ")]
    assert curls
    assert all("content-type: application/json" in line for line in curls)
