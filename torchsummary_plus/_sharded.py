"""Models whose parameters are sharded across processes (FSDP2, DeepSpeed ZeRO-3): their
sizes and classes. The pass over them is ``_sharded_pass``'s.

The summary of a sharded model is that of the unsharded model, on every rank, plus what
this rank holds. Three things make that so:

- sizes: a DTensor parameter's ``numel()`` is already the global one; a ZeRO-3 parameter is
  an empty tensor whose global size is its ``ds_numel`` attribute (``parameter_numel``);
- rows: ``fully_shard`` swaps a module's class for a made-up ``FSDP<Class>``; its rows
  take the name of the class it wraps (``unwrapped_class``);
- the pass: FSDP2 swaps unsharded parameters into the registries while its modules run;
  ``_sharded_pass`` maps them back to the model's own and reshards afterwards.

Nothing here imports torch.distributed: a model can only be sharded once it is imported.
"""
from __future__ import annotations

import sys

import torch


def is_zero3(param: torch.Tensor) -> bool:
    """Whether DeepSpeed ZeRO-3 partitioned the parameter (it carries ``ds_numel``)."""
    return isinstance(getattr(param, "ds_numel", None), int)


def parameter_numel(param: torch.Tensor) -> int:
    """The parameter's global size: DeepSpeed ZeRO-3 keeps it in ``ds_numel`` (the tensor
    itself is empty on every rank), anything else in ``numel()``."""
    numel = param.numel()
    if numel:  # (nearly always: ZeRO-3's parameters are empty)
        return numel
    return getattr(param, "ds_numel", 0) if is_zero3(param) else 0


def fsdp_module_class() -> type | None:
    """``FSDPModule``, where torch.distributed.fsdp is imported (None otherwise)."""
    return _loaded("torch.distributed.fsdp", "FSDPModule")


def dtensor_class() -> type | None:
    """``DTensor``, where torch.distributed.tensor is imported (None otherwise)."""
    return _loaded("torch.distributed.tensor", "DTensor")


def _loaded(module: str, name: str) -> type | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if isinstance(found, type) else None


def unwrapped_class(cls: type) -> type:
    """The class ``fully_shard`` wrapped in ``FSDP<Class>`` (``cls`` itself otherwise)."""
    fsdp = fsdp_module_class()
    if fsdp is None or cls.__bases__[0] is not fsdp:
        return cls
    wrapped = cls.__bases__[-1]
    return wrapped if cls.__name__ == "FSDP" + wrapped.__name__ else cls


