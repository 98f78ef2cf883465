"""Everything the trace needs to know about the model's structure, from one walk.

torch's own iterators (``named_modules``, ``named_parameters``, ``apply``) each walk the
whole tree through generators; one recursive walk over ``_modules`` gives the same facts in
their order. The walk only reads: it runs before anything of the model is changed.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import torch
import torch.nn as nn
from torch.nn.modules import module as _torch_module
from torch.nn.parameter import is_lazy

from ._facts import ParamInfo
from ._sharded import parameter_numel
from ._traits import traits

# The global hooks every module's call runs: custom code inside any module.
GLOBAL_HOOKS = (
    _torch_module._global_backward_pre_hooks,
    _torch_module._global_backward_hooks,
    _torch_module._global_forward_pre_hooks,
    _torch_module._global_forward_hooks,
)


@dataclass
class ModelIndex:
    names: dict[nn.Module, str] = field(default_factory=dict)  # first qualified name, pre-order
    visits: dict[nn.Module, int] = field(default_factory=dict)  # times model.apply reaches it
    trusted_roots: set[nn.Module] = field(default_factory=set)  # trusted, entered from watched code
    scripted: set[nn.Module] = field(default_factory=set)  # inside torch.jit.script: no hooks
    script_tops: list[nn.Module] = field(default_factory=list)  # outermost TorchScript modules
    params: dict[int, ParamInfo] = field(default_factory=dict)  # id -> info, definition order
    # parameters and buffers by id: the index's one reference to each (the gate counts a
    # parameter's references, see `_watch._held_elsewhere`: lists of them are made as needed)
    tensors: dict[int, torch.Tensor] = field(default_factory=dict)
    buffers: set[int] = field(default_factory=set)  # ids of the buffers
    owners: dict[nn.Module, tuple[int, ...]] = field(default_factory=dict)  # own parameter ids
    below: dict[nn.Module, tuple[int, ...]] = field(default_factory=dict)  # trusted: ids below
    lazy: list[str] = field(default_factory=list)  # modules with uninitialised parameters
    renorming: list[nn.Module] = field(default_factory=list)  # embeddings with max_norm
    has_data_parallel: bool = False  # its replicas would copy instance attributes


def _torch_own(value: Any) -> bool:
    """Whether a callable comes from torch itself (``F.relu``, ``torch.tanh``)."""
    return (getattr(value, "__module__", None) or "").split(".")[0] == "torch"


def holds_user_code(module: nn.Module) -> bool:
    """Whether anything the module runs may be code of the user's: a `forward` set on the
    instance, a hook on it, or a callable it holds that is not torch's own (an activation)."""
    instance = module.__dict__
    if (
        "forward" in instance
        or instance["_forward_hooks"]
        or instance["_forward_pre_hooks"]
        or instance["_backward_hooks"]
        or instance["_backward_pre_hooks"]
    ):
        return True
    if not any(map(callable, instance.values())):  # nearly every module: no callable at all
        return False
    return any(
        [callable(value) and not isinstance(value, (nn.Module, type)) and not _torch_own(value)
         for value in instance.values()]
    )


