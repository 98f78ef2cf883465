"""How one module is observed during the pass: its rows, and pausing the parameter watch.

torchsummary observes with forward hooks. A hooked module's call takes PyTorch's slow path
(a closure and a hook loop per call), which on small layers costs more than the layer. So
a module is observed by wrapping its ``forward`` for the duration of the pass (an instance
attribute, removed afterwards) wherever that sees exactly what torchsummary's hook sees:
the module has no forward hooks of its own (a hook may replace the output), is no
TorchScript module, no global forward hook exists and the model holds no DataParallel
(whose replicas would copy the wrapper). Elsewhere a forward hook registered after the
user's does the same (see ``_trace._observe`` for the choice).
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import torch
import torch.nn as nn
from torch import Tensor

from ._index import ParamInfo, traits
from ._shapes import describe
from ._watch import WatchSwitch

CALL_IMPL = nn.Module._call_impl.__code__
_MODULE_FILE = CALL_IMPL.co_filename  # torch/nn/modules/module.py: where modules are called
_NO_ATTRIBUTE = object()


class KnownTensors:
    """Facts about tensors already worked out by the model index, looked up by identity.

    ``canonical`` maps the meta stand-ins of a meta run back to the real parameters.
    """

    def __init__(self, params: dict[int, ParamInfo], canonical: dict[int, int]) -> None:
        self.params = params
        self.canonical = canonical

    def key(self, tensor: Tensor) -> int:
        return self.canonical.get(id(tensor), id(tensor))

    def info(self, tensor: Tensor) -> tuple[int, ParamInfo]:
        """(identity, facts) of a tensor a row counts; a parameter's come from the index."""
        key = self.canonical.get(id(tensor), id(tensor))
        info = self.params.get(key)
        if info is None:  # a buffer or a plain attribute called weight or bias
            numel = tensor.numel()
            info = ParamInfo("", numel, numel * tensor.element_size(), tensor.requires_grad)
        return key, info


class ModuleFacts:
    """What a row needs to know about its module, read as torchsummary reads it."""

    __slots__ = ("class_name", "qualname", "naive_count", "trainable", "naive", "row_ids")

    def __init__(self, module: nn.Module, qualname: str, known: KnownTensors) -> None:
        self.class_name = class_name(type(module))
        self.qualname = qualname
        weight, bias = _weight_and_bias(module)
        params = module._parameters
        if not params and weight is None and bias is None:  # activations, pooling, dropout...
            self.naive, self.naive_count, self.trainable, self.row_ids = (), 0, None, ()
            return
        # what torchsummary counts, `weight` and `bias` only: (identity, facts)
        naive = []
        if isinstance(weight, Tensor):
            naive.append(known.info(weight))
        if isinstance(bias, Tensor):
            naive.append(known.info(bias))
        self.naive = tuple(naive)
        self.naive_count = sum([info.numel for _, info in naive])
        # decided by `weight` alone, None without one
        self.trainable = naive[0][1].trainable if isinstance(weight, Tensor) else None
        # the tensors that make a later row of this module repeat an earlier one
        own = [known.key(p) for p in params.values() if p is not None] if params else []
        self.row_ids = tuple(own + [key for key, _ in naive if key not in own])


@functools.lru_cache(maxsize=None)
def class_name(cls: type) -> str:
    """torchsummary's way of naming a row: the text after the last dot of str(class)."""
    return str(cls).split(".")[-1].split("'")[0]


@functools.lru_cache(maxsize=None)
def _class_defines_weight_or_bias(cls: type) -> bool:
    return hasattr(cls, "weight") or hasattr(cls, "bias")


@functools.lru_cache(maxsize=None)
def _class_computes_weight(cls: type) -> bool:
    return isinstance(getattr(cls, "weight", None), property) or isinstance(
        getattr(cls, "bias", None), property
    )


def computes_weight(module: nn.Module) -> bool:
    """Whether reading `weight` or `bias` runs code (a parametrization's property)."""
    return _class_computes_weight(type(module))


def _registered(module: nn.Module, attr: str) -> Any:
    """What ``Module.__getattr__`` finds for ``attr``, without its slow raise when absent."""
    for registry in (module._parameters, module._buffers, module._modules):
        if attr in registry:
            return registry[attr]
    return None


def _reads_registries(module: nn.Module) -> bool:
    """Whether `weight` and `bias` can only come from the module's registries (the common
    case); otherwise an attribute or property may make them while the module runs."""
    instance = module.__dict__
    return not (
        _class_defines_weight_or_bias(type(module))
        or "weight" in instance
        or "bias" in instance
        or traits(type(module)).script
    )


