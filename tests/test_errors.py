"""Issue 5, item 2: a bad call fails at once with a clear TypeError/ValueError, printing
nothing and running nothing; a failing forward pass raises SummaryError saying where."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from helpers_model_state import ModelState, assert_same
from torchsummary_plus import SummaryError, summary, summary_string


class CountingNet(nn.Module):
    """A model that counts its forward calls, to show a bad call never ran it. (The count is
    kept in a list: a summary puts a module's own attributes back, not what a forward puts
    into a container the module holds.)"""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.forward_calls: list[int] = []

    @property
    def calls(self) -> int:
        return len(self.forward_calls)

    def forward(self, x, *rest):
        self.forward_calls.append(1)
        return self.fc(x)


def check_rejected(capsys, error, words, **overrides):
    """Call both functions with one bad argument; each must raise `error` mentioning every
    item of `words`, before printing anything or running the model."""
    for function in (summary, summary_string):
        model = CountingNet()
        arguments = dict(model=model, input_size=(3,), device="cpu")
        arguments.update(overrides)
        with pytest.raises(error) as caught:
            function(**arguments)
        message = str(caught.value)
        for word in words:
            assert word in message, (word, message)
        assert model.calls == 0
        captured = capsys.readouterr()
        assert captured.out == ""


@pytest.mark.parametrize("bad", [5, "resnet", nn.Linear, [nn.Linear(3, 2)], None])
def test_model_that_is_not_a_module(bad, capsys):
    check_rejected(capsys, TypeError, ["model must be a torch.nn.Module", type(bad).__name__], model=bad)


EXPECTED_SHAPE = "expected a tuple of positive ints"


@pytest.mark.parametrize(
    "bad",
    [0, -3, 2.5, "3,224", [(3, 0)], True, (3, -1), (3, 2.0), (True, 3), [(3,), "x"],
     [(3,), (0, 2)]],
)
def test_bad_input_size(bad, capsys):
    check_rejected(capsys, ValueError, [f"input_size={bad!r}", EXPECTED_SHAPE], input_size=bad)


@pytest.mark.parametrize("bad", [[], (), ((3,), [])])
def test_empty_input_size_is_rejected(bad, capsys):
    check_rejected(capsys, ValueError, [f"input_size={bad!r}", EXPECTED_SHAPE], input_size=bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "4", True, None, -1.0])
def test_bad_batch_size(bad, capsys):
    check_rejected(
        capsys, ValueError, [f"batch_size={bad!r}", "expected -1", "or a positive int"],
        batch_size=bad,
    )


def test_dtypes_of_the_wrong_length(capsys):
    check_rejected(
        capsys, ValueError, ["dtypes has 2 entries", "describes 1 input", "one dtype per input"],
        dtypes=[torch.FloatTensor, torch.FloatTensor],
    )
    check_rejected(
        capsys, ValueError, ["dtypes has 1 entries", "describes 2 inputs"],
        input_size=[(3,), (4,)], dtypes=[torch.float32],
    )


@pytest.mark.parametrize("bad", ["float32", 3, None, nn.Linear, torch.ones(1)])
def test_dtypes_holding_something_that_is_not_a_type(bad, capsys):
    check_rejected(
        capsys, TypeError,
        ["dtypes[1]=", "is not a tensor type or torch.dtype", "torch.LongTensor"],
        input_size=[(3,), (4,)], dtypes=[torch.float32, bad],
    )


def test_dtypes_that_is_not_a_list(capsys):
    check_rejected(capsys, TypeError, ["dtypes=torch.float32", "expected a list"], dtypes=torch.float32)


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "", "cpu:0:1"])
def test_unknown_device_string(bad, capsys):
    check_rejected(capsys, ValueError, [f"device={bad!r}", "expected 'cpu', 'cuda'"], device=bad)


@pytest.mark.parametrize("bad", [0, None, 1.5])
def test_device_of_the_wrong_type(bad, capsys):
    check_rejected(capsys, TypeError, [f"device={bad!r}", "expected a str or a torch.device"], device=bad)


@pytest.mark.parametrize("bad", ["github", "PYPI", None])
def test_unknown_layout(bad, capsys):
    check_rejected(capsys, ValueError, [f"layout={bad!r}", "'pypi', 'master'"], layout=bad)


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_plus_must_be_a_bool(bad, capsys):
    check_rejected(capsys, TypeError, [f"plus={bad!r}", "expected True or False"], plus=bad)


def test_compare_must_be_a_bool(capsys):
    model = CountingNet()
    with pytest.raises(TypeError, match=r"compare='yes' is not valid: expected True or False"):
        summary(model, (3,), device="cpu", compare="yes")
    assert model.calls == 0 and capsys.readouterr().out == ""


def test_valid_spellings_are_accepted(capsys):
    """The checks reject only what is wrong: these all run (numpy ints, a list shape,
    legacy tensor types, an upper-case device name)."""
    model = CountingNet()
    summary(model, [3], batch_size=torch.tensor(4).item(), device=" CPU ")
    summary(model, (torch.tensor(3).item(),), dtypes=[torch.FloatTensor], device="cpu")
    import numpy as np
    summary(model, (np.int64(3),), batch_size=np.int32(2), device=torch.device("cpu"))
    summary(model, [(3,), (1,)], dtypes=[torch.float32, torch.LongTensor], device="cpu")
    assert model.calls == 4


# --- the model's own forward raises ------------------------------------------------------


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(10, 2))  # wrong: 4*4*4 = 64 inputs

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("function", [summary, summary_string])
def test_failing_forward_names_module_row_and_shapes(function, capsys):
    model = Net()
    before = ModelState.of(model)
    with pytest.raises(SummaryError) as caught:
        function(model, (3, 6, 6), device="cpu")
    message = str(caught.value)
    # rows before it: Conv2d-1, BatchNorm2d-2, ReLU-3, Flatten-4; so the Linear is row 5.
    # Its input is the flattened batch of 2: 4 channels * 4 * 4 = 64 features.
    assert "in module head.1 (Linear, would be row Linear-5)" in message
    assert "called with inputs [[2, 64]]" in message
    assert "mat1 and mat2 shapes cannot be multiplied (2x64 and 10x2)" in message
    original = caught.value.__cause__
    assert type(original) is RuntimeError
    assert "mat1 and mat2" in str(original)
    assert capsys.readouterr().out == ""
    assert_same(before, ModelState.of(model))


class RaisesInOwnForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x, y):
        z = self.fc(x)
        if y.shape[-1] != 5:
            raise TypeError("y must have 5 features")
        return z


def test_error_in_the_models_own_code_after_a_child_ran(capsys):
    model = RaisesInOwnForward()
    with pytest.raises(SummaryError) as caught:
        summary(model, [(3,), (4,)], device="cpu")
    message = str(caught.value)
    # the innermost module running is the model itself; fc already gave row Linear-1
    assert "in module the model itself (RaisesInOwnForward, would be row RaisesInOwnForward-2)" in message
    assert "called with inputs [[2, 3], [2, 4]]" in message
    assert message.endswith("TypeError: y must have 5 features")
    assert isinstance(caught.value.__cause__, TypeError)
    # a forward error is not confused with an argument error
    assert not isinstance(caught.value, (TypeError, ValueError))
    assert capsys.readouterr().out == ""


class Inner(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(4, 4)

    def forward(self, x, scale):
        return self.gate(x) * scale.view(3)  # 2*4 elements cannot be viewed as 3


class Outer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(4, 4), Inner()])

    def forward(self, x):
        x = self.blocks[0](x)
        return self.blocks[1](x, scale=x)


def test_failing_nested_custom_module_called_with_keywords(capsys):
    model = Outer()
    with pytest.raises(SummaryError) as caught:
        summary(model, (4,), device="cpu")
    message = str(caught.value)
    # rows before: blocks.0 -> Linear-1, blocks.1.gate -> Linear-2; Inner would be row 3
    assert "in module blocks.1 (Inner, would be row Inner-3)" in message
    # the positional inputs are listed; `scale` came as a keyword
    assert "called with inputs [[2, 4]]" in message
    # 2 samples * 4 features = 8 elements cannot be viewed as [3]
    assert message.endswith("RuntimeError: shape '[3]' is invalid for input of size 8")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert capsys.readouterr().out == ""
