"""The public functions: they check the call, trace one pass, compute figures and render."""
from __future__ import annotations

import contextlib
import gc
import sys
from typing import Any, Iterator, Sequence, Union

import torch
import torch.nn as nn

from ._arguments import CallSpec, check_call, check_flags
from ._figures import corrected_figures, legacy_figures, table_rows
from ._render import corrected_block, legacy_table
from ._result import SummaryResult
from ._trace import run_trace

InputSize = Union[Sequence[int], Sequence[Sequence[int]]]
Device = Union[str, torch.device]


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a summary makes its objects (several per
    module, none of them cyclic garbage): its passes, which walk every live object, would
    otherwise make the cost grow faster than the model."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _summarize(spec: CallSpec, model: nn.Module, plus: bool) -> tuple[Iterator[str], SummaryResult]:
    with _collector_paused():
        trace = run_trace(model, spec)
        rows, sums = table_rows(trace, spec.batch_size)
        legacy = legacy_figures(sums, spec)
        corrected = corrected_figures(trace, spec, sums)
        result = SummaryResult(rows, legacy, corrected)
        del trace  # freed before the collector resumes, which would otherwise walk all of it

    def lines() -> Iterator[str]:
        with _collector_paused():
            yield from legacy_table(rows, legacy)
            if plus:
                yield from corrected_block(rows, corrected)

    return lines(), result


def summary(
    model: nn.Module,
    input_size: InputSize,
    batch_size: int = -1,
    device: Device = "cuda",
    dtypes: Sequence[Any] | None = None,
    *,
    layout: str = "pypi",
    plus: bool = True,
    compare: bool = False,
) -> SummaryResult:
    """Print torchsummary's table for ``model`` (byte for byte), then the corrected figures.

    ``compare=True`` adds the comparison table (see ``compare``), from the same pass.
    Returns the pair ``(total_params, trainable_params)`` with every figure as an attribute.
    """
    check_flags(plus=plus, compare=compare)
    spec = check_call(model, input_size, batch_size, device, dtypes, layout)
    lines, result = _summarize(spec, model, plus)
    write = sys.stdout.write
    for line in lines:
        write(line + "\n")
    if layout == "master":
        write("\n")  # the master prints its string, which already ends with a newline
    if compare:
        from ._compare import print_comparison  # imported here: _compare imports this module

        print_comparison(model, spec, result)
    return result


def summary_string(
    model: nn.Module,
    input_size: InputSize,
    batch_size: int = -1,
    device: Device = "cuda",
    dtypes: Sequence[Any] | None = None,
    *,
    layout: str = "master",
    plus: bool = True,
) -> tuple[str, SummaryResult]:
    """Return ``(text, result)`` as the GitHub master's ``summary_string`` does; prints nothing."""
    check_flags(plus=plus)
    spec = check_call(model, input_size, batch_size, device, dtypes, layout)
    lines, result = _summarize(spec, model, plus)
    return "".join(line + "\n" for line in lines), result
