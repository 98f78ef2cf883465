"""What a row of the table says about its module's parameters, read when the module's call
ends, as torchsummary's hook reads them, and the facts about each parameter behind it."""
from __future__ import annotations

import operator
from collections.abc import Iterable
from itertools import count, repeat
from typing import Any, NamedTuple

import torch.nn as nn
from torch import Tensor

from ._legacy import param_count, read_weight_and_bias
from ._traits import traits


class ParamInfo(NamedTuple):
    name: str  # first qualified name, as model.named_parameters() gives it ("" if none)
    numel: int
    nbytes: int
    trainable: bool


class ModuleFacts(NamedTuple):
    """What a row needs to know about its module's parameters."""

    class_name: str  # torchsummary's name for the row, from the class its hook sees
    naive_count: int  # torchsummary's Param #: `weight` and `bias` only
    trainable: bool | None  # decided by `weight` alone, None without one
    naive: tuple[tuple[int, ParamInfo], ...]  # those tensors: (key, facts)
    row_ids: tuple[int, ...]  # the model's parameters that link this row to other rows


class KnownTensors:
    """Facts about tensors, looked up by identity.

    Keys are stable for the tensors that live for the whole pass: the model's parameters
    (a meta run's stand-ins map back to them through ``canonical``) and buffers. Any other
    tensor a row counts (a parametrization's computed weight, a temporary) gets a key of
    its own, never shared, since its address may be reused by a later temporary.
    """

    def __init__(self, params: dict[int, ParamInfo], buffers: set[int]) -> None:
        self.params = params
        self.buffers = buffers
        self.canonical: dict[int, int] = {}
        self._fresh = count(-1, -1)

    def key(self, tensor: Tensor) -> int:
        """The tensor's identity, a stand-in's mapped to its parameter."""
        key = id(tensor)
        return self.canonical.get(key, key)

    def info(self, tensor: Tensor) -> tuple[int, ParamInfo]:
        """(key, facts) of a tensor a row counts; a parameter's come from the index."""
        key = self.key(tensor)
        info = self.params.get(key)
        if info is not None:
            return key, info
        if key not in self.buffers:
            key = next(self._fresh)
        numel = tensor.numel()
        return key, ParamInfo("", numel, numel * tensor.element_size(), tensor.requires_grad)

    def model_ids(self, tensors: Iterable[Tensor | None]) -> tuple[int, ...]:
        """The keys of those of ``tensors`` that are the model's parameters, each once, in
        order (None left out: its id is no parameter's)."""
        params, canonical = self.params, self.canonical
        found: dict[int, None] = {}
        for tensor in tensors:  # (a row holds a few: a loop costs less than maps here)
            key = id(tensor)
            if canonical:
                key = canonical.get(key, key)
            if key in params:
                found[key] = None
        return tuple(found)


class RowFacts:
    """Reads each row's facts when its module's call ends, as torchsummary's hook does: at
    every call, since the forward may swap tensors in or change their flags between calls."""

    def __init__(self, known: KnownTensors) -> None:
        self.known = known
        self._empty: dict[str, ModuleFacts] = {}  # the facts of rows without parameters, by name

    def of(self, module: nn.Module) -> ModuleFacts:
        kind = traits(type(module))
        instance = module.__dict__
        if not kind.reads_registries or "weight" in instance or "bias" in instance:
            weight, bias = read_weight_and_bias(module)  # may run code: read every time
            own = list(module.parameters(recurse=False))  # (TorchScript keeps no plain registry)
            return self._facts(module, kind.row_name, weight, bias, [*own, weight, bias])
        params, buffers = instance["_parameters"], instance["_buffers"]
        if not params and not buffers:  # activations, pooling, dropout...
            return self._without_parameters(kind.row_name)
        weight, bias = dict.get(params, "weight"), dict.get(params, "bias")
        if buffers:  # `weight` or `bias` may be a buffer (Module.__getattr__ looks there next)
            weight = weight if weight is not None else dict.get(buffers, "weight")
            bias = bias if bias is not None else dict.get(buffers, "bias")
        # (`weight` and `bias` are among the registry's own, or buffers: no parameter's)
        return self._facts(module, kind.row_name, weight, bias, list(dict.values(params)))

    def _facts(
        self, module: nn.Module, name: str, weight: Tensor | None, bias: Tensor | None, linked: list[Any]
    ) -> ModuleFacts:
        """``linked``: the tensors that link the row to other rows (its own, `weight`, `bias`)."""
        if weight is None and bias is None and all(map(operator.is_, linked, repeat(None))):
            return self._without_parameters(name)  # activations, pooling, dropout...
        known = self.known
        counted, trainable = param_count(weight, bias)
        if bias is None:
            read: tuple[Tensor, ...] = () if weight is None else (weight,)
        else:
            read = (bias,) if weight is None else (weight, bias)
        naive = tuple(map(known.info, read))
        children = module.__dict__.get("_modules")
        parametrizations = children.get("parametrizations") if type(children) is dict else None
        if parametrizations is not None:  # a computed weight is linked through its originals
            linked += list(parametrizations.parameters())
        # (tuple.__new__: the NamedTuple without its Python-level constructor, once a row)
        return tuple.__new__(ModuleFacts, (name, counted, trainable, naive, known.model_ids(linked)))

    def _without_parameters(self, name: str) -> ModuleFacts:
        facts = self._empty.get(name)
        if facts is None:
            facts = self._empty[name] = ModuleFacts(name, 0, None, (), ())
        return facts
