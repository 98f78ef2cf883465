"""Issue 5, item 3: any model gets a full table (no crash), with exact Output Shape cells
(rules: torchsummary_plus/_shapes.py docstring) and parameter counts worked out by hand.
Where torchsummary 1.5.1 does not crash, the table is compared with it byte for byte."""
from __future__ import annotations

import collections
import dataclasses
import warnings

import pytest
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

from helpers_model_state import ModelState, assert_same, table_rows, torchsummary_text
from paths import ON_REFERENCE_PATH
from torchsummary_plus import summary_string


def plus_text(model, input_size, **kwargs):
    """The pypi table plus the corrected block; the model must be left as it was."""
    torch.manual_seed(0)
    before = ModelState.of(model)
    text, result = summary_string(model, input_size, device="cpu", layout="pypi", **kwargs)
    assert_same(before, ModelState.of(model))
    return text, result


def rows_of(text):
    return {name: (shape, params) for name, shape, params in table_rows(text)}


def corrected(text, label):
    """The values on one line of the corrected block, e.g. corrected(t, "Parameters")."""
    block = text[text.index("Corrected by torchsummary_plus"):]
    for line in block.splitlines():
        if line.startswith(label + " ") and line[len(label):len(label) + 2].strip() == "":
            return line[len(label):].split()
    raise AssertionError(f"no line {label!r} in the corrected block")


def footnotes(text):
    return [line for line in text.splitlines() if line.startswith("[")]


def same_as_torchsummary(model, input_size, **kwargs):
    expected = torchsummary_text(model, input_size, **kwargs)
    text, result = plus_text(model, input_size, plus=False, **kwargs)
    assert text == expected
    return text, result


# --- every output structure -----------------------------------------------------------------

Pair = collections.namedtuple("Pair", "a b")


@dataclasses.dataclass
class Record:
    x: torch.Tensor
    n: int


class Emits(nn.Module):
    """Returns its input (shape [2, 4]) wrapped in the structure named by `kind`."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def forward(self, x):
        k = self.kind
        if k == "tensor":
            return x
        if k == "tuple":
            return (x, x[:, :2])
        if k == "list":
            return [x, x.sum(1)]
        if k == "namedtuple":
            return Pair(x, x.unsqueeze(1))
        if k == "dict":
            return {"a": x, "b": [x, None]}
        if k == "ordereddict":
            return collections.OrderedDict(z=x, y=3)
        if k == "dataclass":
            return Record(x, 4)
        if k == "nested":
            return ((x, [x[:, :1], {"q": x}]), None)
        if k == "none":
            return None
        if k == "int":
            return 7
        if k == "float":
            return 1.5
        if k == "str":
            return "hello"
        if k == "packed":  # data [6, 1] (lengths 4 + 2), batch_sizes [2, 2, 1, 1]
            return pack_padded_sequence(x.view(2, 4, 1), torch.tensor([4, 2]), batch_first=True)
        raise AssertionError(k)


class Wraps(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)  # 4*4 + 4 = 20 parameters
        self.emit = Emits(kind)

    def forward(self, x):
        self.emit(self.fc(x))
        return x


# Tensors directly returned show the batch size; inside containers the first dim is -1.
OUTPUT_CELLS = {
    "tensor": "[-1, 4]",
    "tuple": "[[-1, 4], [-1, 2]]",
    "list": "[[-1, 4], [-1]]",  # x.sum(1) has shape [2]: -1 and nothing after it
    "namedtuple": "[[-1, 4], [-1, 1, 4]]",
    "dict": "{'a': [-1, 4], 'b': [[-1, 4], None]}",
    "ordereddict": "{'z': [-1, 4], 'y': int}",
    "dataclass": "{'x': [-1, 4], 'n': int}",
    "nested": "[[[-1, 4], [[-1, 1], {'q': [-1, 4]}]], None]",
    "none": "None",
    "int": "int",
    "float": "float",
    "str": "str",
    # PackedSequence is a namedtuple (data, batch_sizes, sorted_indices, unsorted_indices)
    "packed": "[[-1, 1], [-1], None, None]",
}


@pytest.mark.parametrize("kind", sorted(OUTPUT_CELLS))
def test_output_structures(kind):
    text, result = plus_text(Wraps(kind), (4,))
    rows = rows_of(text)
    assert list(rows) == ["Linear-1", "Emits-2"]
    assert rows["Emits-2"] == (OUTPUT_CELLS[kind], "0")
    assert rows["Linear-1"] == ("[-1, 4]", "20")
    assert "Total params: 20" in text
    assert corrected(text, "Parameters") == ["20", "20"]
    assert result.unique_params == result.used_params == 20


# torchsummary 1.5.1 takes np.prod of the cell: it crashes unless all shapes have one rank
@pytest.mark.parametrize("kind", ["tensor", "tuple"])
def test_structures_torchsummary_handles_are_byte_for_byte(kind):
    text, _ = same_as_torchsummary(Wraps(kind), (4,))
    assert rows_of(text)["Emits-2"][0] == OUTPUT_CELLS[kind]


def test_tensor_returned_directly_shows_the_batch_size():
    text, _ = same_as_torchsummary(Wraps("tuple"), (4,), batch_size=7)
    rows = rows_of(text)
    assert rows["Linear-1"][0] == "[7, 4]"
    assert rows["Emits-2"][0] == "[[-1, 4], [-1, 2]]"  # torchsummary's -1 inside tuples


# --- how modules are called -----------------------------------------------------------------


class KeywordOnly(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, *, x):
        return self.fc(x)


class Positions(nn.Module):
    """Called with no argument at all: returns its own (1, 5, 4) table."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(1, 5, 4))

    def forward(self):
        return self.table


