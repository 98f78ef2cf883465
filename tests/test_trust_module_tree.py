"""Issue 12, case 5: changes a forward makes to the module tree are undone completely.

Pruning or a parametrization applied on the first call, hooks registered by forward, a
``__class__`` swap: after the summary the model is exactly as before, and it runs and gives
the same output as a deep copy that never went through the summary.
"""
from __future__ import annotations

import copy
from typing import Callable

import pytest
import torch
import torch.nn as nn
import torch.nn.modules.module as module_globals
from torch.nn.utils import parametrize, prune

from torchsummary_plus import summary_string
from trust_models import DeepState, assert_whole, deep_differences


class Doubled(nn.Linear):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * 2


class Symmetric(nn.Module):
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w.triu() + w.triu(1).transpose(-1, -2)


def _prune_once(fc: nn.Linear) -> None:
    if not prune.is_pruned(fc):  # decided by the module itself, on its first call
        prune.l1_unstructured(fc, "weight", amount=0.5)


def _parametrize_once(fc: nn.Linear) -> None:
    if not parametrize.is_parametrized(fc):
        parametrize.register_parametrization(fc, "weight", Symmetric())


def _hook_child(fc: nn.Linear) -> None:
    fc.register_forward_hook(lambda module, args, out: out + 1)
    fc.register_forward_pre_hook(lambda module, args: (args[0] * 3,))


def _swap_class(fc: nn.Linear) -> None:
    fc.__class__ = Doubled


class ChangesChild(nn.Module):
    """Calls ``change(self.fc)`` and then ``self.fc``."""

    def __init__(self, change: Callable[[nn.Linear], None]) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)
        self.change = change

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.change(self.fc)
        return self.out(self.fc(x))


CHANGES = {
    "prune_on_first_call": _prune_once,
    "parametrization_on_first_call": _parametrize_once,
    "hooks_on_a_child": _hook_child,
    "class_swap": _swap_class,
}


def _model(case: str) -> ChangesChild:
    torch.manual_seed(0)
    return ChangesChild(CHANGES[case])


@pytest.mark.parametrize("case", list(CHANGES))
def test_tree_change_undone_and_model_runs_as_an_untouched_copy(case):
    model = _model(case)
    untouched = copy.deepcopy(model)
    before = DeepState.of(model)
    summary_string(model, (4,), device="cpu")
    assert_whole(before, model)
    x = torch.rand(3, 4)
    assert torch.equal(model(x), untouched(x))  # and again, now that both ran once
    assert torch.equal(model(x), untouched(x))


@pytest.mark.parametrize("case", list(CHANGES))
def test_control_the_forward_really_changes_the_tree(case):
    model = _model(case)
    before = DeepState.of(model)
    model(torch.rand(2, 4))
    assert deep_differences(before, DeepState.of(model))


class HooksGlobally(nn.Module):
    """Registers a global forward hook (every module's call runs it) from its forward."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nn.modules.module.register_module_forward_hook(lambda module, args, out: out)
        return self.fc(x)


def test_global_hook_registered_by_forward_is_removed():
    model = HooksGlobally()
    hooks = module_globals._global_forward_hooks
    keys = list(hooks)
    try:
        before = DeepState.of(model)
        summary_string(model, (4,), device="cpu")
        assert list(hooks) == keys
        assert_whole(before, model)
    finally:  # a left-over global hook would run in every later test
        for key in set(hooks) - set(keys):
            del hooks[key]
