"""Output structures: what a module returned, reduced to shapes, and how a row shows it.

A module's output is reduced at once to a small description that holds no tensor:
a ``torch.Size`` for a tensor, a list for a list/tuple/namedtuple, a dict for a dict or
dataclass, ``None`` for None and an ``Opaque`` type name for anything else.

How a row shows it, torchsummary's way where torchsummary does not crash:
- a tensor returned directly: its shape with the batch dimension replaced by ``batch_size``;
- a tensor inside a list/tuple: ``-1`` followed by the shape without its first dimension;
- nesting, dicts, ``None`` and other objects (where torchsummary crashes) follow the same
  rule inside: ``[[-1, 5, 20], [[-1, 2, 20], [-1, 2, 20]]]``, ``{'logits': [-1, 10]}``,
  ``None``, ``int``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch


class Opaque:
    """A non-tensor leaf of an output, shown by its type name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def describe(output: Any) -> Any:
    """Reduce an output to shapes and containers (no tensor is kept alive)."""
    if isinstance(output, torch.Tensor):
        try:
            return output.shape
        except (RuntimeError, ValueError):  # nested or sparse layouts without one shape
            return Opaque(type(output).__name__)
    if isinstance(output, (list, tuple)):
        return [describe(item) for item in output]
    if isinstance(output, dict):
        return {key: describe(value) for key, value in output.items()}
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        return {f.name: describe(getattr(output, f.name)) for f in dataclasses.fields(output)}
    if output is None:
        return None
    return Opaque(type(output).__name__)


def _nested(description: Any) -> Any:
    if type(description) is torch.Size:
        return [-1] + list(description)[1:]
    if isinstance(description, list):
        return [_nested(item) for item in description]
    if isinstance(description, dict):
        return {key: _nested(value) for key, value in description.items()}
    return description


def shown_shape(description: Any, batch_size: int) -> Any:
    """The object whose ``str`` is the row's Output Shape cell."""
    return shown_and_counted(description, batch_size)[0]


def shown_and_counted(description: Any, batch_size: int) -> tuple[Any, int]:
    """``shown_shape`` and its ``legacy_numel`` at once (a row of one tensor, the common
    case, takes the short way)."""
    if type(description) is torch.Size:
        shape = list(description)
        if shape:
            shape[0] = batch_size
        return shape, math.prod(shape)
    shown = _nested(description)
    return shown, legacy_numel(shown)


def _leaf_shapes(shown: Any) -> list[list[int]]:
    if isinstance(shown, list) and all(isinstance(n, int) for n in shown):
        return [shown]
    if isinstance(shown, list):
        return [leaf for item in shown for leaf in _leaf_shapes(item)]
    if isinstance(shown, dict):
        return [leaf for item in shown.values() for leaf in _leaf_shapes(item)]
    return []


def legacy_numel(shown: Any) -> int:
    """What torchsummary adds to its output total for one row: ``np.prod(output_shape)``.

    For one shape, or a list of shapes of equal length, that is the product of every number
    (-1 included, so the sign flips with each -1). Where numpy cannot make an array of the
    shape (torchsummary crashes), each tensor counts as if it were a row of its own.
    """
    if isinstance(shown, list):
        if all(isinstance(n, int) for n in shown):
            return math.prod(shown)
        lengths = {len(s) if isinstance(s, list) else -1 for s in shown}
        flat_lists = all(isinstance(s, list) and all(isinstance(n, int) for n in s) for s in shown)
        if flat_lists and len(lengths) == 1:
            return math.prod([n for s in shown for n in s])
    return sum(math.prod(leaf) for leaf in _leaf_shapes(shown))
