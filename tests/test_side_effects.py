"""Issue 5, item 1: a summary leaves no trace on the model or on the global random state.

Each guarantee is checked on a model where the forward pass really does change the thing
(BatchNorm statistics, dropout's draws, a forward that flips modes or calls backward), and
a control test shows that the real torchsummary (or calling the model directly) does
change it, so the checks are able to fail.
"""
from __future__ import annotations

import gc
import warnings

import pytest
import torch
import torch.nn as nn

from helpers_model_state import (
    ModelState,
    assert_same,
    assert_untouched,
    differences,
    reference_row_names,
    row_names,
    torchsummary_text,
)
from torchsummary_plus import SummaryError, summary, summary_string


def bn_dropout_net() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
        nn.BatchNorm1d(5),
    )


def run_summary(model, *args, **kwargs):
    return summary(model, *args, device="cpu", **kwargs)


def run_summary_string(model, *args, **kwargs):
    return summary_string(model, *args, device="cpu", **kwargs)


BOTH = [run_summary, run_summary_string]


# --- the state_dict, BatchNorm statistics and the random state --------------------------


def test_torchsummary_itself_changes_batchnorm_stats_and_rng(capsys):
    """Control: the checks below detect what a plain forward pass in train mode does."""
    model = bn_dropout_net()
    before = ModelState.of(model)
    torchsummary_text(model, (3, 6, 6))
    changed = " ".join(differences(before, ModelState.of(model)))
    assert "1.running_mean" in changed
    assert "1.num_batches_tracked" in changed
    assert "6.running_var" in changed
    assert "rng changed" in changed


@pytest.mark.parametrize("call", BOTH)
def test_state_dict_modes_flags_grads_hooks_rng_unchanged(call, capsys):
    model = bn_dropout_net()
    model[5].weight.requires_grad_(False)  # a frozen layer stays frozen
    model[1].eval()  # a mixed-mode model keeps its mix
    assert_untouched(model, lambda: call(model, (3, 6, 6)))


@pytest.mark.parametrize("call", BOTH)
def test_next_random_numbers_are_as_without_summary(call, capsys):
    model = bn_dropout_net()
    torch.manual_seed(123)
    expected = torch.rand(6)
    torch.manual_seed(123)
    call(model, (3, 6, 6))
    assert torch.equal(torch.rand(6), expected)


def test_torchsummary_itself_moves_the_random_state(capsys):
    """Control for the test above: the real torchsummary draws its inputs from the generator."""
    model = bn_dropout_net()
    torch.manual_seed(123)
    expected = torch.rand(6)
    torchsummary_text(model, (3, 6, 6), seed=123)
    assert not torch.equal(torch.rand(6), expected)


def test_num_batches_tracked_is_restored_bitwise(capsys):
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    model[1].num_batches_tracked.fill_(41)
    model[1].running_mean.copy_(torch.tensor([-0.0, 1.5, float("nan")]))
    assert_untouched(model, lambda: run_summary(model, (3,)))
    assert model[1].num_batches_tracked.item() == 41
    # -0.0 keeps its sign bit (a comparison with == would not see the difference)
    assert str(model[1].running_mean[0].item()) == "-0.0"


def test_embedding_max_norm_renormalisation_is_undone(capsys):
    """nn.Embedding(max_norm=...) rescales its own weight rows in place while running."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, max_norm=0.1))
    with torch.no_grad():
        model[0].weight.mul_(5)
    before = ModelState.of(model)
    torch.manual_seed(0)
    model(torch.randint(0, 10, (2, 3)))  # control: a direct call does change the weight
    assert "0.weight" in " ".join(differences(before, ModelState.of(model)))

    model = nn.Sequential(nn.Embedding(10, 4, max_norm=0.1))
    with torch.no_grad():
        model[0].weight.mul_(5)
    # torchsummary's inputs are rand() cast to long: all zeros, so row 0 gets renormalised
    assert_untouched(model, lambda: run_summary(model, (3,), dtypes=[torch.long]))


class ScalesItsWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        with torch.no_grad():
            self.lin.weight.mul_(0.5)
        return self.lin(x)


def test_parameter_written_in_place_by_custom_forward_is_restored(capsys):
    model = ScalesItsWeight()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_untouched(model, lambda: run_summary(model, (3,)))


# --- modes, requires_grad and gradients --------------------------------------------------


class Meddler(nn.Module):
    """A forward that changes modes, flags and gradients of its own model."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 2)

    def forward(self, x):
        self.a.eval()
        self.b.weight.requires_grad_(False)
        y = self.b(self.a(x))
        if torch.is_grad_enabled():
            y.sum().backward(retain_graph=True)  # fills .grad of a.weight, a.bias, b.bias
        return y


