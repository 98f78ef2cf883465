"""Everything the trace needs to know about the model's structure, from one walk.

torch's own iterators (``named_modules``, ``named_parameters``, ``apply``) each walk the
whole tree through generators; on a model of thousands of modules those walks cost more
than the hooks. One recursive walk over ``_modules`` gives the same facts in their order.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn as nn
from torch.nn.parameter import is_lazy

# Classes from torch.nn whose forward may leave some of their own parameters out.
_PARTIAL_USERS = (nn.AdaptiveLogSoftmaxWithLoss,)
# Hold modules for their owner's code to call; they have no forward of their own.
_HOLDERS = (nn.ModuleList, nn.ModuleDict)
_REPLICATING = (nn.DataParallel, nn.parallel.DistributedDataParallel)
# torchsummary registers no hook on these.
_NOT_HOOKED = (nn.Sequential, nn.ModuleList)


class ClassTraits(NamedTuple):
    """What the trace asks about a module's class, answered once per class: isinstance
    checks against classes with their own metaclass cost more than the rest of a visit."""

    torch_nn: bool  # a torch.nn class that uses all its parameters when it runs
    script: bool  # any TorchScript module (scripted or traced)
    scripted: bool  # torch.jit.script: refuses hooks
    replicating: bool  # DataParallel and the like
    not_hooked: bool  # torchsummary registers no hook on it
    holder: bool  # ModuleList/ModuleDict: holds modules for its owner to call
    renorms: bool  # embeddings, which rewrite their weight in place when max_norm is set


@functools.lru_cache(maxsize=None)
def traits(cls: type) -> ClassTraits:
    return ClassTraits(
        torch_nn=cls.__module__.startswith("torch.nn.modules.") and not issubclass(cls, _PARTIAL_USERS),
        script=issubclass(cls, torch.jit.ScriptModule),
        scripted=issubclass(cls, torch.jit.RecursiveScriptModule),
        replicating=issubclass(cls, _REPLICATING),
        not_hooked=issubclass(cls, _NOT_HOOKED),
        holder=issubclass(cls, _HOLDERS),
        renorms=issubclass(cls, (nn.Embedding, nn.EmbeddingBag)),
    )


class ParamInfo(NamedTuple):
    name: str  # first qualified name, as model.named_parameters() gives it
    numel: int
    nbytes: int
    trainable: bool


@dataclass
class ModelIndex:
    names: dict[nn.Module, str] = field(default_factory=dict)  # first qualified name, pre-order
    visits: dict[nn.Module, int] = field(default_factory=dict)  # times model.apply reaches it
    trusted: set[nn.Module] = field(default_factory=set)  # torch.nn classes all the way down
    trusted_roots: dict[nn.Module, None] = field(default_factory=dict)  # entered from watched code
    scripted: set[nn.Module] = field(default_factory=set)  # inside torch.jit.script: no hooks
    script_tops: list[nn.Module] = field(default_factory=list)  # outermost TorchScript modules
    params: dict[int, ParamInfo] = field(default_factory=dict)  # id -> info, definition order
    owners: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    lazy: list[str] = field(default_factory=list)  # modules with uninitialised parameters
    has_data_parallel: bool = False  # its replicas would copy a wrapped forward


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Like ``named_children()``: each child once per parent (first name), None left out."""
    if not module._modules:
        return []
    seen: set[nn.Module] = set()
    named = []
    for name, child in module._modules.items():
        if child is not None and child not in seen:
            seen.add(child)
            named.append((name, child))
    return named


def index_model(model: nn.Module) -> ModelIndex:
    """Walk the model once, visiting modules exactly as ``model.apply`` does."""
    index = ModelIndex()

    def walk(module: nn.Module, name: str, inside_script: bool) -> bool:
        """Visit like ``model.apply``; return whether the module is trusted."""
        index.visits[module] = index.visits.get(module, 0) + 1
        kind = traits(type(module))
        if kind.replicating:
            index.has_data_parallel = True
        seen_before = module in index.names
        if not seen_before:
            index.names[module] = name
        if kind.script and not seen_before:
            if not any(module in set(top.modules()) for top in index.script_tops):
                index.script_tops.append(module)
        if inside_script or kind.scripted:
            index.scripted.add(module)  # torch.jit.script modules refuse hooks
            inside_script = True
        prefix = name + "." if name else ""
        children_trusted = True
        for child_name, child in _children(module):
            if not walk(child, prefix + child_name, inside_script):
                children_trusted = False
        trusted = children_trusted and kind.torch_nn
        if trusted:
            index.trusted.add(module)
        return trusted

    walk(model, "", False)
    _find_trusted_roots(model, index)
    _index_parameters(index)
    return index


def _find_trusted_roots(model: nn.Module, index: ModelIndex) -> None:
    """Trusted modules that watched code may call: the model itself, or a trusted module held
    by an untrusted parent or by a ModuleList/ModuleDict (whose owner calls them)."""
    if model in index.trusted:
        index.trusted_roots[model] = None
    for parent in index.names:
        if parent in index.trusted and not traits(type(parent)).holder:
            continue
        for _, child in _children(parent):
            if child in index.trusted:
                index.trusted_roots[child] = None


def _index_parameters(index: ModelIndex) -> None:
    """Each distinct parameter once, with its first name, as ``named_parameters()`` gives it."""
    for module, name in index.names.items():
        prefix = name + "." if name else ""
        own = []
        for param_name, p in module._parameters.items():
            if p is None:
                continue
            if type(p) is not nn.Parameter and is_lazy(p):
                index.lazy.append(prefix + param_name)
                continue
            own.append(id(p))
            if id(p) not in index.params:
                numel = p.numel()
                index.params[id(p)] = ParamInfo(
                    prefix + param_name, numel, numel * p.element_size(), p.requires_grad
                )
        if own:
            index.owners.append((name, tuple(dict.fromkeys(own))))
