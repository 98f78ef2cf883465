"""What the forward pass may change in the model and the process, and putting it back.

The pass runs in the model's own modes, as torchsummary runs it: BatchNorm updates its
running statistics, dropout draws from the global generator, and a model's forward may
write into its parameters, re-register buffers, add hooks or swap a class. ``ModelSnapshot``
records, before the pass and without changing anything:

- each module's class, its attributes (by identity) and the contents of torch's registries
  and hook dictionaries (by identity);
- each parameter's and buffer's storage, offset, size, stride and dtype (no copy: this
  undoes ``set_``, ``.data = ...`` and ``half()``), and a copy of every buffer's values
  (torch's own kernels write running statistics unwatched); parameters' values are copied
  by the watch just before the first write into their storage;
- ``requires_grad`` flags, gradients (set aside for the pass), the global hooks and the
  random state.

``restore`` runs every step even when another raises, and returns what was raised.
"""
from __future__ import annotations

import operator
from itertools import compress
import warnings
from typing import Any, Callable, NamedTuple

import torch
import torch.nn as nn
from torch.nn.modules import module as _torch_module

from ._index import ModelIndex
from ._traits import traits

# Every dict or set torch keeps on a module: registries and hooks (a test pins this list).
MODULE_CONTAINERS = (
    "_parameters", "_buffers", "_modules", "_non_persistent_buffers_set",
    "_backward_pre_hooks", "_backward_hooks", "_forward_hooks", "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called", "_forward_pre_hooks", "_forward_pre_hooks_with_kwargs",
    "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)
GLOBAL_CONTAINERS = (
    "_global_buffer_registration_hooks", "_global_module_registration_hooks",
    "_global_parameter_registration_hooks", "_global_backward_pre_hooks",
    "_global_backward_hooks", "_global_forward_pre_hooks", "_global_forward_hooks",
    "_global_forward_hooks_always_called",
)


def _contents(container: Any) -> Any:
    """A copy of a container's contents to compare and restore by identity (None: empty)."""
    if not container:
        return None
    if isinstance(container, dict):
        return list(container.items())
    return set(container)


def _same(container: Any, contents: Any) -> bool:
    if contents is None:
        return not container
    if isinstance(container, dict):
        items = list(container.items())
        return len(items) == len(contents) and all(
            [k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(items, contents)]
        )
    return container == contents  # sets of strings (buffer names)


def _put(container: Any, contents: Any) -> None:
    container.clear()
    if contents is not None:
        container.update(contents)


class _ModuleRecord(NamedTuple):
    module: nn.Module
    cls: type
    attributes: dict[str, Any]  # a copy of its __dict__, compared by identity
    containers: tuple[str, ...]  # the names of torch's dicts and sets it has
    lengths: tuple[int, ...]  # their lengths: most are empty, and stay so
    contents: dict[str, Any]  # name -> contents, of those that held anything


# The containers each class's modules have (all of MODULE_CONTAINERS on torch 2.x), per class.
_CONTAINERS_BY_CLASS: dict[type, tuple[str, ...]] = {}


def _containers_of(module: nn.Module) -> tuple[str, ...]:
    cls = type(module)
    names = _CONTAINERS_BY_CLASS.get(cls)
    attributes = module.__dict__
    if names is None or not all(map(attributes.__contains__, names)):
        if traits(cls).script:  # (TorchScript's registrations are fixed, of its own kind)
            names = ()
        else:
            names = tuple([name for name in MODULE_CONTAINERS if name in attributes])
        _CONTAINERS_BY_CLASS[cls] = names
    return names


class _TensorRecord(NamedTuple):
    tensor: torch.Tensor
    storage: Any  # its UntypedStorage, or None where it has none
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: torch.dtype
    version: int


def _tensor_record(tensor: torch.Tensor) -> _TensorRecord:
    try:
        storage = tensor.untyped_storage()
        offset, stride = tensor.storage_offset(), tuple(tensor.stride())
    except (RuntimeError, NotImplementedError, TypeError):  # tensor subclasses, sparse
        storage, offset, stride = None, 0, ()
    return _TensorRecord(tensor, storage, offset, tuple(tensor.shape), stride, tensor.dtype, tensor._version)


def _geometry_kept(record: _TensorRecord) -> bool:
    tensor = record.tensor
    return (
        tensor.dtype == record.dtype
        and tensor.untyped_storage()._cdata == record.storage._cdata
        and tensor.storage_offset() == record.offset
        and tuple(tensor.shape) == record.size
        and tuple(tensor.stride()) == record.stride
    )


class ModelSnapshot:
    """What the pass may change (see the module's docstring); taking it changes nothing."""

    def __init__(self, index: ModelIndex) -> None:
        self.index = index
        self.modules = [self._module_record(m) for m in index.names]
        self.tensors = [_tensor_record(t) for t in index.tensors.values()]
        self.buffer_values = [
            (index.tensors[key], index.tensors[key].detach().clone()) for key in index.buffers
        ]
        params = [index.tensors[key] for key in index.params]
        self.flags = [(p, p.requires_grad, p.grad) for p in params]
        # embeddings renormalise their weight in place, inside torch's own code
        self.renormed = [
            (p, p.detach().clone())
            for m in index.owners
            if traits(type(m)).renorms and getattr(m, "max_norm", None) is not None
            for p in m.parameters(recurse=False)
        ]
        self.global_hooks = [
            (getattr(_torch_module, name), _contents(getattr(_torch_module, name)))
            for name in GLOBAL_CONTAINERS
            if hasattr(_torch_module, name)
        ]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    @staticmethod
    def _module_record(module: nn.Module) -> _ModuleRecord:
        attributes = module.__dict__
        containers = _containers_of(module)
        lengths = tuple(map(len, map(attributes.__getitem__, containers)))
        contents = {name: _contents(attributes[name]) for name in compress(containers, lengths)}
        return _ModuleRecord(module, type(module), attributes.copy(), containers, lengths, contents)

    def set_grads_aside(self) -> None:
        """Gradients off the parameters for the pass: a forward that calls backward must
        not add into them (``restore`` puts them back, also after an interrupt here)."""
        for param, _, grad in self.flags:
            if grad is not None:
                param.grad = None

    def restore(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> list[BaseException]:
        """Put everything back; ``originals``: copies the watch took before writes. Every
        step runs; what any of them raised is returned, first first."""
        errors: list[BaseException] = []
        changed = self._changed_unseen(originals)  # before the restore's own writes
        steps: list[Callable[[], None]] = [
            self._restore_modules,
            self._restore_geometry,
            lambda: self._restore_values(originals),
            self._restore_flags,
            self._restore_globals,
        ]
        for step in steps:
            try:
                step()
            except BaseException as error:  # an interrupt too: the other steps still run
                errors.append(error)
        if changed:
            warnings.warn(
                "the model's forward pass changed parameter(s) in place where torchsummary_plus "
                f"could not see it, so they keep the new values: {', '.join(changed[:5])}"
                + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""),
                stacklevel=4,
            )
        return errors

    def _changed_unseen(self, originals: dict[int, Any]) -> list[str]:
        """Parameters whose values changed though no copy was taken before: their version
        counter moved while they kept their storage (one swapped for another, as ``set_``
        does unseen, is put back whole)."""
        kept = set(originals) | {id(p) for p, _ in self.renormed} | self.index.buffers
        changed = [
            record.tensor
            for record in self.tensors
            if record.tensor._version != record.version
            and id(record.tensor) not in kept
            and (record.storage is None or _geometry_kept(record))
        ]
        if not changed:
            return []
        names = {id(t): name for name, t in _tensor_names(self.index).items()}
        return [names.get(id(t), "?") for t in changed]

    def _restore_modules(self) -> None:
        errors = []
        for record in self.modules:
            try:
                _restore_module(record)
            except BaseException as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def _restore_geometry(self) -> None:
        with torch.no_grad():
            for record in self.tensors:
                if record.storage is None or _geometry_kept(record):
                    continue
                original = torch.empty(0, dtype=record.dtype, device=record.storage.device)
                original.set_(record.storage, record.offset, record.size, record.stride)
                record.tensor.data = original

    def _restore_values(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        with torch.no_grad():
            for buffer, saved in self.buffer_values:
                buffer.copy_(saved)  # not by version: torch's kernels leave it
            for param, saved in [*self.renormed, *originals.values()]:
                param.copy_(saved)

    def _restore_flags(self) -> None:
        for param, requires_grad, grad in self.flags:
            if param.requires_grad is not requires_grad:
                param.requires_grad_(requires_grad)
            if param.grad is not grad:
                param.grad = grad

    def _restore_globals(self) -> None:
        for container, contents in self.global_hooks:
            if not _same(container, contents):
                _put(container, contents)
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)


def _restore_module(record: _ModuleRecord) -> None:
    module, attributes = record.module, record.attributes
    if type(module) is not record.cls:
        object.__setattr__(module, "__class__", record.cls)
    current = module.__dict__
    if current.keys() != attributes.keys() or not all(map(operator.is_, current.values(), attributes.values())):
        current.clear()
        current.update(attributes)
    containers = record.containers
    lengths = tuple(map(len, map(current.__getitem__, containers)))
    if lengths == record.lengths:  # nearly always: only those that held anything can differ
        changed = [name for name, contents in record.contents.items() if not _same(current[name], contents)]
    else:
        changed = [name for name in containers if not _same(current[name], record.contents.get(name))]
    for name in changed:
        _put(current[name], record.contents.get(name))


def _tensor_names(index: ModelIndex) -> dict[str, torch.Tensor]:
    """A qualified name for each parameter and buffer, for warnings."""
    names = {info.name: index.tensors[key] for key, info in index.params.items()}
    for module, prefix in index.names.items():
        for name, buffer in module._buffers.items():
            if buffer is not None and id(buffer) in index.buffers:
                names.setdefault(f"{prefix}.{name}" if prefix else name, buffer)
    return names

