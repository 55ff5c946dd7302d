"""What ``import hookscope`` offers: exactly this, sorted; everything else is private."""

from __future__ import annotations

import inspect
import subprocess
import sys

import hookscope

EXPORTED = [
    "ApiError",
    "AsyncBin",
    "AsyncClient",
    "AsyncStream",
    "BackgroundServer",
    "Bin",
    "BinNotFound",
    "CapturedRequest",
    "Client",
    "ConnectionFailed",
    "FormFile",
    "HookscopeError",
    "LiveTable",
    "Match",
    "MatchCriteria",
    "MissingExtra",
    "RequestNotFound",
    "ServerUnavailable",
    "Stream",
    "Unauthorized",
    "Verification",
    "WaitTimeout",
    "__version__",
    "serve_in_background",
    "to_dataframe",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert hookscope.__all__ == EXPORTED
    assert hookscope.__all__ == sorted(hookscope.__all__)
    for name in EXPORTED:
        assert hasattr(hookscope, name), name


def test_public_names_outside_all_are_modules_only() -> None:
    extra = {
        name
        for name, value in vars(hookscope).items()
        if not name.startswith("_") and name not in EXPORTED and not inspect.ismodule(value)
    }
    assert extra == set()


def test_import_stays_light() -> None:
    # pandas and ipywidgets load when a frame or a table is made, not on import (CLI start-up).
    code = "import sys, hookscope; print('pandas' in sys.modules, 'ipywidgets' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_exception_tree() -> None:
    assert issubclass(hookscope.ApiError, hookscope.HookscopeError)
    for name in ("BinNotFound", "Unauthorized", "RequestNotFound", "ServerUnavailable"):
        assert issubclass(getattr(hookscope, name), hookscope.ApiError)
    for name in ("ConnectionFailed", "MissingExtra", "WaitTimeout"):
        assert issubclass(getattr(hookscope, name), hookscope.HookscopeError)
    assert issubclass(hookscope.WaitTimeout, AssertionError)
    # Streams resume after a lagging close by themselves: nothing to raise for it.
    assert not hasattr(hookscope, "StreamLagged")


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and callable(member)
    }


def _parameters(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_sync_mirrors_async_name_for_name() -> None:
    for sync, async_ in (
        (hookscope.Client, hookscope.AsyncClient),
        (hookscope.Bin, hookscope.AsyncBin),
        (hookscope.Stream, hookscope.AsyncStream),
    ):
        sync_methods = _public_methods(sync)
        async_methods = _public_methods(async_)
        if "aclose" in async_methods:  # ``aclose`` is ``close`` on the sync side, as in httpx
            async_methods["close"] = async_methods.pop("aclose")
        assert sync_methods.keys() == async_methods.keys(), sync.__name__
        for name, signature in sync_methods.items():
            assert _parameters(signature) == _parameters(async_methods[name]), name


def test_the_plugin_bins_mirror_each_other_and_the_sdk() -> None:
    from hookscope.pytest_plugin import AsyncHookBin, HookBin

    sync_methods = _public_methods(HookBin)
    assert sync_methods.keys() == _public_methods(AsyncHookBin).keys()
    for name, signature in sync_methods.items():
        assert _parameters(signature) == _parameters(_public_methods(AsyncHookBin)[name]), name
    # What the fixtures share with the SDK's bins takes the same arguments.
    sdk = _public_methods(hookscope.Bin)
    for name in ("wait_for", "respond_with"):
        assert _parameters(sync_methods[name])[:-1] == _parameters(sdk[name])[:-1], name


def test_options_are_keyword_only() -> None:
    keyword = inspect.Parameter.KEYWORD_ONLY
    for function, names in (
        (hookscope.Client, ["api_key", "timeout"]),
        (hookscope.AsyncClient, ["api_key", "timeout"]),
        (hookscope.Client.create_bin, ["name", "response", "max_requests", "ttl_s"]),
        (hookscope.Bin.requests, ["since", "limit"]),
        (hookscope.Bin.stream, ["since", "tail"]),
        (hookscope.Bin.open_stream, ["since", "tail"]),
        (hookscope.Bin.respond_with, ["body", "json", "headers", "delay_ms"]),
        (hookscope.Bin.dataframe, ["expand_json"]),
        (hookscope.LiveTable, ["since", "tail", "window", "max_rows", "interval", "display"]),
        (hookscope.LiveTable.wait_for_rows, ["timeout"]),
        (hookscope.serve_in_background, ["host", "port"]),
    ):
        parameters = inspect.signature(function).parameters
        for name in names:
            assert parameters[name].kind is keyword, (function, name)
