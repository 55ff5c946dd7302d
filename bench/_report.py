"""Verdicts against the targets, and picking the least disturbed of repeated attempts."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

__all__ = ["interleaved_rounds", "least_disturbed", "verdict"]

T = TypeVar("T")


def verdict(what: str, value: float, target: float, unit: str, relation: str) -> dict[str, Any]:
    """``{"what", "value", "target", "met", "text"}`` for ``value relation target``."""
    met = value >= target if relation == ">=" else value <= target
    text = f"{value:.2f} {unit} (target {relation} {target:g} {unit})"
    return {"what": what, "value": value, "target": target, "met": met, "text": text}


def least_disturbed(
    attempt: Callable[[], T], other_load: Callable[[T], float], limit: float, retries: int
) -> tuple[T, int]:
    """Run ``attempt`` until the rest of the machine used at most ``limit`` cores meanwhile.

    On a machine shared with other work, a run during which something else took a core
    measures that something else. After ``retries`` more tries the least disturbed attempt
    is kept (chosen by load, never by its figures). Returns it and the number of attempts.
    """
    best: T | None = None
    for number in range(1, retries + 2):
        result = attempt()
        if best is None or other_load(result) < other_load(best):
            best = result
        if other_load(result) <= limit:
            return result, number
        time.sleep(3)
    assert best is not None
    return best, retries + 1


def interleaved_rounds(
    configs: list[Any],
    rounds: int,
    measure: Callable[[Any], Any],
    describe: Callable[[Any], str],
    limit: float,
    retries: int,
) -> list[dict[str, Any]]:
    """Measure every config once per round, in an order rotated each round, and return each
    round's runs by config name.

    ``configs`` have ``name`` and ``runs`` (each run is appended there, with its ``attempts``);
    runs have ``other_load``; ``describe(run)`` is the figures part of a run's printed line.
    """
    every: list[dict[str, Any]] = []
    width = max(len(config.name) for config in configs)
    for round_index in range(rounds):
        shift = round_index % len(configs)
        runs: dict[str, Any] = {}
        for config in configs[shift:] + configs[:shift]:
            run, attempts = least_disturbed(
                partial(measure, config), lambda run: run.other_load, limit, retries
            )
            run = dataclasses.replace(run, attempts=attempts)
            config.runs.append(run)
            runs[config.name] = run
            print(
                f"  round {round_index + 1}: {config.name:{width}} {describe(run)}"
                + (f"  ({attempts} attempts)" if attempts > 1 else ""),
                flush=True,
            )
        every.append(runs)
    return every
