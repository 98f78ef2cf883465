"""Everything the trace needs to know about the model's structure, from one walk.

torch's own iterators (``named_modules``, ``named_parameters``, ``apply``) each walk the
whole tree through generators; on a model of thousands of modules those walks cost more
than the hooks. One recursive walk over ``_modules`` gives the same facts in their order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch.nn as nn
from torch.nn.parameter import is_lazy

from ._facts import NOT_REGISTERED, Counted, KnownTensors, ModuleFacts, ParamInfo, new_named, registry_facts
from ._traits import TRAITS_BY_CLASS, traits


@dataclass
class ModelIndex:
    names: dict[nn.Module, str] = field(default_factory=dict)  # first qualified name, pre-order
    visits: dict[nn.Module, int] = field(default_factory=dict)  # times model.apply reaches it
    trusted_roots: set[nn.Module] = field(default_factory=set)  # trusted, entered from watched code
    scripted: set[nn.Module] = field(default_factory=set)  # inside torch.jit.script: no hooks
    script_tops: list[nn.Module] = field(default_factory=list)  # outermost TorchScript modules
    params: dict[int, ParamInfo] = field(default_factory=dict)  # id -> info, definition order
    owners: dict[nn.Module, tuple[int, ...]] = field(default_factory=dict)  # own parameter ids
    containers: set[nn.Module] = field(default_factory=set)  # modules with children
    lazy: list[str] = field(default_factory=list)  # modules with uninitialised parameters
    # row facts of the modules whose `weight` and `bias` can only be in their registries
    facts: dict[nn.Module, ModuleFacts] = field(default_factory=dict)
    has_data_parallel: bool = False  # its replicas would copy a wrapped forward


def index_model(model: nn.Module) -> ModelIndex:
    """Walk the model once, visiting modules exactly as ``model.apply`` does.

    A module is *trusted* when its class comes from torch.nn and every module below it is
    trusted too. A trusted module is a *root* (the watch pauses while it runs) where watched
    code may call it: it is the model itself, or its parent is untrusted or a
    ModuleList/ModuleDict (whose owner calls it).
    """
    index = ModelIndex()
    names, visits, facts, trusted_roots = index.names, index.visits, index.facts, index.trusted_roots
    containers = index.containers
    known = KnownTensors(index.params, {}, index.owners)

    def walk(module: nn.Module, name: str, inside_script: bool) -> bool:
        """Visit like ``model.apply``; return whether the module is trusted. (Run once per
        module of the model: kept to plain steps.)"""
        kind = TRAITS_BY_CLASS.get(type(module)) or traits(type(module))
        if module in names:
            visits[module] += 1
        else:
            names[module] = name
            visits[module] = 1
            registered = _index_parameters(index, module, name) if module._parameters else NOT_REGISTERED
            if kind.reads_registries and not index.lazy:  # (lazy ones have no size yet)
                row_facts = registry_facts(module, kind, known, registered)
                if row_facts is not None:
                    facts[module] = row_facts
            if kind.script:
                _note_script_top(index, module)
        if inside_script or kind.special:
            index.has_data_parallel |= kind.replicating
            if inside_script or kind.scripted:
                index.scripted.add(module)  # torch.jit.script modules refuse hooks
                inside_script = True
        children = module._modules
        if not children:
            return kind.torch_nn
        containers.add(module)
        prefix = name + "." if name else ""
        trusted_children = []
        all_trusted = True
        for child_name, child in _children(children):
            if walk(child, prefix + child_name, inside_script):  # noqa: F821 (deleted below)
                trusted_children.append(child)
            else:
                all_trusted = False
        trusted = all_trusted and kind.torch_nn
        if not trusted or kind.holder:
            trusted_roots.update(trusted_children)
        return trusted

    try:
        if walk(model, "", False):
            trusted_roots.add(model)
    finally:
        # `walk` refers to itself: a reference cycle that would keep the whole index alive
        # until the collector finds it, which then costs a pass over every object in it
        del walk
    return index


def _children(modules: dict[str, nn.Module | None]) -> Iterable[tuple[str, nn.Module]]:
    """Like ``named_children()``: each child once per parent (first name), None left out."""
    distinct = set(modules.values())
    if len(distinct) == len(modules) and None not in distinct:  # nearly always
        return modules.items()
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


def _index_parameters(index: ModelIndex, module: nn.Module, name: str) -> tuple[Counted, Counted]:
    """Note the module's own parameters, each distinct one once with its first name, in the
    order of ``named_parameters()`` (the walk visits modules in its order). Returns the
    `weight` and `bias` the registry holds, for the module's row."""
    prefix = name + "." if name else ""
    params = index.params
    own = []
    weight = bias = None
    seen_before = False  # registered under another name too, here or in an earlier module
    for param_name, p in module._parameters.items():
        if p is None:
            continue
        if type(p) is not nn.Parameter and is_lazy(p):
            index.lazy.append(prefix + param_name)
            continue
        key = id(p)
        own.append(key)
        info = params.get(key)
        if info is None:
            numel = p.numel()
            info = params[key] = new_named(
                ParamInfo, (prefix + param_name, numel, numel * p.element_size(), p.requires_grad)
            )
        else:
            seen_before = True
        if param_name == "weight":
            weight = (key, info)
        elif param_name == "bias":
            bias = (key, info)
    if own:
        index.owners[module] = tuple(dict.fromkeys(own) if seen_before else own)
    return weight, bias
