"""What each install costs: packages and megabytes in a fresh virtual environment.

    python bench/install_size.py                 # base, redis, pandas, jupyter, all
    python bench/install_size.py base jupyter

Each variant is installed from this checkout with the locked versions (constraints.txt) into
a new venv; the figures exclude the venv's own pip. Needs network access to the package index.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ["base", "redis", "pandas", "jupyter", "all"]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def measure(variant: str) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        site = next((env_dir / "lib").glob("python3*/site-packages"))
        before = _size(site)
        pip_dists = {
            line.split("==")[0].lower()
            for line in subprocess.run(
                [python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True
            ).stdout.split()
        }
        target = str(ROOT) if variant == "base" else f"{ROOT}[{variant}]"
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", target],
            check=True,
        )
        after = _size(site)
        frozen = subprocess.run(
            [python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True
        ).stdout.split()
        packages = [line for line in frozen if line.split("==")[0].lower() not in pip_dists]
        return len(packages), (after - before) / 1e6


def main(argv: list[str]) -> None:
    variants = argv or VARIANTS
    print(f"{'install':<22} {'packages':>8} {'MB':>8}")
    for variant in variants:
        count, megabytes = measure(variant)
        name = "hookscope" if variant == "base" else f"hookscope[{variant}]"
        print(f"{name:<22} {count:>8} {megabytes:>8.1f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
