"""The tree layout and FLOPs (issue 17).

Expected figures come from hand arithmetic (in comments), from forward hooks and a
``FlopCounterMode`` of the test's own on the same forward, or, for the tree's text (which
no other tool prints), from golden files: ``UPDATE_GOLDENS=1 python -m pytest
tests/test_tree.py`` rewrites them, and ``git diff tests/golden_tree`` shows what changed.
"""
from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import pathlib
import sys
from typing import Any

import pytest
import torch
import torch.nn as nn
from test_used_oracle import CATALOG, _built
from torch.utils.flop_counter import FlopCounterMode
from tree_models import TREE_MODELS, CnnUnusedHead, TiedLM, TinyAlbert

from torchsummary_plus import summary, summary_string
from torchsummary_plus.cli import main

GOLDEN = pathlib.Path(__file__).parent / "golden_tree"
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"
DEEP = 99  # deeper than any model here: every module its own line


def _printed(
    model: nn.Module, input_size: Any, dtypes: Any = None, device: str = "cpu",
    **options: Any,
) -> tuple[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = summary(model, input_size, device=device, dtypes=dtypes, **options)
    return out.getvalue(), result


def _inputs(input_size: Any, dtypes: Any) -> list[torch.Tensor]:
    """A batch of 2 per input, as the pass makes them."""
    shapes = [input_size] if isinstance(input_size[0], int) else list(input_size)
    types = dtypes or [torch.float32] * len(shapes)
    return [torch.rand(2, *shape).to(getattr(t, "dtype", t)) for shape, t in zip(shapes, types, strict=True)]


def _block(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("Corrected by")):]


# --- golden files: three models, two depths, two formats --------------------------------

GOLDEN_CASES = [
    (name, depth, tablefmt)
    for name in TREE_MODELS
    for depth in (1, 3)
    for tablefmt in ("simple", "github")
]


@pytest.mark.parametrize("name,depth,tablefmt", GOLDEN_CASES)
def test_tree_goldens(name, depth, tablefmt):
    make, input_size, dtypes = TREE_MODELS[name]
    torch.manual_seed(0)
    flops = tablefmt == "github"  # the FLOPs column in one of the two formats
    text, _ = _printed(make(), input_size, dtypes, layout="tree", depth=depth,
                       tablefmt=tablefmt, flops=flops)
    path = GOLDEN / f"{name}_depth{depth}_{tablefmt}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


# --- figures by hand --------------------------------------------------------------------

def test_tied_lm_by_hand():
    # embed 40*12 = 480; blocks.0.0 and blocks.1.0: 12*12 + 12 = 156 each; norm 2*12 = 24;
    # head holds embed's weight: shares embed, nothing new. Counted once: 480+156+156+24 = 816.
    _, deep = _printed(TiedLM(), (5,), [torch.long], layout="tree", depth=DEEP)
    assert {r.module: r.params_below for r in deep.tree}["blocks"] == 312  # unfolded: 156 + 156
    _, result = _printed(TiedLM(), (5,), [torch.long], layout="tree", depth=1)
    lines = {r.module: r for r in result.tree}
    assert list(lines) == ["", "embed", "blocks", "norm", "head"]  # depth 1: blocks.* fold
    assert [lines[m].params for m in lines] == [0, 480, 312, 24, 0]  # blocks: 156 + 156 folded
    assert lines["head"].shares == "embed"
    assert lines["blocks"].params_below == 0  # its lines below are folded into its params
    assert lines[""].params_below == 816
    assert result.unique_params == 816
    assert [r.calls for r in result.tree] == [1, 1, 1, 1, 1]
    assert lines["blocks"].output_shape == [-1, 5, 12]  # the batch as the table shows it


def test_cnn_unused_head_by_hand():
    # aux_head: Linear(8, 8) 72 + Linear(8, 3) 27 = 99, never called; the rest is used:
    # conv 3*4*9 + 4 = 112, batch norm 8, conv 4*8*9 + 8 = 296, classifier 8*5 + 5 = 45.
    text, result = _printed(CnnUnusedHead(), (3, 8, 8), layout="tree")
    lines = {r.module: r for r in result.tree}
    assert (lines["aux_head"].calls, lines["aux_head"].used, lines["aux_head"].params_below) == (0, "no", 99)
    assert lines["aux_head.0"].output_shape is None  # never called
    assert lines[""].used == "partly"
    assert lines["features"].used == "yes"
    assert lines["features.2"].used is None  # ReLU: no parameters
    assert result.unique_params == 112 + 8 + 296 + 45 + 99
    assert "Never used in this pass: aux_head (99)" in text


