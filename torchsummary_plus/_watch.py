"""Which parameters take part in the forward pass.

A ``TorchFunctionMode`` notes every model parameter that appears among the arguments of a
torch operation (looking at metadata such as ``.shape`` or ``.dtype`` is not use). Watching
every operation costs a Python call per op, so it is switched off inside *trusted* modules:
modules whose class comes from ``torch.nn`` itself, with only such modules below them. A
trusted module that runs uses all the parameters below it (``nn.MultiheadAttention`` reads
its ``out_proj`` without calling it; the fast path of ``nn.TransformerEncoderLayer`` calls
no child at all), so those are counted from the module instead of from its operations.
Where custom code cannot yet hold a parameter, the watch is not on the stack at all (see
``_gate``); ``WatchSwitch`` puts it on at the first parameter read.
"""
from __future__ import annotations

import threading
from itertools import chain, repeat
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

_T = torch.Tensor
_stack_length = torch._C._len_torch_function_stack
_pop = torch._C._pop_torch_function_stack
_push = torch._C._push_on_torch_function_stack
_DATA_GETTER = _T.data.__get__
_WRITING_DUNDERS = frozenset(
    ["__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
     "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"]
)
# Reading these says nothing about the values: not a use of the parameter.
_INSPECTIONS = frozenset(
    [getattr(_T, name).__get__ for name in (
        "shape", "dtype", "device", "requires_grad", "is_leaf", "grad", "grad_fn", "ndim",
        "layout", "is_cuda", "is_cpu", "is_meta", "is_sparse", "is_quantized", "_version",
        "nbytes", "itemsize",
    )]
    + [getattr(_T, name) for name in (
        "size", "dim", "numel", "nelement", "element_size", "stride", "is_contiguous",
        "is_floating_point", "is_complex", "data_ptr", "storage_offset", "__len__",
        "__hash__", "__repr__", "__format__", "get_device", "ndimension",
    )]
)


class ParameterWatch(TorchFunctionMode):
    """Records the ids of watched tensors that appear in the arguments of an op."""

    def __init__(self, watched_ids: set[int]) -> None:
        super().__init__()
        self.watched_ids = watched_ids
        self.seen_ids: set[int] = set()
        # copies of parameters taken just before the pass first writes to them (or hands out
        # their `.data`), so that they can be put back: id -> (parameter, copy)
        self.originals: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _keep_original(self, func: Any, param: torch.Tensor) -> None:
        if id(param) in self.originals:
            return
        name = getattr(func, "__name__", "")
        writes = (name.endswith("_") and not name.endswith("__")) or name in _WRITING_DUNDERS
        if writes or func is _DATA_GETTER:
            self.originals[id(param)] = (param, param.detach().clone())

    def _note_nested(self, values: Iterable[Any]) -> None:
        for value in values:
            if id(value) in self.watched_ids:
                self.seen_ids.add(id(value))
            elif type(value) is list or type(value) is tuple:
                self._note_nested(value)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        # The hot path of the watch: one call per op of untrusted code, kept flat.
        if kwargs is None:
            kwargs = {}
        if func not in _INSPECTIONS:
            watched = self.watched_ids
            if args and id(args[0]) in watched:
                self._keep_original(func, args[0])
            for value in args:
                if id(value) in watched:
                    self.seen_ids.add(id(value))
                elif type(value) is list or type(value) is tuple:
                    self._note_nested(value)
            if kwargs:
                self._note_nested(kwargs.values())
                if id(kwargs.get("out")) in watched:
                    self._keep_original(_DATA_GETTER, kwargs["out"])
        return func(*args, **kwargs)


