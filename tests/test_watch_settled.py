"""On meta the watch goes off again at a torch.nn layer once every parameter the model's own
code got since it went on is seen used (a meta tensor has no values to copy before a write),
and back on at the next registry read; elsewhere it stays on. The used figures stay exact
whichever way the code holds a parameter.

Every model here has a Linear(4, 4) (20 numbers) and parameters of its own of 4 numbers
each; the expected figures are worked out by hand from those sizes.
"""
from __future__ import annotations

import gc
import sys
import threading

import pytest
import torch
import torch.nn as nn

from paths import fast_path_only
from torchsummary_plus import summary_string

LINEAR = 4 * 4 + 4  # the Linear(4, 4)


def _stack() -> int:
    return torch._C._len_torch_function_stack()


def figures(model: nn.Module, device: str) -> tuple[int, int]:
    result = summary_string(model, (4,), device=device)[1]
    return result.used_params, result.unused_params


def built(cls: type[nn.Module], device: str) -> nn.Module:
    with torch.device(device):
        return cls()


class UsedThenLinear(nn.Module):
    """Uses one of its two parameters, then calls the Linear, then reads it again."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))
        self.spare = nn.Parameter(torch.ones(4))  # never read: no use of it
        self.stack: list[tuple[str, int]] = []

    def forward(self, x):
        y = x * self.scale
        self.stack.append(("used", _stack()))
        y = self.fc(y)
        self.stack.append(("after the Linear", _stack()))
        y = y + self.scale
        self.stack.append(("read again", _stack()))
        return y


@fast_path_only
def test_on_meta_the_watch_goes_off_at_a_layer_once_what_was_read_is_used():
    model = built(UsedThenLinear, "meta")
    assert figures(model, "meta") == (LINEAR + 4, 4)
    assert model.stack == [("used", 1), ("after the Linear", 0), ("read again", 1)]
    assert _stack() == 0


@fast_path_only
def test_on_cpu_the_watch_stays_on_after_a_use():
    # a parameter's values may still need copying before a write: the watch stays on
    model = built(UsedThenLinear, "cpu")
    assert figures(model, "cpu") == (LINEAR + 4, 4)
    assert model.stack == [("used", 1), ("after the Linear", 1), ("read again", 1)]


class HeldAcrossTheLinear(nn.Module):
    """Reads a parameter, calls the Linear while holding it unused, then uses it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))
        self.stack: list[int] = []

    def forward(self, x):
        scale = self.scale
        y = self.fc(x)
        self.stack.append(_stack())
        return y * scale


@fast_path_only
def test_a_parameter_held_unused_across_a_layer_keeps_the_watch_on():
    model = built(HeldAcrossTheLinear, "meta")
    assert figures(model, "meta") == (LINEAR + 4, 0)
    assert model.stack == [1]


class Stash(nn.Module):
    """Keeps what it reads in a list; ``Later`` uses it after the watch went off."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Parameter(torch.ones(4))
        self.second = nn.Parameter(torch.ones(4))
        self.kept: list[torch.Tensor] = []

    def forward(self, x):
        self.kept[:] = self._parameters.values()  # both read; only `first` used here
        return x * self.first


class Later(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stash = Stash()
        self.fc = nn.Linear(4, 4)
        self.stack: list[int] = []

    def forward(self, x):
        y = self.fc(self.stash(x))
        self.stack.append(_stack())
        return y + self.stash.kept[1]  # `second`, held since the read of the whole registry


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_parameter_read_with_its_registry_and_used_later_is_counted(device):
    model = built(Later, device)
    assert figures(model, device) == (LINEAR + 4 + 4, 0)


@fast_path_only
def test_a_registry_read_whole_keeps_the_watch_on_until_all_of_it_is_used():
    model = built(Later, "meta")
    figures(model, "meta")
    assert model.stack == [1]  # `second` was handed out unused when the Linear ran


class KeptAfterUse(nn.Module):
    """Uses a parameter, keeps it; the Linear runs (the watch goes off on meta); then the
    kept one is used again, and a parameter of its own never read before is used."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.first = nn.Parameter(torch.ones(4))
        self.second = nn.Parameter(torch.ones(4))
        self.kept: list[torch.Tensor] = []

    def forward(self, x):
        self.kept[:] = [self.first]
        y = self.fc(x * self.kept[0])
        return y * self.kept[0] + self.second


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_the_watch_going_off_loses_no_use(device):
    assert figures(built(KeptAfterUse, device), device) == (LINEAR + 4 + 4, 0)


class Writes(nn.Module):
    """Uses a parameter and keeps it; after the Linear writes into it in place."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(4))
        self.kept: list[torch.Tensor] = []

    def forward(self, x):
        self.kept[:] = [self.scale]
        y = self.fc(x * self.scale)
        with torch.no_grad():
            self.kept[0].add_(1)
        return y


def test_on_cpu_a_write_after_a_layer_into_a_kept_parameter_is_undone():
    model = built(Writes, "cpu")
    assert figures(model, "cpu") == (LINEAR + 4, 0)
    assert torch.equal(model.scale.detach(), torch.ones(4))  # the copy kept before the write


@fast_path_only
def test_a_read_from_another_thread_keeps_the_watch_on_for_the_pass():
    class Threaded(UsedThenLinear):
        def forward(self, x):
            worker = threading.Thread(target=lambda: self.spare.shape)
            worker.start()
            worker.join()
            return super().forward(x)

    model = built(Threaded, "meta")
    assert figures(model, "meta") == (LINEAR + 4, 4)
    assert model.stack == [("used", 1), ("after the Linear", 1), ("read again", 1)]


def test_no_reference_to_a_parameter_read_outlives_the_summary():
    model = built(UsedThenLinear, "meta")
    gc.collect()
    before = [sys.getrefcount(p) for p in model.parameters()]
    figures(model, "meta")
    gc.collect()
    assert [sys.getrefcount(p) for p in model.parameters()] == before


def test_a_transformers_llama_on_meta_is_counted_exactly():
    """LlamaForCausalLM, vocab 100, hidden 64, MLP 128, 2 layers, 4 heads of 16, 2 key/value
    heads (their projections 64 -> 32), untied head, worked out by hand:
      per layer: q, o 2 * 64 * 64 = 8,192; k, v 2 * 64 * 32 = 4,096;
                 gate, up, down 3 * 64 * 128 = 24,576; two norms 2 * 64 = 128: 36,992
      2 layers 73,984 + embedding 100 * 64 = 6,400 + final norm 64 + head 6,400 = 86,848,
    every one of them used by the pass (the watch goes off between the layers)."""
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=100, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2,
    )
    with torch.device("meta"):
        model = transformers.LlamaForCausalLM(config).eval()
    result = summary_string(model, (16,), device="meta", dtypes=[torch.LongTensor])[1]
    assert (result.unique_params, result.used_params, result.unused_params) == (86_848, 86_848, 0)
