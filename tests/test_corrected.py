"""The corrected block below torchsummary's table, and the figures the result carries.

Every expected number is worked out by hand in a comment next to it.
Unless a test says otherwise the table uses torchsummary 1.5.1's layout ("pypi"), in
which the model itself gets no row, and the input batch is shown as -1.
"""
import io
import warnings
from contextlib import redirect_stdout

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from torchsummary_plus import summary, summary_string
from torchsummary_plus._demo import SharedConv as SeedSharing  # the seed cases, defined once
from torchsummary_plus._demo import TwoConvs as SeedNoSharing
from torchsummary_plus._demo import UnusedConv as SeedUnused

BLOCK_TITLE = "Corrected by torchsummary_plus"
# Words that start a line of torchsummary's own table.
TABLE_STARTS = (
    "Total params",
    "Trainable params",
    "Non-trainable params",
    "Params size",
    "Input size",
    "Forward/backward",
    "Estimated Total Size",
    "Layer (type)",
)


def run(model, input_size, **kwargs):
    """(text, result) of summary_string on the CPU, torchsummary 1.5.1's layout by default."""
    kwargs.setdefault("layout", "pypi")
    return summary_string(model, input_size, device="cpu", **kwargs)


def block_of(text):
    """The lines of the corrected block: from its title line to the end."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(BLOCK_TITLE)]
    assert len(starts) == 1, text
    return lines[starts[0]:]


def footnotes_of(text):
    return [line for line in block_of(text) if line.startswith("[")]


def figure_line(text, label):
    """The values on the block's line with this label."""
    found = [line for line in block_of(text) if line.startswith(label + " ")]
    assert len(found) == 1, (label, text)
    return found[0][len(label):].split()


def assert_counts(result, naive, unique, used, unique_trainable=None, used_trainable=None):
    """Counts of the result; trainable counts default to 'everything trainable'."""
    assert result.total_params == naive
    assert result.unique_params == unique
    assert result.used_params == used
    assert result.unique_trainable_params == (unique if unique_trainable is None else unique_trainable)
    assert result.used_trainable_params == (used if used_trainable is None else used_trainable)


def conv3x3():
    return nn.Conv2d(1, 1, kernel_size=3, stride=1, padding=1, bias=False)


# --- the three seed cases, input (1, 64, 64) ------------------------------------------
# Conv2d(1, 1, 3x3, no bias): 1*1*3*3 = 9 parameters.


def test_seed_case1_no_sharing():
    text, result = run(SeedNoSharing(), (1, 64, 64))
    # two rows of 9: naive 18; two distinct tensors of 9: 18 counted once, both used
    assert_counts(result, naive=18, unique=18, used=18)
    assert result.shared_rows == {}
    assert result.unused_modules == []
    assert footnotes_of(text) == []
    assert figure_line(text, "Parameters") == ["18", "18"]


def test_seed_case2_one_conv_called_twice():
    text, result = run(SeedSharing(), (1, 64, 64))
    # rows Conv2d-1 and Conv2d-2 both show conv1's 9: naive 18, but one tensor of 9
    assert_counts(result, naive=18, unique=9, used=9)
    assert result.shared_rows == {"Conv2d-2": "Conv2d-1"}
    assert result.unused_modules == []
    assert footnotes_of(text) == [
        "[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv1): 9 counted twice above"
    ]


def test_seed_case3_one_conv_twice_other_never():
    text, result = run(SeedUnused(), (1, 64, 64))
    # naive: conv1's 9 twice = 18; counted once: conv1 9 + conv2 9 = 18; used: conv1's 9
    assert_counts(result, naive=18, unique=18, used=9)
    assert result.unused_params == 9
    assert result.shared_rows == {"Conv2d-2": "Conv2d-1"}
    assert result.unused_modules == ["conv2"]
    assert footnotes_of(text) == [
        "[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv1): 9 counted twice above",
        "[2] Never used in this pass: conv2 (9)",
    ]


