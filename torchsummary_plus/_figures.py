"""Every figure of a summary, as pure functions of a ``Trace``.

``legacy_figures`` is torchsummary's arithmetic, quirks included, in one place;
``corrected_figures`` is what is true: each parameter tensor once, what the pass used,
which rows repeat earlier rows, what was never used.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from ._activations import scaled_to_batch
from ._arguments import CallSpec
from ._facts import ParamInfo
from ._given import input_nbytes
from ._legacy import LegacyFigures, shown_and_counted
from ._legacy import legacy_figures as legacy_arithmetic
from ._sharded_pass import RankShare
from ._trace import Trace


class Row(NamedTuple):
    """One line of the table (a NamedTuple: a model may have a million of them)."""

    name: str  # "Conv2d-2"
    module: str  # qualified name, "" for the model itself
    output_shape: Any  # what the Output Shape cell shows (its str)
    params: int  # torchsummary's count: `weight` and `bias` only
    shared_with: str | None  # the earlier row whose parameters this row repeats


@dataclass(frozen=True)
class CorrectedFigures:
    """The truth below the table (names as in docs/output.md)."""

    unique_params: int  # "unique in model": every parameter tensor the model holds, once
    unique_trainable_params: int
    used_params: int  # "used in pass": the unique parameters the pass used
    used_trainable_params: int
    unique_params_bytes: int
    used_params_bytes: int
    input_bytes: int
    activation_bytes: int  # the rows' outputs, for the table's batch
    saved_activation_bytes: int | None  # what autograd saved for backward (None: not measured)
    estimated_total_bytes: int  # unique parameters + activations + inputs
    shared_rows: dict[str, str]  # row -> earlier row it repeats
    counted_twice: dict[str, int]  # row -> parameters the naive totals counted again there
    unused: list[tuple[str, int]]  # (module, its never used parameters, each under its first owner)
    unused_subtrees: list[tuple[str, int, int]]  # (root, unused modules under it, their parameters)
    untraced: list[tuple[str, int]]  # (TorchScript module, its parameters)
    # "unique in table": torchsummary's own tensors (each row's `weight` and `bias`), once
    table_unique_params: int
    table_unique_trainable_params: int  # by torchsummary's rule: the row's `weight` decides
    table_unique_requires_grad_params: int  # by each tensor's own flag
    table_unique_params_bytes: int
    uncounted: list[tuple[str, int]]  # (parameter, size) that no row of the table counts
    flops: int | None = None  # floating-point operations of the pass; None: not asked for
    rank_share: RankShare | None = None  # what this rank holds of a sharded model


@dataclass(frozen=True)
class RowSums:
    """What the rows add up to."""

    naive_total: int  # torchsummary's Total params: each row's `weight` and `bias`
    naive_trainable: int  # the rows whose `weight` requires grad
    output_numel: int  # torchsummary's sum of np.prod(output shape), before int64 wrap
    rows_with_parameters: bool
    shared_rows: dict[str, str]  # row -> earlier row it repeats
    counted_twice: dict[str, int]  # row -> parameters the naive totals counted again there
    # torchsummary's tensors, each counted once, and their ids
    table_unique: int
    table_unique_trainable: int  # by torchsummary's rule: the row's `weight` decides
    table_unique_requires_grad: int  # by each tensor's own flag
    table_unique_bytes: int
    counted: set[int]


def legacy_figures(sums: RowSums, spec: CallSpec) -> LegacyFigures:
    """torchsummary's figures from its row sums (the arithmetic is ``_legacy``'s)."""
    return legacy_arithmetic(
        sums.naive_total, sums.naive_trainable, sums.output_numel, sums.rows_with_parameters,
        spec.input_shapes, spec.batch_size, spec.layout,
    )


def table_rows(trace: Trace, batch_size: int) -> tuple[list[Row], RowSums]:
    """The table's rows and what they add up to; a row repeating an earlier row's
    parameters gets ``shared_with``."""
    rows: list[Row] = []
    output_numel = naive_total = naive_trainable = 0
    table_unique = table_unique_trainable = table_unique_requires_grad = table_unique_bytes = 0
    first_row: dict[int, str] = {}  # parameter id -> first row holding it
    counted: set[int] = set()  # keys of the tensors torchsummary counted so far
    shared: dict[str, str] = {}
    twice: dict[str, int] = {}
    shapes: dict[Any, tuple[list[int], int]] = {}  # most rows repeat an earlier row's shape
    for number, (qualname, facts, description, _) in enumerate(trace.rows, start=1):
        if type(description) is torch.Size:
            known = shapes.get(description)
            if known is None:
                known = shapes[description] = shown_and_counted(description, batch_size)
            shown, numel = known[0].copy(), known[1]  # each row its own list
        else:
            shown, numel = shown_and_counted(description, batch_size)
        output_numel += numel
        name = f"{facts.class_name}-{number}"
        naive_total += facts.naive_count
        if facts.trainable:
            naive_trainable += facts.naive_count
        earlier = None
        for i in facts.row_ids:  # (a loop, not a generator left half-way: see _interrupts)
            if i in first_row:
                earlier = first_row[i]
                break
        if earlier is not None:
            shared[name] = earlier
            twice[name] = sum(info.numel for key, info in facts.naive if key in counted)
        for i in facts.row_ids:
            first_row.setdefault(i, name)
        for key, info in facts.naive:
            if key in counted:
                continue
            counted.add(key)
            table_unique += info.numel
            table_unique_trainable += info.numel if facts.trainable else 0
            table_unique_requires_grad += info.numel if info.trainable else 0
            table_unique_bytes += info.nbytes
        rows.append(Row(name, qualname, shown, facts.naive_count, earlier))
    sums = RowSums(
        naive_total, naive_trainable, output_numel, any([row.facts.naive for row in trace.rows]),
        shared, twice, table_unique, table_unique_trainable, table_unique_requires_grad,
        table_unique_bytes, counted,
    )
    return rows, sums


def input_bytes(spec: CallSpec) -> int:
    """Every input at its own dtype, for the table's batch (one sample when it shows -1);
    the real bytes of the caller's tensors where ``input_data`` gave them."""
    if spec.given.args is not None:
        return input_nbytes(spec.given)
    batch = spec.batch_size if spec.batch_size > 0 else 1
    return sum(
        math.prod(shape) * batch * torch.empty((), dtype=dtype).element_size()
        for shape, dtype in zip(spec.input_shapes, spec.dtypes, strict=True)
    )


