"""Issue 12, case 6: summaries started at the same moment from two threads.

The same model from two threads: both get torchsummary's table, and afterwards no module
keeps an instance ``_call_impl`` and the model is whole. Two different models: the global
random state afterwards is the one from before. Each start is synchronised with a Barrier
and repeated a few rounds, so that the two passes overlap.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import torch
import torch.nn as nn

from torchsummary_plus import summary_string
from trust_models import DeepState, deep_differences, table_of

ROUNDS = 8


def stack(width: int, depth: int) -> nn.Module:
    """A long plain stack: every module gets a row; BatchNorm and dropout change state."""
    torch.manual_seed(width)
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(0.2)]
    return nn.Sequential(*layers)


def together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads released at once; re-raise the first error any of them hit."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except BaseException as error:  # noqa: BLE001 - re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a summary never finished"
    if errors:
        raise errors[0]
    return results


def table(model: nn.Module, width: int) -> Callable[[], str]:
    return lambda: summary_string(model, (width,), device="cpu", layout="pypi", plus=False)[0]


def test_same_model_from_two_threads():
    model = stack(8, 12)
    expected = table_of(model, (8,))
    torch.manual_seed(0)
    before = DeepState.of(model)
    for round_ in range(ROUNDS):
        texts = together([table(model, 8), table(model, 8)])
        changed = deep_differences(before, DeepState.of(model))
        assert not changed, f"round {round_}: " + "; ".join(changed)
        assert texts == [expected, expected], f"round {round_}: a table differs from torchsummary's"


def test_two_models_in_two_threads_keep_the_global_random_state():
    first, second = stack(8, 12), stack(6, 12)
    torch.manual_seed(0)
    for round_ in range(ROUNDS):
        rng = torch.get_rng_state()
        before = (DeepState.of(first), DeepState.of(second))
        together([table(first, 8), table(second, 6)])
        assert torch.equal(torch.get_rng_state(), rng), f"round {round_}: random state changed"
        for model, state in zip((first, second), before):
            changed = deep_differences(state, DeepState.of(model))
            assert not changed, f"round {round_}: " + "; ".join(changed)
