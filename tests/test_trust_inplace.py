"""Issue 12, case 3: every in-place write a forward makes to a parameter or buffer is undone.

Each case writes through a different route; after the summary the values are bitwise as
before, every tensor is the same object on the same storage, and no warning is given (the
write was undone, so there is nothing to warn about).
"""
from __future__ import annotations

import warnings
from typing import Callable

import pytest
import torch
import torch.nn as nn
from torch.nn.utils import vector_to_parameters

from torchsummary_plus import summary_string
from trust_models import DeepState, assert_whole, deep_differences


class Writes(nn.Module):
    """Runs ``write(self)`` at the start of each forward."""

    def __init__(self, write: Callable[["Writes"], None]) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("scale", torch.linspace(0.5, 2.0, 4))
        self.alias = self.fc.weight.detach()  # a plain attribute sharing the weight's storage
        self.write = write

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.write(self)
        return self.fc(x) * self.scale


def _no_grad(write: Callable[[Writes], None]) -> Callable[[Writes], None]:
    """Writes into a leaf that requires grad are only allowed under no_grad."""

    def run(m: Writes) -> None:
        with torch.no_grad():
            write(m)

    return run


def _view_write(m: Writes) -> None:
    m.fc.weight.view(-1)[0] = 5.0


def _data_assign(m: Writes) -> None:
    m.fc.weight.data = torch.zeros(4, 4)


WRITES: dict[str, Callable[[Writes], None]] = {
    "data_add_": lambda m: m.fc.weight.data.add_(1.0),
    "data_clamp_": lambda m: m.fc.weight.data.clamp_(-0.01, 0.01),
    "data_assign": _data_assign,
    "half_then_float": lambda m: m.fc.half().float(),
    "vector_to_parameters": lambda m: vector_to_parameters(torch.arange(20.0), m.fc.parameters()),
    "alias_from_init": lambda m: m.alias.mul_(3.0),
    "view_index_assign": _no_grad(_view_write),
    "row_fill_": _no_grad(lambda m: m.fc.weight[0].fill_(7.0)),
    "detach_zero_": lambda m: m.fc.weight.detach().zero_(),
    "set_": _no_grad(lambda m: m.fc.weight.set_(torch.zeros(4, 4))),
    "copy_": _no_grad(lambda m: m.fc.weight.copy_(torch.full((4, 4), 3.0))),
    "buffer_data_mul_": lambda m: m.scale.data.mul_(2.0),
    "buffer_view_write": lambda m: m.scale.view(-1)[1:].fill_(9.0),
}


def _model(case: str) -> Writes:
    torch.manual_seed(0)
    return Writes(WRITES[case])


@pytest.mark.parametrize("case", list(WRITES))
def test_write_is_undone_bitwise_without_a_warning(case):
    model = _model(case)
    before = DeepState.of(model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary_string(model, (4,), device="cpu")
    assert_whole(before, model)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("case", list(WRITES))
def test_control_the_forward_really_writes(case):
    """The check above can fail: the model's own forward changes a value or a storage."""
    model = _model(case)
    before = DeepState.of(model)
    model(torch.rand(2, 4))
    changed = deep_differences(before, DeepState.of(model))
    assert any(d.startswith(("state changed", "tensors changed")) for d in changed), changed
