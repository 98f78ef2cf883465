"""Which parameters take part in the forward pass, and what it writes into them.

``ParameterWatch`` (a ``TorchFunctionMode``) notes every model parameter that appears among
the arguments of a torch operation, by identity, and by storage where an alias of a
parameter (a view, ``.detach()`` or ``.data``) was made before the pass; looking at metadata
such as ``.shape`` is not a use. Just before an operation first writes into a parameter's
storage, it keeps a copy of the parameter's values, for the restore.

``Watch`` switches it, and is the one pause: inside a *trusted root* (torch.nn's own code
only, see ``_index``) the mode is off the stack, and the root counts as using every parameter
below it (``nn.MultiheadAttention`` reads its ``out_proj`` without calling it). Its gate keeps
the mode off the stack altogether until custom code can hold a parameter: when, before the
pass, nothing but the registries refers to the parameters (no optimizer, closure, list, weak
reference, alias of a registry or of a storage), custom code can only get one by reading a
registry, and each registry is replaced for the pass by a ``GuardedParameters`` copy that
switches the watch on at the first read outside a trusted root. On meta it goes off again at
the next trusted root once every parameter read since is seen used (``stop_if_settled``):
nothing is left to note of them, and custom code gets another only by a registry read.
"""
from __future__ import annotations

import functools
import operator
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from itertools import chain, repeat
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from ._index import ModelIndex
from ._traits import traits

_T = torch.Tensor
_stack_length = torch._C._len_torch_function_stack
_pop = torch._C._pop_torch_function_stack
_push = torch._C._push_on_torch_function_stack
_storage_uses = torch._C._storage_Use_Count
_cdata = operator.attrgetter("_cdata")
_WRITING_DUNDERS = frozenset(
    ["__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ifloordiv__",
     "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__"]
)
# In-place by name, but they write no values.
_NOT_WRITING = frozenset(["requires_grad_", "retain_grad", "share_memory_"])
# Reading these says nothing about the values: not a use of the parameter.
_INSPECTIONS = frozenset(
    [getattr(_T, name).__get__ for name in (
        "shape", "dtype", "device", "requires_grad", "is_leaf", "grad", "grad_fn", "ndim",
        "layout", "is_cuda", "is_cpu", "is_meta", "is_sparse", "is_quantized", "_version",
        "nbytes", "itemsize", "is_nested",
    )]
    + [getattr(_T, name) for name in (
        "size", "dim", "numel", "nelement", "element_size", "stride", "is_contiguous",
        "is_floating_point", "is_complex", "data_ptr", "storage_offset", "__len__",
        "__hash__", "__repr__", "__format__", "get_device", "ndimension", "untyped_storage",
    )]
)


def storage_key(tensor: torch.Tensor) -> int | None:
    """The address of a tensor's values, where it has values of its own (meta tensors and
    tensor subclasses without a storage have none)."""
    if tensor.device.type == "meta":
        return None
    try:
        key = tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError, TypeError):
        return None
    return key or None


@functools.cache
def _writes(func: Any) -> bool:
    """Whether an operation writes into its first argument (or ``out``, checked apart)."""
    name = getattr(func, "__name__", "")
    if name in _WRITING_DUNDERS:
        return True
    return name.endswith("_") and not name.startswith("_") and name not in _NOT_WRITING


