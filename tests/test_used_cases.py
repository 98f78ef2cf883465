"""Issue 13, the cases of its "Why" list: "used", unused modules and shared rows, exactly.

Each test builds a small model for one way code reaches (or does not reach) a parameter and
checks the summary against hand arithmetic worked out in a comment and against the test
oracle (``oracle.py``: a TorchDispatchMode of the tests' own, by identity or by storage).
``CASE_MODELS`` lists these models for ``test_used_oracle.py``.
"""
from __future__ import annotations

import contextlib
import functools
import io
import itertools
import re
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm

from helpers_model_state import ModelState, assert_same
from oracle import Usage, oracle_of, owners_of_unused
from torchsummary_plus import summary, summary_string


# ------------------------------------------------------------------------------- helpers


def summarize(model: nn.Module, input_size: Any, dtypes: Sequence[Any] | None = None,
              seed: int = 0) -> tuple[str, Any]:
    """The default (pypi) layout's text and result, from the seeded global generator; the
    model (and the generator) must be as they were before."""
    torch.manual_seed(seed)
    before = ModelState.of(model)
    text, result = summary_string(model, input_size, device="cpu", dtypes=dtypes, layout="pypi")
    assert_same(before, ModelState.of(model))
    return text, result


def unused_footnote_counts(text: str) -> dict[str, int]:
    """module -> count, as the "Never used in this pass: a (16), b (4)" footnote lists them
    (lines wrapped under it with an indent belong to it)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if "Never used in this pass:" in line]
    assert len(starts) == 1, starts
    note = [lines[starts[0]].split("Never used in this pass:", 1)[1]]
    note += itertools.takewhile(lambda line: line.startswith(" "), lines[starts[0] + 1:])
    listed = " ".join(note)
    return {m.strip(): int(n.replace(",", "")) for m, n in re.findall(r"([^,(]+) \(([\d,]+)\)", listed)}


def assert_matches_oracle(result: Any, usage: Usage) -> None:
    assert result.unique_params == usage.unique_params
    assert result.used_params == usage.used_params
    assert result.used_trainable_params == usage.used_trainable_params
    assert result.unused_modules == owners_of_unused(usage)


class CaseModel(NamedTuple):
    make: Callable[[], nn.Module]
    input_size: Any
    dtypes: Sequence[Any] | None = None


# -------------------------------------------- (1) user code inside torch.nn modules


class PreHookInSequential(nn.Module):
    """A pre-hook on ``seq[0]`` reads ``side.weight``; ``side`` itself is never called."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.side = nn.Linear(4, 3)
        side = self.side
        self.seq[0].register_forward_pre_hook(lambda m, a: (a[0] + side.weight.sum(),))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class HookInSequential(nn.Module):
    """A forward hook on ``seq[1]`` (a parameter-free ReLU) adds ``side.weight``'s sum."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
        self.side = nn.Linear(4, 3)
        side = self.side
        self.seq[1].register_forward_hook(lambda m, a, out: out + side.weight.sum())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


@pytest.mark.parametrize("model_class", [PreHookInSequential, HookInSequential])
def test_a_hook_inside_a_sequential_uses_another_modules_weight(model_class):
    torch.manual_seed(0)
    model = model_class()
    _, result = summarize(model, (4,))
    # seq.0: 16 + 4 = 20 used; side.weight 4 * 3 = 12 used by the hook; side.bias 3 never.
    assert result.unique_params == 35
    assert result.used_params == 32
    assert result.unused_modules == ["side"]
    assert_matches_oracle(result, oracle_of(model, (4,)))


class GatedEncoderLayer(nn.Module):
    """nn.TransformerEncoderLayer whose activation (a user lambda) multiplies by
    ``gate.weight``; ``gate`` is never called."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(8, 1)
        gate = self.gate
        self.layer = nn.TransformerEncoderLayer(
            4, 1, dim_feedforward=8, dropout=0.0, activation=lambda t: F.relu(t) * gate.weight
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def test_a_custom_activation_inside_a_torch_layer_uses_another_modules_weight():
    torch.manual_seed(0)
    model = GatedEncoderLayer()
    _, result = summarize(model, (3, 4))
    # The layer, d_model 4, one head, feed-forward 8: in_proj 3*4*4 + 12 = 60, out_proj
    # 16 + 4 = 20, linear1 4*8 + 8 = 40, linear2 8*4 + 4 = 36, two LayerNorms 8 + 8:
    # 172, all used. gate: weight 8 used by the activation, bias 1 never. 181 in all.
    assert result.unique_params == 181
    assert result.used_params == 180
    assert result.unused_modules == ["gate"]
    assert_matches_oracle(result, oracle_of(model, (3, 4)))


# ------------------------------------------------- (2) trust decided by what runs


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _ignore_weight(layer: nn.Linear) -> Callable[[torch.Tensor], torch.Tensor]:
    """A wrapper of the layer's forward that never calls it (so never reads the weight)."""

    @functools.wraps(layer.forward)
    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)

    return forward


