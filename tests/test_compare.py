"""Comparison mode: figures worked out by hand, tables laid out by tabulate from hand-written
cells, and the live check against the real torchsummary 1.5.1."""
from __future__ import annotations

import contextlib
import io
import sys
import textwrap
import types

import pytest
import torch
import torch.nn as nn
import torchsummary
from tabulate import tabulate

import torchsummary_plus
from torchsummary_plus import compare, summary
from torchsummary_plus._demo import SharedConv, TwoConvs, UnusedConv

HEADERS = ("Figure", "torchsummary", "unique in table", "unique in model", "used in pass", "notes")
# the plain-text formats break each header after its first word
TWO_LINE_HEADERS = ("Figure", "torchsummary", "unique\nin table", "unique\nin model",
                    "used\nin pass", "notes")
ALIGN = ("left", "right", "right", "right", "right", "left")
SIZE = (1, 64, 64)
# MB figures of the seed cases at (1, 64, 64), batch -1, torchsummary's arithmetic:
#   input 64*64*4 B = 16384 B = 0.015625 MB; forward/backward 2 * 2 rows * 4096 * 4 B =
#   65536 B = 0.0625 MB; params 18*4 = 72 B or 9*4 = 36 B, both 0.00 MB.
#   Total 0.0781... -> "0.08".
# The other columns' Estimated Total Size: their parameters' bytes + the rows' outputs
# (2 rows of 64*64 float32 = 32768 B) + the input (16384 B): 49188 or 49224 B -> "0.05".
MEMORY = ("torchsummary's total multiplies output shapes together and doubles them, 4 bytes "
          "each; the others add the rows' output tensors and the inputs at their dtypes")


def table(rows: list[list[str]], tablefmt: str, notes: list[str]) -> str:
    """The table as tabulate lays it out, then each note numbered (wrapped at 100 columns,
    hanging indent of 4)."""
    headers = HEADERS if tablefmt == "github" else TWO_LINE_HEADERS
    text = tabulate(rows, headers=headers, tablefmt=tablefmt, disable_numparse=True, colalign=ALIGN)
    lines = [textwrap.fill(f"[{n}] {note}", 100, subsequent_indent="    ")
             for n, note in enumerate(notes, start=1)]
    return "\n".join([text, *lines])


def printed(call) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        call()
    return buffer.getvalue()


def real_table(model: nn.Module, size, batch_size: int = -1) -> str:
    """What the real torchsummary 1.5.1 prints for this call."""
    return printed(lambda: torchsummary.summary(model, size, batch_size, "cpu"))


SAME = "torchsummary check: torchsummary 1.5.1 printed the same table, byte for byte\n"
REPEATS = "rows repeat earlier rows' parameters: Conv2d-2 repeats Conv2d-1"


def test_case2_simple_table_and_check():
    expected = table([
        ["Total params", "18", "9", "9", "9", "1"],  # conv1 (3*3 = 9) shown in two rows
        ["Trainable params", "18", "9", "9", "9", "1"],
        ["Non-trainable params", "0", "0", "0", "0", ""],
        ["Params size (MB)", "0.00", "0.00", "0.00", "0.00", "1"],  # 72 B vs 36 B
        ["Estimated Total Size (MB)", "0.08", "0.05", "0.05", "0.05", "1,2"],
    ], "simple", [REPEATS, MEMORY])
    model = SharedConv()
    out = printed(lambda: compare(model, SIZE, device="cpu"))
    assert out == expected + "\n" + SAME
    assert max(len(line) for line in out.splitlines()) <= 100