class ParameterWatch(TorchFunctionMode):
    """Records the watched tensors among an operation's arguments; keeps a copy of a
    parameter's values before the first write into its storage."""

    def __init__(self, index: ModelIndex) -> None:
        super().__init__()
        self.watched_ids: set[int] = set(index.params)
        self.seen_ids: set[int] = set()
        self.index = index
        self._by_storage: dict[int, list[torch.Tensor]] | None = None
        self.aliased = False  # whether use is also matched by storage (see `storages_aliased`)
        # copies taken just before the pass first writes into a parameter: id -> (it, copy)
        self.originals: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def by_storage(self) -> dict[int, list[torch.Tensor]]:
        """Storage -> the parameters on it; made at the first need (a write, or a use
        matched by storage), which most passes never have."""
        if self._by_storage is None:
            self._by_storage = {}
            for key in self.index.params:
                param = self.index.tensors[key]
                storage = storage_key(param)
                if storage is not None:
                    self._by_storage.setdefault(storage, []).append(param)
        return self._by_storage

    def note(self, values: Iterable[Any]) -> None:
        """Note the watched tensors among ``values`` (lists and tuples looked into)."""
        watched, seen = self.watched_ids, self.seen_ids
        for value in values:
            if id(value) in watched:
                seen.add(id(value))
            elif type(value) is list or type(value) is tuple:
                self.note(value)
            elif self.aliased and isinstance(value, _T):
                for param in self.by_storage.get(storage_key(value) or 0, ()):
                    seen.add(id(param))

    def keep_original(self, target: Any) -> None:
        """Copy the values of every parameter whose storage ``target`` writes into."""
        if type(target) is list or type(target) is tuple:
            for item in target:
                self.keep_original(item)
            return
        if not isinstance(target, _T):
            return
        storage = storage_key(target)
        for param in self.by_storage.get(storage or 0, ()):
            if id(param) not in self.originals:
                self.originals[id(param)] = (param, param.detach().clone())

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        if kwargs is None:
            kwargs = {}
        if func not in _INSPECTIONS:
            self.note(args)
            if kwargs:
                self.note(kwargs.values())
                if "out" in kwargs:
                    self.keep_original(kwargs["out"])
            if args and _writes(func):
                self.keep_original(args[0])
        return func(*args, **kwargs)


# Tokens `Watch.enter` gives `Watch.leave`.
_WATCHED = 0  # a root holding other parameters than its own: watched like custom code
_NESTED = 1  # inside a root already
_COUNTED = 2  # the outermost root, the watch not on the stack
_PAUSED = 3  # the outermost root, the watch taken off the stack


