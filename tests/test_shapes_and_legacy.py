"""Output shapes as rows show them, torchsummary's output arithmetic, and its table.

_shapes is tested directly with hand-made structures; the legacy figures end to end with
hand-worked numbers, and the table against the installed torchsummary 1.5.1 itself.
"""
import collections
import dataclasses
import io
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
import torch.nn as nn
import torchsummary

from torchsummary_plus import summary, summary_string
from torchsummary_plus._legacy import legacy_numel, shown_and_counted
from torchsummary_plus._shapes import Opaque, describe
from torchsummary_plus._demo import SharedConv as SeedSharing  # the seed cases, defined once
from torchsummary_plus._demo import UnusedConv as SeedUnused

MB = 2**20
S = torch.Size

# --- describe: what a module returned, reduced to shapes --------------------------------

Pair = collections.namedtuple("Pair", "first second")


@dataclasses.dataclass
class Output:
    logits: torch.Tensor
    extra: object


def test_describe_tensor_and_containers():
    a, b, c = torch.zeros(2, 5, 20), torch.zeros(2, 2, 20), torch.zeros(1, 3)
    assert describe(a) == S([2, 5, 20])
    assert describe((a, (b, c))) == [S([2, 5, 20]), [S([2, 2, 20]), S([1, 3])]]
    assert describe(Pair(a, c)) == [S([2, 5, 20]), S([1, 3])]
    assert describe({"x": c, "y": None}) == {"x": S([1, 3]), "y": None}
    assert describe(Output(c, 7)) == {"logits": S([1, 3]), "extra": Opaque("int")}
    assert describe(None) is None
    assert describe("text") == Opaque("str")




def shown_shape(description, batch_size):
    """The object whose str is the row's Output Shape cell."""
    return shown_and_counted(description, batch_size)[0]


# --- shown_shape: the Output Shape cell ------------------------------------------------


@pytest.mark.parametrize(
    "description, batch_size, expected",
    [
        # a tensor returned directly: the first dimension becomes the batch size
        (S([2, 3, 4]), -1, [-1, 3, 4]),
        (S([2, 3, 4]), 5, [5, 3, 4]),
        (S([7]), -1, [-1]),
        (S([]), -1, []),
        # inside containers: -1 then the rest, whatever the batch size
        ([S([2, 5]), S([2, 6])], 3, [[-1, 5], [-1, 6]]),
        ([S([2, 5, 20]), [S([2, 2, 20]), S([2, 2, 20])]], -1, [[-1, 5, 20], [[-1, 2, 20], [-1, 2, 20]]]),
        ({"logits": S([2, 10])}, 4, {"logits": [-1, 10]}),
        ([S([2, 3]), None], -1, [[-1, 3], None]),
        (None, -1, None),
        (Opaque("int"), -1, Opaque("int")),
    ],
)
def test_shown_shape(description, batch_size, expected):
    assert shown_shape(description, batch_size) == expected


def test_shown_shape_text():
    nested = shown_shape([S([2, 5, 20]), [S([2, 2, 20]), S([2, 2, 20])]], -1)
    assert str(nested) == "[[-1, 5, 20], [[-1, 2, 20], [-1, 2, 20]]]"
    assert str(shown_shape([S([2, 3]), Opaque("int")], -1)) == "[[-1, 3], int]"
    assert str(shown_shape({"logits": S([2, 10])}, -1)) == "{'logits': [-1, 10]}"


# --- legacy_numel: what torchsummary adds for one row ----------------------------------


@pytest.mark.parametrize(
    "shown, expected",
    [
        ([-1, 3, 4], -12),  # -1*3*4
        ([5, 3, 4], 60),  # 5*3*4
        ([], 1),  # the empty product
        ([[-1, 5], [-1, 6]], 30),  # one 2x2 array: (-1)*5*(-1)*6
        ([[-1, 5, 20], [-1, 2, 20]], 4000),  # (-1*5*20)*(-1*2*20) = (-100)*(-40)
    ],
)
def test_legacy_numel_of_regular_shapes(shown, expected):
    assert legacy_numel(shown) == expected
    # the control: what numpy, which torchsummary calls, makes of it
    assert int(np.prod(np.array(shown))) == expected


@pytest.mark.parametrize(
    "shown, expected",
    [
        ([[-1, 5, 20], [-1, 2]], -102),  # lengths differ: -100 + -2
        ([[-1, 5, 20], [[-1, 2, 20], [-1, 2, 20]]], -180),  # -100 + -40 + -40
        ({"a": [-1, 10], "b": [-1, 3]}, -13),  # -10 + -3
        ([[-1, 3], None], -3),  # None adds nothing
        (None, 0),
        (Opaque("int"), 0),
    ],
)
def test_legacy_numel_where_numpy_makes_no_array(shown, expected):
    # numpy (and so torchsummary) fails here: each tensor counts as a row of its own
    assert legacy_numel(shown) == expected