def test_exact_block_of_seed_case3():
    text, _ = run(SeedUnused(), (1, 64, 64))
    # Layout: the longest label (44 characters) + 2, then two columns as wide as their
    # longest text ("unique in model", 15) + 2 = 17 each: 46 + 34 = 80 characters.
    # Parameters: 18 float32 = 72 bytes -> 0.00 MB; used 9 -> 36 bytes -> 0.00 MB.
    # Input: one sample (batch -1) of 1*64*64 float32 = 16384 bytes = 0.015625 MB -> 0.02.
    # Row outputs: two rows of 1*64*64 float32 = 2 * 16384 = 32768 bytes -> 0.03 MB.
    # Saved for backward: conv1 saves the input (an input: left out) and its weight (a
    # parameter: left out); conv1's second call saves its output, 16384 bytes -> 0.02 MB.
    # Estimate: 72 + 32768 + 16384 = 49224 bytes -> 0.05 MB.
    rule = "-" * 80
    expected = [
        "Corrected by torchsummary_plus                  unique in model     used in pass",
        rule,
        "Parameters                                                   18                9",
        "  trainable                                                  18                9",
        "  non-trainable                                               0                0",
        "  their size (MB, real dtypes)                             0.00             0.00",
        "Unused parameters                                             9",
        "Inputs (MB, real dtypes)                                   0.02",
        "Row outputs as activations (MB, real dtypes)               0.03",
        "Saved for backward, activations (MB)                       0.02",
        "Estimate: params + activations + inputs (MB)               0.05",
        rule,
        "[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv1): 9 counted twice above",
        "[2] Never used in this pass: conv2 (9)",
        rule,
    ]
    assert [len(line) for line in expected[:12]] == [80] * 6 + [63] * 5 + [80]
    assert text.endswith("\n")
    assert block_of(text) == expected


def test_block_without_sharing_or_unused_has_no_footnotes():
    text, _ = run(SeedNoSharing(), (1, 64, 64))
    # 18 float32 = 72 bytes -> 0.00 MB; input, row outputs and estimate as in case 3;
    # conv2 saves conv1's output for backward (16384 bytes -> 0.02 MB)
    assert block_of(text) == [
        "Corrected by torchsummary_plus                  unique in model     used in pass",
        "-" * 80,
        "Parameters                                                   18               18",
        "  trainable                                                  18               18",
        "  non-trainable                                               0                0",
        "  their size (MB, real dtypes)                             0.00             0.00",
        "Unused parameters                                             0",
        "Inputs (MB, real dtypes)                                   0.02",
        "Row outputs as activations (MB, real dtypes)               0.03",
        "Saved for backward, activations (MB)                       0.02",
        "Estimate: params + activations + inputs (MB)               0.05",
        "-" * 80,
    ]


# --- shared parameters across modules and calls -----------------------------------------