class WatchSwitch:
    """Pauses the watch while a trusted root runs (see ``_observe`` for how it is called).

    The watch is paused only when it is on top of the mode stack (a mode the model pushes
    itself stays untouched) and resumed when the outermost trusted module returns or raises.
    Both are on the hot path of every call of a trusted root, so they stay small (and its
    attributes are slots, read on every call).
    """

    __slots__ = (
        "watch", "owners", "canonical", "depth", "paused", "base", "top", "watching",
        "verifying", "untrusted", "thread", "ran",
    )

    def __init__(self, watch: ParameterWatch, owners: dict[nn.Module, tuple[int, ...]]) -> None:
        self.watch = watch
        self.owners = owners  # each module's own parameter ids, as the index found them
        self.canonical: dict[int, int] = {}  # a meta run's stand-in ids -> the real ones
        self.depth = 0
        self.paused = False
        self.base = 0  # the mode stack's length before the pass
        self.top = -1  # the mode stack's length while the watch is on top of it
        self.watching = False  # whether the watch is on the stack (see ``_gate``)
        # whether a trusted root must be checked to hold its own parameters before it is
        # trusted: code may swap others in (torch.func.functional_call does)
        self.verifying = False
        self.untrusted = None  # the outermost root running now, if it failed that check
        self.thread = -1  # the thread running the pass
        self.ran: set[nn.Module] = set()

    def start(self, watch_now: bool) -> None:
        """The pass begins; the watch goes on now, or at the first ``parameter_read``."""
        self.base = _stack_length()
        self.thread = threading.get_ident()
        if watch_now:
            self.parameter_read()

    def parameter_read(self) -> None:
        """Custom code may now hold a parameter: watch every operation from here on. The
        watch goes below any mode the model has pushed since the pass began. (The mode stack
        is per thread: reads from another thread are not the pass's.)"""
        if self.watching or threading.get_ident() != self.thread:
            return
        self.watching = True
        above = [_pop() for _ in range(_stack_length() - self.base)]
        _push(self.watch)
        self.top = self.base + 1
        for mode in reversed(above):
            _push(mode)

    def registry_written(self) -> None:
        """Custom code wrote to a parameter registry: from here on a trusted root is trusted
        only while it holds its own parameters (``holds_own``), and the watch is on."""
        if threading.get_ident() != self.thread:
            return
        self.verifying = True
        self.parameter_read()

    def stop(self) -> None:
        """The pass ended (or raised): take the watch off the stack if it is on top."""
        n = _stack_length()
        if n and torch._C._get_function_stack_at(n - 1) is self.watch:
            _pop()

    def enter(self, module: nn.Module, args: Any, kwargs: dict[str, Any]) -> None:
        """A trusted root starts (its forward pre-hook)."""
        depth = self.depth
        self.depth = depth + 1
        if not depth and self.watching:
            if self.verifying and not self.holds_own(module):
                self.untrusted = module  # watched, and not counted as a whole when it leaves
            else:
                self.paused = self.pause(args, kwargs)

    def leave(self, module: nn.Module) -> None:
        """A trusted root returned or raised (its always-called forward hook)."""
        if module is not self.untrusted:
            self.ran.add(module)
        self.depth -= 1
        if not self.depth:
            self.untrusted = None
            if self.paused:
                self.resume()
                self.paused = False

    def holds_own(self, module: nn.Module) -> bool:
        """Whether the module and those below it hold the parameters the index found: only
        then does a torch.nn module running use exactly those."""
        canonical, owners = self.canonical, self.owners
        for member in module.modules() if module._modules else (module,):
            held = [id(p) for p in member._parameters.values() if p is not None]
            if canonical:
                held = [canonical.get(key, key) for key in held]
            if tuple(held) != owners.get(member, ()):
                return False
        return True

    def pause(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """At the outermost trusted root, while watching: note the parameters handed to it as
        inputs (used there, unwatched) and pause the watch if it is on top of the mode stack;
        returns whether it paused. (Before the watch is on, no custom code can hold a
        parameter to hand over.)"""
        self.watch._note_nested(args)
        if kwargs:
            self.watch._note_nested(kwargs.values())
        if _stack_length() != self.top:
            return False
        _pop()
        return True

    def resume(self) -> None:
        """Put the paused watch back on top of the mode stack."""
        _push(self.watch)

    def unwatched(self, read: Callable[[Any], None], output: Any) -> None:
        """``read(output)`` with the watch off: a row reading its output's shape is no use of
        a parameter, and not worth an op's watch."""
        if _stack_length() != self.top:
            read(output)
            return
        _pop()
        try:
            read(output)
        finally:
            _push(self.watch)

    def used_ids(self, containers: set[nn.Module]) -> set[int]:
        """Every parameter below the trusted roots that ran (``containers``: the model's
        modules that have children; the others hold only their own parameters)."""
        ran = self.ran
        ids = set(chain.from_iterable(map(self.owners.get, ran, repeat(()))))
        for module in ran & containers:
            ids.update([id(p) for p in module.parameters()])
        return ids
