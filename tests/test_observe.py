"""The two ways a module is observed (an instance ``_call_impl``, or hooks) see the same things.

A module is observed through an instance ``_call_impl`` for the pass unless that could
differ from torchsummary's hook or pause the watch around custom code (the module has hooks
of its own, is TorchScript, the model holds a DataParallel, or global hooks exist): then by
hooks. These tests force the hook path with a no-op global forward pre-hook and compare;
with a global forward hook no module pauses the watch at all.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import io
import subprocess
import sys

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
def global_hook(kind: str):
    """A no-op global hook: "pre" makes every module be observed through hooks; "forward"
    also keeps every module from pausing the watch (the hook runs inside the pause)."""
    module = torch.nn.modules.module
    register = module.register_module_forward_pre_hook if kind == "pre" else module.register_module_forward_hook
    handle = register(lambda *args: None)
    try:
        yield
    finally:
        handle.remove()


def hooks_forced():
    return global_hook("pre")


@pytest.mark.parametrize("kind", ["pre", "forward"])
def test_hook_path_prints_and_counts_what_the_wrapper_path_does(kind):
    torch.manual_seed(0)
    model = Mixed()
    wrapped_text, wrapped = summary_string(model, (3, 4), device="cpu", layout="pypi")
    with global_hook(kind):
        hooked_text, hooked = summary_string(model, (3, 4), device="cpu", layout="pypi")
    assert hooked_text == wrapped_text
    # gate.fc 4*4+4 = 20, gate.scale 4, attn in_proj 3*4*4+12 = 60, out_proj 16+4 = 20,
    # proj 12: used 116; extra 20 never used; all 136
    assert (wrapped.used_params, wrapped.unique_params) == (116, 136)
    assert (hooked.used_params, hooked.unique_params) == (116, 136)
    assert wrapped.unused_modules == hooked.unused_modules == ["extra"]
    assert wrapped.shared_rows == hooked.shared_rows == {"Linear-3": "Linear-1", "Gate-4": "Gate-2"}


class HookedLayers(nn.Module):
    """torch.nn layers whose hooks (custom code) use parameters no module call uses."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.shift = nn.Parameter(torch.zeros(3))  # used only by fc's forward hook
        self.scale = nn.Parameter(torch.ones(3))  # used only by fc's forward pre-hook
        self.spare = nn.Parameter(torch.ones(7))  # never used
        self.fc.register_forward_pre_hook(lambda module, args: (args[0] * self.scale,))
        self.fc.register_forward_hook(lambda module, args, output: output + self.shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_parameters_used_by_a_torch_nn_layers_own_hooks_count_as_used():
    # fc 3*3+3 = 12, shift 3, scale 3: used 18; spare 7 unused. fc pauses the watch only
    # between its hooks: both hooks run watched.
    model = HookedLayers()
    text, result = summary_string(model, (3,), device="cpu", layout="pypi")
    assert result.used_params == 18
    assert result.unique_params == 25
    # the row shows what fc's hook returned, as torchsummary's hook (registered last) sees it
    assert text.startswith(_torchsummary_text(model, (3,)))


class CallsOnlyFc(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 5)
        self.bias = nn.Parameter(torch.zeros(5))  # used only by the global hook below

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_parameters_used_by_a_global_forward_hook_count_as_used():
    # The global hook runs inside every module's call, before the module's own hooks: the
    # watch must see it. bias 5 is used that way; fc 2*5+5 = 15 is used too.
    model = CallsOnlyFc()

    def shift(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        return output + model.bias if isinstance(module, nn.Linear) else output

    handle = torch.nn.modules.module.register_module_forward_hook(shift)
    try:
        _, result = summary_string(model, (2,), device="cpu")
    finally:
        handle.remove()
    assert (result.used_params, result.unique_params) == (20, 20)


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


def test_forward_keeps_its_signature_and_nothing_is_left_on_the_instances():
    model = InspectsChild()
    summary_string(model, (2,), device="cpu")
    assert model.seen == ["(input: torch.Tensor) -> torch.Tensor"]
    for module in (model, model.fc):
        assert "forward" not in module.__dict__ and "_call_impl" not in module.__dict__


class Holds(nn.Module):
    """A custom parent: its Linear is a trusted root, which pauses the parameter watch."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)

    def __getitem__(self, index: int) -> nn.Module:
        return self.fc


@pytest.mark.parametrize("make", [lambda: nn.Sequential(nn.Linear(2, 2)), Holds], ids=["inner", "root"])
def test_a_forward_or_call_the_user_set_on_the_instance_is_kept_and_put_back(make):
    model = make()
    calls = []
    own_forward = model[0].forward  # a bound method stored on the instance, as some patches do
    class_call = model[0]._call_impl

    def own_call(*args, **kwargs):
        calls.append(len(args))
        return class_call(*args, **kwargs)

    model[0].forward = own_forward
    model[0].__dict__["_call_impl"] = own_call
    text, _ = summary_string(model, (2,), device="cpu", plus=False)
    assert calls == [1]  # the pass went through the user's own call
    assert "Linear-1" in text
    assert model[0].__dict__["forward"] is own_forward
    assert model[0].__dict__["_call_impl"] is own_call


class CountingLinear(nn.Linear):
    """A class of its own overriding ``_call_impl``, as wrappers of modules sometimes do."""

    calls = 0

    def _call_impl(self, *args, **kwargs):
        CountingLinear.calls += 1
        return super()._call_impl(*args, **kwargs)


class HoldsCounting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = CountingLinear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_a_class_overriding_call_impl_still_runs_it_and_gets_its_row():
    # The observer stands in for torch's own call only: a class's own `_call_impl` runs.
    model = HoldsCounting()
    CountingLinear.calls = 0
    text, result = summary_string(model, (2,), device="cpu", layout="pypi", plus=False)
    assert CountingLinear.calls == 1
    assert [(row.name, row.params) for row in result.rows] == [("CountingLinear-1", 2 * 3 + 3)]
    assert text == _torchsummary_text(model, (2,))
    assert "_call_impl" not in model.fc.__dict__


class HooksItsChildMidPass(nn.Module):
    """Its forward pass hooks its child the first time it runs (forward, pre and backward
    hooks), then calls it and notes what the child's call did."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.events: list[str] = []
        self.handles: list = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.handles:
            self.handles += [
                self.fc.register_forward_pre_hook(lambda module, args: self.events.append("pre")),
                self.fc.register_forward_hook(lambda module, args, out: self.events.append("forward")),
                self.fc.register_full_backward_hook(lambda module, grad_in, grad_out: None),
            ]
        out = self.fc(x)
        self.events.append(type(out.grad_fn).__name__)
        return out


def test_hooks_a_model_adds_during_the_pass_run_as_torch_runs_them():
    # An observed layer calls its forward itself only while torch's own call would do
    # nothing else; hooks the model adds in its forward pass run, the backward hook too
    # (it wraps the output in its own autograd function).
    model = HooksItsChildMidPass()
    text, _ = summary_string(model, (2,), device="cpu", layout="pypi", plus=False)
    assert model.events == ["pre", "forward", "BackwardHookFunctionBackward"]
    assert text == _torchsummary_text(HooksItsChildMidPass(), (2,))


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


class CopiesInForward(nn.Module):
    """Its forward pass runs a fresh deep copy of a layer (with zeroed weights) and keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.copies: list[nn.Module] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        twin = copy.deepcopy(self.fc)
        with torch.no_grad():
            twin.weight.zero_()
            twin.bias.fill_(1.0)
        self.copies.append(twin)
        return self.fc(x) + twin(x)


def test_a_layer_copied_during_the_pass_runs_itself_and_gets_its_row_as_in_torchsummary():
    torch.manual_seed(0)
    model = CopiesInForward()
    text, result = summary_string(model, (2,), device="cpu", layout="pypi", plus=False)
    # torchsummary's hooks travel with the deep copy: a row for each call, 6 + 6 params
    assert text == _torchsummary_text(CopiesInForward(), (2,))
    assert [(row.name, row.module) for row in result.rows] == [("Linear-1", "fc"), ("Linear-2", "fc (a copy)")]
    twin = model.copies[0]
    # the copy ran itself (weights 0, bias 1), and keeps nothing of the summary afterwards
    assert torch.equal(twin(torch.ones(1, 2)), torch.ones(1, 2))
    assert "_call_impl" not in twin.__dict__
    assert result.unique_params == 6  # the copy's tensors are none of the model's


def test_a_summary_does_not_import_the_compiler():
    # Only compiled code needs the compiler's eager stance; importing torch._dynamo takes
    # seconds, so a model that never compiled anything leaves it unimported.
    code = (
        "import sys, io, contextlib, torch\n"
        "from torchsummary_plus import summary\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    summary(torch.nn.Linear(2, 3), (2,), device='cpu')\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