class TiedLM(nn.Module):
    """Embedding(10, 4) and an output Linear(4, 10) holding the same weight tensor."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 10)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        return self.out(self.embed(tokens))


def test_tied_weights_across_two_modules():
    text, result = run(TiedLM(), (6,), dtypes=[torch.long])
    # Embedding-1: weight 10*4 = 40; Linear-2: the same weight 40 + bias 10 = 50.
    # naive 40 + 50 = 90; counted once 40 + 10 = 50; all used.
    assert_counts(result, naive=90, unique=50, used=50)
    assert result.shared_rows == {"Linear-2": "Embedding-1"}
    assert footnotes_of(text) == [
        "[1] Linear-2 repeats the parameters of Embedding-1 (module out): 40 counted twice above"
    ]
    assert [row.shared_with for row in result.rows] == [None, "Embedding-1"]


class Table(nn.Module):
    """Holds a tensor under a name torchsummary does not count."""

    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(10, 4))

    def forward(self, x):
        return x @ self.table


class TiedToTable(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Table()
        self.out = nn.Linear(4, 10)
        self.out.weight = self.first.table

    def forward(self, x):
        return self.out(self.first(x))


def test_repeat_of_a_tensor_the_naive_totals_had_not_counted():
    text, result = run(TiedToTable(), (10,))
    # Table-1: table 10*4 = 40, but torchsummary counts 0 there; Linear(4, 10)-2: the same
    # 40 as weight + bias 10 = 50. naive 0 + 50 = 50; counted once 40 + 10 = 50.
    assert_counts(result, naive=50, unique=50, used=50)
    assert result.shared_rows == {"Linear-2": "Table-1"}
    # the naive totals counted the table once only (on Linear-2): nothing twice
    assert footnotes_of(text) == [
        "[1] Linear-2 repeats the parameters of Table-1 (module out): 0 counted twice above"
    ]


class TiedOutputOnly(TiedLM):
    """The embedding is never called; its weight is still used through the output layer."""

    def forward(self, x):
        return self.out(x)


def test_tied_weight_used_through_the_other_module():
    text, result = run(TiedOutputOnly(), (4,))
    # Linear(4, 10): weight 40 (the embedding's) + bias 10; one row, nothing unused
    assert_counts(result, naive=50, unique=50, used=50)
    assert result.unused_modules == []
    assert footnotes_of(text) == []


class LoopedLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        for _ in range(3):
            x = self.fc(x)
        return x


def test_layer_applied_in_a_loop():
    text, result = run(LoopedLinear(), (4,))
    # Linear(4, 4): 4*4 + 4 = 20, shown on 3 rows: naive 60, counted once 20
    assert_counts(result, naive=60, unique=20, used=20)
    assert [row.name for row in result.rows] == ["Linear-1", "Linear-2", "Linear-3"]
    assert result.shared_rows == {"Linear-2": "Linear-1", "Linear-3": "Linear-1"}
    # one note for the module's later calls: 2 rows of 20 counted again, 40
    assert block_of(text)[-3:-1] == [
        "[1] fc ran 3 times: the 2 rows of its later calls (Linear-2, Linear-3) repeat those of its first",
        "    (Linear-1); 40 counted again above",
    ]


class Gain(nn.Module):
    """A custom module with one direct parameter not named weight or bias."""

    def __init__(self, size):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(size))

    def forward(self, x):
        return x * self.gain


class GainTwice(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = Gain(5)

    def forward(self, x):
        return self.scale(self.scale(x))


def test_direct_parameter_of_custom_module_called_twice():
    text, result = run(GainTwice(), (5,))
    # torchsummary counts only `weight`/`bias`: 0 on both rows. One tensor of 5, used.
    assert_counts(result, naive=0, unique=5, used=5)
    assert [row.params for row in result.rows] == [0, 0]
    assert result.shared_rows == {"Gain-2": "Gain-1"}
    assert footnotes_of(text) == [
        "[1] Gain-2 repeats the parameters of Gain-1 (module scale): 0 counted twice above"
    ]


class Nested(nn.Module):
    """Shared module deeper in the tree: the footnote names its qualified name."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([nn.Module()])
        self.encoder.layers[0].conv1 = conv3x3()

    def forward(self, x):
        conv = self.encoder.layers[0].conv1
        return conv(conv(x))


def test_footnote_names_the_qualified_module_name():
    text, result = run(Nested(), (1, 8, 8))
    # conv3x3 twice: naive 9 + 9 = 18, one tensor of 9
    assert_counts(result, naive=18, unique=9, used=9)
    assert [row.module for row in result.rows] == ["encoder.layers.0.conv1"] * 2
    # the note is wrapped at 100 characters, the next line indented by 4
    assert block_of(text)[-3:-1] == [
        "[1] Conv2d-2 repeats the parameters of Conv2d-1 "
        "(module encoder.layers.0.conv1): 9 counted twice",
        "    above",
    ]


# --- recurrent and attention modules of torch.nn ------------------------------------------


