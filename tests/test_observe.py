"""The two ways a module is observed (a wrapped forward, or hooks) see the same things.

A module is observed by wrapping its ``forward`` for the pass unless that could differ from
torchsummary's hook (the module has forward hooks of its own, is TorchScript, the model holds
a DataParallel, or global forward hooks exist): then by hooks. These tests force the hook
path with a no-op global forward hook and compare.
"""
from __future__ import annotations

import contextlib
import inspect
import io

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import torchsummary
from torchsummary_plus import summary_string


class Gate(nn.Module):
    """A custom module using its own parameter directly, around a torch.nn child."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) * self.scale


class Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = Gate()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.extra = nn.Linear(4, 4)  # never called
        self.proj = nn.Parameter(torch.ones(4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gate(self.gate(x))
        y, _ = self.attn(y, y, y)
        return F.relu(y) @ self.proj


@contextlib.contextmanager
def hooks_forced():
    """A global forward hook makes every module be observed through hooks."""
    handle = torch.nn.modules.module.register_module_forward_hook(lambda m, a, o: None)
    try:
        yield
    finally:
        handle.remove()


def test_hook_path_prints_and_counts_what_the_wrapper_path_does():
    torch.manual_seed(0)
    model = Mixed()
    wrapped_text, wrapped = summary_string(model, (3, 4), device="cpu", layout="pypi")
    with hooks_forced():
        hooked_text, hooked = summary_string(model, (3, 4), device="cpu", layout="pypi")
    assert hooked_text == wrapped_text
    # gate.fc 4*4+4 = 20, gate.scale 4, attn in_proj 3*4*4+12 = 60, out_proj 16+4 = 20,
    # proj 12: used 116; extra 20 never used; all 136
    assert (wrapped.used_params, wrapped.unique_params) == (116, 136)
    assert (hooked.used_params, hooked.unique_params) == (116, 136)
    assert wrapped.unused_modules == hooked.unused_modules == ["extra"]
    assert wrapped.shared_rows == hooked.shared_rows == {"Linear-3": "Linear-1", "Gate-4": "Gate-2"}


class CallsForwardDirectly(nn.Module):
    """``self.fc.forward(x)`` bypasses the module call: torchsummary's hook sees nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.out = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc.forward(x))


def _torchsummary_text(model: nn.Module, size: tuple) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        torchsummary.summary(model, size, device="cpu")
    return buffer.getvalue()


def test_a_direct_forward_call_gets_no_row_as_in_torchsummary():
    torch.manual_seed(0)
    model = CallsForwardDirectly()
    text, result = summary_string(model, (3,), device="cpu", layout="pypi", plus=False)
    assert text == _torchsummary_text(model, (3,))
    assert [row.name for row in result.rows] == ["Linear-1"]  # only `out`
    # fc is used all the same (its operation is watched): 3*2+2 + 2*2+2 = 14
    assert result.used_params == 14


class InspectsChild(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.seen: list[str] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(str(inspect.signature(self.fc.forward)))
        return self.fc(x)


def test_wrapped_forward_keeps_its_signature_and_is_removed_afterwards():
    model = InspectsChild()
    summary_string(model, (2,), device="cpu")
    assert model.seen == ["(input: torch.Tensor) -> torch.Tensor"]
    assert "forward" not in model.fc.__dict__ and "forward" not in model.__dict__


def test_a_forward_the_user_set_on_the_instance_is_put_back():
    model = nn.Sequential(nn.Linear(2, 2))
    own = model[0].forward  # a bound method stored on the instance, as some patches do
    model[0].forward = own
    summary_string(model, (2,), device="cpu")
    assert model[0].__dict__["forward"] is own


class CatchesFailure(nn.Module):
    """A torch.nn child raises; the model catches it and goes on using its own parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.w = nn.Parameter(torch.ones(4))
        self.unused = nn.Parameter(torch.ones(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            self.fc(x[:, :3])  # wrong width: raises inside the torch.nn module
        except RuntimeError:
            pass
        return x * self.w


@pytest.mark.parametrize("force_hooks", [False, True])
def test_the_watch_resumes_after_a_torch_nn_module_raises(force_hooks):
    # After fc raises, the watch must be back on to see `x * self.w`: used 4 (w) + 20
    # (fc ran, so its whole subtree counts) = 24; `unused` (5) never used.
    model = CatchesFailure()
    with hooks_forced() if force_hooks else contextlib.nullcontext():
        text, result = summary_string(model, (4,), device="cpu", layout="pypi")
    assert result.used_params == 24
    assert result.unused_modules == [""]
    # fc raised, so it has no row (torchsummary's hook would not have run); with no other
    # row the model's own is shown
    assert [row.name for row in result.rows] == ["CatchesFailure-1"]
