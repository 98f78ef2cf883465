"""Issue 12, case 8: odd outputs and arguments.

Outputs: a list nested 2,000 deep and a list containing itself are described without a
RecursionError, in a readable cell that ends the description with ``...``; nested tensors
(strided and jagged) do not crash the summary. Arguments: dtypes the pass cannot make and a
size that cannot be allocated are a ValueError before anything prints or runs. A forward
raising an exception whose ``str()`` raises still gives a SummaryError, chained to it.
"""
from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
import torch.nn as nn

from torchsummary_plus import SummaryError, summary, summary_string
from trust_models import DeepState, assert_whole

DEPTH = 2000  # beyond Python's default recursion limit of 1000


class Nests(nn.Module):
    def forward(self, x: torch.Tensor) -> list:
        out: Any = x
        for _ in range(DEPTH):
            out = [out]
        return out


class ContainsItself(nn.Module):
    def forward(self, x: torch.Tensor) -> list:
        out: list = [x]
        out.append(out)
        return out


class NestedTensor(nn.Module):
    def __init__(self, layout: torch.layout) -> None:
        super().__init__()
        self.layout = layout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nested.nested_tensor([x[0, :2], x[1, :3]], layout=self.layout)


class Outer(nn.Module):
    """Calls ``inner`` (whose row shows the odd output), then returns a plain tensor."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inner(x)
        return self.fc(x)


def _inner_cell(model: nn.Module, layout: str) -> str:
    torch.manual_seed(0)
    before = DeepState.of(model)
    text, result = summary_string(model, (4,), device="cpu", layout=layout)
    assert_whole(before, model)
    [cell] = [str(row.output_shape) for row in result.rows if row.module == "inner"]
    return cell


@pytest.mark.parametrize("layout", ["pypi", "master"])
def test_deeply_nested_list_output_gets_a_short_cell(layout):
    cell = _inner_cell(Outer(Nests()), layout)
    assert cell.startswith("[")
    assert "..." in cell
    assert len(cell) < 1000


@pytest.mark.parametrize("layout", ["pypi", "master"])
def test_list_containing_itself_gets_a_readable_cell(layout):
    cell = _inner_cell(Outer(ContainsItself()), layout)
    assert cell.startswith("[[-1, 4], ")  # the tensor, as torchsummary shows one in a list
    assert "..." in cell
    assert len(cell) < 1000


@pytest.mark.parametrize("layout", [torch.strided, torch.jagged], ids=["strided", "jagged"])
def test_nested_tensor_output_does_not_crash(layout):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*nested tensors is in prototype stage")
        cell = _inner_cell(Outer(NestedTensor(layout)), "pypi")
    assert cell  # some description, whatever it is


class CountsCalls(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.fc(x.float())


def _refused(capsys: pytest.CaptureFixture, **call: Any) -> ValueError:
    """The call raises ValueError having printed nothing and never run or changed the model."""
    model = CountsCalls()
    before = DeepState.of(model)
    with pytest.raises(ValueError) as raised:
        summary(model, device="cpu", **call)
    assert capsys.readouterr().out == ""
    assert model.calls == 0
    assert_whole(before, model)
    return raised.value


@pytest.mark.parametrize("dtype", [torch.quint8, torch.qint32, torch.bits8], ids=str)
def test_dtype_the_pass_cannot_make_is_a_value_error_first(dtype, capsys):
    error = _refused(capsys, input_size=(4,), dtypes=[dtype])
    assert str(dtype).removeprefix("torch.") in str(error)  # names what was wrong


def test_input_too_large_to_allocate_is_a_value_error_first(capsys):
    _refused(capsys, input_size=(2**62,))


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str() of this error fails")


class RaisesUnprintable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc(x)
        raise Unprintable()


def test_error_whose_str_raises_still_becomes_summary_error(capsys):
    model = RaisesUnprintable()
    before = DeepState.of(model)
    with pytest.raises(SummaryError) as raised:
        summary(model, (4,), device="cpu")
    assert isinstance(raised.value.__cause__, Unprintable)
    assert "Unprintable" in str(raised.value)  # its own message can be shown
    assert_whole(before, model)
