"""Issue 5, item 4: property-based tests over random compositions of layers.

A model is drawn as a plan: a stack of blocks (conv, norm, activation, pooling, residual
add, a conv run twice), some of them frozen or in eval mode, children that are never
called, and optionally a used block also held by a second container (so torchsummary's
``model.apply`` hooks it twice). Because the plan says which children run, the used
parameter count is known without asking the package.
"""
from __future__ import annotations

import contextlib
import io

import torch
import torch.nn as nn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_model_state import ModelState, assert_same, tensor_bytes, torchsummary_text
from torchsummary_plus import summary, summary_string

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: no flaky suite
)


class Residual(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return x + self.inner(x)


class Composed(nn.Module):
    """Runs ``blocks[i]`` for each i in ``order`` (an index may repeat), then the head."""

    def __init__(self, blocks, order, spare, head) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.order = list(order)
        self.spare = nn.ModuleList(spare)  # never called by forward
        self.head = head

    def forward(self, x):
        for index in self.order:
            x = self.blocks[index](x)
        return self.head(x)


ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "relu_inplace": lambda: nn.ReLU(inplace=True),
    "gelu": lambda: nn.GELU(),
    "tanh": lambda: nn.Tanh(),
    "leaky": lambda: nn.LeakyReLU(0.1),
}

block_kinds = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 5), st.sampled_from([1, 3]), st.booleans()),
    st.tuples(st.just("bn")),
    st.tuples(st.just("act"), st.sampled_from(sorted(ACTIVATIONS))),
    st.tuples(st.just("pool"), st.sampled_from(["max", "avg"])),
    st.tuples(st.just("res"), st.booleans()),
    st.tuples(st.just("twice")),
)


@st.composite
def plans(draw):
    channels = draw(st.integers(1, 4))
    side = draw(st.integers(1, 6))
    kinds = draw(st.lists(block_kinds, min_size=0, max_size=6))
    return {
        "input": (channels, side, side),
        "kinds": kinds,
        "hidden": draw(st.integers(1, 6)),
        "outputs": draw(st.integers(1, 4)),
        "spare": draw(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), max_size=2)),
        "alias": draw(st.booleans()),
        "frozen": draw(st.lists(st.booleans(), min_size=8, max_size=8)),
        "eval": draw(st.lists(st.booleans(), min_size=8, max_size=8)),
        "batch_size": draw(st.sampled_from([-1, 1, 2, 5])),
        "no_grad": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }


