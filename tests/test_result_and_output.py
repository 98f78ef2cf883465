"""The returned pair behaves like the GitHub master's, and summary() streams its text."""
from __future__ import annotations

import sys

import torch
import torch.nn as nn

from torchsummary_plus import summary
from torchsummary_plus._demo import SharedConv


def test_the_pair_works_as_the_masters_tensors_and_its_repr_is_not_the_table(capsys):
    result = summary(SharedConv(), (1, 8, 8), device="cpu")
    capsys.readouterr()
    total, trainable = result  # conv1 (9 weights) on two rows: 18 and 18
    assert (total.item(), int(trainable)) == (18, 18)
    assert total == 18 and "{:,}".format(total) == "18"
    assert total.dtype == torch.int64 and total.dim() == 0
    # what a notebook shows for a cell ending with summary(...): the pair, not the table again
    assert repr(result) == "(tensor(18), tensor(18))"
    assert not any(hasattr(result, name) for name in ("_repr_html_", "_repr_pretty_", "_repr_markdown_"))


def test_every_attribute_is_declared_with_a_type_and_nothing_else_is_set(capsys):
    from torchsummary_plus import SummaryResult

    result = summary(SharedConv(), (1, 8, 8), device="cpu")
    capsys.readouterr()
    declared = list(SummaryResult.__annotations__)
    assert list(vars(result)) == declared  # set in the declared order, none set otherwise
    assert list(result.to_dict()) == declared  # the JSON: the same names, the same order
    # in a notebook the cell's value shows nothing: the table is already printed
    assert result._ipython_display_() is None
    assert capsys.readouterr().out == ""


def test_no_parameters_still_gives_two_tensors(capsys):
    # the master returns a plain 0 here; a tensor keeps .item() working
    result = summary(nn.Sequential(nn.ReLU()), (3,), device="cpu")
    capsys.readouterr()
    assert [t.item() for t in result] == [0, 0]


class _Writes:
    """Stands in for stdout and keeps the size of each write."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def write(self, text: str) -> int:
        self.sizes.append(len(text))
        return len(text)

    def flush(self) -> None:
        pass


def test_summary_writes_the_table_line_by_line(monkeypatch):
    # 3,000 rows: the text is written as it is made, never held as one string
    model = nn.Sequential(*[nn.ReLU() for _ in range(3000)])
    writes = _Writes()
    monkeypatch.setattr(sys, "stdout", writes)
    summary(model, (2,), device="cpu", plus=False)
    # 3 header lines + 3,000 rows + 10 lines of totals, one write each
    assert len(writes.sizes) == 3 + 3000 + 10
    assert max(writes.sizes) == 65  # the 64-character lines and their newline
