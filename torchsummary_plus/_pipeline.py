"""One summary from call to text: trace, figures, render. ``summary``, ``summary_string``,
``compare`` and the command line all come through here."""
from __future__ import annotations

import contextlib
import dataclasses
import gc
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
import torch.nn as nn

from ._arguments import CallSpec
from ._figures import corrected_figures, legacy_figures, table_rows
from ._render import corrected_block, legacy_table
from ._result import SummaryResult
from ._sharded import unwrapped_class
from ._trace import run_trace
from ._tree import DEFAULT_DEPTH, DEFAULT_TABLEFMT, tree_records, tree_table

InputSize = Sequence[int] | Sequence[Sequence[int]]
Device = str | torch.device
InputData = torch.Tensor | Sequence[Any] | Mapping[str, Any]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the summary makes its objects (several
    per module, none of them cyclic garbage): its passes, which walk every live object,
    would otherwise make the cost grow faster than the model."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def summarize(
    spec: CallSpec,
    model: nn.Module,
    plus: bool,
    depth: int = DEFAULT_DEPTH,
    tablefmt: str = DEFAULT_TABLEFMT,
) -> tuple[list[str], SummaryResult]:
    """The lines of the text (without newlines) and the result. Nothing is written here, so
    the collector is never left paused by a failing write to the caller's output.
    ``depth`` and ``tablefmt`` are the tree layout's."""
    with collector_paused():
        trace = run_trace(model, spec)
        rows, sums = table_rows(trace, spec.batch_size)
        legacy = legacy_figures(sums, spec)
        corrected = corrected_figures(trace, spec, sums)
        if spec.layout == "tree":
            tree = tree_records(trace, depth, spec.batch_size)
            lines = tree_table(tree, unwrapped_class(type(model)).__name__, trace, tablefmt).split("\n")
            # sharing is said in the tree's own lines: no footnotes on rows it does not show
            block_figures = dataclasses.replace(corrected, shared_rows={})
        else:
            tree = None
            lines = list(legacy_table(rows, legacy))
            block_figures = corrected
        result = SummaryResult(rows, legacy, corrected, tree)
        del trace  # freed before the collector resumes, which would otherwise walk all of it
        if plus:
            lines += corrected_block(rows, block_figures)
    return lines, result