def _weight_and_bias(module: nn.Module) -> tuple[Any, Any]:
    """`weight` and `bias` as torchsummary's hook reads them (None where absent).

    Most modules keep them in their registries (or have none): read there directly, since
    ``Module.__getattr__`` raising for a missing name is slow. Otherwise read the attribute
    as torchsummary does: `weight` four times and `bias` three times when they are tensors,
    so that where reading runs code (a parametrization calls its modules, which print rows
    of their own) the same rows appear in the same order.
    """
    if _reads_registries(module):
        if not (module._parameters or module._buffers or module._modules):
            return None, None
        return _registered(module, "weight"), _registered(module, "bias")
    read = []
    for attr, reads in (("weight", 4), ("bias", 3)):
        value = getattr(module, attr, None)
        if isinstance(value, Tensor) and computes_weight(module):
            for _ in range(reads - 1):
                value = getattr(module, attr, None)
        read.append(value)
    return read[0], read[1]


def row_recorder(
    rows: list[tuple[ModuleFacts, Any]],
    module: nn.Module,
    qualname: str,
    copies: int,
    known: KnownTensors,
) -> Callable[[Any], None]:
    """Appends ``copies`` rows for one call of ``module``, given its output.

    torchsummary hooks a module once per parent holding it, so it prints that many rows per
    call. Where `weight` and `bias` live in the registries, the facts are read now, before
    the pass (reading them in the middle of the pass costs twice as much); otherwise, like
    torchsummary, after the module ran (a pre-hook may have made them): for the first call,
    or at every call where reading runs code.
    """
    facts = ModuleFacts(module, qualname, known) if _reads_registries(module) else None
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
                facts = ModuleFacts(module, qualname, known)
                rows[at] = (facts, shape)
            else:
                append((facts, shape))

    return record


def can_wrap(module: nn.Module) -> bool:
    """Whether wrapping ``forward`` sees what torchsummary's hook would see."""
    return not module._forward_hooks and not traits(type(module)).script


def wrap_forward(
    module: nn.Module, record: Callable[[Any], None] | None, switch: WatchSwitch, pauses: bool
) -> Callable[[], None]:
    """Observe ``module`` through its ``forward``; returns the function that undoes it.

    Only calls made through ``module(...)`` are observed, as hooks would: a direct
    ``module.forward(...)`` from the model's code runs unobserved. This is the hot path of
    the pass (every call of every observed module), hence one body per case.
    """
    previous = module.__dict__.get("forward", _NO_ATTRIBUTE)
    original = module.forward
    getframe = sys._getframe
    note = record if record is not None else _ignore

    def forward(*args: Any, **kwargs: Any) -> Any:
        if getframe(1).f_code.co_filename != _MODULE_FILE:
            return original(*args, **kwargs)
        output = original(*args, **kwargs)
        switch.unwatched(note, output)
        return output

    def forward_pausing(*args: Any, **kwargs: Any) -> Any:
        if getframe(1).f_code.co_filename != _MODULE_FILE:
            return original(*args, **kwargs)
        switch.enter(module, args, kwargs)
        try:
            output = original(*args, **kwargs)
        except BaseException:
            switch.leave(module)
            raise
        note(output)  # before the watch resumes: reading the shape is then cheap
        switch.leave(module)
        return output

    wrapper = forward_pausing if pauses else forward
    wrapper.__wrapped__ = original  # type: ignore[attr-defined]  # inspect.signature follows it
    module.__dict__["forward"] = wrapper

    def undo() -> None:
        if previous is _NO_ATTRIBUTE:
            module.__dict__.pop("forward", None)
        else:
            module.__dict__["forward"] = previous

    return undo


def _ignore(output: Any) -> None:
    """The row recorder of a module that gets no rows (it only pauses the watch)."""


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
    module: nn.Module, record: Callable[[Any], None] | None, switch: WatchSwitch, pauses: bool
) -> list[Any]:
    """Observe ``module`` with hooks registered after the user's; returns their handles.

    The same steps as ``wrap_forward``'s. Where the module pauses the watch, its forward hook
    is called even when the module raises (to resume the watch), and then adds no row, as
    torchsummary's hook would not run.
    """
    note = record if record is not None else _ignore

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        switch.unwatched(note, output)

    def hook_pausing(module: nn.Module, args: Any, output: Any) -> None:
        if sys.exc_info()[1] is None or not _raised_in(module):
            note(output)  # before the watch resumes
        switch.leave(module)

    if not pauses:
        return [module.register_forward_hook(hook)]
    return [
        module.register_forward_pre_hook(switch.enter, with_kwargs=True),
        module.register_forward_hook(hook_pausing, always_call=True),
    ]
