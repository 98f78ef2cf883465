"""What the summary asks about a module's class, answered once per class."""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from ._legacy import NOT_HOOKED, row_name
from ._sharded import unwrapped_class

# Classes from torch.nn whose forward may leave some of their own parameters out.
_PARTIAL_USERS = (nn.AdaptiveLogSoftmaxWithLoss,)
# Hold modules for their owner's code to call; they have no forward of their own.
_HOLDERS = (nn.ModuleList, nn.ModuleDict)
_REPLICATING = (nn.DataParallel, nn.parallel.DistributedDataParallel)


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
    row_name: str  # torchsummary's name for its rows
    reads_registries: bool  # `weight` and `bias` can only come from the registries (or buffers)
    special: bool  # script, scripted or replicating: the index notes it


# The traits of every class asked about so far.
TRAITS_BY_CLASS: dict[type, ClassTraits] = {}


def traits(cls: type) -> ClassTraits:
    """The class's traits (a plain dict lookup: asked several times per module)."""
    known = TRAITS_BY_CLASS.get(cls)
    if known is None:
        known = TRAITS_BY_CLASS[cls] = _class_traits(cls)
    return known


def _class_traits(cls: type) -> ClassTraits:
    script = issubclass(cls, torch.jit.ScriptModule)
    scripted = issubclass(cls, torch.jit._script.RecursiveScriptModule)
    replicating = issubclass(cls, _REPLICATING)
    return ClassTraits(
        torch_nn=cls.__module__.startswith("torch.nn.modules.") and not issubclass(cls, _PARTIAL_USERS),
        script=script,
        scripted=scripted,
        replicating=replicating,
        not_hooked=issubclass(cls, NOT_HOOKED),
        holder=issubclass(cls, _HOLDERS),
        renorms=issubclass(cls, (nn.Embedding, nn.EmbeddingBag)),
        row_name=row_name(unwrapped_class(cls)),  # FSDP2's made-up classes: the wrapped one's
        reads_registries=_plain_lookup(cls)
        and not (hasattr(cls, "weight") or hasattr(cls, "bias") or script),
        special=script or scripted or replicating,
    )


def _plain_lookup(cls: type) -> bool:
    """Whether the class looks attributes up as torch.nn does: an instance's own, then the
    registries (a ``__getattr__`` of its own may give a `weight` from anywhere)."""
    return bool(
        getattr(cls, "__getattr__", None) is nn.Module.__getattr__
        and getattr(cls, "__getattribute__", None) is object.__getattribute__
    )
