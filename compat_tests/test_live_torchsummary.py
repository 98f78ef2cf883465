"""torchsummary_plus's default layout, byte for byte against the live torchsummary 1.5.1."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from ._helpers import side_by_side
from .live_models import CASES

pytest.importorskip("torchsummary")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_text_as_torchsummary(case):
    theirs, ours, ours_plus = side_by_side(case.make, case.input_size, case.batch_size, case.plus_dtypes)
    assert theirs.startswith("-" * 64 + "\n")  # torchsummary really printed its table
    assert ours == theirs
    assert ours_plus.startswith(theirs)
    assert len(ours_plus) > len(theirs)  # the corrected block follows


def test_at_least_thirty_models():
    assert len({c.name for c in CASES}) == len(CASES) >= 30


class WeightNormed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.utils.parametrizations.weight_norm(nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


@pytest.mark.xfail(
    strict=True,
    reason="torchsummary's hook reads `module.weight` four times; with a parametrization each "
    "read calls _WeightNorm and adds a row after ParametrizedLinear-2 (rows 3-6); "
    "torchsummary_plus reads it once, before appending its own row, so it prints "
    "_WeightNorm-1, _WeightNorm-2, ParametrizedLinear-3",
)
def test_weight_norm_parametrization_rows():
    theirs, ours, _ = side_by_side(WeightNormed, (8,))
    # What torchsummary 1.5.1 prints (run side by side), rows only:
    assert "ParametrizedLinear-2                    [-1, 4]              36" in theirs
    assert theirs.count("_WeightNorm-") == 5
    assert ours == theirs