class Steps(nn.Module):
    """Called with an int, no tensor."""

    def forward(self, n):
        return torch.arange(n)


class Calls(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.kw = KeywordOnly()
        self.pos = Positions()
        self.steps = Steps()

    def forward(self, x):
        return self.kw(x=x) + self.pos() + self.steps(4)


def test_keyword_only_and_tensorless_calls():
    text, result = plus_text(Calls(), (5, 4), batch_size=3)
    assert table_rows(text) == [
        ("Linear-1", "[3, 5, 4]", "20"),
        ("KeywordOnly-2", "[3, 5, 4]", "0"),
        ("Positions-3", "[3, 5, 4]", "0"),  # the (1, 5, 4) table, first dim shown as 3
        ("Steps-4", "[3]", "0"),  # arange(4): shape [4], first dim shown as 3
    ]
    # fc: 4*4 + 4 = 20; the table: 1*5*4 = 20 (not named weight: absent from the naive total)
    assert "Total params: 20" in text
    assert result.unique_params == 40 and result.used_params == 40


def test_keyword_only_call_crashes_torchsummary():
    """Why the test above cannot compare with torchsummary: its hook reads input[0]."""
    with pytest.raises(IndexError):
        torchsummary_text(Calls(), (5, 4))


class Reuse(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(4, 4)  # 20 parameters, called three times
        self.unused = nn.Linear(4, 7)  # 4*7 + 7 = 35 parameters, never called

    def forward(self, x):
        return self.used(self.used(self.used(x)))


def test_module_called_many_times_and_one_called_never():
    text, result = same_as_torchsummary(Reuse(), (4,))
    assert table_rows(text) == [("Linear-1", "[-1, 4]", "20")] + [
        (f"Linear-{i}", "[-1, 4]", "20") for i in (2, 3)
    ]
    assert "Total params: 60" in text  # torchsummary counts the 20 three times
    text, result = plus_text(Reuse(), (4,))
    assert corrected(text, "Parameters") == ["55", "20"]  # 20 + 35 once; 20 used
    assert corrected(text, "Unused parameters") == ["35"]
    # one note for the module's later calls: 2 rows of 20, each counted again
    assert footnotes(text) == [
        "[1] used ran 3 times: the 2 rows of its later calls (Linear-2, Linear-3) repeat those of its first",
        "[2] Never used in this pass: unused (35)",
    ]
    assert "\n    (Linear-1); 40 counted again above\n" in text


class FailingWeight(nn.Module):
    """A `weight` property that raises: torchsummary's hook would crash reading it."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(4))

    @property
    def weight(self) -> torch.Tensor:
        raise RuntimeError("this weight cannot be read")

    def forward(self, x):
        return x * self.scale


class HoldsFailingWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.odd = FailingWeight()

    def forward(self, x):
        return self.odd(self.fc(x))


def test_a_weight_that_cannot_be_read_counts_nothing_and_the_summary_goes_on():
    text, result = plus_text(HoldsFailingWeight(), (4,))
    # fc: 4*4 + 4 = 20; odd has no weight to read and no bias: 0 (its `scale` is no weight)
    assert table_rows(text) == [("Linear-1", "[-1, 4]", "20"), ("FailingWeight-2", "[-1, 4]", "0")]
    assert "Total params: 20" in text
    # counted once: 20 + 4 (scale); both used (fc ran; scale takes part in x * scale)
    assert corrected(text, "Parameters") == ["24", "24"]
    assert result.used_params == 24


class AliasedWeight(nn.Module):
    """A `weight` given by a `__getattr__` of its own, from a parameter named otherwise:
    torchsummary's hook reads it through `hasattr`/`getattr` and counts it."""

    def __init__(self) -> None:
        super().__init__()
        self.kernel = nn.Parameter(torch.ones(4, 4))

    def __getattr__(self, name):
        if name == "weight":
            return self.kernel
        return super().__getattr__(name)

    def forward(self, x):
        return x @ self.kernel


class HoldsAliasedWeight(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.alias = AliasedWeight()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return self.fc(self.alias(x))


def test_a_weight_from_a_getattr_of_its_own_is_counted_as_torchsummary_does():
    text, result = same_as_torchsummary(HoldsAliasedWeight(), (4,))
    # alias: its `weight` is the 4x4 kernel, 16; fc: 4*2 + 2 = 10
    assert table_rows(text) == [("AliasedWeight-1", "[-1, 4]", "16"), ("Linear-2", "[-1, 2]", "10")]
    assert "Total params: 26" in text


class Wrap(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x) + 1


def nested(depth):
    """``depth`` levels of ``Wrap`` around a Linear(4, 4)."""
    model = nn.Linear(4, 4)
    for _ in range(depth):
        model = Wrap(model)
    return model


def deepest_own_forward():
    """The deepest nesting (in steps of 10) whose own forward pass runs here, under this
    interpreter's recursion limit: found by trying."""
    depth = 10
    while True:
        try:
            nested(depth + 10)(torch.zeros(2, 4))
        except RecursionError:
            return depth
        depth += 10


@pytest.mark.skipif(
    ON_REFERENCE_PATH,
    reason="the reference path observes through hooks, as torchsummary does: torch's hooked "
    "call is a frame deeper per level, so it runs out of recursion sooner, as torchsummary does",
)
def test_a_model_nearly_as_deep_as_its_own_forward_allows_is_summarized():
    # A few levels of margin for the summary's own frames around the pass and at its
    # deepest point (reading a row); each level of the model must cost no more frames than
    # under torch's own call, or a model this deep would fail.
    depth = deepest_own_forward() - 5
    with pytest.raises(RecursionError):  # torchsummary's hooks cost a frame more per level
        torchsummary_text(nested(depth), (4,))
    text, result = plus_text(nested(depth), (4,))
    # pypi: every Wrap but the model itself, and the Linear, one row each; 4*4 + 4 = 20
    assert len(result.rows) == depth
    assert result.total_params == 20
    assert result.used_params == 20


def test_inplace_activation():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(inplace=True), nn.Linear(6, 2), nn.ReLU(inplace=True))
    text, _ = same_as_torchsummary(model, (4,))
    # 4*6 + 6 = 30 and 6*2 + 2 = 14
    assert table_rows(text) == [
        ("Linear-1", "[-1, 6]", "30"),
        ("ReLU-2", "[-1, 6]", "0"),
        ("Linear-3", "[-1, 2]", "14"),
        ("ReLU-4", "[-1, 2]", "0"),
    ]
    text, result = plus_text(model, (4,))
    assert result.used_params == 44


# --- TorchScript and DataParallel ------------------------------------------------------------


class WithScripted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Linear(4, 6)  # 30
        self.enc = torch.jit.script(nn.Sequential(nn.Linear(6, 6), nn.ReLU()))  # 36 + 6 = 42
        self.post = nn.Linear(6, 2)  # 14

    def forward(self, x):
        return self.post(self.enc(self.pre(x)))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_scripted_submodule_gets_no_row_and_a_footnote():
    text, result = plus_text(WithScripted(), (4,))
    assert table_rows(text) == [("Linear-1", "[-1, 6]", "30"), ("Linear-2", "[-1, 2]", "14")]
    assert "Total params: 44" in text
    assert corrected(text, "Parameters") == ["86", "86"]  # 30 + 42 + 14
    assert footnotes(text) == ["[1] TorchScript, so no rows and counted as used: enc (42)"]
    assert result.untraced_modules == ["enc"]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")
def test_scripted_model_itself():
    model = torch.jit.script(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))  # 4*3 + 3 = 15
    text, _ = plus_text(model, (4,))
    assert table_rows(text) == []
    assert "Total params: 0" in text
    assert corrected(text, "Parameters") == ["15", "15"]
    assert footnotes(text) == ["[1] TorchScript, so no rows and counted as used: (model) (15)"]


def test_data_parallel_on_cpu():
    model = nn.DataParallel(nn.Sequential(nn.Linear(4, 3), nn.ReLU(inplace=True)))
    text, _ = same_as_torchsummary(model, (4,))
    assert table_rows(text) == [("Linear-1", "[-1, 3]", "15"), ("ReLU-2", "[-1, 3]", "0")]
    text, result = plus_text(model, (4,))
    assert result.unique_params == result.used_params == 15


# --- recurrent and attention layers --------------------------------------------------------


class LastStep(nn.Module):
    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = rnn
        self.fc = nn.Linear(5, 3)  # 5*3 + 3 = 18

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def test_lstm():
    text, result = plus_text(LastStep(nn.LSTM(4, 5, batch_first=True)), (7, 4))
    rows = rows_of(text)
    # output (out [2, 7, 5], (h [1, 2, 5], c [1, 2, 5])); LSTM has no `weight`: 0 in the table
    assert rows["LSTM-1"] == ("[[-1, 7, 5], [[-1, 2, 5], [-1, 2, 5]]]", "0")
    assert rows["Linear-2"] == ("[-1, 3]", "18")
    # LSTM: 4 gates * 5 * (4 + 5) weights + 2 * 4 * 5 biases = 180 + 40 = 220; + 18
    assert corrected(text, "Parameters") == ["238", "238"]
    assert result.unique_params == 238


def test_gru():
    text, result = plus_text(LastStep(nn.GRU(4, 5, batch_first=True)), (7, 4))
    assert rows_of(text)["GRU-1"] == ("[[-1, 7, 5], [-1, 2, 5]]", "0")
    # GRU: 3 gates * 5 * (4 + 5) + 2 * 3 * 5 = 135 + 30 = 165; + 18
    assert corrected(text, "Parameters") == ["183", "183"]


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x)


