"""Check and normalise the arguments of a summary call.

Every error a caller can make with the arguments is raised here, before the model runs
and before anything is printed.
"""
from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn as nn

from ._given import GivenCall, check_given, check_reachable, shapes_and_dtypes
from ._legacy import LAYOUTS as TABLE_LAYOUTS

LAYOUTS = (*TABLE_LAYOUTS, "tree")  # torchsummary's two tables, and the module tree (_tree)


@dataclass(frozen=True)
class CallSpec:
    """What one summary call was asked for, in checked and normalised form."""

    input_shapes: tuple[tuple[int, ...], ...]  # one shape per input, without the batch
    batch_size: int  # -1 or positive, as shown in the table
    dtypes: tuple[torch.dtype, ...]  # one per input
    device: torch.device  # where the inputs are made and the pass runs
    meta_run: bool  # run a model with real parameters on meta stand-ins
    layout: str
    given: GivenCall = field(default_factory=GivenCall)  # the caller's input_data and forward_kwargs
    flops: bool = False  # count floating-point operations in the pass (``_flops``)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def _is_shape(value: Any) -> bool:
    if not isinstance(value, (tuple, list)):
        return False
    dims = [_as_int(v) for v in value]
    return len(dims) > 0 and all(d is not None and d > 0 for d in dims)


def check_input_size(input_size: Any) -> tuple[tuple[int, ...], ...]:
    """One shape (tuple of positive ints) or a list of shapes, one per input."""
    expected = (
        "expected a tuple of positive ints such as (3, 224, 224), "
        "or a list of such tuples, one per input"
    )
    if isinstance(input_size, (tuple, list)) and _is_shape(input_size):
        return (tuple(int(d) for d in input_size),)
    several = isinstance(input_size, (tuple, list)) and len(input_size) > 0
    if several and all(_is_shape(s) for s in input_size):
        return tuple(tuple(int(d) for d in s) for s in input_size)
    raise ValueError(f"input_size={input_size!r} is not valid: {expected}")


def check_batch_size(batch_size: Any) -> int:
    value = _as_int(batch_size)
    if value is None or not (value == -1 or value > 0):
        raise ValueError(
            f"batch_size={batch_size!r} is not valid: expected -1 (shown as -1 in the table) "
            "or a positive int"
        )
    return value


def _dtype_of(item: Any) -> torch.dtype | None:
    if isinstance(item, torch.dtype):
        return item
    dtype = getattr(item, "dtype", None) if isinstance(item, type) else None
    if isinstance(dtype, torch.dtype):  # legacy tensor types such as torch.LongTensor
        return dtype
    return None


def check_dtypes(dtypes: Any, n_inputs: int, described_by: str = "input_size") -> tuple[torch.dtype, ...]:
    if dtypes is None:
        return (torch.float32,) * n_inputs
    if not isinstance(dtypes, (list, tuple)):
        raise TypeError(
            f"dtypes={dtypes!r} is not valid: expected a list with one tensor type "
            "(torch.FloatTensor, torch.LongTensor, ...) or torch.dtype per input"
        )
    if len(dtypes) != n_inputs:
        raise ValueError(
            f"dtypes has {len(dtypes)} entries but {described_by} describes {n_inputs} "
            f"input{'s' if n_inputs != 1 else ''}: give one dtype per input"
        )
    found = []
    for position, item in enumerate(dtypes):
        dtype = _dtype_of(item)
        if dtype is None:
            raise TypeError(
                f"dtypes[{position}]={item!r} is not a tensor type or torch.dtype: expected "
                "for example torch.FloatTensor, torch.LongTensor or torch.int64"
            )
        if not _can_make(dtype):
            raise ValueError(
                f"dtypes[{position}]={item!r} is a dtype the pass cannot make inputs of (quantized "
                "and bit types have no random values): expected a floating, integer or bool dtype"
            )
        found.append(dtype)
    return tuple(found)


def _can_make(dtype: torch.dtype) -> bool:
    """Whether an input of this dtype can be made the way the pass makes inputs."""
    try:
        torch.zeros(1).to(dtype)
    except (RuntimeError, NotImplementedError, TypeError):
        return False
    return True