def test_case3_github_table():
    expected = table([
        ["Total params", "18", "9", "18", "9", "1,2,3"],  # naive 9+9; conv1 once; conv2 unused
        ["Trainable params", "18", "9", "18", "9", "1,2,3"],
        ["Non-trainable params", "0", "0", "0", "0", ""],
        ["Params size (MB)", "0.00", "0.00", "0.00", "0.00", "1,2,3"],
        ["Estimated Total Size (MB)", "0.08", "0.05", "0.05", "0.05", "1,2,3,4"],
    ], "github", [REPEATS, "in no row of the table: conv2.weight (9)",
                  "never used: conv2 (9 parameters)", MEMORY])
    out = printed(lambda: compare(UnusedConv(), SIZE, device="cpu", tablefmt="github"))
    assert out == expected + "\n" + SAME
    assert expected.startswith("| Figure ")  # github layout, not simple


def test_html_table_has_its_notes_as_an_ordered_list():
    out = printed(lambda: compare(SharedConv(), SIZE, device="cpu", tablefmt="html"))
    assert out.startswith("<table>\n")
    assert "\n</table>\n<ol><li>rows repeat earlier rows&#x27; parameters: Conv2d-2 repeats " \
           "Conv2d-1</li><li>torchsummary&#x27;s total" in out
    assert out.endswith("</li></ol>\n" + SAME)


def test_compare_returns_the_summary_result():
    with contextlib.redirect_stdout(io.StringIO()):
        result = compare(UnusedConv(), SIZE, device="cpu")
    assert (int(result[0]), int(result[1])) == (18, 18)
    assert (result.unique_params, result.used_params) == (18, 9)
    assert result.unused_modules == ["conv2"]


class Scaled(nn.Module):
    """Linear 4 -> 2 (8 + 2 = 10, counted by torchsummary) times a parameter named `scale` (2)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(2))

    def forward(self, x):
        return self.fc(x) * self.scale


def test_parameter_not_named_weight_or_bias():
    # input 4*4 = 16 B, outputs |-2| * 2 * 4 = 16 B, params 40 B (naive) or 48 B: all 0.00 MB;
    # the others' total: 40 or 48 B + the row's output (2 float32, 8 B) + 16 B: 0.00 MB
    expected = table([
        ["Total params", "10", "10", "12", "12", "1"],
        ["Trainable params", "10", "10", "12", "12", "1"],
        ["Non-trainable params", "0", "0", "0", "0", ""],
        ["Params size (MB)", "0.00", "0.00", "0.00", "0.00", "1"],
        ["Estimated Total Size (MB)", "0.00", "0.00", "0.00", "0.00", "1,2"],
    ], "simple", ["not named weight/bias: scale (2)", MEMORY])
    out = printed(lambda: compare(Scaled(), (4,), device="cpu"))
    assert out == expected + "\n" + SAME


def test_frozen_weight_and_trainable_bias():
    # torchsummary takes trainability from the weight: the bias (2) counts as non-trainable
    model = nn.Sequential(nn.Linear(4, 2))
    model[0].weight.requires_grad_(False)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        compare(model, (4,), device="cpu")
    lines = out.getvalue().splitlines()  # two header lines and a rule first
    assert lines[3].split() == ["Total", "params", "10", "10", "10", "10"]
    assert lines[4].split() == ["Trainable", "params", "0", "0", "2", "2", "1"]
    assert lines[5].split() == ["Non-trainable", "params", "10", "10", "8", "8", "1"]
    assert lines[8] == "[1] torchsummary takes trainability from each module's weight"


def test_summary_compare_true_prints_the_table_then_the_comparison_from_one_pass(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchsummary", None)  # no second pass by torchsummary
    model = TwoConvs()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    out = printed(lambda: summary(model, SIZE, device="cpu", plus=False, compare=True))
    torchsummary_text = real_table(TwoConvs(), SIZE)
    assert calls == [1]
    assert out == torchsummary_text + table([
        ["Total params", "18", "18", "18", "18", ""],
        ["Trainable params", "18", "18", "18", "18", ""],
        ["Non-trainable params", "0", "0", "0", "0", ""],
        ["Params size (MB)", "0.00", "0.00", "0.00", "0.00", ""],
        ["Estimated Total Size (MB)", "0.08", "0.05", "0.05", "0.05", "1"],
    ], "simple", [MEMORY]) + "\ntorchsummary check: could not check, torchsummary is not installed\n"


def test_without_torchsummary_it_says_it_could_not_check(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchsummary", None)
    out = printed(lambda: compare(SharedConv(), SIZE, device="cpu"))
    assert out.endswith("\ntorchsummary check: could not check, torchsummary is not installed\n")
    assert out.startswith("Figure ")


def test_a_different_table_is_shown_side_by_side(monkeypatch):
    fake = types.ModuleType("torchsummary")
    fake.summary = lambda model, input_size, batch_size=-1, device="cuda": print("other\n" * 2, end="")
    monkeypatch.setitem(sys.modules, "torchsummary", fake)
    out = printed(lambda: compare(nn.Sequential(nn.Linear(3, 2)), (3,), device="cpu"))
    check = out[out.index("torchsummary check"):].splitlines()
    rule = "-" * 64
    title = "torchsummary_plus (layout='pypi', plus=False)"
    assert check[:3] == [
        "torchsummary check: the tables differ; first at line 1:",
        f"  torchsummary_plus: {rule + chr(10)!r}",
        "  torchsummary:      'other\\n'",
    ]
    assert check[3] == f"  {title:<64} | torchsummary"
    assert check[4] == f"* {rule} | other"
    header = "{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #")
    assert check[5] == f"* {header:<64} | other"  # the header is 63 characters wide
    assert check[6] == "* " + "=" * 64 + " | "
    assert len(check) == 4 + 14  # a table of one row: 3 rules, 2 double rules, header, row, 3 + 4 figures


class ToDict(nn.Module):
    def forward(self, x):
        return {"y": x}


class DictOutput(nn.Module):
    """torchsummary 1.5.1 calls .size() on each hooked module's output: a dict crashes it."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.head = ToDict()

    def forward(self, x):
        return self.head(self.fc(x))