class Watch:
    """The watch's switch: on the stack or not, paused inside trusted roots.

    ``inside`` counts the trusted code running now: trusted roots, and the summary's own
    reading of a row (``Recorder.write``); registry reads there change nothing.
    """

    __slots__ = (
        "base",
        "can_stop",
        "canonical",
        "handed",
        "inside",
        "mode",
        "owners",
        "ran",
        "thread",
        "top",
        "verifying",
        "watching",
    )

    def __init__(self, mode: ParameterWatch, owners: dict[nn.Module, tuple[int, ...]]) -> None:
        self.mode = mode
        self.owners = owners  # each module's own parameter ids, as the index found them
        self.canonical: dict[int, int] = {}  # a meta run's stand-in ids -> the real ones
        self.inside = 0
        self.base = 0  # the mode stack's length before the pass
        self.top = -1  # the mode stack's length while the watch is on top of it
        self.watching = False  # whether the mode is on the stack
        # whether a root must be checked to hold its own parameters before it is trusted:
        # code may swap others in (torch.func.functional_call does)
        self.verifying = True
        self.thread = threading.get_ident()
        self.ran: set[nn.Module] = set()
        # whether the watch may go off again (see `stop_if_settled`): while the gate's
        # premise holds, and so `handed` has every parameter custom code may hold
        self.can_stop = False
        self.handed: dict[int, torch.Tensor] = {}  # parameters read since the watch went on

    def start(self, watch_now: bool) -> None:
        """The pass begins; the watch goes on now, or at the first ``parameter_read``."""
        self.base = _stack_length()
        self.thread = threading.get_ident()
        self.can_stop = not watch_now
        if watch_now:
            self.parameter_read()

    def parameter_read(self, registry: dict[str, Any] | None = None, key: str | None = None) -> None:
        """Custom code may now hold a parameter (``registry[key]``, or any of ``registry``):
        watch every operation from here on. The watch goes below any mode the model has
        pushed since the pass began. (The mode stack is per thread: reads from another
        thread are not the pass's, and keep the watch on once it is on.)"""
        if threading.get_ident() != self.thread:
            self.can_stop = False
            return
        if self.can_stop and registry is not None:
            handed = self.handed
            if key is None:
                handed.update((id(p), p) for p in dict.values(registry) if p is not None)
            else:
                param = dict.get(registry, key)
                if param is not None:
                    handed[id(param)] = param
        if self.watching:
            return
        above = [_pop() for _ in range(_stack_length() - self.base)]
        _push(self.mode)
        self.watching = True
        self.top = self.base + 1
        for mode in reversed(above):
            _push(mode)

    def registry_written(self) -> None:
        """Custom code wrote to a parameter registry: from here on a root is trusted only
        while it holds its own parameters, and the watch is on."""
        if threading.get_ident() != self.thread:
            return
        self.verifying = True
        self.can_stop = False
        self.parameter_read()

    def stop_if_settled(self) -> None:
        """Take the watch off again where every parameter custom code got since it went on
        is on meta and seen used: the watch has nothing left to note of them (no values to
        copy before a write), and custom code gets any other parameter only by a registry
        read, which puts the watch back on. Those settled leave ``handed`` as they are found,
        so that each is looked at once however many checks find another still unused."""
        handed, seen = self.handed, self.mode.seen_ids
        settled = []
        with torch._C.DisableTorchFunction():
            for key, param in handed.items():
                if not param.is_meta:  # its values may need a copy before a write: on for good
                    self.can_stop = False
                    return
                if key not in seen:
                    break
                settled.append(key)
        for key in settled:
            del handed[key]
        if not handed:
            _pop()
            self.watching = False

    def stop(self) -> None:
        """The pass ended (or raised): take the watch off the stack wherever it is."""
        if not self.watching:
            return
        above = []
        while _stack_length() > self.base:
            mode = _pop()
            if mode is self.mode:
                break
            above.append(mode)
        for mode in reversed(above):
            _push(mode)
        self.watching = False

    def enter(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        """A trusted root starts; the token returned goes to ``leave``."""
        if self.inside:
            self.inside += 1
            return _NESTED
        if threading.get_ident() != self.thread or (self.verifying and not self.holds_own(module)):
            return _WATCHED
        if self.can_stop and self.watching and _stack_length() == self.top:
            self.stop_if_settled()
        self.inside = 1
        if not self.watching:
            return _COUNTED
        self.mode.note(args)  # parameters handed to it as inputs: used there, unwatched
        if kwargs:
            self.mode.note(kwargs.values())
        if _stack_length() != self.top:  # a mode the model pushed is above: left alone
            return _COUNTED
        _pop()
        return _PAUSED

    def leave(self, module: nn.Module, token: int) -> None:
        """A trusted root returned or raised: it used all its parameters."""
        if token == _WATCHED:
            return
        self.inside -= 1
        if token == _NESTED:
            return
        self.ran.add(module)
        if token == _PAUSED:
            _push(self.mode)

    def holds_own(self, module: nn.Module) -> bool:
        """Whether the module and those below it hold the parameters the index found: only
        then does a torch.nn module running use exactly those."""
        canonical, owners = self.canonical, self.owners
        for member in module.modules() if module._modules else (module,):
            held = [id(p) for p in dict.values(member._parameters) if p is not None]
            if canonical:
                held = [canonical.get(key, key) for key in held]
            if tuple(held) != owners.get(member, ()):
                return False
        return True

    def used_ids(self, below: dict[nn.Module, tuple[int, ...]]) -> set[int]:
        """The parameters seen, and every parameter below the roots that ran (``below``: the
        index's parameter ids below each trusted module with children)."""
        canonical = self.canonical
        seen = {canonical.get(i, i) for i in self.mode.seen_ids}
        seen.update(chain.from_iterable(map(self.owners.get, self.ran, repeat(()))))
        seen.update(chain.from_iterable(map(below.get, self.ran, repeat(()))))
        return seen


def _telling(method: Callable[..., Any], writes: bool) -> Callable[..., Any]:
    """``method`` of dict, telling the watch first: ``registry_written``, or
    ``parameter_read`` of this registry. Inside trusted code neither changes anything."""

    def tell(self: GuardedParameters, *args: Any) -> Any:
        if not self.watch.inside:
            if writes:
                self.watch.registry_written()
            else:
                self.watch.parameter_read(self)
        return method(self, *args)

    tell.__name__ = method.__name__
    return tell


_dict_getitem = dict.__getitem__


class GuardedParameters(dict):  # type: ignore[type-arg]
    """A module's ``_parameters`` during the pass: every way of reading a value from it
    tells the watch first (iterating keys is covered so that ``dict(...)`` copies through
    ``__getitem__``), and so does every way of writing one."""

    __slots__ = ("watch",)
    watch: Watch

    def __getitem__(self, key: str) -> Any:
        # every `self.weight` of a running layer comes here: a plain signature
        if not self.watch.inside:
            self.watch.parameter_read(self, key)
        return _dict_getitem(self, key)

    get = _telling(dict.get, False)
    values = _telling(dict.values, False)
    items = _telling(dict.items, False)
    __iter__ = _telling(dict.__iter__, False)
    __or__ = _telling(dict.__or__, False)
    __ror__ = _telling(dict.__ror__, False)
    __setitem__ = _telling(dict.__setitem__, True)
    __delitem__ = _telling(dict.__delitem__, True)
    pop = _telling(dict.pop, True)
    popitem = _telling(dict.popitem, True)
    setdefault = _telling(dict.setdefault, True)
    update = _telling(dict.update, True)
    clear = _telling(dict.clear, True)
    __ior__ = _telling(dict.__ior__, True)

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (self.copy(),))


