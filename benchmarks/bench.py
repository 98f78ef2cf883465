"""Time torchsummary_plus against a bare forward pass and its peers, side by side.

    python benchmarks/bench.py            # full run (a few minutes on 2 cores)
    python benchmarks/bench.py --quick    # fewer repetitions, no 13B meta run

Everything runs in this one process except the meta runs (benchmarks/meta_llama.py, in
subprocesses so that each reports its own peak resident memory). In each round every tool
is called `--repeat` times in a row on the model and keeps its best time (a call that a
busy machine slowed down is not the tool's cost), the tools interleaved and their order
rotated from round to round; the tables give the median over rounds of those bests (and the
minimum), after one untimed warm-up call of each tool. The table of costs per module call
takes one call a round. Each summary's printing goes to an io.StringIO.

Tools:
  forward         model(x) on a pre-made batch of 2, autograd on (what the summaries run)
  forward no_grad the same under torch.no_grad() (torchinfo runs its pass that way)
  torchsummary    torchsummary.summary(model, size, device="cpu")         (1.5.1 from PyPI)
  torchinfo       torchinfo.summary(model, input_size=(2,) + size, verbose=0)
  plus            torchsummary_plus.summary(model, size, device="cpu")
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch
import torch.nn as nn
from tabulate import tabulate

import torchsummary_plus
from benchmarks import models

HERE = os.path.dirname(os.path.abspath(__file__))


def _optional(name: str) -> tuple[Any, str | None]:
    try:
        module = __import__(name)
    except ImportError as error:
        return None, f"{name} is not installed ({error}); its columns are skipped"
    return module, None


torchsummary, TORCHSUMMARY_MISSING = _optional("torchsummary")
torchinfo, TORCHINFO_MISSING = _optional("torchinfo")


def _version(module: Any) -> str:
    if module is None:
        return "not installed"
    try:
        from importlib.metadata import version

        return version(module.__name__)
    except Exception:
        return getattr(module, "__version__", "?")


# ---------------------------------------------------------------------------------------
# The tools, each a function of (model, size, batch) that does one complete call
# ---------------------------------------------------------------------------------------
def _quiet(call: Callable[[], Any]) -> Any:
    with contextlib.redirect_stdout(io.StringIO()):
        return call()


def make_tools(model: nn.Module, size: tuple[int, ...]) -> dict[str, Callable[[], Any]]:
    batch = torch.rand(2, *size)

    def forward() -> Any:
        return model(batch)

    def forward_no_grad() -> Any:
        with torch.no_grad():
            return model(batch)

    tools: dict[str, Callable[[], Any]] = {"forward": forward, "forward no_grad": forward_no_grad}
    if torchsummary is not None:
        tools["torchsummary"] = lambda: _quiet(
            lambda: torchsummary.summary(model, size, device="cpu")
        )
    if torchinfo is not None:
        tools["torchinfo"] = lambda: _quiet(
            lambda: torchinfo.summary(model, input_size=(2, *size), verbose=0)
        )
    tools["plus"] = lambda: _quiet(lambda: torchsummary_plus.summary(model, size, device="cpu"))
    return tools


class HookGuard:
    """Removes forward hooks a failed tool left on the model (torchsummary 1.5.1 does)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.before = {
            id(m): (set(m._forward_hooks), set(m._forward_pre_hooks)) for m in model.modules()
        }

    def clean(self) -> int:
        removed = 0
        for m in self.model.modules():
            hooks, pre = self.before.get(id(m), (set(), set()))
            for key in [k for k in m._forward_hooks if k not in hooks]:
                del m._forward_hooks[key]
                removed += 1
            for key in [k for k in m._forward_pre_hooks if k not in pre]:
                del m._forward_pre_hooks[key]
                removed += 1
        return removed


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) < 110 else text[:107] + "..."


