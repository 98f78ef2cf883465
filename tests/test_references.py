"""A summary keeps no reference to the model's tensors: afterwards nothing new holds a
parameter (which would also keep the next summary's gate closed, see _watch)."""
from __future__ import annotations

import contextlib
import gc
import io
import sys

import torch
import torch.nn as nn

from torchsummary_plus import summary
from torchsummary_plus._index import index_model
from torchsummary_plus._watch import can_wait


def _stack() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))


def _references(model: nn.Module) -> list[int]:
    gc.collect()
    return [sys.getrefcount(p) for p in model.parameters()]


def test_no_reference_to_a_parameter_outlives_the_summary():
    model = _stack()
    before = _references(model)
    for _ in range(3):  # autograd on: the pass builds a graph and saves tensors for backward
        with contextlib.redirect_stdout(io.StringIO()):
            summary(model, (8,), device="cpu")
    assert _references(model) == before


def test_the_gate_waits_on_every_summary_of_the_same_model():
    model = _stack()
    assert can_wait(index_model(model))
    with contextlib.redirect_stdout(io.StringIO()):
        summary(model, (8,), device="cpu")
    assert can_wait(index_model(model))
    held = list(model.parameters())  # a control: a reference of the caller's closes it
    assert not can_wait(index_model(model))
    del held


def test_autograd_still_works_through_a_model_summarized_before():
    model = _stack()
    with contextlib.redirect_stdout(io.StringIO()):
        summary(model, (8,), device="cpu")
    model(torch.ones(2, 8)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
