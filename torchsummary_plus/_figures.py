"""Every figure of a summary, as pure functions of a ``Trace``.

``legacy_figures`` is torchsummary's arithmetic, quirks included, in one place;
``corrected_figures`` is what is true: each parameter tensor once, what the pass used,
which rows repeat earlier rows, what was never used.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

import torch

from ._activations import scaled_to_batch
from ._arguments import CallSpec
from ._facts import ModuleFacts, ParamInfo, new_named
from ._shapes import shown_and_counted
from ._trace import Trace

MB = 1024**2.0


def _wrap_int64(value: int) -> int:
    """numpy's int64 arithmetic, which torchsummary's sums and products go through."""
    return (value + 2**63) % 2**64 - 2**63


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
    return _wrap_int64(math.prod(d for shape in spec.input_shapes for d in shape) * spec.batch_size)


def legacy_figures(sums: RowSums, spec: CallSpec) -> LegacyFigures:
    total, trainable = sums.naive_total, sums.naive_trainable
    outputs = _wrap_int64(sums.output_numel)
    input_mb = abs(input_numel_product(spec) * 4.0 / MB)
    forward_mb = abs(2.0 * outputs * 4.0 / MB)  # x2 for gradients
    if spec.layout == "master" and sums.rows_with_parameters:
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
    deduplicated: int
    deduplicated_trainable: int  # by torchsummary's rule: the row's `weight` decides
    deduplicated_requires_grad: int  # by each tensor's own flag
    deduplicated_bytes: int
    counted: set[int]


def table_rows(trace: Trace, batch_size: int) -> tuple[list[Row], RowSums]:
    """The table's rows and what they add up to (a model may have a million rows: the rows
    without parameters, most of them, get one short step each)."""
    rows: list[Row] = []
    append = rows.append
    holding: list[tuple[int, ModuleFacts]] = []  # (position, facts) of rows with parameters
    output_numel = 0
    seen_shapes: dict[Any, tuple[Any, int]] = {}  # most rows repeat an earlier row's shape
    for number, (qualname, facts, description, _) in enumerate(trace.rows, start=1):
        if type(description) is torch.Size:
            known = seen_shapes.get(description)
            if known is None:
                known = seen_shapes[description] = shown_and_counted(description, batch_size)
            shown, numel = known[0].copy(), known[1]  # each row its own list
        else:
            shown, numel = shown_and_counted(description, batch_size)
        output_numel += numel
        if facts.row_ids or facts.naive:
            holding.append((number - 1, facts))
        append(new_named(Row, (f"{facts.class_name}-{number}", qualname, shown, facts.naive_count, None)))
    return rows, _parameter_sums(rows, holding, output_numel)


def _parameter_sums(rows: list[Row], holding: list[tuple[int, ModuleFacts]], output_numel: int) -> RowSums:
    """Count the rows' parameters; a row repeating an earlier row's gets ``shared_with``."""
    facts_held = [facts for _, facts in holding]
    naive = [pair for facts in facts_held for pair in facts.naive]
    counted = {key for key, _ in naive}
    row_ids = [key for facts in facts_held for key in facts.row_ids]
    if len(counted) == len(naive) and len(set(row_ids)) == len(row_ids):
        # Nearly every model: no tensor in two rows, none counted twice in one. Each row's
        # tensors are then counted once as they are, and no row repeats another.
        infos = [info for _, info in naive]
        naive_total = sum([facts.naive_count for facts in facts_held])
        naive_trainable = sum([facts.naive_count for facts in facts_held if facts.trainable])
        return RowSums(
            naive_total, naive_trainable, output_numel, bool(naive), {}, {}, naive_total,
            naive_trainable, sum([info.numel for info in infos if info.trainable]),
            sum([info.nbytes for info in infos]), counted,
        )
    naive_total = naive_trainable = 0
    deduplicated = deduplicated_trainable = deduplicated_requires_grad = deduplicated_bytes = 0
    first_row: dict[int, str] = {}  # parameter id -> first row holding it
    counted: set[int] = set()  # ids of the tensors torchsummary counted so far
    shared: dict[str, str] = {}
    twice: dict[str, int] = {}
    for position, facts in holding:
        name = rows[position].name
        naive_total += facts.naive_count
        if facts.trainable:
            naive_trainable += facts.naive_count
        earlier = None
        for i in facts.row_ids:
            if i in first_row:
                earlier = first_row[i]
                break
        if earlier is not None:
            shared[name] = earlier
            twice[name] = sum([info.numel for key, info in facts.naive if key in counted])
            rows[position] = rows[position]._replace(shared_with=earlier)
        for i in facts.row_ids:
            if i not in first_row:
                first_row[i] = name
        for key, info in facts.naive:
            if key in counted:
                continue
            counted.add(key)
            deduplicated += info.numel
            deduplicated_trainable += info.numel if facts.trainable else 0
            deduplicated_requires_grad += info.numel if info.trainable else 0
            deduplicated_bytes += info.nbytes
    return RowSums(
        naive_total, naive_trainable, output_numel, any(facts.naive for _, facts in holding),
        shared, twice, deduplicated, deduplicated_trainable, deduplicated_requires_grad,
        deduplicated_bytes, counted,
    )


def input_bytes(spec: CallSpec) -> int:
    """Every input at its own dtype, for the table's batch (one sample when it shows -1)."""
    batch = spec.batch_size if spec.batch_size > 0 else 1
    return sum(
        math.prod(shape) * batch * torch.empty((), dtype=dtype).element_size()
        for shape, dtype in zip(spec.input_shapes, spec.dtypes)
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
    params, used_ids, names = trace.params, trace.used_ids, trace.names
    unused: list[tuple[str, int]] = []
    held: dict[str, int] = {}  # qualified name -> parameters under it, each once
    idle: dict[str, int] = {}  # qualified name -> never used parameters under it
    owned: set[int] = set()
    for module, ids in trace.owners.items():
        mine = [i for i in ids if i not in owned]
        owned.update(ids)
        count = sum([params[i].numel for i in mine if i not in used_ids])
        if count:
            unused.append((names[module], count))
        total = sum([params[i].numel for i in mine])
        for prefix in ancestors(names[module]):
            held[prefix] = held.get(prefix, 0) + total
            idle[prefix] = idle.get(prefix, 0) + count
    groups: dict[str, tuple[int, int]] = {}  # root -> (modules, parameters)
    for qualname, count in unused:
        root = next((p for p in ancestors(qualname) if idle[p] and idle[p] == held[p]), qualname)
        modules, total = groups.get(root, (0, 0))
        groups[root] = (modules + 1, total + count)
    return unused, [(root, modules, count) for root, (modules, count) in groups.items()]


def corrected_figures(trace: Trace, spec: CallSpec, sums: RowSums) -> CorrectedFigures:
    params, used_ids = trace.params, trace.used_ids
    unique = used = _totals(params.values())
    unused: list[tuple[str, int]] = []
    subtrees: list[tuple[str, int, int]] = []
    if not used_ids.issuperset(params):  # (nearly always every parameter is used)
        used = _totals([info for i, info in params.items() if i in used_ids])
        unused, subtrees = _unused(trace)
    inputs = input_bytes(spec)
    activations = scaled_to_batch(sum([row[3] for row in trace.rows]), spec.batch_size)
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
        saved_activation_bytes=None if saved is None else scaled_to_batch(saved, spec.batch_size),
        estimated_total_bytes=unique[2] + activations + inputs,
        shared_rows=sums.shared_rows,
        counted_twice=sums.counted_twice,
        unused=unused,
        unused_subtrees=subtrees,
        untraced=trace.untraced,
        table_unique_params=sums.deduplicated,
        table_unique_trainable_params=sums.deduplicated_trainable,
        table_unique_requires_grad_params=sums.deduplicated_requires_grad,
        table_unique_params_bytes=sums.deduplicated_bytes,
        uncounted=(
            []  # every parameter is a row's `weight` or `bias`: the common case
            if sums.counted.issuperset(params)
            else [(p.name, p.numel) for i, p in params.items() if i not in sums.counted]
        ),
    )