def time_model(
    model: nn.Module, size: tuple[int, ...], rounds: int, repeat: int, gc_variant: bool = False
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Per tool its best time of each round (seconds), and the tools that raised.

    With ``gc_variant``, also "plus, GC off": the same call with Python's cyclic garbage
    collector disabled for its duration (to see what the collector's passes cost).
    """
    tools = make_tools(model, size)
    if gc_variant:
        tools["plus, GC off"] = gc_off(tools["plus"])
    guard = HookGuard(model)
    failed: dict[str, str] = {}
    times: dict[str, list[float]] = {name: [] for name in tools}

    def attempt(name: str) -> float | None:
        gc.collect()
        start = time.perf_counter()
        try:
            tools[name]()
        except Exception as error:
            failed[name] = _short(error)
            removed = guard.clean()
            if removed:
                failed[name] += f" [left {removed} hooks on the model; removed]"
            return None
        return time.perf_counter() - start

    for name in tools:  # warm-up, not timed
        attempt(name)
    names = [n for n in tools if n not in failed]
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            tries = [attempt(name) for _ in range(repeat) if name not in failed]
            took = [t for t in tries if t is not None]
            if took:
                times[name].append(min(took))
    return times, failed


def same_table(model: nn.Module, size: tuple[int, ...]) -> str:
    """Whether plus's text starts with torchsummary's text, byte for byte."""
    if torchsummary is None:
        return "torchsummary not installed"
    theirs, ours = io.StringIO(), io.StringIO()
    guard = HookGuard(model)
    try:
        with contextlib.redirect_stdout(theirs):
            torchsummary.summary(model, size, device="cpu")
    except Exception as error:
        guard.clean()
        return f"torchsummary raised {type(error).__name__}"
    with contextlib.redirect_stdout(ours):
        torchsummary_plus.summary(model, size, device="cpu")
    return "identical" if ours.getvalue().startswith(theirs.getvalue()) else "DIFFERENT"


def count_module_calls(model: nn.Module, size: tuple[int, ...]) -> int:
    """How many times ``nn.Module.__call__`` runs a forward in one pass of a batch of 2."""
    calls = 0

    def count(module: nn.Module, args: Any) -> None:
        nonlocal calls
        calls += 1

    handle = nn.modules.module.register_module_forward_pre_hook(count)
    try:  # autograd on, as the summaries run it (the encoder layers' fast path is off)
        model(torch.rand(2, *size))
    finally:
        handle.remove()
    return calls


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------
TOOL_ORDER = ["forward", "forward no_grad", "torchsummary", "torchinfo", "plus"]


def _med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def main_table(rounds: int, repeat: int) -> tuple[list[list[Any]], list[str]]:
    cases = [
        ("encoder 48L (64,256)", models.encoder, (64, 256)),
        ("encoder 48L (4,256)", models.encoder, (4, 256)),
        ("custom encoder 48L (64,256)", models.custom_encoder, (64, 256)),
        ("custom encoder 48L (4,256)", models.custom_encoder, (4, 256)),
        ("ResNet-50 (3,224,224)", models.resnet50, (3, 224, 224)),
        ("small CNN (1,28,28)", models.small_cnn, (1, 28, 28)),
        ("tiny stack 2000", lambda: models.tiny_stack(2000), (8,)),
    ]
    rows: list[list[Any]] = []
    notes: list[str] = []
    built: dict[Any, nn.Module] = {}
    for label, build, size in cases:
        model = built.setdefault(build, build())
        n_modules = len(list(model.modules()))
        calls = count_module_calls(model, size)
        table = same_table(model, size)
        times, failed = time_model(model, size, rounds, repeat)
        base = _med(times["forward"])
        base_ng = _med(times["forward no_grad"])
        for tool in TOOL_ORDER:
            if tool not in times:
                continue
            if tool in failed and not times[tool]:
                rows.append([label, tool, "crashed", "", "", "", ""])
                notes.append(f"{label}: {tool} raised {failed[tool]}")
                continue
            med = _med(times[tool])
            rows.append([
                label,
                tool,
                f"{med:.4f}",
                f"{min(times[tool]):.4f}",
                f"{med / base:.2f}x",
                f"{med / base_ng:.2f}x",
                f"{len(times[tool])}",
            ])
        notes.append(
            f"{label}: {n_modules} modules, {calls} module calls per pass; plus's table vs "
            f"torchsummary's: {table}"
        )
        print(f"  timed {label}", file=sys.stderr, flush=True)
    return rows, notes


def gc_off(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with Python's cyclic garbage collector disabled for its duration (also used
    by profile_plus.py)."""

    def run() -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return call()
        finally:
            if enabled:
                gc.enable()

    return run


def scaling_table(rounds: int, repeat: int) -> tuple[list[list[Any]], list[str]]:
    rows: list[list[Any]] = []
    notes: list[str] = []
    previous: dict[str, tuple[float, float]] = {}  # tool -> (overhead s, per call us)
    first: dict[str, float] = {}
    for n in (500, 1000, 2000, 4000):
        model = models.tiny_stack(n)
        calls = count_module_calls(model, (8,))
        times, failed = time_model(model, (8,), rounds, repeat, gc_variant=True)
        for tool in ("torchsummary", "plus", "plus, GC off", "torchinfo"):
            # torchinfo runs its pass under torch.no_grad(): compare it with that forward
            base = _med(times["forward no_grad" if tool == "torchinfo" else "forward"])
            if tool not in times:
                continue
            if not times[tool]:
                rows.append([n, calls, tool, "crashed", "", "", "", ""])
                notes.append(f"{n} modules: {tool} raised {failed.get(tool)}")
                continue
            med = _med(times[tool])
            overhead = med - base
            per_call = overhead / calls * 1e6
            first.setdefault(tool, per_call)
            growth = ""
            if tool in previous:
                growth = f"{overhead / previous[tool][0]:.2f}x"
            rows.append([
                n,
                calls,
                tool,
                f"{base:.4f}",
                f"{med:.4f}",
                f"{per_call:.1f}",
                f"{per_call / first[tool]:.2f}",
                growth,
            ])
            previous[tool] = (overhead, per_call)
        print(f"  timed tiny stack {n}", file=sys.stderr, flush=True)
    return rows, notes


def meta_runs(quick: bool) -> list[list[Any]]:
    script = os.path.join(HERE, "meta_llama.py")
    runs = [["--config", "7b", "--torchinfo"], ["--config", "7b", "--tied"]]
    if not quick:
        runs += [["--config", "13b", "--torchinfo"], ["--config", "70b"], ["--config", "405b"]]
    rows = []
    for args in runs:
        proc = subprocess.run(
            [sys.executable, script, "--json", *args],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,  # a failing run is reported in its row
        )
        try:
            out = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            rows.append([" ".join(args), "failed", proc.stderr.strip()[-200:]] + [""] * 9)
            continue
        if "plus_error" in out:
            rows.append([out["name"], f"{out['build_s']:.2f}", "raised " + out["plus_error"]]
                        + [""] * 9)
            continue
        plus = out.get("plus", {})
        ok = plus.get("unique_params") == out["expected_params"]
        info = (
            f"{out['torchinfo_s']:.2f}s, total {out['torchinfo']['total_params']:,}"
            if "torchinfo" in out
            else out.get("torchinfo_error", "not run")
        )
        rows.append([
            out["name"],
            f"{out['build_s']:.2f}",
            f"{out['plus_s']:.2f}" if "plus_s" in out else out.get("plus_error", "?"),
            f"{plus.get('unique_params', 0):,}" + ("" if ok else " (WRONG)"),
            f"{plus.get('used_params', 0):,}",
            f"{plus.get('total_params', 0):,}",
            plus.get("rows", ""),
            f"{out['rss_after_build_mib']:.0f} / {out['hwm_after_build_mib'] or 0:.0f}",
            f"{out['rss_after_plus_mib']:.0f} / {out['hwm_after_plus_mib'] or 0:.0f}",
            "yes" if out["still_on_meta"] else "NO",
            (f"{out['plus_over_bare']:.2f}x / {out['plus_over_bare_by_round']:.2f}x / "
             f"{out['plus_over_bare_fastest']:.2f}x") if "plus_over_bare" in out else "",
            info,
        ])
        print(f"  meta run {out['name']} done", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 1 call, no 13B meta run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per model (default 5)")
    parser.add_argument(
        "--repeat", type=int, default=None,
        help="calls of each tool per round, the best kept (default 2)",
    )
    parser.add_argument("--no-meta", action="store_true", help="skip the meta decoder runs")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch intra-op threads (default 1: steadier on a shared machine; 0 keeps "
             "torch's own default)",
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 5)
    repeat = args.repeat or (1 if args.quick else 2)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()

    print("# torchsummary_plus benchmark")
    print()
    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} cores (torch threads {torch.get_num_threads()}), "
        f"{platform.machine()} {platform.system()}"
    )
    print(
        f"torchsummary {_version(torchsummary)}, torchinfo {_version(torchinfo)}, "
        f"torchsummary_plus {torchsummary_plus.__version__}; {rounds} rounds per model, the "
        f"best of {repeat} calls of each tool per round, tools interleaved, order rotated "
        "each round; batch 2, models in eval mode"
    )
    for missing in (TORCHSUMMARY_MISSING, TORCHINFO_MISSING):
        if missing:
            print(f"NOTE: {missing}")
    print()

    if not args.no_meta:
        rows = meta_runs(args.quick)
        print("## LLaMA-shaped decoder on the meta device, input (128,) int64, own process each")
        print()
        print(tabulate(
            rows,
            headers=["config", "build s", "plus s", "unique params", "used params",
                     "naive total", "rows", "peak MiB after build (ru_maxrss / VmHWM)",
                     "after plus",
                     "params on meta", "x own meta forward (medians / by round / fastest)",
                     "torchinfo (same model)"],
            tablefmt="github",
        ))
        print()
        print("Each config in a fresh process started before this process timed anything. "
              "Peak memory is the high-water mark, so 'after plus' includes the build; "
              "ru_maxrss (getrusage) also carries the spawning process's size, VmHWM is "
              "the child's own. torchinfo runs after plus in the same process. 'x own meta "
              "forward': the summary against the model's own bare forward pass on meta (a "
              "batch of 2 ids), one of each per round over 15 rounds in that process, the "
              "order swapped every round: the ratio of the medians, the median of the "
              "rounds' own ratios, and the ratio of the fastest calls.")
        print()
    rows, notes = main_table(rounds, repeat)
    print("## Seconds per call (median over rounds of each round's best), ratio to the "
          "autograd-on forward")
    print()
    print(tabulate(rows, headers=["model", "tool", "median s", "min s", "x forward", "x no_grad fwd", "n"],
                   tablefmt="github"))
    print()
    for note in notes:
        print(f"- {note}")
    print()

    rows, notes = scaling_table(rounds, 1)  # one call a round: its medians are cost enough
    print("## Cost per module call: (summary median - forward median) / module calls")
    print()
    print(tabulate(
        rows,
        headers=["modules", "calls", "tool", "forward s", "summary s", "us per call",
                 "per call / at 500", "overhead vs previous size"],
        tablefmt="github",
    ))
    print()
    print("Linear growth: 'per call / at 500' stays near 1.00 and the overhead doubles "
          "(about 2.00x) with each doubling of the modules. torchinfo's 'forward s' is the "
          "no_grad forward, the others' the autograd-on forward. 'plus, GC off' is the same "
          "summary with Python's cyclic garbage collector disabled during the call.")
    for note in notes:
        print(f"- {note}")
    print()

    print(f"whole run: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
