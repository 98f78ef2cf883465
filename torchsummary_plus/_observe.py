"""How one module is observed during the pass: its rows, and pausing the parameter watch.

torchsummary observes with forward hooks. A hooked module's call takes PyTorch's slow path
(a closure and a hook loop per call), which on small layers costs more than the layer. So
a module is observed by wrapping its ``forward`` for the duration of the pass (an instance
attribute, removed afterwards) wherever that sees exactly what torchsummary's hook sees:
the module has no forward hooks of its own (a hook may replace the output) and is no
TorchScript module. Elsewhere a forward hook registered after the user's does the same.
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import torch
import torch.nn as nn

from ._shapes import describe
from ._watch import WatchSwitch

CALL_IMPL = nn.Module._call_impl.__code__
_MODULE_FILE = CALL_IMPL.co_filename  # torch/nn/modules/module.py: where modules are called
_NO_ATTRIBUTE = object()


class ModuleFacts:
    """What a row needs to know about its module, read as torchsummary reads it."""

    __slots__ = ("class_name", "qualname", "naive_count", "trainable", "naive", "own_ids")

    def __init__(self, module: nn.Module, qualname: str, canonical: dict[int, int]) -> None:
        self.class_name = class_name(type(module))
        self.qualname = qualname
        self.trainable: bool | None = None  # decided by `weight` alone, None without one
        naive = []  # (tensor id, numel) of what torchsummary counts: `weight` and `bias` only
        for attr, reads in (("weight", 4), ("bias", 3)):
            tensor = _read_like_torchsummary(module, attr, reads)
            if not isinstance(tensor, torch.Tensor):
                continue
            naive.append((canonical.get(id(tensor), id(tensor)), tensor.numel()))
            if attr == "weight":
                self.trainable = tensor.requires_grad
        self.naive = tuple(naive)
        self.naive_count = sum(numel for _, numel in naive)
        self.own_ids = tuple(
            canonical.get(id(p), id(p)) for p in module._parameters.values() if p is not None
        )


@functools.lru_cache(maxsize=None)
def class_name(cls: type) -> str:
    """torchsummary's way of naming a row: the text after the last dot of str(class)."""
    return str(cls).split(".")[-1].split("'")[0]


@functools.lru_cache(maxsize=None)
def _class_computes_weight(cls: type) -> bool:
    return isinstance(getattr(cls, "weight", None), property) or isinstance(
        getattr(cls, "bias", None), property
    )


def computes_weight(module: nn.Module) -> bool:
    """Whether reading `weight` or `bias` runs code (a parametrization's property)."""
    return _class_computes_weight(type(module))


def _read_like_torchsummary(module: nn.Module, attr: str, reads: int) -> Any:
    """torchsummary reads `weight` four times and `bias` three times when they are tensors.

    Where reading runs code (a parametrization calls its modules, which print rows of their
    own), it is read that many times, so the same rows appear in the same order. Otherwise
    the registries are looked up first: ``Module.__getattr__`` raising for a missing name is
    slow, and most modules have no `weight`.
    """
    if computes_weight(module) or isinstance(module, torch.jit.ScriptModule):
        value = getattr(module, attr, None)
        if isinstance(value, torch.Tensor):
            for _ in range(reads - 1):
                value = getattr(module, attr, None)
        return value
    for registry in (module.__dict__, module._parameters, module._buffers, module._modules):
        value = registry.get(attr, _NO_ATTRIBUTE)
        if value is not _NO_ATTRIBUTE:
            return value
    return getattr(module, attr, None) if hasattr(type(module), attr) else None


def row_recorder(
    rows: list[tuple[ModuleFacts, Any]],
    module: nn.Module,
    qualname: str,
    copies: int,
    canonical: dict[int, int],
) -> Callable[[Any], None]:
    """Appends ``copies`` rows for one call of ``module``, given its output.

    torchsummary hooks a module once per parent holding it, so it prints that many rows per
    call. Like torchsummary, `weight` and `bias` are read after the module ran (a pre-hook
    may have made them): once for the first call, or at every call where reading runs code.
    """
    facts: ModuleFacts | None = None
    every_call = computes_weight(module)
    tensor = torch.Tensor
    append = rows.append

    def record(output: Any) -> None:
        nonlocal facts
        shape = output.shape if type(output) is tensor else describe(output)
        for _ in range(copies):
            if facts is None or every_call:
                at = len(rows)
                append(None)  # type: ignore[arg-type]  # this row's number comes first
                facts = ModuleFacts(module, qualname, canonical)
                rows[at] = (facts, shape)
            else:
                append((facts, shape))

    return record


def can_wrap(module: nn.Module) -> bool:
    """Whether wrapping ``forward`` sees what torchsummary's hook would see."""
    return not module._forward_hooks and not isinstance(module, torch.jit.ScriptModule)


def wrap_forward(
    module: nn.Module, record: Callable[[Any], None] | None, switch: WatchSwitch | None
) -> Callable[[], None]:
    """Observe ``module`` through its ``forward``; returns the function that undoes it.

    Only calls made through ``module(...)`` are observed, as hooks would: a direct
    ``module.forward(...)`` from the model's code runs unobserved.
    """
    previous = module.__dict__.get("forward", _NO_ATTRIBUTE)
    original = module.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        if sys._getframe(1).f_code.co_filename != _MODULE_FILE:
            return original(*args, **kwargs)
        if switch is not None:
            switch.enter(module, args, kwargs)
        try:
            output = original(*args, **kwargs)
        except BaseException:
            if switch is not None:
                switch.leave(module)
            raise
        if record is not None:
            record(output)  # before the watch resumes: reading the shape is then cheap
        if switch is not None:
            switch.leave(module)
        return output

    functools.update_wrapper(forward, original)
    module.__dict__["forward"] = forward

    def undo() -> None:
        if previous is _NO_ATTRIBUTE:
            module.__dict__.pop("forward", None)
        else:
            module.__dict__["forward"] = previous

    return undo


def _raised_in(module: nn.Module) -> bool:
    """Whether an always-called hook of ``module`` runs because its call raised.

    Then the exception being handled was caught in that module's own ``_call_impl``; an
    exception the model's code is handling around a normal call was caught elsewhere.
    """
    error = sys.exc_info()[1]
    if error is None or error.__traceback__ is None:
        return False
    frame = error.__traceback__.tb_frame
    return frame.f_code is CALL_IMPL and frame.f_locals.get("self") is module


def hook_module(
    module: nn.Module, record: Callable[[Any], None] | None, switch: WatchSwitch | None
) -> list[Any]:
    """Observe ``module`` with hooks registered after the user's; returns their handles.

    The forward hook is called even when the module raises (to resume the watch), and then
    adds no row, as torchsummary's hook would not run.
    """
    def hook(module: nn.Module, args: Any, output: Any) -> None:
        if sys.exc_info()[1] is not None and _raised_in(module):
            if switch is not None:
                switch.leave(module)
            return
        if record is not None:
            record(output)
        if switch is not None:
            switch.leave(module)

    handles = []
    if switch is not None:
        handles.append(module.register_forward_pre_hook(switch.enter, with_kwargs=True))
    handles.append(module.register_forward_hook(hook, always_call=True))
    return handles