class FirstOutput(nn.Module):
    """Runs a module returning a tuple and returns its first item, a tensor."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)[0]


@pytest.mark.parametrize(
    "rnn, gates",
    [(nn.LSTM(8, 16, batch_first=True), 4), (nn.GRU(8, 16, batch_first=True), 3)],
    ids=["LSTM", "GRU"],
)
def test_recurrent_parameters_are_counted(rnn, gates):
    _, result = run(FirstOutput(rnn), (5, 8))
    # per gate: weight_ih 16*8 + weight_hh 16*16 + bias_ih 16 + bias_hh 16
    #   = 16*(8+16) + 2*16 = 384 + 32 = 416; LSTM 4*416 = 1664, GRU 3*416 = 1248.
    # torchsummary finds no `weight`/`bias` attribute on them: naive 0.
    expected = gates * (16 * (8 + 16) + 2 * 16)
    assert expected == {4: 1664, 3: 1248}[gates]
    assert_counts(result, naive=0, unique=expected, used=expected)


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.attn(x, x, x)[0]


def test_multihead_attention_counts_out_proj_without_its_call():
    _, result = run(SelfAttention(), (5, 8))
    # in_proj_weight 3*8*8 = 192, in_proj_bias 3*8 = 24, out_proj 8*8 + 8 = 72: 288.
    # out_proj is read by the attention, never called: it has no row and is still used.
    assert_counts(result, naive=0, unique=288, used=288)
    assert [row.name for row in result.rows] == ["MultiheadAttention-1"]
    assert result.unused_modules == []


def test_transformer_encoder_two_layers_in_train_mode():
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    model.train()
    _, result = run(model, (5, 8))
    # One layer: self_attn 288 (as above), linear1 8*16 + 16 = 144, linear2 16*8 + 8 = 136,
    # norm1 8 + 8 = 16, norm2 16: 600. Two layers (copies): 1200.
    # torchsummary counts the Linear and LayerNorm rows only: 144 + 136 + 16 + 16 = 312 each.
    assert_counts(result, naive=624, unique=1200, used=1200)
    assert result.shared_rows == {}
    assert result.unused_modules == []
    assert model.training  # the summary leaves the mode as it was


# --- parameters used outside a submodule call, frozen and trainable ----------------------


class FunctionalRoot(nn.Module):
    """Parameters of the model itself, used through functional calls in its forward."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 5))
        self.bias = nn.Parameter(torch.randn(3))
        self.proj = nn.Parameter(torch.randn(3, 2), requires_grad=False)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias) @ self.proj


def test_parameters_used_by_functional_calls_in_the_root():
    text, result = run(FunctionalRoot(), (5,))
    # weight 3*5 = 15, bias 3, proj (frozen) 3*2 = 6: 24 counted once, all used;
    # trainable 15 + 3 = 18. No submodule gives a row (torchsummary crashes here), so the
    # model's own row is shown: its `weight` 15 + `bias` 3 = 18 naive.
    assert_counts(result, naive=18, unique=24, used=24, unique_trainable=18, used_trainable=18)
    assert [row.name for row in result.rows] == ["FunctionalRoot-1"]
    assert figure_line(text, "  non-trainable") == ["6", "6"]
    assert footnotes_of(text) == []


def test_functional_root_in_master_layout_gets_a_row():
    _, result = run(FunctionalRoot(), (5,), layout="master")
    # The master hooks the model itself: its `weight` 15 + `bias` 3 = 18 (proj not seen).
    assert_counts(result, naive=18, unique=24, used=24, unique_trainable=18, used_trainable=18)
    assert [row.name for row in result.rows] == ["FunctionalRoot-1"]


