"""The pass over a model with FSDP2 modules, and what this rank holds of a sharded model
(see ``_sharded`` for why).

FSDP2's forward pre-hook puts each module's unsharded parameters in the registries, in
place of the sharded DTensors; its post-hook puts the sharded ones back, but not the root's,
which stay unsharded for backward. ``ShardedPass`` maps each unsharded parameter to its
sharded one as it appears and reshards afterwards what was sharded before.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from ._index import ModelIndex
from ._sharded import dtensor_class, fsdp_module_class, is_zero3


class RankShare(NamedTuple):
    """What this rank holds of the model's parameters (each distinct one once)."""

    rank: int | None  # None where no process group is initialised
    ranks: int
    params: int
    nbytes: int


def rank_share(index: ModelIndex) -> RankShare | None:
    """This rank's share, where any parameter is sharded (None otherwise). A DTensor holds
    its local shard here; a ZeRO-3 parameter its ``ds_tensor`` partition, where it has one;
    any other parameter is held whole."""
    dtensor = dtensor_class()
    tensors = list(map(index.tensors.__getitem__, index.params))
    if dtensor is None and all(map(torch.Tensor.numel, tensors)):
        return None  # no DTensor can exist, and no parameter is empty as ZeRO-3's are
    ranks = 0
    params = nbytes = 0
    for tensor, info in zip(tensors, index.params.values(), strict=True):
        if dtensor is not None and isinstance(tensor, dtensor):
            local = tensor.to_local()  # type: ignore[attr-defined]
            ranks = max(ranks, tensor.device_mesh.size())  # type: ignore[attr-defined]
        elif not tensor.numel() and is_zero3(tensor):  # (ZeRO-3's parameters are empty)
            local = getattr(tensor, "ds_tensor", tensor)
            ranks = max(ranks, _world_size())
        else:
            params += info.numel
            nbytes += info.nbytes
            continue
        params += local.numel()
        nbytes += local.numel() * local.element_size()
    if not ranks:
        return None
    return RankShare(_rank(), ranks, params, nbytes)


def _initialised() -> Any:
    distributed = sys.modules.get("torch.distributed")
    if distributed is None or not distributed.is_available() or not distributed.is_initialized():
        return None
    return distributed


def _world_size() -> int:
    distributed = _initialised()
    return 1 if distributed is None else int(distributed.get_world_size())


def _rank() -> int | None:
    distributed = _initialised()
    return None if distributed is None else int(distributed.get_rank())


def check_meta_run(index: ModelIndex) -> None:
    """A meta run swaps every parameter for a meta stand-in, which FSDP2's forward refuses
    (it all-gathers real shards): refused here, before anything runs."""
    fsdp = fsdp_module_class()
    if fsdp is not None and any(isinstance(module, fsdp) for module in index.names):
        raise ValueError(
            "device='meta' cannot run a model sharded with FSDP2 (fully_shard): its forward pass "
            "gathers the real shards; expected the device its shards are on, e.g. device='cpu'"
        )


# (module, registry name, the id of the sharded parameter it holds before the pass)
_Slot = tuple[nn.Module, str, int]


class ShardedPass:
    """One pass over a model with FSDP2 modules (a step of ``_trace``'s stack).

    ``canonical`` (shared with the watch and the row facts) gets unsharded parameter ids ->
    their sharded parameters' ids, ``watched`` (the watch's ids) the unsharded ids, and
    ``hold`` is told each unsharded parameter (not an activation when autograd saves it)."""

    def __init__(
        self,
        index: ModelIndex,
        canonical: dict[int, int],
        watched: set[int],
        hold: Callable[[torch.Tensor], None],
    ) -> None:
        self.canonical, self.watched, self.hold = canonical, watched, hold
        self.slots = fsdp_slots(index)
        self.handles: list[Any] = []

    def install(self) -> None:
        for module, slots in self.slots.items():
            if slots:
                self.handles.append(module.register_forward_pre_hook(self._mapper(slots)))

    def _mapper(self, slots: list[_Slot]) -> Callable[..., None]:
        def map_unsharded(module: nn.Module, args: Any) -> None:
            """Runs after FSDP's own pre-hook (it comes first): the registries now hold
            the unsharded parameters."""
            for owner, name, sharded in slots:
                held = dict.get(owner.__dict__["_parameters"], name)
                if held is not None and id(held) != sharded and id(held) not in self.canonical:
                    self.canonical[id(held)] = sharded
                    self.watched.add(id(held))
                    self.hold(held)

        return map_unsharded

    def undo(self) -> None:
        for handle in self.handles:
            handle.remove()
        reshard_moved(self.slots)


def fsdp_slots(index: ModelIndex) -> dict[nn.Module, list[_Slot]]:
    """Each FSDP2 module of the model -> the registry slots of its sharded parameters
    (none where torch.distributed.fsdp was never imported)."""
    fsdp = fsdp_module_class()
    if fsdp is None:
        return {}
    return {module: _slots(module, fsdp, index) for module in index.names if isinstance(module, fsdp)}


def reshard_moved(slots: dict[nn.Module, list[_Slot]]) -> None:
    """Every FSDP2 module whose registries no longer hold its sharded parameters holds them
    again (``reshard``, which also frees the unsharded ones, as the end of backward would)."""
    for module, held in slots.items():
        if held and any(
            id(dict.get(owner.__dict__["_parameters"], name)) != sharded for owner, name, sharded in held
        ):
            module.reshard()  # type: ignore[operator]


def _slots(top: nn.Module, fsdp: type, index: ModelIndex) -> list[_Slot]:
    """The registry slots of the DTensor parameters ``top`` manages: those of its own
    subtree, less those below FSDP modules inside it (they manage their own)."""
    dtensor = dtensor_class() or type(None)
    found: list[_Slot] = []
    stack = [top]
    while stack:
        module = stack.pop()
        for name, param in module._parameters.items():
            if isinstance(param, dtensor) and id(param) in index.params:
                found.append((module, name, id(param)))
        stack.extend([m for m in module._modules.values() if not isinstance(m, (fsdp, type(None)))])
    return found
