"""Real transformers architectures, built from small configs (transformers_models.py).

For each model, one summary run on it (module-scoped) is checked three ways:
- the table: byte for byte what the live torchsummary 1.5.1 prints, where it runs; where it
  crashes (the test asserts it still does), each row's name and Param # against forward
  hooks of this file's own, placed and read the way torchsummary's are;
- the figures: counted once against a count over ``named_parameters``, used against the
  independent oracle of tests/oracle.py on a twin of the model, fed the same inputs;
- the model: untouched (tests/helpers_model_state.py's record, and every parameter and
  buffer the same object with the same bits).
"""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never reach a hub

import contextlib  # noqa: E402
import copy  # noqa: E402
import io  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import torchsummary_plus  # noqa: E402
from tests.helpers_model_state import (  # noqa: E402
    ModelState,
    assert_same,
    table_rows,
    tensor_bytes,
    torchsummary_text,
)
from tests.oracle import oracle_usage, summary_inputs  # noqa: E402

from ._helpers import fresh_model  # noqa: E402
from .transformers_models import CASES, Case  # noqa: E402

SEED = 0  # the global RNG is seeded with it before the summary and each reference run


def input_shapes(case: Case) -> list[tuple[int, ...]]:
    return case.input_size if isinstance(case.input_size, list) else [case.input_size]


def tensors_of(model: nn.Module) -> dict[str, tuple[torch.Tensor, bytes]]:
    """Every parameter and buffer under each of its names (non-persistent buffers too, which
    state_dict leaves out), with its bits."""
    found = dict(model.named_parameters(remove_duplicate=False))
    found.update(model.named_buffers(remove_duplicate=False))
    return {name: (tensor, tensor_bytes(tensor)) for name, tensor in found.items()}


@dataclass
class Run:
    """One summary of a freshly built model, with what is needed to judge it."""

    case: Case
    model: nn.Module
    twin: nn.Module  # a deep copy taken before the summary, for the reference runs
    state_before: ModelState
    state_after: ModelState  # recorded right after the summary, before any test runs
    tensors_before: dict[str, tuple[torch.Tensor, bytes]]
    tensors_after: dict[str, tuple[torch.Tensor, bytes]]
    text: str
    result: Any
    error: BaseException | None  # what the summary raised, if it did

    def summarized(self) -> None:
        if self.error is not None:
            raise self.error


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def run(request: pytest.FixtureRequest) -> Run:
    case = request.param
    model = fresh_model(case.make)
    twin = copy.deepcopy(model)
    torch.manual_seed(SEED)  # the random state is part of the record, so seeded first
    state_before, tensors_before = ModelState.of(model), tensors_of(model)
    out, result, error = io.StringIO(), None, None
    try:
        with contextlib.redirect_stdout(out):
            result = torchsummary_plus.summary(model, case.input_size, device="cpu")
    except Exception as raised:  # judged by each test below
        error = raised
    state_after, tensors_after = ModelState.of(model), tensors_of(model)
    return Run(
        case, model, twin, state_before, state_after, tensors_before, tensors_after,
        out.getvalue(), result, error,
    )


def legacy_table(text: str) -> str:
    """What the summary printed down to and including torchsummary's last rule line."""
    lines = text.splitlines(keepends=True)
    last = next(i for i, line in enumerate(lines) if line.startswith("Estimated Total Size (MB):"))
    assert lines[last + 1] == "-" * 64 + "\n"
    return "".join(lines[: last + 2])


def _counted(module: nn.Module, name: str, reads: int) -> int:
    """torchsummary's count for ``module.<name>``: its numel where it has a ``size``.

    The attribute is read ``reads`` times, as torchsummary's hook reads it (``weight``: two
    ``hasattr``, ``size()`` and ``requires_grad``; ``bias``: the same but the flag), because
    each read of a parametrized tensor runs its parametrization, whose modules add rows.
    """
    if not hasattr(module, name) or not hasattr(getattr(module, name), "size"):
        return 0
    for _ in range(reads - 3):
        getattr(module, name)
    return int(getattr(module, name).numel())