class ReadsChildWeight(nn.Module):
    """The parent uses a child's weight directly and never calls the child."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.linear(x, self.fc.weight)


def test_child_weight_used_by_parent_bias_left_unused():
    text, result = run(ReadsChildWeight(), (4,))
    # fc: weight 4*3 = 12 used by the parent, bias 3 never used; fc has no row.
    assert_counts(result, naive=0, unique=15, used=12)
    assert result.unused_modules == ["fc"]
    assert footnotes_of(text) == ["[1] Never used in this pass: fc (3)"]


def test_frozen_weight_with_trainable_bias():
    model = nn.Sequential(nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    text, result = run(model, (3,))
    # weight 3*2 = 6 frozen, bias 2 trainable: 8 in all.
    # torchsummary decides a row's trainability by its weight alone: trainable 0.
    assert result.trainable_params == 0
    assert_counts(result, naive=8, unique=8, used=8, unique_trainable=2, used_trainable=2)
    assert figure_line(text, "  trainable") == ["2", "2"]
    assert figure_line(text, "  non-trainable") == ["6", "6"]


class ListsAndDicts(nn.Module):
    def __init__(self):
        super().__init__()
        self.plist = nn.ParameterList(
            [nn.Parameter(torch.ones(4)), nn.Parameter(torch.zeros(4)), nn.Parameter(torch.ones(5))]
        )
        self.pdict = nn.ParameterDict(
            {"w": nn.Parameter(torch.ones(4, 3)), "b": nn.Parameter(torch.zeros(3))}
        )

    def forward(self, x):
        h = x * self.plist[0] + self.plist[1]
        return h @ self.pdict["w"] + self.pdict["b"]


def test_parameter_list_and_dict_with_one_entry_unused():
    text, result = run(ListsAndDicts(), (4,))
    # plist 4 + 4 + 5, pdict 4*3 + 3: 28 counted once; plist[2] (5) never used: 23 used.
    assert_counts(result, naive=0, unique=28, used=23)
    assert result.unused_params == 5
    assert result.unused_modules == ["plist"]
    assert footnotes_of(text) == ["[1] Never used in this pass: plist (5)"]


# --- parameters that took no part in this pass -----------------------------------------


class Branch(nn.Module):
    def __init__(self):
        super().__init__()
        self.small = nn.Linear(4, 2)
        self.big = nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[-1] == 4:
            return self.small(x)
        return self.big(x)


def test_branch_skipping_a_layer():
    text, result = run(Branch(), (4,))
    # small 4*2 + 2 = 10 runs; big 4*3 + 3 = 15 does not: 25 counted once, 10 used.
    assert_counts(result, naive=10, unique=25, used=10)
    assert result.unused_modules == ["big"]
    assert figure_line(text, "Unused parameters") == ["15"]
    assert footnotes_of(text) == ["[1] Never used in this pass: big (15)"]


class ShapeCheck(nn.Module):
    """Looks at its parameter's metadata only."""

    def __init__(self, size):
        super().__init__()
        self.w = nn.Parameter(torch.ones(size))

    def forward(self, x):
        fits = (
            self.w.shape[0] == x.shape[-1]
            and self.w.size(0) == len(self.w) == self.w.numel()
            and self.w.dim() == self.w.ndim == 1
            and self.w.dtype == x.dtype
            and self.w.device == x.device
            and self.w.requires_grad
        )
        if not fits:
            raise ValueError("unexpected input")
        return x


class Inspected(nn.Module):
    def __init__(self):
        super().__init__()
        self.check = ShapeCheck(4)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.check(x))


def test_parameter_only_inspected_is_unused():
    text, result = run(Inspected(), (4,))
    # check.w 4 only inspected; fc 4*2 + 2 = 10 used: 14 counted once, 10 used.
    assert_counts(result, naive=10, unique=14, used=10)
    assert result.unused_modules == ["check"]
    assert footnotes_of(text) == ["[1] Never used in this pass: check (4)"]


class ReadsAttribute(nn.Module):
    def __init__(self, attribute):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))
        self.attribute = attribute

    def forward(self, x):
        getattr(self.w, self.attribute)
        return x * 2.0


@pytest.mark.parametrize("attribute", ["is_cpu", "nbytes", "itemsize"])
def test_metadata_attributes_are_not_a_use(attribute):
    _, result = run(ReadsAttribute(attribute), (4,))
    # w (4) is only looked at: 4 counted once, 0 used
    assert_counts(result, naive=0, unique=4, used=0)


