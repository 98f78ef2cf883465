"""What a row of the table says about its module's parameters, read the way torchsummary's
hook reads them (`weight` and `bias` only), and the facts about each parameter behind it."""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import torch.nn as nn
from torch import Tensor

from ._traits import ClassTraits, traits

# new_named(cls, values) makes the NamedTuple cls._make(values) makes, without its Python frame
new_named = tuple.__new__


class ParamInfo(NamedTuple):
    name: str  # first qualified name, as model.named_parameters() gives it
    numel: int
    nbytes: int
    trainable: bool


class KnownTensors:
    """Facts about tensors already worked out by the model index, looked up by identity.

    ``canonical`` maps the meta stand-ins of a meta run back to the real parameters;
    ``owners`` gives each module's own parameter ids.
    """

    def __init__(
        self,
        params: dict[int, ParamInfo],
        canonical: dict[int, int],
        owners: dict[nn.Module, tuple[int, ...]],
    ) -> None:
        self.params = params
        self.canonical = canonical
        self.owners = owners

    def info(self, tensor: Tensor) -> tuple[int, ParamInfo]:
        """(identity, facts) of a tensor a row counts; a parameter's come from the index."""
        key = id(tensor)
        if self.canonical:
            key = self.canonical.get(key, key)
        info = self.params.get(key)
        if info is None:  # a buffer or a plain attribute called weight or bias
            numel = tensor.numel()
            info = ParamInfo("", numel, numel * tensor.element_size(), tensor.requires_grad)
        return key, info


class ModuleFacts(NamedTuple):
    """What a row needs to know about its module's parameters, read as torchsummary reads
    them. Modules without parameters share one per class."""

    class_name: str
    naive_count: int  # torchsummary's Param #: `weight` and `bias` only
    trainable: bool | None  # decided by `weight` alone, None without one
    naive: tuple[tuple[int, ParamInfo], ...]  # those tensors: (identity, facts)
    row_ids: tuple[int, ...]  # the tensors that make a later row of this module repeat an earlier one


# A tensor a row counts, as (identity, facts); None where the module has no such tensor.
Counted = Optional[tuple[int, ParamInfo]]
NOT_REGISTERED: tuple[Counted, Counted] = (None, None)


def attribute_facts(module: nn.Module, known: KnownTensors) -> ModuleFacts:
    """The row facts of a module whose `weight` or `bias` may be made by code (a property,
    an attribute set on the instance): read through the module, as torchsummary's hook does."""
    weight, bias = _read_attributes(module)
    return _tensor_facts(module, weight, bias, known, traits(type(module)))


def registry_facts(
    module: nn.Module, kind: ClassTraits, known: KnownTensors, registered: tuple[Counted, Counted]
) -> ModuleFacts | None:
    """The row facts of a module whose `weight` and `bias` can only be in its registries
    (the common case: neither its class, ``kind`` its traits, nor the instance has such an
    attribute), read there directly, since ``Module.__getattr__`` raising for a missing name
    is slow; None where an attribute may make them while the module runs. ``registered``:
    the `weight` and `bias` its ``_parameters`` holds, as the index found them
    (``NOT_REGISTERED`` where it holds none). The forward
    pass cannot change the registries as far as the summary goes (it puts them back), so
    they are read once, before it."""
    instance = module.__dict__
    if "weight" in instance or "bias" in instance:
        return None
    if module._buffers or module._modules:  # either may also be a buffer, or a module
        weight, bias = _registered(module, "weight"), _registered(module, "bias")
        return _tensor_facts(module, weight, bias, known, kind)
    if registered is NOT_REGISTERED:  # nothing registered: activations, pooling, dropout...
        return _without_parameters(type(module), kind)
    own = known.owners.get(module, ())
    return _facts(type(module), kind, own, *registered)  # (`weight` and `bias` are its own)


def _tensor_facts(
    module: nn.Module, weight: Any, bias: Any, known: KnownTensors, kind: ClassTraits
) -> ModuleFacts:
    """The facts of a row counting ``weight`` and ``bias`` (where they are tensors)."""
    counted = [known.info(t) if isinstance(t, Tensor) else None for t in (weight, bias)]
    row_ids = known.owners.get(module, ())  # its own, then `weight` or `bias` where not
    for entry in counted:  # (another module's, or a buffer)
        if entry is not None and entry[0] not in row_ids:
            row_ids += (entry[0],)
    return _facts(type(module), kind, row_ids, *counted)


def _facts(
    cls: type, kind: ClassTraits, row_ids: tuple[int, ...], weight: Counted, bias: Counted
) -> ModuleFacts:
    """The facts of a row of a module of class ``cls`` (``kind``: its traits) counting
    ``weight`` and ``bias``; ``row_ids``: its own parameters and those two. (Once per
    module, in the walk: plain steps.)"""
    if weight is None:
        if bias is None:
            if not row_ids:  # activations, pooling, dropout...
                return _without_parameters(cls, kind)
            return new_named(ModuleFacts, (kind.row_name, 0, None, (), row_ids))
        naive: tuple[tuple[int, ParamInfo], ...] = (bias,)
        count = bias[1].numel
        trainable = None
    else:
        info = weight[1]
        trainable = info.trainable
        if bias is None:
            naive, count = (weight,), info.numel
        else:
            naive, count = (weight, bias), info.numel + bias[1].numel
    return new_named(ModuleFacts, (kind.row_name, count, trainable, naive, row_ids))


_NO_PARAMETERS: dict[type, ModuleFacts] = {}


def _without_parameters(cls: type, kind: ClassTraits) -> ModuleFacts:
    """The facts shared by every module of a class without parameters (``kind``: its traits)."""
    facts = _NO_PARAMETERS.get(cls)
    if facts is None:
        facts = _NO_PARAMETERS[cls] = ModuleFacts(kind.row_name, 0, None, (), ())
    return facts


def _registered(module: nn.Module, attr: str) -> Any:
    """What ``Module.__getattr__`` finds for ``attr``, without its slow raise when absent."""
    params = module._parameters
    if attr in params:
        return params[attr]
    buffers = module._buffers
    if attr in buffers:
        return buffers[attr]
    return module._modules.get(attr)


def _read_attributes(module: nn.Module) -> tuple[Any, Any]:
    """`weight` and `bias` read as torchsummary reads them (None where absent): `weight`
    four times and `bias` three times when they are tensors, so that where reading runs
    code (a parametrization calls its modules, which print rows of their own) the same rows
    appear in the same order."""
    read = []
    for attr, reads in (("weight", 4), ("bias", 3)):
        value = getattr(module, attr, None)
        if isinstance(value, Tensor) and traits(type(module)).computes_weight:
            for _ in range(reads - 1):
                value = getattr(module, attr, None)
        read.append(value)
    return read[0], read[1]
