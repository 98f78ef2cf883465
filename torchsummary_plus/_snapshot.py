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
import warnings
from collections.abc import Callable
from itertools import chain, compress
from typing import Any

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
    "_global_forward_hooks_always_called", "_global_forward_hooks_with_kwargs",
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
            [k1 == k2 and v1 is v2 for (k1, v1), (k2, v2) in zip(items, contents, strict=True)]
        )
    return bool(container == contents)  # sets of strings (buffer names)


def _put(container: Any, contents: Any) -> None:
    container.clear()
    if contents is not None:
        container.update(contents)


_ALL_CONTAINERS = operator.itemgetter(*MODULE_CONTAINERS)


class _TreeState:
    """Every module's class and attributes (by identity) and the contents of torch's
    containers on it. Taken and compared over the whole tree at once, with C-level maps:
    a summary runs on models of a million modules, and nearly always nothing differs. Where
    something does, each module is put back on its own (``_put_back_module``)."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = modules
        self.classes = list(map(type, modules))
        self.attributes = list(map(dict.copy, map(vars, modules)))
        self.containers = _containers(modules)
        self.lengths = list(map(len, self.containers))
        held = list(compress(self.containers, self.lengths))
        # id -> contents, of those that held anything
        self.contents = dict(zip(map(id, held), map(_contents, held), strict=True))
        self.held = held
        self.held_keys = list(chain.from_iterable(held))  # (dict keys and set members)
        self.held_values = list(chain.from_iterable([c.values() for c in held if isinstance(c, dict)]))

    def unchanged(self) -> bool:
        """Whether no class, attribute or container differs: C-level comparisons only."""
        attributes = list(map(vars, self.modules))
        held = self.held
        return (
            list(map(type, self.modules)) == self.classes
            and list(chain.from_iterable(attributes)) == list(chain.from_iterable(self.attributes))
            and all(map(operator.is_, chain.from_iterable(map(dict.values, attributes)),
                        chain.from_iterable(map(dict.values, self.attributes))))
            and list(map(len, self.containers)) == self.lengths
            and list(chain.from_iterable(held)) == self.held_keys
            and all(map(operator.is_, chain.from_iterable([c.values() for c in held if isinstance(c, dict)]),
                        self.held_values))
        )

    def restore(self) -> None:
        """Put back every module that differs; each one is tried even when another raises."""
        if self.unchanged():
            return
        errors = []
        for module, cls, attributes in zip(self.modules, self.classes, self.attributes, strict=True):
            try:
                self._put_back_module(module, cls, attributes)
            except BaseException as error:
                errors.append(error)
        if errors:
            raise errors[0]

    def _put_back_module(self, module: nn.Module, cls: type, attributes: dict[str, Any]) -> None:
        if type(module) is not cls:
            object.__setattr__(module, "__class__", cls)
        current = module.__dict__
        same = current.keys() == attributes.keys()
        if not same or not all(map(operator.is_, current.values(), attributes.values())):
            current.clear()
            current.update(attributes)
        if traits(cls).script:
            return
        for name in MODULE_CONTAINERS:
            container = current.get(name)
            if isinstance(container, (dict, set)):
                contents = self.contents.get(id(container))
                if not _same(container, contents):
                    _put(container, contents)


def _containers(modules: list[nn.Module]) -> list[Any]:
    """torch's dicts and sets on every module but TorchScript ones (whose registrations are
    fixed, and of their own kind), in order."""
    scripts = [traits(cls).script for cls in set(map(type, modules))]
    plain = list(map(vars, modules)) if not any(scripts) else [
        vars(m) for m in modules if not traits(type(m)).script
    ]
    try:
        return list(chain.from_iterable(map(_ALL_CONTAINERS, plain)))
    except KeyError:  # a module without all of them (made without Module.__init__)
        return [d[name] for d in plain for name in MODULE_CONTAINERS if name in d]


_NAMED = 5  # parameters a warning names before "and N more"
_shape = operator.attrgetter("shape")
_dtype = operator.attrgetter("dtype")
_version = operator.attrgetter("_version")
_cdata = operator.attrgetter("_cdata")
_requires_grad = operator.attrgetter("requires_grad")
_grad = operator.attrgetter("grad")


class _TensorGeometry:
    """Where every parameter's and buffer's values live: storage, offset, size, stride,
    dtype (no copy). Taken and compared over all tensors at once, with C-level maps."""

    def __init__(self, tensors: list[torch.Tensor]) -> None:
        self.tensors = tensors
        self.storages = _each(torch.Tensor.untyped_storage, tensors)  # kept alive for the restore
        self.layout = _layout(tensors)
        self.versions = list(map(_version, tensors))

    def moved(self) -> list[int]:
        """The positions of the tensors whose values now live elsewhere (or look different)."""
        now = _layout(self.tensors)
        if now == self.layout:
            return []
        return [i for i, (a, b) in enumerate(zip(now, self.layout, strict=True)) if a != b]

    def restore(self) -> None:
        moved = self.moved()
        if not moved:  # nearly always
            return
        with torch.no_grad():
            for i in moved:
                tensor, storage = self.tensors[i], self.storages[i]
                _, offset, size, stride, dtype = self.layout[i]
                original = torch.empty(0, dtype=dtype, device=storage.device)
                original.set_(storage, offset, size, stride)
                tensor.data = original


def _each(method: Callable[[torch.Tensor], Any], tensors: list[torch.Tensor]) -> list[Any]:
    """``method`` of each tensor, None for those that have no storage (tensor subclasses,
    sparse tensors)."""
    try:
        return list(map(method, tensors))
    except (RuntimeError, NotImplementedError, TypeError):
        return [_or_none(method, t) for t in tensors]


def _or_none(method: Callable[[torch.Tensor], Any], tensor: torch.Tensor) -> Any:
    try:
        return method(tensor)
    except (RuntimeError, NotImplementedError, TypeError):
        return None


def _where(tensor: torch.Tensor) -> tuple[Any, ...]:
    storage = _cdata(tensor.untyped_storage())
    return (storage, tensor.storage_offset(), tensor.shape, tensor.stride(), tensor.dtype)


def _layout(tensors: list[torch.Tensor]) -> list[Any]:
    """(storage, offset, size, stride, dtype) of each tensor (None without a storage)."""
    try:
        return list(zip(
            map(_cdata, map(torch.Tensor.untyped_storage, tensors)),
            map(torch.Tensor.storage_offset, tensors),
            map(_shape, tensors),
            map(torch.Tensor.stride, tensors),
            map(_dtype, tensors), strict=True,
        ))
    except (RuntimeError, NotImplementedError, TypeError):
        return [_or_none(_where, t) for t in tensors]


class ModelSnapshot:
    """What the pass may change (see the module's docstring); taking it changes nothing."""

    def __init__(self, index: ModelIndex) -> None:
        self.index = index
        self.tree = _TreeState(list(index.names))
        self.geometry = _TensorGeometry(list(index.tensors.values()))
        self.buffer_values = [
            (index.tensors[key], index.tensors[key].detach().clone()) for key in index.buffers
        ]
        self.params = [index.tensors[key] for key in index.params]
        self.requires_grad = list(map(_requires_grad, self.params))
        self.grads = list(map(_grad, self.params))
        # embeddings renormalise their weight in place, inside torch's own code
        self.renormed = [
            (p, p.detach().clone()) for m in index.renorming for p in m.parameters(recurse=False)
        ]
        self.global_hooks = [
            (getattr(_torch_module, name), _contents(getattr(_torch_module, name)))
            for name in GLOBAL_CONTAINERS
            if hasattr(_torch_module, name)
        ]
        self.cpu_rng = torch.get_rng_state()
        cuda_used = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        self.cuda_rng = torch.cuda.get_rng_state_all() if cuda_used else None

    def set_grads_aside(self) -> None:
        """Gradients off the parameters for the pass: a forward that calls backward must
        not add into them (``restore`` puts them back, also after an interrupt here)."""
        for param, grad in zip(self.params, self.grads, strict=True):
            if grad is not None:
                param.grad = None

    def restore(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> list[BaseException]:
        """Put everything back; ``originals``: copies the watch took before writes. Every
        step runs; what any of them raised is returned, first first."""
        errors: list[BaseException] = []
        changed = self._changed_unseen(originals)  # before the restore's own writes
        steps: list[Callable[[], None]] = [
            self.tree.restore,
            self.geometry.restore,
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
                f"could not see it, so they keep the new values: {', '.join(changed[:_NAMED])}"
                + (f" and {len(changed) - _NAMED} more" if len(changed) > _NAMED else ""),
                stacklevel=4,
            )
        return errors

    def _changed_unseen(self, originals: dict[int, Any]) -> list[str]:
        """Parameters whose values changed though no copy was taken before: their version
        counter moved while they kept their storage (one swapped for another, as ``set_``
        does unseen, is put back whole)."""
        kept = set(originals) | {id(p) for p, _ in self.renormed} | self.index.buffers
        geometry = self.geometry
        versions = list(map(_version, geometry.tensors))
        if versions == geometry.versions:
            return []
        moved = set(geometry.moved())
        pairs = zip(geometry.tensors, versions, geometry.versions, strict=True)
        changed = [
            tensor
            for i, (tensor, now, before) in enumerate(pairs)
            if now != before and id(tensor) not in kept and i not in moved
        ]
        if not changed:
            return []
        names = {id(t): name for name, t in _tensor_names(self.index).items()}
        return [names.get(id(t), "?") for t in changed]

    def _restore_values(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        copies = [*self.buffer_values, *self.renormed, *originals.values()]
        if not copies:
            return
        with torch.no_grad():
            for tensor, saved in copies:  # buffers not by version: torch's kernels leave it
                tensor.copy_(saved)

    def _restore_flags(self) -> None:
        if list(map(_requires_grad, self.params)) == self.requires_grad and all(
            map(operator.is_, map(_grad, self.params), self.grads)
        ):
            return
        for param, requires_grad, grad in zip(self.params, self.requires_grad, self.grads, strict=True):
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


def _tensor_names(index: ModelIndex) -> dict[str, torch.Tensor]:
    """A qualified name for each parameter and buffer, for warnings."""
    names = {info.name: index.tensors[key] for key, info in index.params.items()}
    for module, prefix in index.names.items():
        for name, buffer in module._buffers.items():
            if buffer is not None and id(buffer) in index.buffers:
                names.setdefault(f"{prefix}.{name}" if prefix else name, buffer)
    return names