class ReplacedForward(nn.Module):
    """``middle`` is an nn.Linear whose instance forward is replaced."""

    def __init__(self, replacement: str) -> None:
        super().__init__()
        self.first = nn.Linear(4, 4)
        self.middle = nn.Linear(4, 4)
        self.last = nn.Linear(4, 2)
        self.middle.forward = _identity if replacement == "identity" else _ignore_weight(self.middle)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.middle(self.first(x)))


class ReplacedInSequential(nn.Sequential):
    """The same inside an nn.Sequential (all of it torch.nn classes)."""

    def __init__(self) -> None:
        super().__init__(nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2))
        self[1].forward = _identity


@pytest.mark.parametrize(
    "make", [lambda: ReplacedForward("identity"), lambda: ReplacedForward("wrapper"), ReplacedInSequential],
    ids=["identity", "wrapper", "in_sequential"],
)
def test_a_linear_whose_instance_forward_was_replaced_does_not_use_its_weight(make):
    torch.manual_seed(0)
    model = make()
    _, result = summarize(model, (4,))
    # first 16 + 4 = 20 and last 8 + 2 = 10 used; the replaced one's 16 + 4 = 20 never.
    assert result.unique_params == 50
    assert result.used_params == 30
    assert result.unused_params == 20
    assert result.unused_modules == [("middle" if isinstance(model, ReplacedForward) else "1")]
    assert_matches_oracle(result, oracle_of(model, (4,)))


class HookAddedInForward(nn.Module):
    """The forward itself puts a hook on ``fc`` (an nn.Linear, trusted when the summary
    began) that adds ``side.weight``'s sum; ``side`` is never called."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.side = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        side = self.side
        if "hooked" not in vars(self):  # once per model (the summary takes the flag back too)
            self.hooked = True
            self.fc.register_forward_hook(lambda m, a, out: out + side.weight.sum())
        return self.fc(x)


class ForwardReplacedInForward(ReplacedForward):
    """The forward itself replaces ``middle``'s forward (trusted when the summary began)."""

    def __init__(self) -> None:
        super().__init__("identity")
        del self.middle.forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.middle.forward = _identity
        return super().forward(x)


def test_a_hook_the_forward_puts_on_a_torch_layer_is_watched():
    torch.manual_seed(0)
    model = HookAddedInForward()
    _, result = summarize(model, (4,))
    # fc: 16 + 4 = 20 used; side.weight 4 * 3 = 12 used by the hook; side.bias 3 never.
    assert result.unique_params == 35
    assert result.used_params == 32
    assert result.unused_modules == ["side"]
    assert not model.fc._forward_hooks and "hooked" not in vars(model)  # the pass's are gone
    assert_matches_oracle(result, oracle_of(model, (4,)))


def test_a_forward_the_forward_puts_on_a_torch_layer_does_not_use_its_weight():
    torch.manual_seed(0)
    model = ForwardReplacedInForward()
    _, result = summarize(model, (4,))
    # first 16 + 4 = 20 and last 8 + 2 = 10 used; middle's 16 + 4 = 20 never.
    assert result.unique_params == 50
    assert result.used_params == 30
    assert result.unused_modules == ["middle"]
    assert "forward" not in vars(model.middle)  # the pass's forward is gone
    assert_matches_oracle(result, oracle_of(model, (4,)))


# ------------------------------------------------------------------- (3) aliases


