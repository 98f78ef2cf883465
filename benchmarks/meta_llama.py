"""Summarize a LLaMA-shaped decoder built on the meta device, in a process of its own.

    python benchmarks/meta_llama.py [--config 7b|13b|70b|405b] [--tied] [--torchinfo] [--json] [--rounds 15]
    python benchmarks/meta_llama.py --config 70b --attribute [--rounds 9]

Builds the model under ``torch.device("meta")`` (not timed), then times
``torchsummary_plus.summary(model, (128,), device="meta", dtypes=[torch.LongTensor])``
and, with --torchinfo, ``torchinfo.summary`` on the same model, then the summary side by
side with the model's own bare forward on meta (see ``side_by_side``). Prints the times, the
process's peak resident memory after each step and the totals the summary reports.
Peak memory is the process's high-water mark, so it only ever grows. Two readings:
ru_maxrss (getrusage) and, on Linux, VmHWM from /proc/self/status. They differ when this
script is started by a bigger process: Linux carries the parent's resident size at the
time of the spawn into the child's ru_maxrss, while VmHWM belongs to this process's own
memory map only.

--attribute prints instead where the summary's time over the bare forward goes: the summary
with one stage stubbed out at a time (the watch kept on once on, as before it could go off
again; no parameter watch at all; no measure of what autograd saves for backward; neither),
each variant's rounds interleaved with the bare forward's and rotated, medians. Stubbed
variants give wrong used or saved figures: they are timings only.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

from benchmarks.models import (
    LLAMA_7B,
    LLAMA_13B,
    LLAMA_70B,
    LLAMA_405B,
    DecoderConfig,
    decoder,
    decoder_param_count,
)

CONFIGS = {"7b": LLAMA_7B, "13b": LLAMA_13B, "70b": LLAMA_70B, "405b": LLAMA_405B}
SEQ = 128
ROUNDS = 15  # side by side, one of each per round
ATTRIBUTE_ROUNDS = 9


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux, in bytes on macOS
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def vm_hwm_mib() -> float | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _measure(
    out: dict, tool: str, call: Callable[[], Any], figures: Callable[[Any], dict]
) -> None:
    """Time one call of ``tool`` into ``out``: its seconds and figures, or its error's text
    (the run reports a failing tool instead of hiding it), then the peak memory so far."""
    start = time.perf_counter()
    try:
        result = call()
    except Exception as error:
        out[f"{tool}_error"] = f"{type(error).__name__}: {str(error)[:300]}"
    else:
        out[f"{tool}_s"] = time.perf_counter() - start
        out[tool] = figures(result)
    out[f"rss_after_{tool}_mib"] = peak_rss_mib()
    out[f"hwm_after_{tool}_mib"] = vm_hwm_mib()


def side_by_side(model: torch.nn.Module, rounds: int) -> dict:
    """The summary against the model's own bare forward pass on meta (a batch of 2 ids),
    after the first (untimed here) summary above: in each round one of each, the order
    swapped every round, so that neither always runs on the caches the other left. Three
    readings of the ratio: of the medians, the median of the rounds' own ratios (a round's
    two calls run back to back, so a machine that slows down for a while slows both), and
    of the fastest calls (the least disturbed ones)."""
    import torchsummary_plus

    ids = torch.zeros(2, SEQ, dtype=torch.long, device="meta")

    def bare() -> None:
        model(ids)

    def plus() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            torchsummary_plus.summary(model, (SEQ,), device="meta", dtypes=[torch.LongTensor])

    times: dict[Callable[[], None], list[float]] = {bare: [], plus: []}
    for turn in range(rounds):
        for call in (bare, plus) if turn % 2 == 0 else (plus, bare):
            start = time.perf_counter()
            call()
            times[call].append(time.perf_counter() - start)
    return {
        "bare_forward_median_s": statistics.median(times[bare]),
        "plus_median_s": statistics.median(times[plus]),
        "plus_over_bare": statistics.median(times[plus]) / statistics.median(times[bare]),
        "plus_over_bare_by_round": statistics.median(
            [p / b for p, b in zip(times[plus], times[bare], strict=True)]
        ),
        "plus_over_bare_fastest": min(times[plus]) / min(times[bare]),
        "hwm_after_side_by_side_mib": vm_hwm_mib(),
    }


@contextlib.contextmanager
def _stubbed(owner: Any, **values: Any) -> Iterator[None]:
    saved = {name: vars(owner)[name] for name in values}
    for name, value in values.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(owner, name, value)


def attribute(model: torch.nn.Module, rounds: int) -> list[tuple[str, float, float, float, float]]:
    """(variant, median ms, ms over the bare forward, ratio to it, ratio of the fastest calls)
    for the bare forward, the summary, and the summary with one stage stubbed out at a time
    (see the docstring)."""
    import torchsummary_plus
    from benchmarks.costs import _no_restore
    from torchsummary_plus import _activations, _observe, _watch

    ids = torch.zeros(2, SEQ, dtype=torch.long, device="meta")

    def summary() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            torchsummary_plus.summary(model, (SEQ,), device="meta", dtypes=[torch.LongTensor])

    def with_stubs(*stubs: Callable[[], contextlib.AbstractContextManager[Any]]) -> Callable[[], None]:
        def call() -> None:
            with contextlib.ExitStack() as stack:
                for stub in stubs:
                    stack.enter_context(stub())
                summary()
        return call

    def stays_on() -> contextlib.AbstractContextManager[Any]:
        return _stubbed(_watch.Watch, stop_if_settled=lambda self: None)

    def no_watch() -> contextlib.AbstractContextManager[Any]:
        return _stubbed(_watch.Watch, parameter_read=lambda self, *args: None)

    def no_saved() -> contextlib.AbstractContextManager[Any]:
        return _stubbed(
            _activations.SavedForBackward,
            __enter__=lambda self: self, __exit__=lambda self, *args: None,
        )

    def no_rows() -> contextlib.AbstractContextManager[Any]:
        return _stubbed(_observe.Recorder, write=lambda self, module, output: None)

    variants: dict[str, Callable[[], Any]] = {
        "bare forward": lambda: model(ids),
        "summary": summary,
        "summary, watch kept on once on": with_stubs(stays_on),
        "summary, no parameter watch": with_stubs(no_watch),
        "summary, no saved-for-backward measure": with_stubs(no_saved),
        "summary, neither": with_stubs(no_watch, no_saved),
        "summary, no rows (none written, none printed)": with_stubs(no_rows),
        "summary, no snapshot and restore": with_stubs(_no_restore),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for call in variants.values():  # warm-up
        call()
    for turn in range(rounds):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    bare, fastest = statistics.median(times["bare forward"]), min(times["bare forward"])
    return [
        (name, 1000 * statistics.median(times[name]), 1000 * (statistics.median(times[name]) - bare),
         statistics.median(times[name]) / bare, min(times[name]) / fastest)
        for name in names
    ]


def run(config: DecoderConfig, with_torchinfo: bool, rounds: int = ROUNDS) -> dict:
    out: dict = {
        "config": {k: getattr(config, k) for k in ("layers", "hidden", "mlp", "heads", "kv_heads",
                                                    "vocab", "tie_embeddings")},
        "expected_params": decoder_param_count(config),
        "rss_start_mib": peak_rss_mib(),
        "hwm_start_mib": vm_hwm_mib(),
    }
    import torchsummary_plus

    start = time.perf_counter()
    model = decoder(config, device="meta")
    out["build_s"] = time.perf_counter() - start
    out["rss_after_build_mib"] = peak_rss_mib()
    out["hwm_after_build_mib"] = vm_hwm_mib()

    with contextlib.redirect_stdout(io.StringIO()):
        _measure(
            out, "plus",
            lambda: torchsummary_plus.summary(model, (SEQ,), device="meta", dtypes=[torch.LongTensor]),
            lambda result: {
                "total_params": result.total_params,
                "trainable_params": result.trainable_params,
                "unique_params": result.unique_params,
                "used_params": result.used_params,
                "unique_params_bytes": result.unique_params_bytes,
                "rows": len(result.rows),
                "last_row_shape": str(result.rows[-1].output_shape),
            },
        )
    out["still_on_meta"] = all(p.is_meta for p in model.parameters())
    out.update(side_by_side(model, rounds))

    if with_torchinfo:
        try:
            import torchinfo
        except ImportError:
            out["torchinfo_error"] = "not installed"
        else:
            _measure(
                out, "torchinfo",
                lambda: torchinfo.summary(
                    model, input_size=(2, SEQ), dtypes=[torch.long], device="meta", verbose=0
                ),
                lambda stats: {
                    "total_params": stats.total_params,
                    "trainable_params": stats.trainable_params,
                },
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="7b")
    parser.add_argument("--tied", action="store_true", help="tie lm_head to the embedding")
    parser.add_argument("--torchinfo", action="store_true", help="also time torchinfo")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    parser.add_argument("--attribute", action="store_true", help="where the time goes (see above)")
    parser.add_argument("--rounds", type=int, default=None,
                        help=f"rounds side by side (default {ROUNDS}; {ATTRIBUTE_ROUNDS} for --attribute)")
    args = parser.parse_args(argv)
    base = CONFIGS[args.config]
    config = dataclasses.replace(base, tie_embeddings=args.tied)
    if args.attribute:
        rows = attribute(decoder(config, device="meta"), args.rounds or ATTRIBUTE_ROUNDS)
        print(f"{'variant':46} {'median ms':>10} {'over bare ms':>13} {'x bare':>7} {'fastest x':>10}")
        for name, median, over, ratio, fastest in rows:
            print(f"{name:46} {median:10.1f} {over:13.1f} {ratio:6.3f}x {fastest:9.3f}x")
        return 0
    out = run(config, args.torchinfo, args.rounds or ROUNDS)
    out["name"] = args.config + (" tied" if args.tied else "")
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key}: {value}")
    ok = "plus" in out and out["plus"]["unique_params"] == out["expected_params"]
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