def index_model(model: nn.Module) -> ModelIndex:
    """Walk the model once, visiting modules exactly as ``model.apply`` does.

    A module is *trusted* when its class and the class's `forward` come from torch.nn,
    nothing it runs is user code (see ``holds_user_code``) and every module below it is
    trusted too; with global hooks registered, nothing is. A trusted module is a *root*
    (the watch pauses while it runs) where watched code may call it: it is the model
    itself, or its parent is untrusted or a ModuleList/ModuleDict (whose owner calls it).
    """
    index = ModelIndex()
    trusting = not any(GLOBAL_HOOKS)
    torch_forward: dict[type, bool] = {}  # per class, for this walk (a class may be patched)

    def trusted_alone(module: nn.Module, cls: type) -> bool:
        if not trusting or not traits(cls).torch_nn:
            return False
        own = torch_forward.get(cls)
        if own is None:
            forward = getattr(cls, "forward", None)
            own = torch_forward[cls] = getattr(forward, "__module__", "").startswith("torch.nn.modules.")
        return own and not holds_user_code(module)

    def walk(module: nn.Module, name: str, inside_script: bool) -> bool:
        """Visit like ``model.apply``; return whether the module is trusted."""
        cls = type(module)
        kind = traits(cls)
        if module in index.names:
            index.visits[module] += 1
        else:
            index.names[module] = name
            index.visits[module] = 1
            if module._parameters or module._buffers:
                _index_tensors(index, module, name)
            if kind.renorms and getattr(module, "max_norm", None) is not None:
                index.renorming.append(module)  # rewrites its weight in place when it runs
            if kind.script:
                _note_script_top(index, module)
        if inside_script or kind.special:
            index.has_data_parallel |= kind.replicating
            if inside_script or kind.scripted:
                index.scripted.add(module)  # torch.jit.script modules refuse hooks
                inside_script = True
        trusted = trusted_alone(module, cls)
        children = module._modules
        if not children:
            return trusted
        prefix = name + "." if name else ""
        trusted_children = []
        for child_name, child in _children(children):
            if walk(child, prefix + child_name, inside_script):  # noqa: F821 (deleted below)
                trusted_children.append(child)
            else:
                trusted = False
        if not trusted or kind.holder:
            index.trusted_roots.update(trusted_children)
        if trusted:  # a root's run counts every parameter below it as used
            below = index.below
            index.below[module] = (*index.owners.get(module, ()), *chain.from_iterable(
                [below.get(child) or index.owners.get(child, ()) for child in trusted_children]
            ))
        return trusted

    try:
        if walk(model, "", False):
            index.trusted_roots.add(model)
    finally:
        # `walk` refers to itself: a reference cycle that would keep the whole index alive
        # until the collector finds it
        del walk
    return index


def _children(modules: dict[str, nn.Module | None]) -> Iterable[tuple[str, nn.Module]]:
    """Like ``named_children()``: each child once per parent (first name), None left out."""
    distinct = set(modules.values())
    if len(distinct) == len(modules) and None not in distinct:  # nearly always: all of them
        return modules.items()  # type: ignore[return-value]  # (None is not among them)
    return children_one_by_one(modules)


def children_one_by_one(modules: dict[str, nn.Module | None]) -> list[tuple[str, nn.Module]]:
    """``_children`` the plain way, looking at each child in turn."""
    seen: set[nn.Module] = set()
    named = []
    for name, child in modules.items():
        if child is not None and child not in seen:
            seen.add(child)
            named.append((name, child))
    return named


def _note_script_top(index: ModelIndex, module: nn.Module) -> None:
    if not any(module in set(top.modules()) for top in index.script_tops):
        index.script_tops.append(module)


def _index_tensors(index: ModelIndex, module: nn.Module, name: str) -> None:
    """Note the module's own parameters (each distinct one once with its first name, in the
    order of ``named_parameters()``) and buffers."""
    prefix = name + "." if name else ""
    own = []
    for param_name, p in module._parameters.items():
        if p is None:
            continue
        # (is_lazy is a Python call: asked only of what is not a plain Parameter; torch types a
        # registry's values as Parameter, which lazy ones are not)
        if type(p) is not nn.Parameter and is_lazy(p):
            index.lazy.append(prefix + param_name)  # type: ignore[unreachable]
            continue
        key = id(p)
        own.append(key)
        if key not in index.params:
            numel = parameter_numel(p)
            # tuple.__new__ makes the NamedTuple without its Python-level constructor
            facts = (prefix + param_name, numel, numel * p.element_size(), p.requires_grad)
            info = tuple.__new__(ParamInfo, facts)
            index.params[key] = info
            index.tensors[key] = p
    if own:
        index.owners[module] = tuple(dict.fromkeys(own))
    for buffer in module._buffers.values():
        if buffer is not None and (type(buffer) is torch.Tensor or not is_lazy(buffer)):
            index.buffers.add(id(buffer))
            index.tensors.setdefault(id(buffer), buffer)
