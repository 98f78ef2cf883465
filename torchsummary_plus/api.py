"""The public functions: they check the call, then print or return what the pipeline makes."""
from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import torch.nn as nn

from ._arguments import CallSpec, check_call, check_flags
from ._compare import check_tablefmt, print_comparison
from ._pipeline import Device, InputData, InputSize, summarize
from ._result import SummaryResult
from ._tree import check_tree_options


def summary(
    model: nn.Module,
    input_size: InputSize | None = None,
    batch_size: int = -1,
    device: Device = "cuda",
    dtypes: Sequence[Any] | None = None,
    *,
    input_data: InputData | None = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    layout: str = "pypi",
    plus: bool = True,
    compare: bool = False,
    flops: bool = False,
    depth: int | None = None,
    tablefmt: str | None = None,
) -> SummaryResult:
    """Print torchsummary's table for ``model`` (byte for byte), then the corrected figures.

    ``input_data`` (a tensor, a sequence of positional arguments, or a mapping of keyword
    arguments) runs the model on the caller's own inputs instead of ones made from
    ``input_size``; ``forward_kwargs`` is added to the call either way.
    ``layout="tree"`` prints the module tree instead, ``depth`` levels deep (3 unless given),
    in any of tabulate's formats (``tablefmt``, "simple" unless given). ``flops=True`` counts
    the pass's floating-point operations (torch's ``FlopCounterMode``). ``compare=True`` adds
    the comparison table (see ``compare``), from the same pass. Returns the pair
    ``(total_params, trainable_params)`` with every figure as an attribute.
    """
    check_flags(plus=plus, compare=compare, flops=flops)
    spec, depth, tablefmt = _checked(model, input_size, batch_size, device, dtypes, layout,
                                     input_data, forward_kwargs, flops, depth, tablefmt)
    lines, result = summarize(spec, model, plus, depth, tablefmt)
    write = sys.stdout.write
    for line in lines:
        write(line + "\n")
    if layout == "master":
        write("\n")  # the master prints its string, which already ends with a newline
    if compare:
        print_comparison(model, spec, result)
    return result


def summary_string(
    model: nn.Module,
    input_size: InputSize | None = None,
    batch_size: int = -1,
    device: Device = "cuda",
    dtypes: Sequence[Any] | None = None,
    *,
    input_data: InputData | None = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    layout: str = "master",
    plus: bool = True,
    flops: bool = False,
    depth: int | None = None,
    tablefmt: str | None = None,
) -> tuple[str, SummaryResult]:
    """Return ``(text, result)`` as the GitHub master's ``summary_string`` does; prints nothing.
    The keyword options are ``summary``'s."""
    check_flags(plus=plus, flops=flops)
    spec, depth, tablefmt = _checked(model, input_size, batch_size, device, dtypes, layout,
                                     input_data, forward_kwargs, flops, depth, tablefmt)
    lines, result = summarize(spec, model, plus, depth, tablefmt)
    return "".join(line + "\n" for line in lines), result


def _checked(
    model: Any, input_size: Any, batch_size: Any, device: Any, dtypes: Any, layout: Any,
    input_data: Any, forward_kwargs: Any, flops: bool, depth: Any, tablefmt: Any,
) -> tuple[CallSpec, int, str]:
    """The call checked, the tree's options included, before anything runs."""
    spec = dataclasses.replace(
        check_call(model, input_size, batch_size, device, dtypes, layout, input_data, forward_kwargs),
        flops=flops,
    )
    depth, tablefmt = check_tree_options(layout, depth, tablefmt)
    check_tablefmt(tablefmt)
    return spec, depth, tablefmt