class RootInspects(nn.Module):
    """The model's own parameter, looked at and never computed with."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        assert self.w.shape == x.shape[1:]
        return self.fc(x)


def test_unused_parameter_of_the_model_itself():
    text, result = run(RootInspects(), (4,))
    # w 4 unused, fc 4*2 + 2 = 10 used
    assert_counts(result, naive=10, unique=14, used=10)
    assert result.unused_modules == [""]
    assert footnotes_of(text) == ["[1] Never used in this pass: (model) (4)"]


class MultiplyFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        return x * w

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class CustomAutograd(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))

    def forward(self, x):
        return MultiplyFunction.apply(x, self.w)


def test_parameter_used_in_a_custom_autograd_function():
    _, result = run(CustomAutograd(), (4,))
    # w (4) is multiplied inside the Function's forward
    assert_counts(result, naive=0, unique=4, used=4)


class LearnedQuery(nn.Module):
    """A parameter handed straight to a torch.nn module as its input."""

    def __init__(self):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.query) + x.sum()


class QueryIntoAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.queries = nn.Parameter(torch.randn(2, 3, 8))
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.attn(query=self.queries, key=x, value=x)[0]


@pytest.mark.parametrize(
    "make, size, unique",
    [
        # query 1*4 = 4, fc 4*2 + 2 = 10: 14
        (LearnedQuery, (4,), 14),
        # queries 2*3*8 = 48, attention 288 (in_proj 192 + 24, out_proj 64 + 8): 336
        (QueryIntoAttention, (3, 8), 336),
    ],
    ids=["Linear", "MultiheadAttention-keyword"],
)
def test_parameter_passed_into_a_torch_nn_module_is_used(make, size, unique):
    _, result = run(make(), size)
    assert result.unique_params == unique
    assert result.used_params == unique
    assert result.unused_modules == []


class ScaledByPreHook(nn.Module):
    """A forward pre-hook of a torch.nn module multiplies its input by a parameter."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))
        self.fc = nn.Linear(4, 2)
        self.fc.register_forward_pre_hook(lambda module, args: (args[0] * self.scale,))

    def forward(self, x):
        return self.fc(x)


def test_parameter_used_in_a_forward_pre_hook_is_used():
    _, result = run(ScaledByPreHook(), (4,))
    # scale 4 multiplies the input; fc 4*2 + 2 = 10: 14 counted once, all used
    assert_counts(result, naive=10, unique=14, used=14)


def scale(x, w):
    return x * w


