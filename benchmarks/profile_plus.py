"""Where torchsummary_plus's time per module call goes, on the tiny stack.

    python benchmarks/profile_plus.py [--modules 2000] [--rounds 7] [--cprofile]

Times, interleaved, the bare forward and the same forward with no-op hooks registered on
every leaf (a forward hook, as torchsummary has; then also a forward pre-hook with kwargs
and an always-called forward hook), with and without an empty TorchFunctionMode pushed;
then the whole summary. The hook cases are a reference: what PyTorch's hook path alone
costs per call. torchsummary_plus itself observes modules through an instance
``_call_impl`` for the pass where that sees the same output (hooks elsewhere), so its whole
summary can cost less than the hooks alone (and on a model like this one, whose own code touches no
parameter, it never switches its parameter watch on). The last case runs the summary with
Python's cyclic garbage collector disabled (the summary pauses it itself; what remains is the
collection that catches up afterwards).
--cprofile adds the top functions.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

import torchsummary_plus
from benchmarks.bench import gc_off
from benchmarks.models import tiny_stack


class PassThrough(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


@contextlib.contextmanager
def hooks(model: nn.Module, kinds: str):
    handles = []
    for module in model.layers:
        if "row" in kinds:
            handles.append(module.register_forward_hook(_noop))
        if "switch" in kinds:
            handles.append(module.register_forward_pre_hook(_noop, with_kwargs=True))
            handles.append(module.register_forward_hook(_noop, always_call=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = tiny_stack(args.modules)
    x = torch.rand(2, 8)
    calls = args.modules + 1

    def forward_with(kinds: str, mode: bool) -> Callable[[], Any]:
        def run() -> Any:
            with hooks(model, kinds):
                if mode:
                    with PassThrough():
                        return model(x)
                return model(x)
        return run

    def plus() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return torchsummary_plus.summary(model, (8,), device="cpu")

    cases: dict[str, Callable[[], Any]] = {
        "forward": lambda: model(x),
        "forward + row hook": forward_with("row", False),
        "forward + row + switch hooks": forward_with("row switch", False),
        "same + empty TorchFunctionMode": forward_with("row switch", True),
        "torchsummary_plus.summary": plus,
        "same, cyclic GC disabled": gc_off(plus),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():
        call()
    names = list(cases)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            gc.collect()
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["forward"])
    print(f"tiny stack, {args.modules} modules, {calls} module calls, torch "
          f"{torch.__version__}, {torch.get_num_threads()} thread(s), {args.rounds} rounds")
    print(f"{'case':34} {'median s':>9} {'us/call over forward':>21}")
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:34} {med:9.4f} {(med - base) / calls * 1e6:21.1f}")
    print("(the hook cases include registering and removing the no-op hooks)")

    if args.cprofile:
        profile = cProfile.Profile()
        profile.enable()
        plus()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