def test_meddling_forward_does_change_the_model_when_called_directly():
    model = Meddler()
    before = ModelState.of(model)
    model(torch.rand(2, 4))
    changed = " ".join(differences(before, ModelState.of(model)))
    assert "training changed for ['a']" in changed
    assert "requires_grad changed for ['b.weight']" in changed
    assert "grads changed for ['a.bias', 'a.weight', 'b.bias']" in changed


@pytest.mark.parametrize("call", BOTH)
def test_modes_requires_grad_and_grads_are_restored(call, capsys):
    model = Meddler()
    assert_untouched(model, lambda: call(model, (4,)))
    assert all(p.grad is None for p in model.parameters())


def test_existing_gradients_are_kept_as_they_were(capsys):
    model = Meddler()
    model.a.weight.grad = torch.full((4, 4), 7.0)
    grad = model.a.weight.grad
    assert_untouched(model, lambda: run_summary(model, (4,)))
    assert model.a.weight.grad is grad
    assert torch.equal(grad, torch.full((4, 4), 7.0))


# --- hooks ---------------------------------------------------------------------------------


def test_user_hooks_stay_registered_and_fire_as_before(capsys):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    calls = {"pre": 0, "fwd": 0, "back": 0, "global": 0}

    def count(key):
        def hook(*args):
            calls[key] += 1
        return hook

    model[0].register_forward_pre_hook(count("pre"))
    model[2].register_forward_hook(count("fwd"))
    model[2].register_full_backward_hook(count("back"))
    handle = nn.modules.module.register_module_forward_hook(count("global"))
    try:
        assert_untouched(model, lambda: run_summary(model, (3,)))
        # one pass: each hooked module ran once; the global hook saw all 4 modules
        assert calls == {"pre": 1, "fwd": 1, "back": 0, "global": 4}
        model(torch.rand(2, 3)).sum().backward()
        assert calls == {"pre": 2, "fwd": 2, "back": 1, "global": 8}
    finally:
        handle.remove()


def test_crashing_torchsummary_leaves_its_hooks_behind_and_the_check_sees_it():
    """Control: a hook left registered is detected by the comparison used above."""
    model = nn.Sequential(nn.Linear(3, 4), nn.LSTM(4, 5))
    before = ModelState.of(model)
    with pytest.raises(AttributeError):  # torchsummary calls .size() on the LSTM's (h, c)
        torchsummary_text(model, (2, 3))
    assert "hooks changed for ['0', '1']" in " ".join(differences(before, ModelState.of(model)))


# --- after an error ------------------------------------------------------------------------


class FailsLate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(3)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(5, 2)  # wrong in_features: the pass fails here

    def forward(self, x):
        return self.head(self.drop(self.bn(x)))


@pytest.mark.parametrize("call", BOTH)
def test_model_restored_after_its_forward_raises(call, capsys):
    model = FailsLate()
    calls = []
    model.bn.register_forward_hook(lambda *a: calls.append("bn"))
    torch.manual_seed(5)
    expected = torch.rand(4)
    torch.manual_seed(5)
    before = ModelState.of(model)
    with pytest.raises(SummaryError):
        call(model, (3,))
    assert_same(before, ModelState.of(model))
    assert torch.equal(torch.rand(4), expected)
    assert calls == ["bn"]
    assert capsys.readouterr().out == ""


def test_torchsummary_leaves_stats_changed_after_its_forward_raises():
    """Control: the pass above really updated the BatchNorm statistics before failing."""
    model = FailsLate()
    before = ModelState.of(model)
    with pytest.raises(RuntimeError):
        torchsummary_text(model, (3,))
    changed = " ".join(differences(before, ModelState.of(model)))
    assert "bn.running_mean" in changed and "rng changed" in changed


# --- grad modes, repeated calls, the model's own modes ----------------------------------


@pytest.mark.parametrize("context", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("call", BOTH)
def test_inside_no_grad_and_inference_mode(context, call, capsys):
    reference = bn_dropout_net()
    torch.manual_seed(0)
    expected = run_summary_string(reference, (3, 6, 6))[0]
    model = bn_dropout_net()
    with context():
        torch.manual_seed(0)
        before = ModelState.of(model)
        result = call(model, (3, 6, 6))
        assert_same(before, ModelState.of(model))
    # without autograd nothing is saved for backward: that one line says so, the rest is equal
    saved = "Saved for backward, activations (MB)"
    if call is run_summary_string:
        text, reference_text = result[0], expected
    else:
        text = capsys.readouterr().out
        reference_text = run_summary_string(reference, (3, 6, 6), layout="pypi")[0]
    lines, reference_lines = text.splitlines(), reference_text.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(saved)]
    assert len(at) == 1 and lines[at[0]].endswith(" n/a (no grad)")
    assert lines[:at[0]] + lines[at[0] + 1:] == reference_lines[:at[0]] + reference_lines[at[0] + 1:]
    assert torch.is_grad_enabled() and not torch.is_inference_mode_enabled()
    # later training still works on the same model (no inference tensors were left in it)
    model(torch.rand(2, 3, 6, 6)).sum().backward()


