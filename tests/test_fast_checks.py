"""Checks made over a whole list at once give what their plain, one-at-a-time versions give.

Each fast check (``_index._children``, ``_watch.storages_aliased``,
``_activations.storage_sizes``) answers for the common case with C-level work over the whole
list and falls back to its plain version otherwise; here both are run on the same inputs,
common cases and the cases that fall back alike.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from torchsummary_plus._activations import storage_sizes, storage_sizes_one_by_one
from torchsummary_plus._index import _children, children_one_by_one, index_model
from torchsummary_plus._watch import storage_aliased, storages_aliased


def _modules(n: int) -> list[nn.Module]:
    return [nn.Linear(2, 2) for _ in range(n)]


def _children_cases() -> list[dict[str, nn.Module | None]]:
    a, b, c = _modules(3)
    return [
        {},
        {"a": a, "b": b, "c": c},  # all distinct: the common case
        {"a": a, "b": None, "c": c},  # a None slot
        {"a": a, "b": a, "c": c},  # one module under two names: its first name only
        {"a": None, "b": None},
        {"a": a, "b": b, "c": a, "d": None, "e": b},
    ]


@pytest.mark.parametrize("children", _children_cases())
def test_children_taken_whole_equal_children_one_by_one(children):
    assert list(_children(children)) == children_one_by_one(children)


def test_children_one_by_one_keeps_first_names_and_drops_none():
    a, b = _modules(2)
    # worked by hand: a first as "x", b as "z"; the second "a" and the None are left out
    assert children_one_by_one({"x": a, "y": None, "z": b, "w": a}) == [("x", a), ("z", b)]


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.head = nn.Linear(3, 2)


def _aliasing(how: str) -> tuple[nn.Module, list[torch.Tensor]]:
    """A model, and the aliases of its parameters made before the summary (kept alive)."""
    model = _Net()
    kept: list[torch.Tensor] = []
    if how == "view":
        kept.append(model.fc.weight.view(-1))
    elif how == "data":
        kept.append(model.head.bias.data)
    elif how == "detach":
        kept.append(model.fc.bias.detach())
    elif how == "meta":
        model = _Net().to("meta")
    return model, kept


@pytest.mark.parametrize("how", ["none", "view", "data", "detach", "meta"])
def test_storages_aliased_at_once_equals_one_parameter_at_a_time(how):
    model, kept = _aliasing(how)
    index = index_model(model)
    plain = any(storage_aliased(index.tensors[key]) for key in index.params)
    assert storages_aliased(index) is plain
    # and the plain answer itself, by the case: only a real alias is one
    assert plain is (how in ("view", "data", "detach"))
    del kept


def _non_empty(sizes: dict[int | None, int]) -> dict[int | None, int]:
    return {key: nbytes for key, nbytes in sizes.items() if key is not None or nbytes}


def _tensor_lists() -> list[list[torch.Tensor]]:
    x = torch.zeros(2, 3)
    return [
        [],
        [x, x.view(6), x[0], torch.ones(4)],  # one storage thrice, another once
        [x, torch.zeros(0)],  # an empty tensor: a storage of no bytes
        [torch.eye(3).to_sparse(), x],  # no storage of its own
        [torch.zeros(3, 4, device="meta"), x],
    ]


@pytest.mark.parametrize("tensors", _tensor_lists())
def test_storage_sizes_at_once_equal_one_tensor_at_a_time(tensors):
    assert _non_empty(storage_sizes(tensors)) == _non_empty(storage_sizes_one_by_one(tensors))


def test_storage_sizes_count_each_storage_once_at_its_bytes():
    x = torch.zeros(2, 3)  # 6 float32: 24 bytes
    y = torch.ones(4, dtype=torch.float64)  # 4 float64: 32 bytes
    assert sorted(storage_sizes([x, x.view(6), x[0], y]).values()) == [24, 32]