# --- legacy figures end to end ------------------------------------------------------------


class Split(nn.Module):
    def forward(self, x):
        return x[:, :5], x[:, 5:]


class SplitThenLinear(nn.Module):
    """A row whose output is a tuple of equal-length shapes."""

    def __init__(self):
        super().__init__()
        self.split = Split()
        self.fc = nn.Linear(5, 6)

    def forward(self, x):
        a, b = self.split(x)
        return self.fc(a) + b


def test_legacy_figures_of_seed_case2():
    _, result = summary_string(SeedSharing(), (1, 64, 64), device="cpu", layout="pypi")
    # params: 9 on each of two rows = 18, all trainable
    assert (result.total_params, result.trainable_params, result.non_trainable_params) == (18, 18, 0)
    # input: 1*64*64 * 4 bytes = 16384 bytes
    assert result.input_size_mb == 16384 / MB
    # outputs: two rows of [-1, 1, 64, 64] = -4096 each, -8192 in all;
    # |2 * -8192 * 4| = 65536 bytes
    assert result.forward_backward_size_mb == 65536 / MB
    # parameters: 18 * 4 = 72 bytes
    assert result.params_size_mb == 72 / MB
    assert result.estimated_total_size_mb == (16384 + 65536 + 72) / MB


def test_legacy_forward_size_with_tuple_output():
    _, result = summary_string(SplitThenLinear(), (11,), device="cpu", layout="pypi")
    # Split-1 [[-1, 5], [-1, 6]] adds +30, Linear-2 [-1, 6] adds -6: 24;
    # 2 * 24 * 4 = 192 bytes
    assert [str(row.output_shape) for row in result.rows] == ["[[-1, 5], [-1, 6]]", "[-1, 6]"]
    assert result.forward_backward_size_mb == 192 / MB
    # Linear(5, 6): 5*6 + 6 = 36
    assert result.total_params == 36


class LastHidden(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)

    def forward(self, x):
        return self.lstm(x)[0]


def test_nested_output_row_where_torchsummary_crashes():
    _, result = summary_string(LastHidden(), (5, 8), device="cpu", layout="pypi")
    # LSTM returns (out (2, 5, 16), (h (1, 2, 16), c (1, 2, 16)))
    [row] = result.rows
    assert str(row.output_shape) == "[[-1, 5, 16], [[-1, 2, 16], [-1, 2, 16]]]"
    # -80 + -32 + -32 = -144; |2 * -144 * 4| = 1152 bytes
    assert result.forward_backward_size_mb == 1152 / MB


def test_nested_output_with_the_model_row_in_master_layout():
    _, result = summary_string(LastHidden(), (5, 8), device="cpu", layout="master")
    # as above, plus LastHidden-2 [-1, 5, 16] = -80: -224; 2 * 224 * 4 = 1792 bytes
    assert [row.name for row in result.rows] == ["LSTM-1", "LastHidden-2"]
    assert result.forward_backward_size_mb == 1792 / MB


# --- the table itself, against torchsummary 1.5.1 ----------------------------------------


def printed(function, *args, **kwargs):
    out = io.StringIO()
    with redirect_stdout(out):
        function(*args, **kwargs)
    return out.getvalue()


@pytest.mark.parametrize(
    "make, size",
    [(SeedSharing, (1, 64, 64)), (SeedUnused, (1, 64, 64)), (SplitThenLinear, (11,))],
)
def test_table_is_torchsummarys(make, size):
    torch.manual_seed(0)
    expected = printed(torchsummary.summary, make(), size, device="cpu")
    alone = printed(summary, make(), size, device="cpu", plus=False)
    with_block = printed(summary, make(), size, device="cpu")
    assert alone == expected
    assert with_block.startswith(expected)
    assert len(with_block) > len(expected)


def test_seed_case3_table_by_hand():
    text, _ = summary_string(SeedUnused(), (1, 64, 64), device="cpu", layout="pypi", plus=False)
    # conv2 is never called: two rows, both conv1's, 9 parameters each; sizes as in
    # test_legacy_figures_of_seed_case2: 0.015625 -> 0.02, 0.0625 -> 0.06, 72 B -> 0.00,
    # (16384 + 65536 + 72) / 2**20 = 0.0782 -> 0.08
    assert text.splitlines() == [
        "----------------------------------------------------------------",
        "        Layer (type)               Output Shape         Param #",
        "================================================================",
        "            Conv2d-1            [-1, 1, 64, 64]               9",
        "            Conv2d-2            [-1, 1, 64, 64]               9",
        "================================================================",
        "Total params: 18",
        "Trainable params: 18",
        "Non-trainable params: 0",
        "----------------------------------------------------------------",
        "Input size (MB): 0.02",
        "Forward/backward pass size (MB): 0.06",
        "Params size (MB): 0.00",
        "Estimated Total Size (MB): 0.08",
        "----------------------------------------------------------------",
    ]