def _totals(infos: Iterable[ParamInfo]) -> tuple[int, int, int]:
    """(parameters, trainable ones, bytes) of ``infos``."""
    infos = list(infos)
    return (
        sum([p.numel for p in infos]),
        sum([p.numel for p in infos if p.trainable]),
        sum([p.nbytes for p in infos]),
    )


def ancestors(qualname: str) -> list[str]:
    """The qualified names of a module and its ancestors, the model's ("") first."""
    parts = qualname.split(".") if qualname else []
    return [".".join(parts[:n]) for n in range(len(parts) + 1)]


def _unused(trace: Trace) -> tuple[list[tuple[str, int]], list[tuple[str, int, int]]]:
    """The modules with never used parameters, each parameter under its first owner only
    (so the counts add up to the unused total), and the same grouped: the modules of a
    subtree whose parameters were all never used under its root, with how many they are."""
    params, used_ids = trace.params, trace.used_ids
    unused: list[tuple[str, int]] = []
    held: dict[str, int] = {}  # qualified name -> parameters under it, each once
    idle: dict[str, int] = {}  # qualified name -> never used parameters under it
    owned: set[int] = set()
    for qualname, ids in trace.owners.items():
        mine = [i for i in ids if i not in owned]
        owned.update(ids)
        count = sum([params[i].numel for i in mine if i not in used_ids])
        if count:
            unused.append((qualname, count))
        total = sum([params[i].numel for i in mine])
        for prefix in ancestors(qualname):
            held[prefix] = held.get(prefix, 0) + total
            idle[prefix] = idle.get(prefix, 0) + count
    groups: dict[str, tuple[int, int]] = {}  # root -> (modules, parameters)
    for qualname, count in unused:
        root = next((p for p in ancestors(qualname) if idle[p] and idle[p] == held[p]), qualname)
        modules, total = groups.get(root, (0, 0))
        groups[root] = (modules + 1, total + count)
    return unused, [(root, modules, count) for root, (modules, count) in groups.items()]


def _for_table(nbytes: int, spec: CallSpec) -> int:
    """Bytes of the pass for the table's batch; as measured where the caller gave the
    inputs (their own batch is the one that ran)."""
    return nbytes if spec.given.args is not None else scaled_to_batch(nbytes, spec.batch_size)


def corrected_figures(trace: Trace, spec: CallSpec, sums: RowSums) -> CorrectedFigures:
    params, used_ids = trace.params, trace.used_ids
    unique = used = _totals(params.values())
    unused: list[tuple[str, int]] = []
    subtrees: list[tuple[str, int, int]] = []
    if not used_ids.issuperset(params):  # (nearly always every parameter is used)
        used = _totals([info for i, info in params.items() if i in used_ids])
        unused, subtrees = _unused(trace)
    inputs = input_bytes(spec)
    activations = _for_table(sum([row.nbytes for row in trace.rows]), spec)
    saved = trace.saved_bytes
    return CorrectedFigures(
        unique_params=unique[0],
        unique_trainable_params=unique[1],
        used_params=used[0],
        used_trainable_params=used[1],
        unique_params_bytes=unique[2],
        used_params_bytes=used[2],
        input_bytes=inputs,
        activation_bytes=activations,
        saved_activation_bytes=None if saved is None else _for_table(saved, spec),
        estimated_total_bytes=unique[2] + activations + inputs,
        shared_rows=sums.shared_rows,
        counted_twice=sums.counted_twice,
        unused=unused,
        unused_subtrees=subtrees,
        untraced=trace.untraced,
        table_unique_params=sums.table_unique,
        table_unique_trainable_params=sums.table_unique_trainable,
        table_unique_requires_grad_params=sums.table_unique_requires_grad,
        table_unique_params_bytes=sums.table_unique_bytes,
        uncounted=(
            []  # every parameter is a row's `weight` or `bias`: the common case
            if sums.counted.issuperset(params)
            else [(p.name, p.numel) for i, p in params.items() if i not in sums.counted]
        ),
        flops=None if trace.flops is None else trace.flops.total,
        rank_share=trace.rank_share,
    )
