"""Issue 12, case 7: rows as torchsummary 1.5.1 prints them where forward swaps parameters
or classes.

A torch.nn layer called again with other parameters swapped in gets a second row, as
torchsummary's hook sees a second call; a submodule whose class forward changes is named
by the class the hook sees. Each table is compared with the live torchsummary (run on a
deep copy, seeded the same), and the model is left whole.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.nn.utils.stateless import _reparametrize_module

from helpers_model_state import reference_row_names, row_names
from torchsummary_plus import summary_string
from trust_models import DeepState, assert_whole, plus_table, table_of


class Doubled(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * 2


class CallsTwice(nn.Module):
    """Calls ``fc`` normally, then again by the route named ``how`` with another weight."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        other = {"weight": self.fc.weight * 2, "bias": self.fc.bias}
        if self.how == "functional_call":
            return torch.func.functional_call(self.fc, other, (y,))
        if self.how == "reparametrize_module":
            with _reparametrize_module(self.fc, other):
                return self.fc(y)
        self.fc.weight = nn.Parameter(torch.ones(4, 4))  # "new_parameter"
        return self.fc(y)


class SwapsClass(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc.__class__ = Doubled
        return self.fc(x)


@pytest.mark.parametrize("how", ["functional_call", "reparametrize_module", "new_parameter"])
def test_swapped_parameters_give_a_second_row_as_in_torchsummary(how):
    torch.manual_seed(0)
    model = CallsTwice(how)
    expected = table_of(model, (4,))
    assert row_names(expected) == ["Linear-1", "Linear-2"]  # torchsummary hooks both calls
    torch.manual_seed(0)
    before = DeepState.of(model)
    assert plus_table(model, (4,)) == expected
    assert_whole(before, model)


def test_class_changed_in_forward_names_the_row_by_the_class_the_hook_sees():
    torch.manual_seed(0)
    model = SwapsClass()
    expected = table_of(model, (4,))
    assert row_names(expected) == ["Doubled-1"]
    # an independent reference: a plain forward hook per module, on another fresh model
    fresh = SwapsClass()
    assert reference_row_names(fresh, lambda: fresh(torch.rand(2, 4))) == ["Doubled-1"]
    torch.manual_seed(0)
    before = DeepState.of(model)
    text, result = summary_string(model, (4,), device="cpu", layout="pypi", plus=False)
    assert text == expected
    assert [row.name for row in result.rows] == ["Doubled-1"]
    assert_whole(before, model)


class FreezesBetweenCalls(nn.Module):
    """Calls ``fc`` twice and freezes its weight in between: torchsummary's hook reads
    ``requires_grad`` at each call, so the second row counts as non-trainable."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        self.fc.weight.requires_grad_(False)
        return self.fc(y)


def test_each_call_of_a_module_reads_its_flags_anew_as_in_torchsummary():
    torch.manual_seed(0)
    model = FreezesBetweenCalls()
    expected = table_of(model, (4,))
    # by hand: Linear(4, 4) has 20 parameters, counted on both rows; only the first trains
    assert "Total params: 40" in expected and "Trainable params: 20" in expected
    torch.manual_seed(0)
    before = DeepState.of(model)
    assert plus_table(model, (4,)) == expected
    assert model.fc.weight.requires_grad  # put back
    assert_whole(before, model)
