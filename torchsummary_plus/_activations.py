"""What the pass's activations weigh: the bytes of each row's output, and what autograd saved.

Both count tensors, never shapes multiplied together, each at its own dtype, and each
storage once (a view, a chunk of a split, an expanded tensor: the memory they share).
Both are measured on the pass's own batch; ``scaled_to_batch`` gives the table's.
"""
from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import torch
from torch import Tensor

PASS_BATCH = 2  # the pass runs a batch of 2, as torchsummary's does (see _arguments.make_inputs)


def _storage_bytes(tensor: Tensor) -> tuple[Any, int]:
    """(the tensor's storage, or None where it has none of its own, and its bytes). Read
    where no mode of the pass is on (``Recorder.write``, ``SavedForBackward``).

    Layouts without one storage (sparse, wrapper subclasses such as DTensor, whose own
    storage is empty) count ``numel * element_size``; an empty tensor counts 0."""
    try:
        storage = tensor.untyped_storage()
        nbytes = storage.nbytes()
    except (RuntimeError, NotImplementedError, TypeError):
        storage, nbytes = None, 0
    if nbytes:
        return storage, nbytes
    try:
        return None, tensor.numel() * tensor.element_size()
    except (RuntimeError, NotImplementedError, TypeError):  # no size to be had: none counted
        return None, 0


def _storage_key(tensor: Tensor) -> int | None:
    """The tensor's storage, allocated or not (None where it has none of its own)."""
    with torch._C.DisableTorchFunction():
        try:
            return int(tensor.untyped_storage()._cdata)
        except (RuntimeError, NotImplementedError, TypeError):
            return None


_cdata = operator.attrgetter("_cdata")


def storage_sizes(tensors: list[Tensor]) -> dict[int | None, int]:
    """Storage -> bytes for ``tensors``, each storage once, as ``_storage_bytes`` counts them;
    the key None holds the bytes of the tensors without a storage of their own. Read with
    C-level maps over the whole list (autograd saves a tensor or two per layer); a list with
    any other kind of tensor in it is read one tensor at a time."""
    try:
        storages = list(map(Tensor.untyped_storage, tensors))
        sizes = list(map(torch.UntypedStorage.nbytes, storages))
    except (RuntimeError, NotImplementedError, TypeError):
        sizes = []
    if len(sizes) == len(tensors) and all(sizes):
        return dict(zip(map(_cdata, storages), sizes, strict=True))
    return storage_sizes_one_by_one(tensors)


def storage_sizes_one_by_one(tensors: list[Tensor]) -> dict[int | None, int]:
    """``storage_sizes`` the plain way, one tensor at a time."""
    counted: dict[int | None, int] = {None: 0}
    for storage, nbytes in map(_storage_bytes, tensors):
        if storage is None:
            counted[None] += nbytes
        else:
            counted[storage._cdata] = nbytes
    return counted


def output_nbytes(output: Any) -> int:
    """Bytes of the tensors in a module's output: in nested lists, tuples, dicts and
    dataclasses, each storage once. A walk with its own stack, so depth costs no recursion,
    and each container once, so a list holding itself ends."""
    if type(output) is Tensor:  # nearly every row
        return _storage_bytes(output)[1]
    total = 0
    storages: set[int] = set()  # the storages' keys (all alive: the output holds them)
    containers: set[int] = set()
    stack = [output]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            storage, nbytes = _storage_bytes(item)
            if storage is None or storage._cdata not in storages:
                total += nbytes
                if storage is not None:
                    storages.add(storage._cdata)
            continue
        if id(item) in containers:
            continue
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))
        else:
            continue
        containers.add(id(item))
    return total


class SavedForBackward:
    """A context manager measuring what autograd saves for backward while it is entered:
    ``nbytes`` afterwards, each storage once.

    Tensors that share a storage with ``held`` (the model's parameters and buffers, the
    inputs: counted elsewhere) are not activations and are left out. Where autograd is off
    on entry (``torch.no_grad()``, ``torch.inference_mode()``) nothing is saved and nothing
    is measured: ``nbytes`` stays None, never a misleading 0. Each saved tensor is only
    noted while the pass runs (a detached alias, which keeps its storage, and so its
    address, for the count); the count is made on exit.
    """

    def __init__(self, held: Iterable[Tensor]) -> None:
        self.held = held
        self.nbytes: int | None = None
        self._saved: list[Tensor] = []
        self._held_during: set[int] = set()  # storages `hold` was told of
        self._hooks: Any = None

    def __enter__(self) -> SavedForBackward:
        if torch.is_grad_enabled():
            self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack)
            self._hooks.__enter__()
        return self

    def hold(self, tensor: Tensor) -> None:
        """One more tensor that is no activation, made during the pass (a sharded model's
        unsharded parameter): what autograd saves of its storage is left out too, also
        where the storage is freed before the count (FSDP2 frees it when it reshards)."""
        key = _storage_key(tensor)
        if key is not None:
            self._held_during.add(key)

    def _pack(self, tensor: Tensor) -> Tensor:
        """Note a saved tensor; autograd keeps what this returns. A detached alias (the
        same storage): the tensor itself, when it is an output of the graph that saves it,
        makes a reference cycle inside torch that nothing collects, which would keep the
        pass's tensors and the model's parameters held after the pass (and the next
        summary's gate closed). Backward through the alias gives the same gradients; only
        a double backward inside the model's own forward would not see through it."""
        alias = tensor.detach()
        self._saved.append(alias)
        return alias

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._hooks is None:
            return
        self._hooks.__exit__(kind, error, tb)
        self._hooks = None
        with torch._C.DisableTorchFunction():
            held = {key for key in storage_sizes(list(self.held)) if key is not None}
            saved = self._saved
            if self._held_during:  # by storage, allocated or not: FSDP2 may have freed it
                saved = [t for t in saved if _storage_key(t) not in self._held_during]
            counted = storage_sizes(saved)
        for key in held:
            counted.pop(key, None)
        self.nbytes = sum(counted.values())
        self._saved.clear()
        self._held_during.clear()
        self.held = ()  # the model's tensors are not kept past the pass (the gate counts references)


def _unpack(packed: Tensor) -> Tensor:
    return packed


def scaled_to_batch(nbytes: int, batch_size: int) -> int:
    """Bytes measured on the pass's batch of 2, for the table's batch (one sample where the
    table shows -1). Linear in the batch, whichever dimension holds it: right for outputs
    whose batch is not first (sequence-first RNNs and transformers, an LSTM's states), too
    high or low only for outputs that do not depend on the batch (a positional table)."""
    batch = batch_size if batch_size > 0 else 1
    return nbytes * batch // PASS_BATCH