def _parse_device(device: Any) -> torch.device:
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device.strip().lower())
        except RuntimeError:
            pass
        raise ValueError(
            f"device={device!r} is not a device torch knows: expected 'cpu', 'cuda', "
            "'cuda:1', 'meta' or a torch.device"
        )
    raise TypeError(f"device={device!r} is not valid: expected a str or a torch.device")


def _model_device(model: nn.Module) -> torch.device | None:
    for param in model.parameters():
        return param.device
    for buffer in model.buffers():
        return buffer.device
    return None


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def resolve_device(model: nn.Module, device: Any) -> tuple[torch.device, bool]:
    """Where the pass runs: where the model's parameters are.

    Like torchsummary, an unavailable CUDA quietly means the CPU. A request for 'meta' with a
    model on a real device runs on meta stand-ins (returned flag True). Any other disagreement
    with the parameters gives one warning and the parameters' device wins.
    """
    requested = _parse_device(device)
    if requested.type == "cuda" and not torch.cuda.is_available():
        requested = torch.device("cpu")
        fell_back = True
    else:
        fell_back = False
    actual = _model_device(model)
    if actual is None:
        return requested, False
    if requested.type == "meta" and actual.type != "meta":
        return requested, True
    if not _same_device(requested, actual) and not (fell_back and actual.type == "meta"):
        warnings.warn(
            f"device={str(device)!r} differs from the device of the model's parameters "
            f"({actual}); the inputs are made on {actual}",
            stacklevel=4,
        )
    return actual, False


def check_flags(**flags: Any) -> None:
    """Keyword options that are switches take True or False, nothing else."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{name}={value!r} is not valid: expected True or False")


def check_call(
    model: Any,
    input_size: Any,
    batch_size: Any,
    device: Any,
    dtypes: Any,
    layout: Any,
    input_data: Any = None,
    forward_kwargs: Any = None,
) -> CallSpec:
    """Raise TypeError/ValueError for anything wrong; return the normalised call."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module, got {type(model).__module__}."
            f"{type(model).__qualname__}"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not valid: expected one of {LAYOUTS}")
    if input_size is None and input_data is None:
        raise TypeError(
            "input_size is missing: give input_size (such as (3, 224, 224)) for inputs made like "
            "torchsummary's, or input_data= with the model's own inputs"
        )
    batch = check_batch_size(batch_size)
    given = check_given(input_data, forward_kwargs)
    if given.args is None:
        shapes = check_input_size(input_size)
        types = check_dtypes(dtypes, len(shapes))
    else:
        shapes, types = shapes_and_dtypes(given)
        _check_agree(input_size, dtypes, shapes, types)
    run_device, meta_run = resolve_device(model, device)
    check_reachable(given, run_device)
    return CallSpec(shapes, batch, types, run_device, meta_run, layout, given)


def _check_agree(input_size: Any, dtypes: Any, shapes: tuple[tuple[int, ...], ...],
                 types: tuple[torch.dtype, ...]) -> None:
    """``input_size`` and ``dtypes`` given beside ``input_data`` must describe its tensors."""
    described = [list(s) for s in shapes]
    if input_size is not None and check_input_size(input_size) != shapes:
        raise ValueError(
            f"input_size={input_size!r} disagrees with input_data, whose tensors have the shapes "
            f"{described} without their first dimension: leave input_size out, or make them agree"
        )
    if dtypes is not None and check_dtypes(dtypes, len(types), "input_data") != types:
        raise ValueError(
            f"dtypes={dtypes!r} disagrees with input_data, whose tensors are "
            f"{[str(t) for t in types]}: leave dtypes out, or make them agree"
        )


def make_inputs(spec: CallSpec) -> list[torch.Tensor]:
    """A batch of 2 per input, as torchsummary makes it (uniform noise cast to the dtype).

    The noise comes from the global generator like torchsummary's; the trace restores the
    generator's state afterwards. On meta nothing is allocated.
    """
    if spec.device.type == "meta":
        return [
            torch.empty(2, *shape, dtype=dtype, device="meta")
            for shape, dtype in zip(spec.input_shapes, spec.dtypes, strict=True)
        ]
    return [
        torch.rand(2, *shape).to(dtype).to(spec.device)
        for shape, dtype in zip(spec.input_shapes, spec.dtypes, strict=True)
    ]