def test_multihead_attention():
    text, result = plus_text(SelfAttention(), (5, 8))
    # (output [2, 5, 8], weights averaged over heads [2, 5, 5]); out_proj is never called
    assert table_rows(text) == [("MultiheadAttention-1", "[[-1, 5, 8], [-1, 5, 5]]", "0")]
    # in_proj 3*8*8 + 3*8 = 216, out_proj 8*8 + 8 = 72: all used (out_proj read directly)
    assert corrected(text, "Parameters") == ["288", "288"]
    assert corrected(text, "Unused parameters") == ["0"]


def test_transformer_encoder():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor note
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True)
        model = nn.TransformerEncoder(layer, num_layers=2)
    text, result = plus_text(model, (5, 16))
    rows = table_rows(text)
    per_layer = [
        ("MultiheadAttention", "[[-1, 5, 16], None]", "0"),  # need_weights=False: None
        ("Dropout", "[-1, 5, 16]", "0"),
        ("LayerNorm", "[-1, 5, 16]", "32"),  # 16 + 16
        ("Linear", "[-1, 5, 32]", "544"),  # 16*32 + 32
        ("Dropout", "[-1, 5, 32]", "0"),
        ("Linear", "[-1, 5, 16]", "528"),  # 32*16 + 16
        ("Dropout", "[-1, 5, 16]", "0"),
        ("LayerNorm", "[-1, 5, 16]", "32"),
        ("TransformerEncoderLayer", "[-1, 5, 16]", "0"),
    ]
    expected = [
        (f"{name}-{i}", shape, params)
        for i, (name, shape, params) in enumerate(per_layer * 2, start=1)
    ]
    assert rows == expected
    # per layer: attention 3*16*16 + 48 + 16*16 + 16 = 1088, 544 + 528, norms 64: 2224
    assert corrected(text, "Parameters") == ["4,448", "4,448"]
    assert "Total params: 2,272" in text  # (32 + 544 + 528 + 32) * 2


# --- lazy modules ------------------------------------------------------------------------


def test_lazy_module_is_refused_clearly_and_left_uninitialised(capsys):
    # A forward pass would initialise the lazy parameters (and change the module's class),
    # which a summary must not do: it refuses before running anything.
    model = nn.Sequential(nn.LazyLinear(4))
    with pytest.raises(ValueError, match=r"uninitialised lazy parameters \(0\.weight, 0\.bias\)"):
        plus_text(model, (3,))
    assert capsys.readouterr().out == ""
    assert type(model[0]) is nn.LazyLinear
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)
