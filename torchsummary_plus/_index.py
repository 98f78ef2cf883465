"""Everything the trace needs to know about the model's structure, from one walk.

torch's own iterators (``named_modules``, ``named_parameters``, ``apply``) each walk the
whole tree through generators; on a model of thousands of modules those walks cost more
than the hooks. One recursive walk over ``_modules`` gives the same facts in their order.
"""
from __future__ import annotations

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
    """What the summary asks about a module's class, answered once per class: isinstance
    checks against classes with their own metaclass cost more than the rest of a visit."""

    torch_nn: bool  # a torch.nn class that uses all its parameters when it runs
    script: bool  # any TorchScript module (scripted or traced)
    scripted: bool  # torch.jit.script: refuses hooks
    replicating: bool  # DataParallel and the like
    not_hooked: bool  # torchsummary registers no hook on it
    holder: bool  # ModuleList/ModuleDict: holds modules for its owner to call
    renorms: bool  # embeddings, which rewrite their weight in place when max_norm is set
    row_name: str  # torchsummary's name for its rows: the text after the last dot of str(class)
    reads_registries: bool  # `weight` and `bias` can only come from the registries
    computes_weight: bool  # reading `weight` or `bias` runs code (a parametrization's property)


_TRAITS: dict[type, ClassTraits] = {}


def traits(cls: type) -> ClassTraits:
    """The class's traits (a plain dict lookup: asked several times per module)."""
    known = _TRAITS.get(cls)
    if known is None:
        known = _TRAITS[cls] = _class_traits(cls)
    return known


def _class_traits(cls: type) -> ClassTraits:
    script = issubclass(cls, torch.jit.ScriptModule)
    return ClassTraits(
        torch_nn=cls.__module__.startswith("torch.nn.modules.") and not issubclass(cls, _PARTIAL_USERS),
        script=script,
        scripted=issubclass(cls, torch.jit.RecursiveScriptModule),
        replicating=issubclass(cls, _REPLICATING),
        not_hooked=issubclass(cls, _NOT_HOOKED),
        holder=issubclass(cls, _HOLDERS),
        renorms=issubclass(cls, (nn.Embedding, nn.EmbeddingBag)),
        row_name=str(cls).split(".")[-1].split("'")[0],
        reads_registries=not (hasattr(cls, "weight") or hasattr(cls, "bias") or script),
        computes_weight=isinstance(getattr(cls, "weight", None), property)
        or isinstance(getattr(cls, "bias", None), property),
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
    trusted_roots: set[nn.Module] = field(default_factory=set)  # trusted, entered from watched code
    scripted: set[nn.Module] = field(default_factory=set)  # inside torch.jit.script: no hooks
    script_tops: list[nn.Module] = field(default_factory=list)  # outermost TorchScript modules
    params: dict[int, ParamInfo] = field(default_factory=dict)  # id -> info, definition order
    owners: dict[nn.Module, tuple[int, ...]] = field(default_factory=dict)  # own parameter ids
    lazy: list[str] = field(default_factory=list)  # modules with uninitialised parameters
    has_data_parallel: bool = False  # its replicas would copy a wrapped forward


def index_model(model: nn.Module) -> ModelIndex:
    """Walk the model once, visiting modules exactly as ``model.apply`` does.

    A module is *trusted* when its class comes from torch.nn and every module below it is
    trusted too. A trusted module is a *root* (the watch pauses while it runs) where watched
    code may call it: it is the model itself, or its parent is untrusted or a
    ModuleList/ModuleDict (whose owner calls it).
    """
    index = ModelIndex()
    names, visits = index.names, index.visits

    def walk(module: nn.Module, name: str, inside_script: bool) -> bool:
        """Visit like ``model.apply``; return whether the module is trusted."""
        visits[module] = visits.get(module, 0) + 1
        kind = traits(type(module))
        if module not in names:
            names[module] = name
            if module._parameters:
                _index_parameters(index, module, name)
            if kind.script:
                _note_script_top(index, module)
        if kind.replicating:
            index.has_data_parallel = True
        if inside_script or kind.scripted:
            index.scripted.add(module)  # torch.jit.script modules refuse hooks
            inside_script = True
        if not module._modules:
            return kind.torch_nn
        prefix = name + "." if name else ""
        trusted_children = []
        all_trusted = True
        for child_name, child in _children(module):
            if walk(child, prefix + child_name, inside_script):
                trusted_children.append(child)
            else:
                all_trusted = False
        trusted = all_trusted and kind.torch_nn
        if not trusted or kind.holder:
            index.trusted_roots.update(trusted_children)
        return trusted

    if walk(model, "", False):
        index.trusted_roots.add(model)
    return index


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """Like ``named_children()``: each child once per parent (first name), None left out."""
    seen: set[nn.Module] = set()
    named = []
    for name, child in module._modules.items():
        if child is not None and child not in seen:
            seen.add(child)
            named.append((name, child))
    return named


def _note_script_top(index: ModelIndex, module: nn.Module) -> None:
    if not any(module in set(top.modules()) for top in index.script_tops):
        index.script_tops.append(module)


def _index_parameters(index: ModelIndex, module: nn.Module, name: str) -> None:
    """The module's own parameters, each distinct one once with its first name, in the order
    of ``named_parameters()`` (the walk visits modules in its order)."""
    prefix = name + "." if name else ""
    params, make_info = index.params, ParamInfo._make
    own = []
    for param_name, p in module._parameters.items():
        if p is None:
            continue
        if type(p) is not nn.Parameter and is_lazy(p):
            index.lazy.append(prefix + param_name)
            continue
        key = id(p)
        own.append(key)
        if key not in params:
            numel = p.numel()
            params[key] = make_info((prefix + param_name, numel, numel * p.element_size(), p.requires_grad))
    if own:
        index.owners[module] = tuple(dict.fromkeys(own))