class CallsScriptedFunction(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.w = nn.Parameter(torch.ones(4))
        self.function = function

    def forward(self, x):
        return self.function(x, self.w)


@pytest.mark.xfail(
    strict=True,
    reason="a TorchScript function does not consult TorchFunctionMode, so the watch never "
    "sees the parameters passed to it",
)
def test_parameter_passed_to_a_scripted_function_is_used():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.script is deprecated
        scripted = torch.jit.script(scale)
    _, result = run(CallsScriptedFunction(scripted), (4,))
    # w (4) is multiplied inside the scripted function
    assert_counts(result, naive=0, unique=4, used=4)


# --- memory at real dtypes ----------------------------------------------------------------


def test_half_model_takes_two_bytes_a_number():
    model = nn.Sequential(nn.Linear(1024, 1024, bias=False)).half()
    text, result = run(model, (1024,), dtypes=[torch.float16])
    # 1024*1024 = 1048576 numbers * 2 bytes = 2097152 bytes = 2.00 MB
    assert result.unique_params_bytes == 2097152
    assert result.used_params_bytes == 2097152
    assert figure_line(text, "  their size (MB, real dtypes)") == ["2.00", "2.00"]
    # torchsummary assumes 4 bytes: 1048576*4 / 1024**2 = 4.00
    assert "Params size (MB): 4.00" in text.splitlines()
    # input: one sample of 1024 halves = 2048 bytes
    assert result.input_bytes == 2048


class HalfAndDouble(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(1024, 1024, bias=False).half()
        self.spare = nn.Linear(512, 512, bias=False).double()

    def forward(self, x):
        return self.fc(x)


def test_used_and_unique_bytes_at_mixed_dtypes():
    text, result = run(HalfAndDouble(), (1024,), dtypes=[torch.float16])
    # fc 1048576 halves = 2097152 bytes (used); spare 512*512 = 262144 doubles =
    # 2097152 bytes (unused). Counted once 4194304 bytes = 4.00 MB, used 2.00 MB.
    assert result.unique_params_bytes == 4194304
    assert result.used_params_bytes == 2097152
    assert figure_line(text, "  their size (MB, real dtypes)") == ["4.00", "2.00"]
    assert result.unused_modules == ["spare"]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(512, 1)

    def forward(self, a, b):
        return self.fc(a.float()) + b.float().mean()


def test_input_size_of_several_inputs_at_their_dtypes():
    text, result = run(
        TwoInputs(), [(512, 512), (512, 256)], batch_size=2, dtypes=[torch.float16, torch.int64]
    )
    # a: 2*512*512 halves * 2 bytes = 1048576; b: 2*512*256 int64 * 8 bytes = 2097152.
    # 3145728 bytes = 3.00 MB.
    assert result.input_bytes == 3145728
    assert figure_line(text, "Inputs (MB, real dtypes)") == ["3.00"]
    # torchsummary multiplies all dimensions and the batch, at 4 bytes:
    # 512*512*512*256 * 2 * 4 / 1024**2 = 2**35 * 2**3 / 2**20 = 2**18 = 262144.00
    assert "Input size (MB): 262144.00" in text.splitlines()


# --- the result and the two entry points --------------------------------------------------


def test_result_attributes_are_python_ints():
    _, result = run(SeedUnused(), (1, 64, 64))
    for name in (
        "total_params",
        "trainable_params",
        "unique_params",
        "unique_trainable_params",
        "used_params",
        "used_trainable_params",
    ):
        assert type(getattr(result, name)) is int, name


def test_rows_records():
    _, result = run(SeedUnused(), (1, 64, 64))
    described = [
        (row.name, row.module, row.output_shape, row.params, row.shared_with)
        for row in result.rows
    ]
    # conv1 twice, 9 parameters each, output one 64x64 channel
    assert described == [
        ("Conv2d-1", "conv1", [-1, 1, 64, 64], 9, None),
        ("Conv2d-2", "conv1", [-1, 1, 64, 64], 9, "Conv2d-1"),
    ]


def printed(model, input_size, **kwargs):
    out = io.StringIO()
    with redirect_stdout(out):
        result = summary(model, input_size, device="cpu", **kwargs)
    return out.getvalue(), result


def test_summary_prints_the_block_summary_string_returns():
    shown, _ = printed(SeedUnused(), (1, 64, 64))
    text, _ = run(SeedUnused(), (1, 64, 64))
    assert block_of(shown) == block_of(text)
    assert shown == text


def test_plus_false_leaves_the_block_out():
    shown, result = printed(SeedUnused(), (1, 64, 64), plus=False)
    text, _ = run(SeedUnused(), (1, 64, 64), plus=False)
    assert BLOCK_TITLE not in shown
    assert BLOCK_TITLE not in text
    assert shown.rstrip("\n").endswith("Estimated Total Size (MB): 0.08\n" + "-" * 64)
    # the figures are still computed: conv1 + conv2 = 18 counted once, 9 used
    assert (result.unique_params, result.used_params) == (18, 9)


MODELS_FOR_PREFIX_CHECK = [
    (SeedUnused, (1, 64, 64), {}),
    (LoopedLinear, (4,), {}),
    (TiedLM, (6,), {"dtypes": [torch.long]}),
    (Branch, (4,), {"layout": "master"}),
    (HalfAndDouble, (1024,), {"dtypes": [torch.float16]}),
]


@pytest.mark.parametrize("make, size, kwargs", MODELS_FOR_PREFIX_CHECK)
def test_no_block_line_starts_like_a_table_line(make, size, kwargs):
    text, _ = run(make(), size, **kwargs)
    block = block_of(text)
    assert [line for line in block if line.startswith(TABLE_STARTS)] == []
    # each table line is still there exactly once
    table = text.splitlines()[: len(text.splitlines()) - len(block)]
    for start in TABLE_STARTS:
        assert len([line for line in table if line.lstrip().startswith(start)]) == 1, start


class TiedScaledFrozen(nn.Module):
    """Tied embedding/output, a parameter not named weight/bias, a frozen weight with a
    trainable bias: every way torchsummary's own tensors differ from model.parameters()."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)
        self.fc.weight.requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(4))
        self.out = nn.Linear(4, 10)
        self.out.weight = self.emb.weight

    def forward(self, ids):
        return self.out(self.fc(self.emb(ids)) * self.scale)


def test_torchsummary_tensors_counted_once_and_what_no_row_counts():
    _, result = summary_string(TiedScaledFrozen(), (3,), dtypes=[torch.LongTensor], device="cpu")
    # rows: Embedding-1 weight 40; Linear-2 (fc) 16 + 4; Linear-3 (out) 40 (the tied weight) + 10
    assert result.total_params == 40 + 20 + 50
    # each of those tensors once: emb.weight 40, fc.weight 16, fc.bias 4, out.bias 10 = 70
    assert result.table_unique_params == 70
    # torchsummary's rule, the row's weight decides: Embedding 40, fc none (its weight is
    # frozen, so its trainable bias is not counted), out's bias 10 = 50
    assert result.table_unique_trainable_params == 50
    # each tensor's own flag: emb.weight 40 + fc.bias 4 + out.bias 10 = 54
    assert result.table_unique_requires_grad_params == 54
    assert result.table_unique_params_bytes == 70 * 4
    # no row counts `scale`: it is not called weight or bias
    assert result.uncounted_params == [("scale", 4)]
    # all parameters once: 40 + 16 + 4 + 4 + 10 = 74
    assert result.unique_params == 74


class FrozenNoSharing(nn.Module):
    """No tensor in two rows: a frozen weight with a trainable bias, and a parameter not
    named weight or bias."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.fc.weight.requires_grad_(False)
        self.scale = nn.Parameter(torch.ones(4))
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(self.fc(x) * self.scale)


def test_torchsummary_tensors_counted_once_without_sharing():
    _, result = run(FrozenNoSharing(), (4,))
    # rows: Linear-1 (fc) 16 + 4, Linear-2 (out) 8 + 2
    assert result.total_params == 30
    assert result.table_unique_params == 30
    # the row's weight decides: fc's is frozen, out's is not: 10
    assert result.trainable_params == 10
    assert result.table_unique_trainable_params == 10
    # each tensor's own flag: fc.bias 4 + out 10 = 14
    assert result.table_unique_requires_grad_params == 14
    assert result.table_unique_params_bytes == 30 * 4
    assert result.uncounted_params == [("scale", 4)]
    assert result.shared_rows == {}
    assert result.unique_params == 34


class WeightIsBias(nn.Module):
    """One parameter registered as both `weight` and `bias`."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3))
        self.register_parameter("bias", self.weight)

    def forward(self, x):
        return x * self.weight + self.bias


class HoldsWeightIsBias(nn.Module):
    def __init__(self):
        super().__init__()
        self.affine = WeightIsBias()

    def forward(self, x):
        return self.affine(x)


def test_a_row_counting_one_tensor_as_weight_and_bias():
    text, result = run(HoldsWeightIsBias(), (3,))
    # torchsummary adds weight and bias: 3 + 3
    assert "WeightIsBias-1" in text and result.total_params == 6
    # the tensor once, and no row repeats another
    assert result.table_unique_params == 3
    assert result.table_unique_params_bytes == 3 * 4
    assert result.shared_rows == {}
    assert result.unique_params == 3
