"""What each speed trick of the pass buys: the summary with that trick undone, side by side.

    python benchmarks/tricks.py            # about a minute on 2 cores
    python benchmarks/tricks.py --quick

Each variant undoes one trick by patching the package for its calls only, in this one
process; the variants are interleaved and their order rotated from round to round, and the
table gives, per model, the median over rounds of each variant's best of ``--repeat`` calls
and its ratio to the summary with every trick on. Every variant prints the same text (checked
before timing), so the ratios are the cost of the trick's absence and nothing else.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn as nn
from tabulate import tabulate

import torchsummary_plus
from benchmarks import models
from torchsummary_plus import _activations, _facts, _index, _observe, _snapshot, _trace, _traits, _watch

Patch = Callable[[], contextlib.AbstractContextManager[Any]]


@contextlib.contextmanager
def _patched(owner: Any, name: str, value: Any) -> Iterator[None]:
    saved = vars(owner)[name]  # (as stored: a staticmethod stays one)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def _no_pause() -> contextlib.AbstractContextManager[Any]:
    """No trusted roots: the watch stays on inside torch.nn's own modules."""
    real = _index.index_model

    def without_roots(model: nn.Module) -> _index.ModelIndex:
        index = real(model)
        index.trusted_roots.clear()
        return index

    return _patched(_trace, "index_model", without_roots)


def _no_gate() -> contextlib.AbstractContextManager[Any]:
    """The watch on from the start of the pass, as if something held a parameter."""
    return _patched(_trace, "can_wait", lambda index: False)


def _no_direct_forward() -> contextlib.AbstractContextManager[Any]:
    """Every observed call goes through torch's own ``_call_impl``."""
    def through_torch(self: _observe.Observer) -> tuple[Any, bool]:
        if self.own_call is not None:
            return self.own_call, False
        return functools.partial(_observe._TORCH_CALL, self.module), "forward" not in vars(self.module)

    return _patched(_observe.Observer, "_own_call", through_torch)


def _no_instance_call() -> contextlib.AbstractContextManager[Any]:
    """Forward hooks instead of instance ``_call_impl`` observers (and so no pause)."""
    return _patched(_observe.Observation, "_wraps", staticmethod(lambda module: False))


@contextlib.contextmanager
def _no_traits_memo() -> Iterator[None]:
    """Class traits worked out again at every question."""
    def every_time(cls: type) -> _traits.ClassTraits:
        return _traits._class_traits(cls)

    with contextlib.ExitStack() as stack:
        for module in (_traits, _facts, _index, _observe, _snapshot, _trace):
            if hasattr(module, "traits"):
                stack.enter_context(_patched(module, "traits", every_time))
        yield


def _no_quick_checks() -> contextlib.AbstractContextManager[Any]:
    """The tree compared module by module instead of all at once."""
    return _patched(_snapshot._TreeState, "unchanged", lambda self: False)


def _children_one_by_one() -> contextlib.AbstractContextManager[Any]:
    """Each module's children looked at one by one, also where none repeats."""
    return _patched(_index, "_children", _index.children_one_by_one)


def _storages_one_by_one() -> contextlib.AbstractContextManager[Any]:
    """The parameters' storage counts read one parameter at a time."""
    def one_by_one(index: _index.ModelIndex) -> bool:
        return any(_watch.storage_aliased(index.tensors[key]) for key in index.params)

    return _patched(_trace, "storages_aliased", one_by_one)


def _saved_one_by_one() -> contextlib.AbstractContextManager[Any]:
    """What autograd saved, and the model's tensors, weighed one tensor at a time."""
    return _patched(_activations, "storage_sizes", _activations.storage_sizes_one_by_one)


def _reference_path() -> contextlib.AbstractContextManager[Any]:
    """Every trick off: the reference path (hooks, the watch always on)."""
    return _patched(_trace, "use_fast_path", lambda: False)


VARIANTS: dict[str, Patch] = {
    "all tricks on": contextlib.nullcontext,
    "no pause in torch.nn modules": _no_pause,
    "no gate (watch on from the start)": _no_gate,
    "no direct forward call": _no_direct_forward,
    "hooks instead of instance _call_impl": _no_instance_call,
    "no per-class traits memo": _no_traits_memo,
    "no whole-tree quick check": _no_quick_checks,
    "children looked at one by one": _children_one_by_one,
    "storage counts one parameter at a time": _storages_one_by_one,
    "saved tensors weighed one at a time": _saved_one_by_one,
    "reference path (all off)": _reference_path,
}

MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "tiny stack (2,000 modules)": (lambda: models.tiny_stack(2000), (8,)),
    "custom-block encoder (12)": (lambda: models.custom_encoder(12), (64, 256)),
    "nn.TransformerEncoder (12)": (lambda: models.encoder(12), (64, 256)),
}


def _run(model: nn.Module, size: tuple[int, ...], patch: Patch) -> str:
    out = io.StringIO()
    torch.manual_seed(0)
    with patch(), contextlib.redirect_stdout(out):
        torchsummary_plus.summary(model, size, device="cpu")
    return out.getvalue()


def rounds_and_repeat(argv: list[str] | None, description: str) -> tuple[int, int]:
    """(rounds, calls per round) from the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 calls")
    args = parser.parse_args(argv)
    return (3, 2) if args.quick else (7, 3)


def time_rotated(calls: dict[str, Callable[[], Any]], rounds: int, repeat: int) -> dict[str, list[float]]:
    """Each call's best of ``repeat`` in every round, the calls interleaved and their order
    rotated from round to round."""
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            best = []
            for _ in range(repeat):
                start = time.perf_counter()
                calls[name]()
                best.append(time.perf_counter() - start)
            times[name].append(min(best))
    return times


def _summaries(
    model: nn.Module, size: tuple[int, ...], variants: dict[str, Patch]
) -> dict[str, Callable[[], Any]]:
    """The summary under each variant, ready to time."""
    return {name: functools.partial(_run, model, size, patch) for name, patch in variants.items()}


def main(argv: list[str] | None = None) -> int:
    rounds, repeat = rounds_and_repeat(argv, __doc__.splitlines()[0])
    torch.set_num_threads(1)
    rows = []
    for label, (make, size) in MODELS.items():
        model = make()
        expected = _run(model, size, contextlib.nullcontext)
        for name, patch in VARIANTS.items():
            assert _run(model, size, patch) == expected, f"{name} printed other text on {label}"
        times = time_rotated(_summaries(model, size, VARIANTS), rounds, repeat)
        base = statistics.median(times["all tricks on"])
        for name in VARIANTS:
            median = statistics.median(times[name])
            rows.append([label, name, f"{median * 1000:.1f}", f"{median / base:.2f}x"])
    print(tabulate(rows, headers=["model", "variant", "ms (median of bests)", "vs all on"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
