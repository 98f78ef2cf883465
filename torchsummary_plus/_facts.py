"""What a row of the table says about its module's parameters, read the way torchsummary's
hook reads them (`weight` and `bias` only), and the facts about each parameter behind it."""
from __future__ import annotations

from typing import Any, NamedTuple

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


def attribute_facts(module: nn.Module, known: KnownTensors) -> ModuleFacts:
    """The row facts of a module whose `weight` or `bias` may be made by code (a property,
    an attribute set on the instance): read through the module, as torchsummary's hook does."""
    weight, bias = _read_attributes(module)
    return _facts(module, weight, bias, known)


def registry_facts(module: nn.Module, known: KnownTensors) -> ModuleFacts:
    """The row facts of a module whose `weight` and `bias` can only be in its registries
    (the common case, see ``reads_registries``): read there directly, since
    ``Module.__getattr__`` raising for a missing name is slow. The forward pass cannot change
    them as far as the summary goes (it puts the registries back), so they are read once,
    before it."""
    if not (module._parameters or module._buffers or module._modules):
        return _without_parameters(type(module))
    return _facts(module, _registered(module, "weight"), _registered(module, "bias"), known)


def _facts(module: nn.Module, weight: Any, bias: Any, known: KnownTensors) -> ModuleFacts:
    own = known.owners.get(module, ())
    if not own and weight is None and bias is None:  # activations, pooling, dropout...
        return _without_parameters(type(module))
    naive: tuple[tuple[int, ParamInfo], ...] = ()
    count = 0
    row_ids = own  # and `weight` or `bias` where they are not the module's own
    for tensor in (weight, bias):  # one module at a time: plain steps, no comprehensions
        if isinstance(tensor, Tensor):
            key, info = known.info(tensor)
            naive += ((key, info),)
            count += info.numel
            if key not in row_ids:
                row_ids += (key,)
    trainable = naive[0][1].trainable if isinstance(weight, Tensor) else None
    return new_named(ModuleFacts, (traits(type(module)).row_name, count, trainable, naive, row_ids))


_NO_PARAMETERS: dict[type, ModuleFacts] = {}


def _without_parameters(cls: type) -> ModuleFacts:
    """The facts shared by every module of a class without parameters."""
    facts = _NO_PARAMETERS.get(cls)
    if facts is None:
        facts = _NO_PARAMETERS[cls] = ModuleFacts(traits(cls).row_name, 0, None, (), ())
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


def reads_registries(module: nn.Module, kind: ClassTraits) -> bool:
    """Whether `weight` and `bias` can only come from the module's registries (the common
    case); otherwise an attribute or property may make them while the module runs.
    (``kind``: the traits of the module's class.)"""
    if not kind.reads_registries:
        return False
    instance = module.__dict__
    return "weight" not in instance and "bias" not in instance


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
