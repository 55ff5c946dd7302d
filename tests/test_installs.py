"""What ``pip install hookscope`` gives without extras, and what every extra is for.

The base install is simulated in child processes that cannot import the extras' packages
(a ``sitecustomize`` hides them), so these tests run in any environment that has them all.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import hookscope
from hookscope._extras import EXTRAS

PACKAGE = Path(hookscope.__file__).parent
HIDDEN = ("pandas", "numpy", "redis", "ipywidgets", "anywidget", "IPython", "traitlets")


def _third_party_imports() -> set[str]:
    """Top-level names of every module the package imports that is not hookscope's or stdlib."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names} - {"hookscope"}


def _declared() -> dict[str, set[str]]:
    """Distribution names (normalised) required by the base install and by each extra."""
    declared: dict[str, set[str]] = {"": set()}
    for text in importlib.metadata.requires("hookscope") or []:
        requirement = Requirement(text)
        extra = ""
        if requirement.marker is not None:
            marker = str(requirement.marker)
            extra = marker.split("extra ==", 1)[1].strip().strip("'\"") if "extra" in marker else ""
        declared.setdefault(extra, set()).add(requirement.name.lower().replace("_", "-"))
    return declared


def test_every_imported_package_is_declared() -> None:
    provided = importlib.metadata.packages_distributions()
    declared = set().union(*_declared().values())
    # pytest: the plugin is loaded by pytest itself, so pytest is always there when it runs.
    imports = _third_party_imports() - {"pytest"}
    missing = {
        name
        for name in imports
        if not {dist.lower().replace("_", "-") for dist in provided.get(name, [name])} & declared
    }
    assert missing == set(), f"imported but not declared in pyproject.toml: {sorted(missing)}"


def test_the_base_install_holds_none_of_the_heavy_packages() -> None:
    base = _declared()[""]
    assert not base & {"pandas", "numpy", "redis", "ipywidgets", "anywidget", "ipython"}
    for extra in ("redis", "pandas", "jupyter", "all"):
        assert extra in _declared(), extra


def test_extras_table_names_real_extras() -> None:
    declared = _declared()
    for extra in EXTRAS:
        assert extra in declared, extra


@pytest.fixture
def base_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python cannot import the extras' packages."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        textwrap.dedent(
            f"""
            import sys
            HIDDEN = {HIDDEN!r}

            class Hide:
                def find_spec(self, name, path=None, target=None):
                    if name.split(".")[0] in HIDDEN:
                        raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                    return None

            sys.meta_path.insert(0, Hide())
            """
        )
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("HOOKSCOPE_URL", None)
    return env


def _run(env: dict[str, str], *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_sdk_and_embedded_server_work_without_extras(base_env: dict[str, str]) -> None:
    script = textwrap.dedent(
        """
        import sys, httpx, hookscope
        with hookscope.serve_in_background() as server, hookscope.Client(server.url) as client:
            bin = client.create_bin()
            httpx.post(bin.url_for("/x"), json={"a": 1})
            print(bin.wait_for(method="POST", path="/x", timeout=10).json())
        try:
            hookscope.to_dataframe([])
        except hookscope.MissingExtra as error:
            print(error.extra, error)
        print(sorted(m for m in ("pandas", "redis", "ipywidgets") if m in sys.modules))
        """
    )
    lines = _run(base_env, "-c", script).splitlines()
    assert lines[0] == "{'a': 1}"
    assert lines[1].startswith("pandas to_dataframe() needs pandas")
    assert "pip install 'hookscope[pandas]'" in lines[1]
    assert lines[2] == "[]"


def test_missing_extras_name_what_to_install(base_env: dict[str, str]) -> None:
    script = textwrap.dedent(
        """
        import hookscope
        from hookscope._config import Settings
        from hookscope.backends import open_backend
        for attempt in (
            lambda: open_backend(Settings(redis_url="redis://127.0.0.1:1/0")),
            lambda: hookscope.LiveTable(object()),
        ):
            try:
                attempt()
            except ImportError as error:  # MissingExtra is an ImportError too
                print(type(error).__name__, error.extra)
        """
    )
    assert _run(base_env, "-c", script).split() == [
        "MissingExtra",
        "redis",
        "MissingExtra",
        "jupyter",
    ]


def test_the_pytest_plugin_works_without_extras(base_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "test_hook.py").write_text(
        textwrap.dedent(
            """
            import httpx

            def test_webhook(hookbin):
                httpx.post(hookbin.url_for("/paid"), json={"event": "paid"})
                hookbin.wait_for(method="POST", path="/paid", json={"event": "paid"})
            """
        )
    )
    output = _run(base_env, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert "1 passed" in output
