"""The tree layout: one line per module of the hierarchy (not per call), each parameter
counted once in the whole table, sharing and disuse said in the module's own line.

Its figures come from what the trace records: in this layout the pass writes one row per
call of every module (the model and containers included), so a module's calls are its
rows and its output shape is its first row's. Modules deeper than ``depth`` fold into their
ancestor at ``depth``: their own parameters are added to its ``params`` (not to its
``params_below``), so that column still adds up to the parameters counted once.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from tabulate import tabulate

from ._figures import ancestors
from ._legacy import shown_and_counted
from ._trace import Trace

DEFAULT_DEPTH = 3
DEFAULT_TABLEFMT = "simple"
_HEADERS = ("module", "output shape", "calls", "params", "params below", "used")


class TreeRecord(NamedTuple):
    """One line of the tree (``SummaryResult.tree``)."""

    module: str  # qualified name, "" for the model
    depth: int  # 0 for the model, 1 for its children, ...
    output_shape: Any  # the first call's, as torchsummary shows it; None: never called
    calls: int  # times its forward ran in the pass
    params: int  # its own parameters (and those of modules folded into it), each once in the tree
    params_below: int  # the distinct parameters of the lines below it (folded ones: in params)
    used: str | None  # "yes", "no" or "partly" for the parameters of it and below; None: none
    shares: str | None  # the earlier module holding own parameters of its (not counted here)
    flops: int | None  # its calls' operations, below included; None: not asked for


def check_tree_options(layout: str, depth: Any, tablefmt: Any) -> tuple[int, str]:
    """``depth`` and ``tablefmt`` (None: the defaults) checked; they apply to the tree only."""
    if layout != "tree" and (depth is not None or tablefmt is not None):
        given = f"depth={depth!r}" if depth is not None else f"tablefmt={tablefmt!r}"
        raise ValueError(f"{given} applies to layout='tree' only (this call has layout={layout!r})")
    if depth is None:
        depth = DEFAULT_DEPTH
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise TypeError(f"depth={depth!r} is not valid: expected an int >= 0 (0: the model only)")
    if depth < 0:
        raise ValueError(f"depth={depth!r} is not valid: expected an int >= 0 (0: the model only)")
    return depth, DEFAULT_TABLEFMT if tablefmt is None else tablefmt


def _depth(qualname: str) -> int:
    return qualname.count(".") + 1 if qualname else 0


def tree_records(trace: Trace, depth: int, batch_size: int) -> list[TreeRecord]:
    """The tree's lines, pre-order, down to ``depth``."""
    calls: dict[str, int] = {}
    first: dict[str, Any] = {}
    for row in trace.rows:  # a copy made during the pass ("fc (a copy)") is no module here
        calls[row.module] = calls.get(row.module, 0) + 1
        first.setdefault(row.module, row.output)
    numel = {key: info.numel for key, info in trace.params.items()}
    holder: dict[int, str] = {}  # parameter -> the first module holding it
    shown: dict[str, int] = {}  # qualified name of each line -> its params
    shares: dict[str, str | None] = {}
    held: dict[str, set[int]] = {}  # each line -> its own parameters and those folded into it
    below: dict[str, set[int]] = {name: set() for name in trace.modules}
    for name in trace.modules:
        ids = trace.owners.get(name, ())
        repeated = [i for i in ids if i in holder]
        shares[name] = holder[repeated[0]] if repeated else None
        for i in ids:
            holder.setdefault(i, name)
        line = ancestors(name)[min(depth, _depth(name))]  # itself, or the ancestor it folds into
        shown[line] = shown.get(line, 0) + sum(numel[i] for i in ids if i not in repeated)
        held.setdefault(line, set()).update(ids)
        for prefix in ancestors(line)[:-1]:
            below[prefix].update(ids)
    records = []
    flops = trace.flops
    for name in trace.modules:
        if _depth(name) > depth:
            continue
        mine = below[name] | held[name]
        output = first.get(name)
        records.append(TreeRecord(
            module=name,
            depth=_depth(name),
            output_shape=None if output is None else shown_and_counted(output, batch_size)[0],
            calls=calls.get(name, 0),
            params=shown[name],
            params_below=sum(numel[i] for i in below[name]),
            used=_used(mine, trace.used_ids),
            shares=shares[name],
            flops=None if flops is None else flops.by_module[name],
        ))
    return records


def _used(ids: set[int], used_ids: set[int]) -> str | None:
    if not ids:
        return None
    taken = len(ids & used_ids)
    return "yes" if taken == len(ids) else "no" if taken == 0 else "partly"


def tree_table(
    records: list[TreeRecord], model_name: str, trace: Trace, tablefmt: str
) -> str:
    """The tree as tabulate renders it in ``tablefmt``, with a totals line."""
    flops = trace.flops
    cells = []
    for r in records:
        label = "  " * r.depth + (r.module.rsplit(".", 1)[-1] if r.module else model_name)
        params = f"{r.params:,}"
        if r.shares is not None:
            params = f"shares {r.shares}" if r.params == 0 else f"{params}, shares {r.shares}"
        cells.append([
            label, "-" if r.output_shape is None else str(r.output_shape), f"{r.calls:,}", params,
            f"{r.params_below:,}", r.used or "-", *([] if r.flops is None else [f"{r.flops:,}"]),
        ])
    everything = set(trace.params)
    total = sum(r.params for r in records)
    cells.append([
        "Total", "", "", f"{total:,}", "", _used(everything, trace.used_ids) or "-",
        *([] if flops is None else [f"{flops.total:,}"]),
    ])
    headers = [*_HEADERS, *([] if flops is None else ["flops"])]
    text: str = tabulate(
        cells, headers=headers, tablefmt=tablefmt, disable_numparse=True, preserve_whitespace=True,
        colalign=("left", "left", *("right",) * 3, "left", *("right",) * (flops is not None)),
    )
    return text

