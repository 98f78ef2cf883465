"""The caller's own arguments for the pass: ``input_data=`` and ``forward_kwargs=``.

Checked here before anything runs; the tensors among them (also inside plain lists, tuples
and dicts) are copied onto the pass's device just before the pass, so that neither a move
nor an in-place operation of the model can change the caller's tensors. Everything else
passes through as it is.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass(frozen=True)
class GivenCall:
    """What the model is called with: ``model(*args, **kwargs)``.

    ``args`` is None where the summary makes its inputs from ``input_size``; ``kwargs`` then
    holds ``forward_kwargs`` alone.
    """

    args: tuple[Any, ...] | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_tensors: tuple[torch.Tensor, ...] = ()  # input_data's tensors, in order
    extra: tuple[torch.Tensor, ...] = ()  # forward_kwargs' tensors


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """The tensors of ``value``: itself, or inside plain lists, tuples and dicts."""
    if isinstance(value, torch.Tensor):
        yield value
    elif type(value) in (list, tuple):
        for item in value:
            yield from tensors_in(item)
    elif type(value) is dict:
        for item in value.values():
            yield from tensors_in(item)


def placed(value: Any, device: torch.device, copies: dict[int, torch.Tensor] | None = None) -> Any:
    """``value`` with each of its tensors replaced by a copy on ``device`` (same values,
    dtype and ``requires_grad``; a tensor given twice, one copy); other objects are the
    caller's own."""
    copies = {} if copies is None else copies
    if isinstance(value, torch.Tensor):
        if id(value) not in copies:
            copy = value.detach().to(device, copy=True)
            copies[id(value)] = copy.requires_grad_() if value.requires_grad else copy
        return copies[id(value)]
    if type(value) in (list, tuple):
        return type(value)(placed(item, device, copies) for item in value)
    if type(value) is dict:
        return {key: placed(item, device, copies) for key, item in value.items()}
    return value


def _keywords(mapping: Mapping[Any, Any], name: str) -> dict[str, Any]:
    for key in mapping:
        if not isinstance(key, str):
            raise TypeError(
                f"{name} has the key {key!r}: expected str keys, the names of the forward's "
                "keyword arguments"
            )
    return dict(mapping)


def check_reachable(given: GivenCall, device: torch.device) -> None:
    """A meta tensor holds no values: it cannot be copied onto a real device."""
    for name, tensors in (("input_data", given.input_tensors), ("forward_kwargs", given.extra)):
        if any(t.device.type == "meta" for t in tensors) and device.type != "meta":
            raise ValueError(
                f"{name} holds a tensor on meta, which has no values to copy to {device}, where "
                f"the pass runs (the model's parameters' device): expected tensors on a real "
                f"device (any: they are copied to {device}), or device='meta'"
            )


def check_given(input_data: Any, forward_kwargs: Any) -> GivenCall:
    """``input_data``: a tensor, a sequence of positional arguments, or a mapping of keyword
    arguments; ``forward_kwargs``: a mapping added to the call either way."""
    if forward_kwargs is None:
        extra: dict[str, Any] = {}
    elif isinstance(forward_kwargs, Mapping):
        extra = _keywords(forward_kwargs, "forward_kwargs")
    else:
        raise TypeError(
            f"forward_kwargs of type {type(forward_kwargs).__name__} is not valid: expected a "
            "mapping of the forward's keyword arguments, such as {'attention_mask': mask}"
        )
    extra_tensors = tuple(tensors_in(extra))
    if input_data is None:
        return GivenCall(None, extra, extra=extra_tensors)
    if isinstance(input_data, torch.Tensor):
        args: tuple[Any, ...] = (input_data,)
        kwargs: dict[str, Any] = {}
    elif isinstance(input_data, Sequence) and not isinstance(input_data, (str, bytes, bytearray)):
        args, kwargs = tuple(input_data), {}
    elif isinstance(input_data, Mapping):
        args, kwargs = (), _keywords(input_data, "input_data")
    else:
        raise TypeError(
            f"input_data of type {type(input_data).__name__} is not valid: expected a tensor, a "
            "sequence (list, tuple) of the forward's positional arguments, or a mapping of its "
            "keyword arguments"
        )
    both = sorted(set(kwargs) & set(extra))
    if both:
        raise ValueError(
            f"input_data and forward_kwargs both give {', '.join(both)}: give each keyword "
            "argument once"
        )
    tensors = tuple(tensors_in((args, kwargs)))
    return GivenCall(args, {**kwargs, **extra}, tensors, extra_tensors)


def shapes_and_dtypes(
    given: GivenCall,
) -> tuple[tuple[tuple[int, ...], ...], tuple[torch.dtype, ...]]:
    """The input tensors' shapes without their first dimension (as torchsummary's
    ``input_size`` gives them), and their dtypes."""
    return (
        tuple(tuple(t.shape[1:]) for t in given.input_tensors),
        tuple(t.dtype for t in given.input_tensors),
    )


def input_nbytes(given: GivenCall) -> int:
    """The real bytes of the input tensors, each distinct tensor once."""
    distinct = {id(t): t for t in given.input_tensors}
    return sum(t.nbytes for t in distinct.values())
