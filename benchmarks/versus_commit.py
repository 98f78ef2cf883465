"""This version's summary against an earlier commit's, side by side in one process.

    python benchmarks/versus_commit.py REV      # e.g. a tag or a commit of this repository

The earlier commit's package is taken with ``git archive`` into a temporary folder under
another name (its imports are relative), and both summaries, the bare forward pass and
torchsummary 1.5.1 run interleaved on the same models, 15 rounds, CPU time of each call; the
table gives the medians and the ratios.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from tabulate import tabulate  # noqa: E402

import torchsummary_plus  # noqa: E402
from benchmarks import models  # noqa: E402


def _earlier(rev: str, folder: str) -> Any:
    """The package as it was at ``rev``, imported as ``torchsummary_plus_at_rev``."""
    archive = subprocess.run(
        ["git", "-C", os.path.dirname(HERE), "archive", rev, "torchsummary_plus"],
        capture_output=True, check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", folder], input=archive, check=True)
    os.rename(os.path.join(folder, "torchsummary_plus"), os.path.join(folder, "torchsummary_plus_at_rev"))
    sys.path.insert(0, folder)
    import torchsummary_plus_at_rev

    return torchsummary_plus_at_rev


class Blocks(nn.Module):
    """50 torch.nn blocks around custom code that uses a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(64, 64), nn.GELU(), nn.LayerNorm(64)) for _ in range(50)
        )
        self.scale = nn.Parameter(torch.ones(64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x) * self.scale
        return x


def _summary(module: Any, model: nn.Module, size: tuple[int, ...]) -> Callable[[], Any]:
    def call() -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return module.summary(model, size, device="cpu")
    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the earlier commit (anything git names)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import torchsummary

    with tempfile.TemporaryDirectory() as folder:
        earlier = _earlier(args.rev, folder)
        rows = []
        for label, model, size in [
            ("tiny stack (2,000 modules)", models.tiny_stack(2000), (8,)),
            ("50 blocks, custom code", Blocks(), (16, 64)),
        ]:
            x = torch.rand(2, *size)
            tools = {
                "forward": lambda model=model, x=x: model(x),
                args.rev: _summary(earlier, model, size),
                "this version": _summary(torchsummary_plus, model, size),
                "torchsummary": _summary(torchsummary, model, size),
            }
            times: dict[str, list[float]] = {name: [] for name in tools}
            for call in tools.values():
                call()  # warm-up
            for _ in range(args.rounds):
                for name, call in tools.items():
                    start = time.process_time()
                    call()
                    times[name].append(time.process_time() - start)
            med = {name: statistics.median(values) for name, values in times.items()}
            over = {name: med[name] - med["forward"] for name in tools}
            rows.append([
                label, *(f"{med[name] * 1000:.1f}" for name in tools),
                f"{med['this version'] / med[args.rev]:.2f}x",
                f"{over['this version'] / over[args.rev]:.2f}x",
            ])
    print(tabulate(rows, headers=["model", "forward ms", f"{args.rev} ms", "this version ms",
                                  "torchsummary ms", "this / earlier", "overhead this / earlier"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
