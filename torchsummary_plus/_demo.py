"""The demo behind a bare ``torchsummary-plus``: the three cases of the seed write-up.

Each case is two 3x3 convolutions from 1 channel to 1, without bias (9 parameters each),
wired three ways: two convolutions in sequence, one convolution called twice, and one called
twice while the other is never used.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ._compare import figure_rows, numbered_table
from .api import summary

INPUT_SIZE = (1, 64, 64)


def _conv() -> nn.Conv2d:
    return nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=1, bias=False)


class TwoConvs(nn.Module):
    """Case 1: two different convolutions, one after the other."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()
        self.conv2 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


class SharedConv(nn.Module):
    """Case 2: one convolution called twice (its parameters shared by two rows)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.conv1(x))


class UnusedConv(nn.Module):
    """Case 3: conv1 called twice; conv2 defined but never used."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()
        self.conv2 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1(self.conv1(x))


CASES = (
    ("Case 1", "two different convs in sequence", TwoConvs),
    ("Case 2", "one conv called twice", SharedConv),
    ("Case 3", "conv1 called twice, conv2 never used", UnusedConv),
)


def run_demo() -> None:
    """Summarize and compare each case, then set the three side by side."""
    print("torchsummary_plus demo: the three cases of the seed write-up.")
    print(f"Input {INPUT_SIZE} instead of the write-up's (1, 512, 512), to stay fast;")
    print("parameter counts do not depend on the input size, only the MB figures do.")
    totals = []
    for name, what, model_class in CASES:
        print()
        print(f"=== {name}: {what} ===")
        model = model_class()
        result = summary(model, INPUT_SIZE, device="cpu", compare=True)
        totals.append((name, figure_rows(result)[0]))  # each case is described above
    print()
    print("=== The three cases side by side: Total params ===")
    print(numbered_table(totals, "Case", "simple"))