def build(plan):
    """The model, and the modules its forward calls (for the independent used count)."""
    torch.manual_seed(plan["seed"])
    channels, side, _ = plan["input"]
    blocks, order = [], []
    for kind in plan["kinds"]:
        name = kind[0]
        if name == "conv":
            _, out, k, bias = kind
            block = nn.Conv2d(channels, out, k, padding=k // 2, bias=bias)
            channels = out
        elif name == "bn":
            block = nn.BatchNorm2d(channels)
        elif name == "act":
            block = ACTIVATIONS[kind[1]]()
        elif name == "pool":
            if side < 2:
                continue
            block = nn.MaxPool2d(2) if kind[1] == "max" else nn.AvgPool2d(2)
            side //= 2
        elif name == "res":
            inner = nn.Conv2d(channels, channels, 3, padding=1)
            block = Residual(nn.Sequential(inner, nn.ReLU()) if kind[1] else inner)
        else:  # the same conv called twice in a row
            block = nn.Conv2d(channels, channels, 3, padding=1)
            order.append(len(blocks))
        order.append(len(blocks))
        blocks.append(block)
    head = nn.Sequential(
        nn.Flatten(), nn.Linear(channels * side * side, plan["hidden"]), nn.ReLU(),
        nn.Linear(plan["hidden"], plan["outputs"]),
    )
    spare = [nn.Linear(a, b) for a, b in plan["spare"]]
    if plan["alias"] and blocks:
        spare.append(blocks[0])  # held twice: once in blocks, once in spare
    model = Composed(blocks, order, spare, head)
    for flag, block in zip(plan["frozen"], blocks + [head[1]]):
        if flag:
            block.requires_grad_(False)
    for flag, block in zip(plan["eval"], blocks):
        if flag:
            block.eval()
    called = [blocks[i] for i in order] + [head]
    return model, called


def numel(parameters, trainable_only=False):
    unique = {id(p): p for p in parameters}
    return sum(p.numel() for p in unique.values() if p.requires_grad or not trainable_only)


def grad_context(plan):
    return torch.no_grad() if plan["no_grad"] else contextlib.nullcontext()


@SETTINGS
@given(plans())
def test_no_side_effects_and_the_printed_text_is_the_returned_text(plan):
    model, _ = build(plan)
    with grad_context(plan):
        torch.manual_seed(plan["seed"])
        expected_next = torch.rand(3)
        torch.manual_seed(plan["seed"])
        before = ModelState.of(model)
        text, _ = summary_string(
            model, plan["input"], batch_size=plan["batch_size"], device="cpu", layout="pypi"
        )
        assert_same(before, ModelState.of(model))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            summary(model, plan["input"], batch_size=plan["batch_size"], device="cpu")
        assert_same(before, ModelState.of(model))
        assert torch.equal(torch.rand(3), expected_next)
    assert printed.getvalue() == text
    assert set(text.splitlines()[-1]) == {"-"}  # the block's closing rule


@SETTINGS
@given(plans())
def test_original_table_is_torchsummarys_and_figures_are_exact(plan):
    model, called = build(plan)
    with grad_context(plan):
        torch.manual_seed(plan["seed"])
        text, result = summary_string(
            model, plan["input"], batch_size=plan["batch_size"], device="cpu", layout="pypi"
        )
        plain, _ = summary_string(
            model, plan["input"], batch_size=plan["batch_size"], device="cpu",
            layout="pypi", plus=False,
        )
        # torchsummary last: it changes the model (BatchNorm statistics)
        expected = torchsummary_text(model, plan["input"], plan["batch_size"], seed=plan["seed"])
    assert plain == expected
    assert text.startswith(expected)
    assert text[len(expected):].startswith("Corrected by torchsummary_plus")

    assert result.unique_params == numel(model.parameters())
    assert result.unique_trainable_params == numel(model.parameters(), trainable_only=True)
    used = [p for module in called for p in module.parameters()]
    assert result.used_params == numel(used)
    assert result.used_trainable_params == numel(used, trainable_only=True)
    assert result.unused_params == result.unique_params - numel(used)


def test_the_generated_models_cover_what_the_properties_need():
    """A check that the invariants above are not vacuous: a plan with every feature builds
    a model whose direct call changes BatchNorm statistics, whose torchsummary table counts
    the aliased block twice, and whose used count differs from the total."""
    plan = {
        "input": (2, 4, 4),
        "kinds": [("conv", 3, 3, True), ("bn",), ("twice",), ("pool", "max"), ("res", True)],
        "hidden": 3, "outputs": 2, "spare": [(2, 2)], "alias": True,
        "frozen": [False, True] + [False] * 6, "eval": [False] * 8,
        "batch_size": -1, "no_grad": False, "seed": 0,
    }
    model, called = build(plan)
    before = tensor_bytes(model.blocks[1].running_mean)
    text = torchsummary_text(model, plan["input"])
    assert tensor_bytes(model.blocks[1].running_mean) != before
    # conv 2->3 k3: 2*3*9 + 3 = 57, shown twice (two hooks: blocks and spare hold it)
    assert text.count("             57") == 2
    model, called = build(plan)
    _, result = summary_string(model, plan["input"], device="cpu")
    # spare Linear(2, 2): 4 + 2 = 6 unused parameters
    assert result.unused_params == 6
    assert numel(model.parameters()) - numel(
        [p for m in called for p in m.parameters()]
    ) == 6
