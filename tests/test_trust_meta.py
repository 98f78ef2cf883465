"""Issue 12, case 2: ``device="meta"`` on a real (CPU) model never leaves a meta tensor in it.

Modules reachable under two names, a module shared by two parents, tied weights and
buffers: afterwards every parameter and buffer is the same object as before, on the CPU,
with the same values, and the ties still hold.
"""
from __future__ import annotations

import contextlib
import io

import pytest
import torch
import torch.nn as nn

from torchsummary_plus import summary
from trust_models import DeepState, assert_whole


class TwoNames(nn.Module):
    """The last layer is also reachable as ``self.last``."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 3)])
        self.last = self.layers[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = layer(x)
        return self.last(x)


class Block(nn.Module):
    def __init__(self, shared: nn.Linear) -> None:
        super().__init__()
        self.shared = shared
        self.own = nn.Linear(4, 4)
        self.register_buffer("scale", torch.full((4,), 2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.own(self.shared(x)) * self.scale


class SharedByTwoParents(nn.Module):
    """One Linear held by two blocks, as T5's relative attention bias is held by layers."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(4, 4)
        self.a = Block(shared)
        self.b = Block(shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class TiedHead(nn.Module):
    """An embedding and an output head with one weight, plus a BatchNorm's buffers."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.norm = nn.BatchNorm1d(3)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.embed(ids)))


CASES = {
    "two_names": (TwoNames, (4,), None),
    "shared_by_two_parents": (SharedByTwoParents, (4,), None),
    "tied_weights": (TiedHead, (3,), [torch.long]),
}


def _ties(model: nn.Module) -> list[tuple[str, str]]:
    """Every pair of (module path, name) that holds the same tensor object."""
    holders: dict[int, list[str]] = {}
    for path, module in model.named_modules(remove_duplicate=False):
        for registry in (module._parameters, module._buffers):
            for name, tensor in registry.items():
                if tensor is not None:
                    holders.setdefault(id(tensor), []).append(f"{path}.{name}")
    return sorted(tuple(names) for names in holders.values() if len(names) > 1)


@pytest.mark.parametrize("case", list(CASES))
def test_meta_run_leaves_every_tensor_the_same_object_on_cpu(case):
    make, input_size, dtypes = CASES[case]
    torch.manual_seed(0)
    model = make()
    ties = _ties(model)
    assert ties, "each case has a tensor reachable under two names"
    before = DeepState.of(model)
    with contextlib.redirect_stdout(io.StringIO()):
        summary(model, input_size, device="meta", dtypes=dtypes)
    devices = {str(t.device) for t in list(model.parameters()) + list(model.buffers())}
    assert devices == {"cpu"}
    assert _ties(model) == ties
    assert_whole(before, model)  # same objects, storage, values