def test_albert_layer_run_twelve_times():
    _, result = _printed(TinyAlbert(), (6,), [torch.long], layout="tree", depth=DEEP)
    lines = {r.module: r for r in result.tree}
    assert lines["layer_groups"].calls == 0  # a ModuleList is never called itself
    assert lines["layer_groups"].used == "yes"
    assert lines["layer_groups.0"].calls == 12
    assert lines["layer_groups.0.ffn.1"].calls == 12
    # each parameter once, however often it ran: the layer's own count, 16*16+16 + 2*16 +
    # 16*32+32 + 32*16+16 + 2*16 = 272 + 32 + 544 + 528 + 32 = 1,408
    assert lines["layer_groups"].params_below == 1408
    # at depth 3 the feed-forward's two Linears fold into it: 16*32+32 + 32*16+16 = 1,072
    _, result = _printed(TinyAlbert(), (6,), [torch.long], layout="tree", depth=3)
    ffn = {r.module: r for r in result.tree}["layer_groups.0.ffn"]
    assert (ffn.params, ffn.params_below, ffn.used) == (1072, 0, "yes")


def test_one_linear_flops_by_hand():
    # the pass's batch of 2: 2 rows x 5 outputs x 4 multiply-adds x 2 operations = 80
    text, result = _printed(nn.Linear(4, 5), (4,), flops=True)
    assert result.flops == 80
    assert "FLOPs of the pass (batch of 2)" in text and text.rstrip().count("80") >= 1


# --- against the test's own hooks and counter -------------------------------------------

def _hook_calls(model: nn.Module, inputs: list[torch.Tensor]) -> dict[str, int]:
    """Calls of every module, by forward hooks of the test's own."""
    calls = {name: 0 for name, _ in model.named_modules()}
    handles = []
    for name, module in model.named_modules():
        def count(*_: Any, name: str = name) -> None:
            calls[name] += 1
        handles.append(module.register_forward_hook(count))
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def _own_flops(model: nn.Module, inputs: list[torch.Tensor]) -> tuple[int, dict[str, int]]:
    """FlopCounterMode's total and its per-module figures (its names: the model's class,
    then each attribute), for one forward of the test's own."""
    counter = FlopCounterMode(display=False)
    with counter:
        model(*inputs)
    root = type(model).__name__
    per_module = {
        "" if name == root else name[len(root) + 1:]: sum(ops.values())
        for name, ops in counter.get_flop_counts().items() if name != "Global"
    }
    return counter.get_total_flops(), per_module


@pytest.mark.parametrize("name", list(TREE_MODELS))
def test_calls_equal_those_of_forward_hooks(name):
    make, input_size, dtypes = TREE_MODELS[name]
    torch.manual_seed(0)
    model = make()
    expected = _hook_calls(model, _inputs(input_size, dtypes))
    _, result = _printed(model, input_size, dtypes, layout="tree", depth=DEEP)
    assert {r.module: r.calls for r in result.tree} == expected


FLOP_MODELS = {
    **TREE_MODELS,
    "transformer_layer": (lambda: nn.TransformerEncoderLayer(16, 4, 32, batch_first=True).eval(),
                          (5, 16), None),
    "conv_net": (lambda: nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Conv2d(6, 2, 1),
                                       nn.Flatten(), nn.Linear(2 * 6 * 6, 4)), (3, 8, 8), None),
}


@pytest.mark.parametrize("name", list(FLOP_MODELS))
def test_flops_equal_flop_counter_modes_own(name):
    make, input_size, dtypes = FLOP_MODELS[name]
    torch.manual_seed(0)
    model = make()
    total, per_module = _own_flops(model, _inputs(input_size, dtypes))
    assert total > 0
    _, result = _printed(model, input_size, dtypes, layout="tree", depth=DEEP, flops=True)
    assert result.flops == total
    mine = {r.module: r.flops for r in result.tree}
    assert {m: f for m, f in mine.items() if f} == {m: f for m, f in per_module.items() if f}
    _, pypi = _printed(model, input_size, dtypes, flops=True)
    assert pypi.flops == total


@pytest.mark.parametrize("name", list(CATALOG))
def test_flops_leave_text_and_figures_as_they_were(name):
    """On every catalog model (both observation paths, as the suite runs twice): the table
    and the block are the same with the counter on, but for the FLOPs line; the figures
    too (the watch saw the same uses, the rows are the same); the total is the counter's own."""
    entry = CATALOG[name]
    model = _built(entry.make)
    torch.manual_seed(0)
    plain, without = _printed(model, entry.input_size, entry.dtypes)
    torch.manual_seed(0)
    counted, with_flops = _printed(model, entry.input_size, entry.dtypes, flops=True)
    flop_line = next(line for line in counted.splitlines() if line.startswith("FLOPs of the pass"))
    assert counted.replace(flop_line + "\n", "") == plain
    assert dict(with_flops.to_dict(), flops=None) == without.to_dict()
    assert without.flops is None
    total, _ = _own_flops(model, _inputs(entry.input_size, entry.dtypes))
    assert with_flops.flops == total
    assert all(len(line) <= 100 for line in _block(counted))


