"""torchsummary's rules, in one place: what its table shows and how it adds up.

Copied in behaviour, quirks included, each with a test: the row names, which modules get
rows and how many per call, the `weight`/`bias` reads behind Param # and trainability, the
Output Shape cell, numpy's products, the MB arithmetic, and the GitHub master's float32
rounding.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from ._sharded import parameter_numel

LAYOUTS = ("pypi", "master")
MB = 1024**2.0
# torchsummary registers no hook on these (its test is isinstance).
NOT_HOOKED = (nn.Sequential, nn.ModuleList)
# How often torchsummary's hook reads each attribute of a module that has it as a tensor
# (hasattr, hasattr of .size, .size(), .requires_grad for the weight): where reading runs code
# (a parametrization), the same code runs as often.
WEIGHT_READS = 4
BIAS_READS = 3


def row_name(cls: type) -> str:
    """The name of a module's rows: the text after the last dot of ``str(cls)``."""
    return str(cls).split(".")[-1].split("'")[0]


def gets_rows(not_hooked: bool, is_model: bool, layout: str) -> bool:
    """Whether torchsummary hooks a module: PyPI 1.5.1 never hooks the model itself, the
    GitHub master does; neither hooks a Sequential or ModuleList (``not_hooked``: the
    module is one of ``NOT_HOOKED``)."""
    if not_hooked:
        return False
    return layout == "master" or not is_model


def rows_per_call(visits: int) -> int:
    """torchsummary hooks through ``model.apply``, which reaches a module once per parent
    holding it: each hook adds a row, so a module held twice prints two rows per call."""
    return visits


def read_weight_and_bias(module: nn.Module) -> tuple[Any, Any]:
    """`weight` and `bias` as torchsummary's hook reads them (None where absent), with each
    read repeated as often as the hook repeats it."""
    found = []
    for attr, reads in (("weight", WEIGHT_READS), ("bias", BIAS_READS)):
        value = _read(module, attr)
        if isinstance(value, Tensor):
            for _ in range(reads - 1):
                value = _read(module, attr)
        found.append(value if isinstance(value, Tensor) else None)
    return found[0], found[1]


def _read(module: nn.Module, attr: str) -> Any:
    """``module.<attr>``, None where it has none, or where reading it raises (a property of
    the user's that fails): torchsummary's hook crashes there; here no tensor is read, so
    none is counted, and the summary goes on."""
    try:
        return getattr(module, attr, None)
    except Exception:
        return None


def param_count(weight: Tensor | None, bias: Tensor | None) -> tuple[int, bool | None]:
    """(Param #, trainable) of a row: `weight` and `bias` only (at their global sizes: a
    DeepSpeed ZeRO-3 parameter's is its `ds_numel`), trainability from `weight` alone
    (None where there is no weight: the row then counts in no trainable total)."""
    count = 0
    trainable = None
    if weight is not None:
        count += parameter_numel(weight)
        trainable = weight.requires_grad
    if bias is not None:
        count += parameter_numel(bias)
    return count, trainable


def wrap_int64(value: int) -> int:
    """numpy's int64 arithmetic, which torchsummary's sums and products go through."""
    return (value + 2**63) % 2**64 - 2**63


def _nested(description: Any) -> Any:
    if type(description) is torch.Size:
        return [-1, *list(description)[1:]]
    if isinstance(description, list):
        return [_nested(item) for item in description]
    if isinstance(description, dict):
        return {key: _nested(value) for key, value in description.items()}
    return description


def shown_and_counted(description: Any, batch_size: int) -> tuple[Any, int]:
    """The object whose ``str`` is a row's Output Shape cell, and what torchsummary adds to
    its output total for the row.

    A tensor returned directly shows its shape with the batch dimension replaced by
    ``batch_size``; a tensor inside a list or tuple shows ``-1`` and its shape without the
    first dimension. Nesting, dicts, None and other objects (where torchsummary crashes)
    follow the same rule inside.
    """
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
    """``np.prod(output_shape)`` of one row.

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


def input_numel_product(input_shapes: Sequence[Sequence[int]], batch_size: int) -> int:
    """torchsummary multiplies every dimension of every input together, and the batch size."""
    return wrap_int64(math.prod(d for shape in input_shapes for d in shape) * batch_size)


@dataclass(frozen=True)
class LegacyFigures:
    """What torchsummary prints below its rows."""

    total_params: int
    trainable_params: int
    input_size_mb: float
    forward_backward_size_mb: float
    params_size_mb: float
    estimated_total_size_mb: float


def legacy_figures(
    total: int,
    trainable: int,
    output_numel: int,
    rows_with_parameters: bool,
    input_shapes: Sequence[Sequence[int]],
    batch_size: int,
    layout: str,
) -> LegacyFigures:
    """torchsummary's totals and memory estimate, from its row sums: 4 bytes per number,
    outputs counted twice (for their gradients)."""
    outputs = wrap_int64(output_numel)
    input_mb = abs(input_numel_product(input_shapes, batch_size) * 4.0 / MB)
    forward_mb = abs(2.0 * outputs * 4.0 / MB)
    if layout == "master" and rows_with_parameters:
        # The GitHub master keeps the parameter total a 0-dim int64 tensor: its sizes are
        # then float32 tensor arithmetic, which rounds differently for big models.
        params_t = abs(torch.tensor(total, dtype=torch.int64) * 4.0 / MB)
        params_mb = float(params_t)
        total_mb = float(params_t + forward_mb + input_mb)
    else:
        params_mb = abs(total * 4.0 / MB)
        total_mb = params_mb + forward_mb + input_mb
    return LegacyFigures(total, trainable, input_mb, forward_mb, params_mb, total_mb)
