"""What a module returned, reduced at once to a small description that holds no tensor.

A ``torch.Size`` for a tensor, a list for a list/tuple/namedtuple, a dict for a dict or
dataclass, ``None`` for None and an ``Opaque`` name for anything else (a nested tensor, which
has no one shape, included). Descriptions go at most ``MAX_DEPTH`` containers deep, and a
container met again inside itself is not entered twice: both are shown as ``...``. How a row
shows a description is torchsummary's rule (see ``_legacy``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch

MAX_DEPTH = 16


class Opaque:
    """A leaf of an output without a shape to show, shown by a name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


TRUNCATED = Opaque("...")


def describe(output: Any) -> Any:
    """Reduce an output to shapes and containers (no tensor is kept alive)."""
    if type(output) is torch.Tensor and not output.is_nested:  # nearly every row
        return output.shape
    return _describe(output, 0, set())


def _tensor(tensor: torch.Tensor) -> Any:
    if tensor.is_nested:
        return Opaque("nested tensor")
    try:
        return tensor.shape
    except (RuntimeError, ValueError):  # sparse layouts and the like without one shape
        return Opaque(type(tensor).__name__)


def _describe(value: Any, depth: int, inside: set[int]) -> Any:
    """``describe`` within ``depth`` containers, ``inside`` holding those being described."""
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if value is None:
        return None
    is_data = dataclasses.is_dataclass(value) and not isinstance(value, type)
    if not (is_data or isinstance(value, (list, tuple, dict))):
        return Opaque(type(value).__name__)
    if depth >= MAX_DEPTH or id(value) in inside:
        return TRUNCATED
    inside.add(id(value))
    try:
        if isinstance(value, (list, tuple)):
            return [_describe(item, depth + 1, inside) for item in value]
        if isinstance(value, dict):
            return {key: _describe(item, depth + 1, inside) for key, item in value.items()}
        return {f.name: _describe(getattr(value, f.name), depth + 1, inside)
                for f in dataclasses.fields(value)}
    finally:
        inside.discard(id(value))
