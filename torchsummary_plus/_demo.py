"""The demo behind a bare ``torchsummary-plus``: three small models where torchsummary's total
and the true parameter count part ways (or do not).

Each model is made of 3x3 convolutions from 1 channel to 1, without bias (9 parameters each),
wired three ways: two convolutions in sequence, one convolution called twice, and one called
twice while a second is defined but never used.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from tabulate import tabulate

from .api import summary

INPUT_SIZE = (1, 64, 64)


def _conv() -> nn.Conv2d:
    return nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=1, bias=False)


class TwoConvs(nn.Module):
    """Two different convolutions, one after the other."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()
        self.conv2 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv2(self.conv1(x))
        return out


class SharedConv(nn.Module):
    """One convolution called twice: its parameters appear in two rows."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv1(self.conv1(x))
        return out


class UnusedConv(nn.Module):
    """conv1 called twice; conv2 defined but never called."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = _conv()
        self.conv2 = _conv()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv1(self.conv1(x))
        return out


MODELS = (TwoConvs, SharedConv, UnusedConv)


def run_demo() -> None:
    """Summarize and compare each model, then set their totals side by side."""
    print("torchsummary_plus demo: three models of 3x3 convolutions, 1 channel to 1, no bias")
    print(f"(9 parameters each), on an input of shape {INPUT_SIZE}; each gets torchsummary's table,")
    print("the corrected figures below it, and the comparison with the installed torchsummary.")
    for model_class in MODELS:
        print(f"  {model_class.__name__}: {model_class.__doc__}")
    totals = []
    for model_class in MODELS:
        print()
        print(f"=== {model_class.__name__} ===")
        result = summary(model_class(), INPUT_SIZE, device="cpu", compare=True)
        totals.append([model_class.__name__, result.total_params, result.unique_params,
                       result.used_params])
    print()
    print("=== Side by side ===")
    print(tabulate(totals, headers=("model", "torchsummary's Total params", "unique in model",
                                    "used in pass")))