def reference_rows(model: nn.Module, inputs: list[torch.Tensor]) -> list[tuple[str, str]]:
    """(row name, Param #) of each call, from forward hooks where torchsummary 1.5.1 puts its
    own: every module ``model.apply`` reaches (a module under two parents twice) except
    Sequential, ModuleList and the model itself; named Class-N, N taken when the call ends."""
    rows: list[tuple[str, str]] = []

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        index = len(rows)
        rows.append(("", ""))  # the slot is taken before the reads below add rows of their own
        params = _counted(module, "weight", 4) + _counted(module, "bias", 3)
        rows[index] = (f"{type(module).__name__}-{index + 1}", f"{params:,}")

    handles = []

    def place(module: nn.Module) -> None:
        if module is not model and not isinstance(module, (nn.Sequential, nn.ModuleList)):
            handles.append(module.register_forward_hook(hook))

    model.apply(place)
    try:
        model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def seeded_inputs(case: Case) -> list[torch.Tensor]:
    """The inputs the summary made: the global RNG seeded as before the summary."""
    torch.manual_seed(SEED)
    return summary_inputs(input_shapes(case))


class WeightNormedConv(nn.Module):
    """EnCodec's and Wav2Vec2's pattern: a weight-normed convolution (parametrized weight)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.utils.parametrizations.weight_norm(nn.Conv1d(2, 3, 3))
        self.act = nn.ELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(x))


LIVE = [case for case in CASES if case.torchsummary_error is None]


@pytest.mark.parametrize(
    "make, input_size",
    [(case.make, case.input_size) for case in LIVE] + [(WeightNormedConv, (2, 8))],
    ids=[case.name for case in LIVE] + ["weight_normed_conv"],
)
def test_reference_rows_are_torchsummarys(make: Any, input_size: Any) -> None:
    # the reference that judges the tables torchsummary cannot print, checked against it
    model = fresh_model(make)
    theirs = torchsummary_text(copy.deepcopy(model), input_size, seed=SEED)
    torch.manual_seed(SEED)
    inputs = summary_inputs([input_size])
    assert [(name, params) for name, _, params in table_rows(theirs)] == reference_rows(model, inputs)


def test_table(run: Run) -> None:
    case = run.case
    theirs = None
    if case.torchsummary_error is None:
        theirs = torchsummary_text(copy.deepcopy(run.twin), case.input_size, seed=SEED)
    else:
        error, message = case.torchsummary_error
        with pytest.raises(error, match=message):
            torchsummary_text(copy.deepcopy(run.twin), case.input_size, seed=SEED)
    run.summarized()
    ours = legacy_table(run.text)
    if theirs is not None:
        assert ours == theirs
    rows = [(name, params) for name, _, params in table_rows(ours)]
    assert rows == reference_rows(copy.deepcopy(run.twin), seeded_inputs(case))


def test_figures(run: Run) -> None:
    run.summarized()
    distinct = {id(p): p for _, p in run.model.named_parameters(remove_duplicate=False)}
    assert run.result.unique_params == sum(p.numel() for p in distinct.values())
    assert run.result.unique_trainable_params == sum(
        p.numel() for p in distinct.values() if p.requires_grad
    )
    twin = copy.deepcopy(run.twin)
    inputs = seeded_inputs(run.case)
    usage = oracle_usage(twin, lambda: twin(*inputs))
    assert run.result.used_params == usage.used_params
    assert run.result.used_trainable_params == usage.used_trainable_params


def test_model_untouched(run: Run) -> None:
    run.summarized()
    assert_same(run.state_before, run.state_after)
    after = run.tensors_after
    assert list(after) == list(run.tensors_before)
    for name, (tensor, bits) in run.tensors_before.items():
        assert after[name][0] is tensor, f"{name} was replaced"
        assert after[name][1] == bits, f"{name} changed value"