@pytest.mark.parametrize("call", BOTH)
def test_twice_in_a_row_gives_identical_output(call, capsys):
    model = bn_dropout_net()
    first = call(model, (3, 6, 6))
    first_out = capsys.readouterr().out
    second = call(model, (3, 6, 6))
    second_out = capsys.readouterr().out
    assert first_out == second_out
    if call is run_summary_string:
        assert first[0] == second[0]
    else:
        assert first_out.count("BatchNorm2d-2") == 1


class ModeDependent(nn.Module):
    """Runs an auxiliary head in train mode only, another only with grad disabled."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(6, 4)
        self.aux = nn.Linear(4, 3)
        self.small = nn.Linear(4, 1)

    def forward(self, x):
        y = self.body(x)
        if self.training:
            self.aux(y)
        if not torch.is_grad_enabled():
            self.small(y)
        return y


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("grad", [True, False])
def test_pass_runs_in_the_callers_modes_like_torchsummary(train, grad, capsys):
    model = ModeDependent().train(train)
    with torch.set_grad_enabled(grad):
        expected = torchsummary_text(model, (6,))
        torch.manual_seed(0)
        text, _ = summary_string(model, (6,), device="cpu", layout="pypi", plus=False)
    assert text == expected
    # and the rows really do depend on the mode (the comparison could fail):
    names = row_names(text)
    assert ("Linear-2" in names) == (train or not grad)
    assert len(names) == 1 + train + (not grad)


def test_transformer_layer_in_train_mode_shows_its_child_rows(capsys):
    """torchsummary 1.5.1 itself crashes on this layer (its MultiheadAttention returns
    (output, None)), so the row names are compared with an independent hook count."""
    torch.manual_seed(0)
    model = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
    before = ModelState.of(model)
    text, _ = summary_string(model, (5, 16), device="cpu", layout="pypi", plus=False)
    assert_same(before, ModelState.of(model))
    expected = reference_row_names(model, lambda: model(torch.rand(2, 5, 16)))
    assert row_names(text) == expected
    assert expected == [
        "MultiheadAttention-1", "Dropout-2", "LayerNorm-3", "Linear-4",
        "Dropout-5", "Linear-6", "Dropout-7", "LayerNorm-8",
    ]
    assert model.training


class CachesOnFirstCall(nn.Module):
    """Registers a buffer the first time it runs (a lazily built cache)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        y = self.fc(x)
        if "cache" not in self._buffers:
            self.register_buffer("cache", y.detach())
        return y


def test_buffer_registered_by_forward_shows_up_when_called_directly():
    model = CachesOnFirstCall()
    model(torch.rand(2, 3))
    assert "cache" in model.state_dict()


def test_buffer_registered_by_forward_is_removed(capsys):
    model = CachesOnFirstCall()
    assert_untouched(model, lambda: run_summary(model, (3,)))


class CountOps(torch.overrides.TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def test_inside_a_callers_torch_function_mode(capsys):
    """The package's own parameter watch must leave the caller's mode stack as it was."""
    model = bn_dropout_net()
    with CountOps() as mode:
        text, result = assert_untouched(model, lambda: run_summary_string(model, (3, 6, 6)))
        assert torch._C._len_torch_function_stack() == 1
        assert mode.ops > 0  # the caller's mode saw the model's operations
    assert torch._C._len_torch_function_stack() == 0
    # conv 3*4*9 + 4 = 112, bn 8, linear 64*5 + 5 = 325, bn 10
    assert result.used_params == 112 + 8 + 325 + 10


def test_a_summary_leaves_no_reference_cycles_for_the_collector(capsys):
    # Everything a summary makes is freed as soon as it is done with: garbage left in
    # reference cycles would stay in memory until the collector runs, and make its next
    # pass walk all of it. The control: a cycle made on purpose is found.
    model = bn_dropout_net()
    summary(model, (3, 6, 6), device="cpu")  # classes met for the first time are cached
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        summary(model, (3, 6, 6), device="cpu")
        summary_string(model, (3, 6, 6), device="cpu")
        assert gc.collect() == 0
        cycle: list = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() == 1
    finally:
        if collecting:
            gc.enable()