class CachedAlias(nn.Module):
    """``other`` is never called; forward uses its weight through an alias made in
    ``__init__``: a transposed view, a ``.detach()`` or a ``.data``."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.other = nn.Linear(4, 4, bias=False)
        self.head = nn.Linear(4, 2)
        if kind == "transposed":
            self.alias = self.other.weight.T
        elif kind == "detached":
            self.alias = self.other.weight.detach().T
        else:
            self.alias = self.other.weight.data.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x @ self.alias)


@pytest.mark.parametrize("kind", ["transposed", "detached", "data"])
def test_a_parameter_used_through_an_alias_made_in_init_is_used(kind):
    torch.manual_seed(0)
    model = CachedAlias(kind)
    _, result = summarize(model, (4,))
    # other.weight 16 (through the alias) and head 8 + 2 = 10: everything, 26.
    assert result.unique_params == 26
    assert result.used_params == 26
    assert result.unused_modules == []
    assert_matches_oracle(result, oracle_of(model, (4,)))


def test_backward_through_the_transposed_alias_reaches_the_parameter():
    """What makes a view a use: the gradient lands on the parameter itself."""
    torch.manual_seed(0)
    model = CachedAlias("transposed")
    model(torch.rand(2, 4)).sum().backward()
    assert model.other.weight.grad is not None


# ---------------------------------------------------------- (4) false repeats


def weight_normed_stack() -> nn.Module:
    return nn.Sequential(*[weight_norm(nn.Conv1d(4, 4, 3, padding=1)) for _ in range(6)])


def test_weight_normed_rows_never_repeat_each_other_on_twenty_summaries_of_each_kind():
    torch.manual_seed(0)
    model = weight_normed_stack()
    texts, shared = [], []
    with torch.no_grad():  # the computed weights are temporaries whose addresses get reused
        for _ in range(20):
            text, result = summarize(model, (4, 16))
            shared.append(result.shared_rows)
            printed = io.StringIO()
            torch.manual_seed(0)
            with contextlib.redirect_stdout(printed):
                result = summary(model, (4, 16), device="cpu")
            shared.append(result.shared_rows)
            texts += [text, printed.getvalue()]
    # Six convolutions, each with its own original0 (g, 4) and original1 (v, 48) and bias
    # (4): no row of one conv holds a tensor of another, so no row repeats another.
    assert shared == [{}] * 40
    assert len(set(texts)) == 1  # summary() prints what summary_string() returns, every time
    assert "repeats the parameters" not in texts[0]
    # 6 * (4 + 48 + 4) = 336, all used
    assert result.unique_params == result.used_params == 336


# ------------------------------------------------------- (5) the unused footnote


class TiedUnused(nn.Module):
    """``a`` and ``b`` share one weight and neither is called; ``b`` has a bias of its own
    unless ``b_bias`` is False."""

    def __init__(self, b_bias: bool = True) -> None:
        super().__init__()
        self.used = nn.Linear(3, 3)
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(3, 4, bias=b_bias)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


@pytest.mark.parametrize(
    "b_bias, listed",
    [
        # a: weight 12 + bias 4 = 16; b: its own bias 4 (the weight is a's, listed there)
        (True, {"a": 16, "b": 4}),
        # b owns nothing that a does not: it is not listed
        (False, {"a": 16}),
    ],
)
def test_a_tied_unused_parameter_is_listed_once_under_its_first_owner(b_bias, listed):
    torch.manual_seed(0)
    model = TiedUnused(b_bias)
    text, result = summarize(model, (3,))
    # used: 9 + 3 = 12
    assert result.used_params == 12
    assert result.unused_params == sum(listed.values())
    assert unused_footnote_counts(text) == listed
    assert result.unused_modules == list(listed)
    assert_matches_oracle(result, oracle_of(model, (3,)))


# ---------------------------------------------- (6) a parameter that is a buffer too


class ParameterAlsoBuffer(nn.Module):
    """``fc.weight`` is also registered as a buffer of another module."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.holder = nn.Module()
        self.holder.register_buffer("mirror", self.fc.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_a_parameter_registered_as_a_buffer_elsewhere_gets_no_warning():
    torch.manual_seed(0)
    model = ParameterAlsoBuffer()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, result = summarize(model, (3,))
    assert [str(w.message) for w in caught] == []  # the forward changes nothing
    assert result.used_params == 12  # 9 + 3
    assert_matches_oracle(result, oracle_of(model, (3,)))


CASE_MODELS: dict[str, CaseModel] = {
    "pre_hook_in_sequential": CaseModel(PreHookInSequential, (4,)),
    "hook_in_sequential": CaseModel(HookInSequential, (4,)),
    "gated_encoder_layer": CaseModel(GatedEncoderLayer, (3, 4)),
    "replaced_forward_identity": CaseModel(lambda: ReplacedForward("identity"), (4,)),
    "replaced_forward_wrapper": CaseModel(lambda: ReplacedForward("wrapper"), (4,)),
    "replaced_in_sequential": CaseModel(ReplacedInSequential, (4,)),
    "hook_added_in_forward": CaseModel(HookAddedInForward, (4,)),
    "forward_replaced_in_forward": CaseModel(ForwardReplacedInForward, (4,)),
    "alias_transposed": CaseModel(lambda: CachedAlias("transposed"), (4,)),
    "alias_detached": CaseModel(lambda: CachedAlias("detached"), (4,)),
    "alias_data": CaseModel(lambda: CachedAlias("data"), (4,)),
    "weight_normed_stack": CaseModel(weight_normed_stack, (4, 16)),
    "tied_unused": CaseModel(TiedUnused, (3,)),
    "tied_unused_no_bias": CaseModel(lambda: TiedUnused(False), (3,)),
    "parameter_also_buffer": CaseModel(ParameterAlsoBuffer, (3,)),
}
