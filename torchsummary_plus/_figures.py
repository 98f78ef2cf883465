"""Every figure of a summary, as pure functions of a ``Trace``.

``legacy_figures`` is torchsummary's arithmetic, quirks included, in one place;
``corrected_figures`` is what is true: each parameter tensor once, what the pass used,
which rows repeat earlier rows, what was never used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from ._arguments import CallSpec
from ._shapes import legacy_numel, shown_shape
from ._trace import Trace

MB = 1024**2.0


def _wrap_int64(value: int) -> int:
    """numpy's int64 arithmetic, which torchsummary's sums and products go through."""
    return (value + 2**63) % 2**64 - 2**63


def _product(numbers: Any) -> int:
    result = 1
    for number in numbers:
        result *= number
    return result


class Row(NamedTuple):
    """One line of the table (a NamedTuple: a model may have a million of them)."""

    name: str  # "Conv2d-2"
    module: str  # qualified name, "" for the model itself
    output_shape: Any  # what the Output Shape cell shows (its str)
    params: int  # torchsummary's count: `weight` and `bias` only
    shared_with: str | None  # the earlier row whose parameters this row repeats


@dataclass(frozen=True)
class LegacyFigures:
    """What torchsummary prints below its rows."""

    total_params: int
    trainable_params: int
    input_size_mb: float
    forward_backward_size_mb: float
    params_size_mb: float
    estimated_total_size_mb: float


def input_numel_product(spec: CallSpec) -> int:
    """torchsummary multiplies every dimension of every input together (and the batch size)."""
    return _wrap_int64(_product(d for shape in spec.input_shapes for d in shape) * spec.batch_size)


def legacy_figures(trace: Trace, spec: CallSpec, shown: list[Any]) -> LegacyFigures:
    facts = [f for f, _ in trace.rows]
    total = sum(f.naive_count for f in facts)
    trainable = sum(f.naive_count for f in facts if f.trainable)
    outputs = _wrap_int64(sum(legacy_numel(s) for s in shown))
    input_mb = abs(input_numel_product(spec) * 4.0 / MB)
    forward_mb = abs(2.0 * outputs * 4.0 / MB)  # x2 for gradients
    if spec.layout == "master" and any(f.naive for f in facts):
        # The GitHub master keeps the parameter total a 0-dim int64 tensor: its sizes are
        # then float32 tensor arithmetic, which rounds differently for big models.
        params_t = abs(torch.tensor(total, dtype=torch.int64) * 4.0 / MB)
        params_mb = float(params_t)
        total_mb = float(params_t + forward_mb + input_mb)
    else:
        params_mb = abs(total * 4.0 / MB)
        total_mb = params_mb + forward_mb + input_mb
    return LegacyFigures(total, trainable, input_mb, forward_mb, params_mb, total_mb)


@dataclass(frozen=True)
class CorrectedFigures:
    """The truth below the table."""

    unique_params: int
    unique_trainable_params: int
    used_params: int
    used_trainable_params: int
    unique_params_bytes: int
    used_params_bytes: int
    input_bytes: int
    shared_rows: dict[str, str]  # row -> earlier row it repeats
    counted_twice: dict[str, int]  # row -> parameters the naive totals counted again there
    unused: list[tuple[str, int]]  # (module, parameters of it never used), definition order
    untraced: list[tuple[str, int]]  # (TorchScript module, its parameters)
    # torchsummary's own tensors (each row's `weight` and `bias`), each counted once
    deduplicated_params: int
    deduplicated_trainable_params: int  # by torchsummary's rule: the row's `weight` decides
    deduplicated_requires_grad_params: int  # by each tensor's own flag
    deduplicated_params_bytes: int
    uncounted: list[tuple[str, int]]  # (parameter, size) that no row of the table counts


def row_names(trace: Trace) -> list[str]:
    return [f"{facts.class_name}-{i}" for i, (facts, _) in enumerate(trace.rows, start=1)]


def _shared_rows(trace: Trace, names: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    first_row: dict[int, str] = {}  # parameter id -> first row holding it
    counted: set[int] = set()  # ids the naive totals have counted so far
    shared: dict[str, str] = {}
    twice: dict[str, int] = {}
    for name, (facts, _) in zip(names, trace.rows):
        ids = facts.row_ids
        if not ids:  # most rows: activations, pooling
            continue
        earlier = [first_row[i] for i in ids if i in first_row]
        if earlier:
            shared[name] = earlier[0]
            twice[name] = sum([info.numel for key, info in facts.naive if key in counted])
        for i in ids:
            first_row.setdefault(i, name)
        counted.update([key for key, _ in facts.naive])
    return shared, twice


def _deduplicated(trace: Trace) -> tuple[tuple[int, int, int, int], set[int]]:
    """torchsummary's tensors counted once: (all, trainable by its rule, trainable by each
    tensor's flag, bytes), and their ids."""
    seen: set[int] = set()
    total = trainable = requires_grad = nbytes = 0
    for facts, _ in trace.rows:
        for key, info in facts.naive:
            if key in seen:
                continue
            seen.add(key)
            total += info.numel
            trainable += info.numel if facts.trainable else 0
            requires_grad += info.numel if info.trainable else 0
            nbytes += info.nbytes
    return (total, trainable, requires_grad, nbytes), seen


def input_bytes(spec: CallSpec) -> int:
    """Every input at its own dtype, for the table's batch (one sample when it shows -1)."""
    batch = spec.batch_size if spec.batch_size > 0 else 1
    return sum(
        _product(shape) * batch * torch.empty((), dtype=dtype).element_size()
        for shape, dtype in zip(spec.input_shapes, spec.dtypes)
    )


def corrected_figures(trace: Trace, spec: CallSpec, names: list[str]) -> CorrectedFigures:
    params = trace.params
    used = [i for i in params if i in trace.used_ids]
    shared, twice = _shared_rows(trace, names)
    (dedup, dedup_trainable, dedup_grad, dedup_bytes), counted = _deduplicated(trace)
    unused = []
    for module, ids in trace.owners:
        count = sum(params[i].numel for i in ids if i in params and i not in trace.used_ids)
        if count:
            unused.append((module, count))
    return CorrectedFigures(
        unique_params=sum(p.numel for p in params.values()),
        unique_trainable_params=sum(p.numel for p in params.values() if p.trainable),
        used_params=sum(params[i].numel for i in used),
        used_trainable_params=sum(params[i].numel for i in used if params[i].trainable),
        unique_params_bytes=sum(p.nbytes for p in params.values()),
        used_params_bytes=sum(params[i].nbytes for i in used),
        input_bytes=input_bytes(spec),
        shared_rows=shared,
        counted_twice=twice,
        unused=unused,
        untraced=trace.untraced,
        deduplicated_params=dedup,
        deduplicated_trainable_params=dedup_trainable,
        deduplicated_requires_grad_params=dedup_grad,
        deduplicated_params_bytes=dedup_bytes,
        uncounted=[(p.name, p.numel) for i, p in params.items() if i not in counted],
    )


def table_rows(trace: Trace, names: list[str], shown: list[Any], shared: dict[str, str]) -> list[Row]:
    return [
        Row(name, facts.qualname, shape, facts.naive_count, shared.get(name))
        for name, (facts, _), shape in zip(names, trace.rows, shown)
    ]


def shown_shapes(trace: Trace, spec: CallSpec) -> list[Any]:
    return [shown_shape(description, spec.batch_size) for _, description in trace.rows]
