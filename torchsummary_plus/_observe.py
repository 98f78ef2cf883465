"""How one module is observed during the pass: its rows, and pausing the parameter watch.

torchsummary observes with forward hooks. A hooked module's call takes PyTorch's slow path
(a closure and a hook loop per call), which on small layers costs more than the layer. So
a module is observed, for the duration of the pass, through an instance attribute
``_call_impl``: ``Module.__call__`` looks ``self._call_impl`` up on the instance, so only
``module(...)`` reaches it (a direct ``module.forward(...)`` does not, as with hooks), and it
sees the output after every hook, as torchsummary's hook, registered last, does. It is used
wherever the module has no hooks of its own and no global hook exists (hooks would then run
inside the pause of the parameter watch), is no TorchScript module, is not compiled, and the
model holds no DataParallel (whose replicas copy instance attributes). Elsewhere hooks
registered after the user's do the same (see ``_trace._observe`` for the choice).
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import torch.nn as nn
from torch import Tensor

from ._index import ParamInfo, traits
from ._shapes import describe
from ._watch import WatchSwitch

_NO_ATTRIBUTE = object()


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


def read_facts(module: nn.Module, known: KnownTensors) -> ModuleFacts:
    """The module's row facts, reading `weight` and `bias` the way torchsummary's hook does."""
    if _reads_registries(module):
        return registry_facts(module, known)
    weight, bias = _read_attributes(module)
    return _facts(module, weight, bias, known)


def registry_facts(module: nn.Module, known: KnownTensors) -> ModuleFacts:
    """The row facts of a module whose `weight` and `bias` can only be in its registries
    (the common case): read there directly, since ``Module.__getattr__`` raising for a
    missing name is slow."""
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
    return ModuleFacts._make((traits(type(module)).row_name, count, trainable, naive, row_ids))


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


def _reads_registries(module: nn.Module) -> bool:
    """Whether `weight` and `bias` can only come from the module's registries (the common
    case); otherwise an attribute or property may make them while the module runs."""
    if not traits(type(module)).reads_registries:
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


# A row as the pass records it: (module, output description, facts or None). None means the
# facts come from the registries alone and are read once per module after the pass.
PassRow = tuple[nn.Module, Any, Optional[ModuleFacts]]


def _description(output: Any) -> Any:
    return output.shape if type(output) is Tensor else describe(output)


def row_writer(
    rows: list[PassRow], module: nn.Module, copies: int, known: KnownTensors
) -> Callable[[Any], None]:
    """Appends ``copies`` rows for one call of ``module``, given its output.

    torchsummary hooks a module once per parent holding it, so it prints that many rows per
    call. Where `weight` and `bias` live in the registries, the row's facts are left to be
    read after the pass (the registries are then as before it). Otherwise they are read like
    torchsummary reads them, after the module ran (a pre-hook may have made them): at the
    first call, or at every call where reading runs code.
    """
    if not copies:
        return _ignore
    append = rows.append
    late = _reads_registries(module)
    if late and copies == 1:  # nearly every module: the hot path of the pass

        def note_one(output: Any) -> None:
            append((module, _description(output), None))

        return note_one
    every_call = traits(type(module)).computes_weight
    facts: ModuleFacts | None = None

    def note(output: Any) -> None:
        nonlocal facts
        description = _description(output)
        for _ in range(copies):
            if late:
                append((module, description, None))
            elif facts is None or every_call:
                at = len(rows)
                append(None)  # type: ignore[arg-type]  # this row's number comes first
                facts = read_facts(module, known)
                rows[at] = (module, description, facts)
            else:
                append((module, description, facts))

    return note


def resolve_rows(
    rows: list[PassRow], names: dict[nn.Module, str], known: KnownTensors
) -> list[tuple[str, ModuleFacts, Any]]:
    """(qualified name, facts, output description) per row; facts read once per module."""
    read: dict[nn.Module, ModuleFacts] = {}
    resolved = []
    for module, description, facts in rows:
        if facts is None:
            facts = read.get(module)
            if facts is None:
                facts = read[module] = registry_facts(module, known)
        resolved.append((names[module], facts, description))
    return resolved


def can_wrap(module: nn.Module) -> bool:
    """Whether an instance ``_call_impl`` sees what torchsummary's hook would see, and pauses
    the watch around nothing but torch.nn's own code."""
    return (
        not (module._forward_hooks or module._forward_pre_hooks)
        and module.__dict__.get("_compiled_call_impl") is None  # compile() bypasses it
        and not traits(type(module)).script
    )


class Observation:
    """How the modules are observed during one pass (an instance ``_call_impl``, or hooks
    where that could see something else), and how that is undone afterwards."""

    def __init__(self, switch: WatchSwitch) -> None:
        self.switch = switch
        self.wrapped: list[tuple[nn.Module, Any]] = []  # (module, its own `_call_impl` attribute)
        self.handles: list[Any] = []

    def undo(self) -> None:
        for module, previous in self.wrapped:
            if previous is _NO_ATTRIBUTE:
                module.__dict__.pop("_call_impl", None)
            else:
                module.__dict__["_call_impl"] = previous
        for handle in self.handles:
            handle.remove()

    def wrap(self, module: nn.Module, note: Callable[[Any], None], pauses: bool) -> None:
        """Observe every ``module(...)`` call: the hot path of the pass, hence one body per
        case. A trusted root pauses the watch (``WatchSwitch.enter`` and ``leave``, in one
        frame), runs, notes its row before the watch resumes and marks itself as run."""
        self.wrapped.append((module, module.__dict__.get("_call_impl", _NO_ATTRIBUTE)))
        original = module._call_impl
        switch = self.switch
        if pauses:
            pause, ran = switch.pause, switch.ran

            def observed(*args: Any, **kwargs: Any) -> Any:
                depth = switch.depth
                switch.depth = depth + 1
                paused = not depth and switch.watching and pause(args, kwargs)
                try:
                    output = original(*args, **kwargs)
                    note(output)
                finally:
                    ran.add(module)
                    switch.depth = depth
                    if paused:
                        switch.resume()
                return output

        else:
            unwatched = switch.unwatched

            def observed(*args: Any, **kwargs: Any) -> Any:
                output = original(*args, **kwargs)
                unwatched(note, output)
                return output

        module.__dict__["_call_impl"] = observed

    def hook(self, module: nn.Module, note: Callable[[Any], None], pauses: bool) -> None:
        """Observe ``module`` with hooks: the row's after the user's hooks (it sees the output
        they leave, as torchsummary's hook does).

        Where the module pauses the watch, the pause starts after the user's pre-hooks and
        ends before the user's forward hooks (they are custom code, watched), also when the
        module raises; then no row is added, as torchsummary's hook would not run.
        """
        switch = self.switch

        def row(module: nn.Module, args: Any, output: Any) -> None:
            switch.unwatched(note, output)

        def resume(module: nn.Module, args: Any, output: Any) -> None:
            switch.leave(module)

        if pauses:
            self.handles += [
                module.register_forward_pre_hook(switch.enter, with_kwargs=True),
                module.register_forward_hook(resume, prepend=True, always_call=True),
            ]
        if note is not _ignore:
            self.handles.append(module.register_forward_hook(row))


def _ignore(output: Any) -> None:
    """The row writer of a module that gets no rows (it only pauses the watch)."""
