"""Which parameters take part in the forward pass.

A ``TorchFunctionMode`` notes every model parameter that appears among the arguments of a
torch operation (looking at metadata such as ``.shape`` or ``.dtype`` is not use). Watching
every operation costs a Python call per op, so it is switched off inside *trusted* modules:
modules whose class comes from ``torch.nn`` itself, with only such modules below them. A
trusted module that runs uses all the parameters below it (``nn.MultiheadAttention`` reads
its ``out_proj`` without calling it; the fast path of ``nn.TransformerEncoderLayer`` calls
no child at all), so those are counted from the module instead of from its operations.
"""
from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

_T = torch.Tensor
# Reading these says nothing about the values: not a use of the parameter.
_INSPECTIONS = frozenset(
    [getattr(_T, name).__get__ for name in (
        "shape", "dtype", "device", "requires_grad", "is_leaf", "grad", "grad_fn", "ndim",
        "layout", "is_cuda", "is_meta", "is_sparse", "is_quantized", "_version",
    )]
    + [getattr(_T, name) for name in (
        "size", "dim", "numel", "nelement", "element_size", "stride", "is_contiguous",
        "is_floating_point", "is_complex", "data_ptr", "storage_offset", "__len__",
        "__hash__", "__repr__", "__format__", "get_device", "ndimension",
    )]
)
# Classes from torch.nn whose forward may leave some of their own parameters out.
_PARTIAL_USERS = frozenset([nn.AdaptiveLogSoftmaxWithLoss])


class ParameterWatch(TorchFunctionMode):
    """Records the ids of watched tensors that appear in the arguments of an op."""

    def __init__(self, watched_ids: set[int]) -> None:
        super().__init__()
        self.watched_ids = watched_ids
        self.seen_ids: set[int] = set()

    def _note(self, values: Iterable[Any]) -> None:
        watched, seen = self.watched_ids, self.seen_ids
        for value in values:
            if id(value) in watched:
                seen.add(id(value))
            elif type(value) is list or type(value) is tuple:
                self._note(value)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        if kwargs is None:
            kwargs = {}
        if func not in _INSPECTIONS:
            self._note(args)
            if kwargs:
                self._note(kwargs.values())
        return func(*args, **kwargs)


def trusted_modules(model: nn.Module) -> set[nn.Module]:
    """Modules of torch.nn's own classes with only such modules below them."""
    trusted: set[nn.Module] = set()

    def visit(module: nn.Module) -> bool:
        children_ok = all([visit(child) for child in module.children()])
        cls = type(module)
        own = cls.__module__.startswith("torch.nn.modules.") and cls not in _PARTIAL_USERS
        if own and children_ok:
            trusted.add(module)
        return own and children_ok

    visit(model)
    return trusted


def trusted_roots(model: nn.Module, trusted: set[nn.Module]) -> list[nn.Module]:
    """Trusted modules entered from watched code: the model itself or under an untrusted parent."""
    roots = [model] if model in trusted else []
    for parent in model.modules():
        if parent in trusted:
            continue
        roots += [child for child in parent.children() if child in trusted and child not in roots]
    return roots


class WatchSwitch:
    """Forward pre-hook and always-called forward hook that pause the watch inside trusted code.

    The watch is paused only when it is on top of the mode stack (a mode the model pushes
    itself stays untouched), and resumed when the outermost trusted module returns or raises.
    """

    def __init__(self, watch: ParameterWatch) -> None:
        self.watch = watch
        self.depth = 0
        self.paused = False
        self.ran: set[nn.Module] = set()

    def enter(self, module: nn.Module, args: Any) -> None:
        if self.depth == 0:
            n = torch._C._len_torch_function_stack()
            if n and torch._C._get_function_stack_at(n - 1) is self.watch:
                torch._C._pop_torch_function_stack()
                self.paused = True
        self.depth += 1

    def leave(self, module: nn.Module, args: Any, output: Any) -> None:
        self.ran.add(module)
        self.depth -= 1
        if self.depth == 0 and self.paused:
            torch._C._push_on_torch_function_stack(self.watch)
            self.paused = False
