"""torchsummary_plus's default layout, byte for byte against the live torchsummary 1.5.1."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from ._helpers import side_by_side
from .live_models import CASES, small_cnn, spectral_normed


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_text_as_torchsummary(case):
    out = side_by_side(case.make, case.input_size, case.batch_size, case.plus_dtypes)
    assert out.theirs.startswith("-" * 64 + "\n")  # torchsummary really printed its table
    assert out.ours == out.theirs
    assert out.ours_string == out.theirs
    assert out.ours_plus.startswith(out.theirs)
    assert len(out.ours_plus) > len(out.theirs)  # the corrected block follows


@pytest.mark.parametrize(
    "device, plus_dtypes",
    [
        ("CPU", None),  # torchsummary lower-cases the device
        ("cpu", [torch.FloatTensor]),
        ("cpu", [torch.float32]),
        pytest.param(
            "cuda", None,
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA"),
        ),  # without CUDA torchsummary quietly makes CPU inputs
    ],
)
def test_call_variants(device, plus_dtypes):
    out = side_by_side(small_cnn, (3, 8, 8), 2, plus_dtypes, device)
    # Conv2d(3, 8, 3): 8*3*3*3 + 8 = 224 parameters, batch_size 2 shown as is
    assert " " * 12 + "Conv2d-1" + " " * 15 + "[2, 8, 8, 8]" + " " * 13 + "224\n" in out.theirs
    assert out.ours == out.theirs
    assert out.ours_string == out.theirs


def test_at_least_thirty_models():
    assert len({c.name for c in CASES}) == len(CASES) >= 30


class WeightNormed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.utils.parametrizations.weight_norm(nn.Linear(8, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_weight_norm_parametrization_rows():
    theirs, ours = side_by_side(WeightNormed, (8,))[:2]
    # What torchsummary 1.5.1 prints (run side by side), rows only:
    assert "ParametrizedLinear-2                    [-1, 4]              36" in theirs
    assert theirs.count("_WeightNorm-") == 5
    assert ours == theirs


def test_spectral_norm_trainable_read_after_the_call():
    theirs, ours = side_by_side(spectral_normed, (5,))[:2]
    # Linear(5, 7): 35 + 7 = 42 and Linear(7, 1): 7 + 1 = 8, both trainable in torchsummary
    assert "Trainable params: 50\n" in theirs
    assert ours == theirs


class Traced(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.traced = torch.jit.trace(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), torch.ones(2, 4))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.traced(x))


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_traced_submodule_gets_a_row():
    theirs, ours = side_by_side(Traced, (4,))[:2]
    assert "TopLevelTracedModule-1                    [-1, 4]               0\n" in theirs
    assert ours == theirs


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


def compiled_model() -> nn.Module:
    return torch.compile(TwoLayers(), backend="eager")


def compiled_layer() -> nn.Module:
    model = TwoLayers()
    model.a.compile(backend="eager")
    return model


@pytest.mark.parametrize("make", [compiled_model, compiled_layer])
def test_compiled_models_print_what_torchsummary_prints(make):
    # torchsummary's hooks run inside the compiled code; here the pass runs eagerly
    out = side_by_side(make, (3,))
    assert "Linear-1                    [-1, 4]              16" in out.theirs
    assert out.ours == out.theirs
    assert out.ours_plus.startswith(out.theirs)