def test_a_torchsummary_crash_is_reported_and_its_hooks_removed():
    model = DictOutput()
    with pytest.raises(AttributeError) as crash:
        torchsummary.summary(DictOutput(), (3,), device="cpu")
    out = printed(lambda: compare(model, (3,), device="cpu"))
    assert out.endswith(
        f"\ntorchsummary check: torchsummary 1.5.1 crashed on this model: AttributeError: {crash.value}\n"
    )
    assert all(not m._forward_hooks for m in model.modules())


def test_layout_master_skips_the_check():
    out = printed(lambda: summary(TwoConvs(), SIZE, device="cpu", layout="master", compare=True))
    assert out.endswith("\ntorchsummary check: skipped; it is made against layout='pypi' "
                        "(this summary used layout='master')\n")


class BatchNormDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.drop(self.bn(self.conv(x)))


def test_torchsummary_would_change_the_model_but_compare_leaves_it_as_it_was():
    control = BatchNormDropout()
    with contextlib.redirect_stdout(io.StringIO()):
        torchsummary.summary(control, (1, 8, 8), device="cpu")
    assert int(control.bn.num_batches_tracked) == 1  # the premise: torchsummary's pass updates BN

    model = BatchNormDropout()
    model.bn.eval()  # a mixed state of modes must come back as it was
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    model.bn.train()
    model.conv.eval()
    out = printed(lambda: compare(model, (1, 8, 8), device="cpu"))
    assert out.endswith(SAME)
    assert (model.training, model.conv.training, model.bn.training, model.drop.training) == (
        True, False, True, True)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(not m._forward_hooks for m in model.modules())


def test_unknown_tablefmt_raises_before_the_pass():
    model = TwoConvs()
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    with pytest.raises(ValueError, match="tablefmt='nope' is not a format tabulate knows"):
        compare(model, SIZE, device="cpu", tablefmt="nope")
    assert calls == []


def test_compare_is_exported():
    assert "compare" in torchsummary_plus.__all__
    assert torchsummary_plus.compare is compare