@functools.cache
def _baseline() -> tuple[int, int, int]:
    """References to a parameter held by one registry, to a registry held by its module
    alone, and to a storage held by one tensor, as the checks below see them (measured, so
    that they hold on any CPython and torch)."""
    probe = nn.Module()
    probe.register_parameter("p", nn.Parameter(torch.empty(1)))
    for param in probe._parameters.values():
        assert param is not None
        param_refs = sys.getrefcount(param) - 1
        storage_refs = _storage_uses(param.untyped_storage()._cdata)
    del param
    return param_refs, sys.getrefcount(probe._parameters), storage_refs


def _held_elsewhere(modules: list[nn.Module]) -> bool:
    """Whether anything besides the registries may hold a parameter (or a registry)."""
    param_base, registry_base, _ = _baseline()
    param_base += 1  # the index's own reference
    alone = param_base + 1  # a parameter held by one registry: nearly all of them
    slots: dict[int, int] = {}  # the others: registries seen holding them
    references: dict[int, int] = {}  # and their references
    for module in modules:
        if sys.getrefcount(module._parameters) != registry_base:
            return True
        for param in module._parameters.values():
            if param is None:
                continue
            if weakref.getweakrefcount(param):
                return True
            held = sys.getrefcount(param)
            if held != alone:  # shared by registries, or held elsewhere too
                key = id(param)
                slots[key] = slots.get(key, 0) + 1
                references[key] = held
    return any(held != param_base + slots[key] for key, held in references.items())


def storages_aliased(index: ModelIndex) -> bool:
    """Whether any parameter's storage is held by another tensor too: a view, ``.detach()``
    or ``.data`` alias made before the pass, which is a way to the values past the registries."""
    _, _, alone = _baseline()
    params = list(map(index.tensors.__getitem__, index.params))
    try:  # every count at once (each storage let go before its count, as in `_baseline`)
        uses = list(map(_storage_uses, map(_cdata, map(_T.untyped_storage, params))))
        if uses.count(alone) == len(uses):  # nearly always
            return False
    except (RuntimeError, NotImplementedError, TypeError):  # one without a storage of its own
        pass
    return any(map(storage_aliased, params))


def storage_aliased(param: torch.Tensor) -> bool:
    """``storages_aliased`` the plain way, for one parameter."""
    if param.device.type == "meta":
        return False
    try:
        return bool(_storage_uses(param.untyped_storage()._cdata) != _baseline()[2])
    except (RuntimeError, NotImplementedError, TypeError):  # no storage of its own
        return True


def can_wait(index: ModelIndex) -> bool:
    """Whether the watch can wait for a registry read: every parameter's references are its
    registries (checked before the summary itself holds any)."""
    if any(traits(type(m)).script for m in index.owners):
        return False
    return not _held_elsewhere(list(index.owners))


class RegistryGuard:
    """For the pass, each module's ``_parameters`` is a ``GuardedParameters`` copy."""

    def __init__(self, index: ModelIndex, watch: Watch) -> None:
        self.modules = list(index.owners)
        self.watch = watch
        self.originals: list[tuple[nn.Module, dict[str, Any]]] = []

    def install(self) -> None:
        for module in self.modules:
            registry = module.__dict__["_parameters"]
            guarded = GuardedParameters(registry)
            guarded.watch = self.watch
            self.originals.append((module, registry))
            module.__dict__["_parameters"] = guarded

    def put_back(self) -> None:
        for module, registry in self.originals:
            module.__dict__["_parameters"] = registry
