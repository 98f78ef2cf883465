"""What each measure and guarantee of the pass costs: the summary with one of them switched
off, side by side.

    python benchmarks/costs.py            # about a minute on 2 cores
    python benchmarks/costs.py --quick

Unlike ``tricks.py`` (speed tricks, the same text either way), these variants change what
the summary does: without the saved-for-backward measure its line is missing, without the
restore the model is not put back (the benchmark's models change nothing), and with row facts
read once per module a flag changed between two calls would not show. Each is switched off by
patching the package for its calls only; rounds interleaved and rotated as in ``tricks.py``.
"""
from __future__ import annotations

import contextlib
import functools
import os
import statistics
import sys
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn as nn
from tabulate import tabulate

from benchmarks.tricks import MODELS, Patch, _patched, _summaries, rounds_and_repeat, time_rotated
from torchsummary_plus import _activations, _facts, _observe, _trace


def _no_saved_measure() -> contextlib.AbstractContextManager[Any]:
    """No saved-tensor hooks: what autograd saves for backward is not measured."""
    return _patched(_activations.SavedForBackward, "__enter__", lambda self: self)


def _no_output_bytes() -> contextlib.AbstractContextManager[Any]:
    """Rows' outputs not weighed (their bytes count 0)."""
    return _patched(_observe, "output_nbytes", lambda output: 0)


class _NoSnapshot:
    """Nothing recorded before the pass, nothing put back after it."""

    def __init__(self, index: Any) -> None:
        pass

    def set_grads_aside(self) -> None:
        pass

    def restore(self, originals: Any) -> list[BaseException]:
        return []


def _no_restore() -> contextlib.AbstractContextManager[Any]:
    """No snapshot and no restore of the module tree, tensors, flags and random state."""
    return _patched(_trace, "ModelSnapshot", _NoSnapshot)


def _facts_once() -> contextlib.AbstractContextManager[Any]:
    """Each module's row facts read at its first call only, then reused."""
    read = _facts.RowFacts.of

    def once(self: _facts.RowFacts, module: nn.Module) -> _facts.ModuleFacts:
        memo = self.__dict__.setdefault("_once", {})
        if module not in memo:
            memo[module] = read(self, module)
        return memo[module]  # type: ignore[no-any-return]

    return _patched(_facts.RowFacts, "of", once)


@contextlib.contextmanager
def _all_off() -> Iterator[None]:
    with _no_saved_measure(), _no_output_bytes(), _no_restore(), _facts_once():
        yield


VARIANTS: dict[str, Patch] = {
    "everything on": contextlib.nullcontext,
    "no saved-for-backward measure": _no_saved_measure,
    "no output bytes": _no_output_bytes,
    "no snapshot and restore": _no_restore,
    "row facts read once per module": _facts_once,
    "all four off": _all_off,
}


def main(argv: list[str] | None = None) -> int:
    rounds, repeat = rounds_and_repeat(argv, __doc__.splitlines()[0])
    torch.set_num_threads(1)
    rows = []
    for label, (make, size) in MODELS.items():
        model = make()
        x = torch.rand(2, *size)
        calls = {**_summaries(model, size, VARIANTS), "bare forward": functools.partial(model, x)}
        times = time_rotated(calls, rounds, repeat)
        base = statistics.median(times["everything on"])
        forward = statistics.median(times["bare forward"])
        for name in calls:
            median = statistics.median(times[name])
            rows.append([label, name, f"{median * 1000:.1f}", f"{median / base:.2f}x",
                         f"{(median - forward) / (base - forward):.2f}"])
    print(tabulate(rows, headers=["model", "variant", "ms (median of bests)", "vs everything on",
                                  "overhead vs everything on's"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
