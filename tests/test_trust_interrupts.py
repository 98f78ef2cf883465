"""Issue 12, case 4: a Ctrl-C at any moment of a summary leaves the model whole.

A real Ctrl-C is simulated with ``signal.raise_signal(SIGINT)`` from a trace function at
the k-th Python call made inside the torchsummary_plus package (the default SIGINT handler
raises KeyboardInterrupt there, as a key press would). For every k the summary must raise
KeyboardInterrupt (never swallow it) and leave behind the model exactly as it was, the
function-mode stack, the garbage collector and the random state as before.

And if writing the table raises (a closed pipe, Ctrl-C during a long print), the
collector is on again and the model whole, even while the traceback is kept alive.
"""
from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import sys
from types import FrameType
from typing import Any, Iterator

import pytest
import torch
import torch.nn as nn

import torchsummary_plus
from torchsummary_plus import summary
from trust_models import DeepState, collector_restored, deep_differences, set_grads

PACKAGE_DIR = os.path.dirname(os.path.abspath(torchsummary_plus.__file__)) + os.sep
MOST_RUNS = 400  # keeps the sweep near 10 s; beyond it, a dense sample of k


class Counts(nn.Module):
    """Custom code (watched), a buffer written in place, a child."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.fc(x) * 2


def make_model() -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), Counts())
    set_grads(model)
    return model


class InterruptAt:
    """A trace function raising SIGINT at the k-th call into the package (k=0: count only)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.calls = 0

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGE_DIR):
            self.calls += 1
            if self.calls == self.k:
                signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def traced(tracer: InterruptAt) -> Iterator[None]:
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """Python's own SIGINT handler (KeyboardInterrupt), whatever the runner installed."""
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_summary(model: nn.Module) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        summary(model, (3,), device="cpu")


def steps_to_try(n: int) -> list[int]:
    if n <= MOST_RUNS:
        return list(range(1, n + 1))
    edge = MOST_RUNS // 4  # every step near the start (setup) and the end (cleanup)
    middle = range(edge + 1, n - edge + 1, max(1, (n - 2 * edge) // (MOST_RUNS - 2 * edge)))
    return sorted(set(range(1, edge + 1)) | set(middle) | set(range(n - edge + 1, n + 1)))


def test_ctrl_c_at_every_step_raises_and_leaves_the_model_whole(default_sigint):
    run_summary(make_model())  # first-time work (class traits, probes) is not counted
    counter = InterruptAt(0)
    model = make_model()
    with traced(counter):
        run_summary(model)
    total = counter.calls
    assert total > 10, "the trace function sees the package's calls"
    problems: list[str] = []
    for k in steps_to_try(total):
        model = make_model()
        torch.manual_seed(1)
        before = DeepState.of(model)
        handler = signal.getsignal(signal.SIGINT)
        with collector_restored():
            try:
                with traced(InterruptAt(k)):
                    run_summary(model)
            except KeyboardInterrupt:
                changed = deep_differences(before, DeepState.of(model))
            except BaseException as error:  # noqa: BLE001 - reported below
                changed = [f"raised {type(error).__name__} instead of KeyboardInterrupt"]
            else:
                changed = ["the KeyboardInterrupt was swallowed"]
        if signal.getsignal(signal.SIGINT) is not handler:
            changed.append("the SIGINT handler was left replaced")
            signal.signal(signal.SIGINT, handler)
        if changed:
            problems.append(f"call {k} of {total}: " + "; ".join(changed))
    assert not problems, f"{len(problems)} failing steps, first ones:\n" + "\n".join(problems[:8])


class FailingStdout(io.StringIO):
    """A stdout whose write raises ``error`` once the 5th line is reached."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
        self.lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        if self.lines >= 5:
            raise self.error
        return super().write(text)


@pytest.mark.parametrize("error", [BrokenPipeError(32, "Broken pipe"), KeyboardInterrupt()])
def test_writing_the_table_raises_collector_back_on_and_model_whole(error):
    model = make_model()
    before = DeepState.of(model)
    assert before.gc_enabled
    with collector_restored():
        with pytest.raises(type(error)) as raised:
            with contextlib.redirect_stdout(FailingStdout(error)):
                summary(model, (3,), device="cpu")
        # `raised` keeps the traceback (and its frames) alive, as a REPL does
        assert raised.value is error
        assert gc.isenabled(), "the garbage collector was left disabled"
        assert deep_differences(before, DeepState.of(model)) == []