@pytest.mark.parametrize("name", list(CATALOG))
def test_tree_params_add_up_on_every_catalog_model(name):
    entry = CATALOG[name]
    model = _built(entry.make)
    for depth in (0, 1, DEEP):
        text, result = _printed(model, entry.input_size, entry.dtypes, layout="tree", depth=depth)
        assert sum(r.params for r in result.tree) == result.unique_params
        assert result.tree[0].params + result.tree[0].params_below >= result.unique_params
        assert max(r.depth for r in result.tree) <= depth
        assert all(len(line) <= 100 for line in _block(text))


# --- the result, the CLI, bad input -----------------------------------------------------

def test_tree_and_flops_in_to_dict_and_summary_string():
    text, result = summary_string(TiedLM(), (5,), dtypes=[torch.long], device="cpu",
                                  layout="tree", depth=1, flops=True)
    figures = json.loads(json.dumps(result.to_dict()))
    assert figures["flops"] == result.flops
    assert figures["tree"][0] == {
        "module": "", "depth": 0, "output_shape": "[-1, 5, 40]", "calls": 1, "params": 0,
        "params_below": 816, "used": "yes", "shares": None, "flops": result.flops,
    }
    assert figures["tree"][4]["shares"] == "embed"
    assert text.splitlines()[0].split() == [
        "module", "output", "shape", "calls", "params", "params", "below", "used", "flops"]


def test_cli_tree(capsys, tmp_path):
    models = pathlib.Path(__file__).parent / "tree_models.py"
    code = main([f"{models}:CnnUnusedHead", "--input-size", "3,8,8", "--layout", "tree",
                 "--depth", "1", "--flops", "--format", "github", "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [line["module"] for line in figures["tree"]] == ["", "features", "classifier", "aux_head"]
    assert figures["flops"] > 0
    code = main([f"{models}:CnnUnusedHead", "--input-size", "3,8,8", "--layout", "tree",
                 "--format", "github"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("| module")


@pytest.mark.parametrize("options,error,message", [
    ({"depth": 2}, ValueError, "depth=2 applies to layout='tree' only"),
    ({"tablefmt": "github"}, ValueError, "tablefmt='github' applies to layout='tree' only"),
    ({"layout": "tree", "depth": True}, TypeError, "depth=True is not valid"),
    ({"layout": "tree", "depth": -1}, ValueError, "depth=-1 is not valid"),
    ({"layout": "tree", "tablefmt": "nope"}, ValueError, "tablefmt='nope' is not a format"),
    ({"flops": 1}, TypeError, "flops=1 is not valid: expected True or False"),
])
def test_bad_options_fail_before_anything_prints(options, error, message, capsys):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        summary(nn.Linear(2, 2), (2,), device="cpu", **options)
    assert capsys.readouterr().out == ""


def test_flops_on_meta_stand_ins_equal_those_on_the_cpu():
    model = CnnUnusedHead()
    total, _ = _own_flops(model, _inputs((3, 8, 8), None))
    _, result = _printed(model, (3, 8, 8), device="meta", flops=True)
    assert result.flops == total


def test_the_counter_keeps_no_reference_to_a_parameter():
    model = TiedLM()
    gc.collect()
    before = [sys.getrefcount(p) for p in model.parameters()]
    for _ in range(2):
        _printed(model, (5,), [torch.long], layout="tree", flops=True)
    gc.collect()
    assert [sys.getrefcount(p) for p in model.parameters()] == before


class TiedWithBias(nn.Module):
    """GPT-2's tie with a head bias of its own: the head repeats one tensor, adds one."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


def test_a_module_sharing_part_of_its_parameters():
    # embed 10*4 = 40; head: the same weight, and a bias of 10 of its own; 50 in all
    text, result = _printed(TiedWithBias(), (3,), [torch.long], layout="tree")
    head = result.tree[2]
    assert (head.module, head.params, head.shares) == ("head", 10, "embed")
    assert "10, shares embed" in text
    assert result.unique_params == sum(r.params for r in result.tree) == 50


class HeldTwice(nn.Module):
    """One Linear held by two containers, run once through each."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(4, 4)
        self.a = nn.Sequential(shared)
        self.b = nn.Sequential(shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


def test_flops_of_a_module_held_twice():
    # Linear(4, 4) on the pass's batch of 2: 2 rows x 4 outputs x 4 multiply-adds x 2 = 64
    # a call; it runs twice (through a and through b): 128, under its first name a.0
    _, result = _printed(HeldTwice(), (4,), layout="tree", flops=True)
    lines = {r.module: r for r in result.tree}
    assert list(lines) == ["", "a", "a.0", "b"]  # one line per module: a.0 once
    assert (lines["a.0"].calls, lines["a.0"].flops) == (2, 128)
    assert (lines["a"].flops, lines["b"].flops, lines[""].flops) == (64, 64, 128)
    # its parameters below its first parent only (4*4 + 4 = 20): b has no line below it
    assert (lines["a"].params_below, lines["b"].params_below) == (20, 0)
