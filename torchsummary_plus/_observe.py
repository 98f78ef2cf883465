"""How one module is observed during the pass: its rows, and pausing the parameter watch.

torchsummary observes with forward hooks. A hooked module's call takes PyTorch's slow path
(a closure and a hook loop per call), which on small layers costs more than the layer. So
a module is observed, for the duration of the pass, through an instance attribute
``_call_impl``: ``Module.__call__`` looks ``self._call_impl`` up on the instance, so only
``module(...)`` reaches it (a direct ``module.forward(...)`` does not, as with hooks), and it
sees the output after every hook, as torchsummary's hook, registered last, does. It is used
wherever the module has no hooks of its own and no global hook exists (hooks would then run
inside the pause of the parameter watch), is no TorchScript module, is not compiled, and the
model holds no DataParallel (whose replicas copy instance attributes); for a module that
pauses the watch, also where its call is torch's own. Elsewhere hooks registered after the
user's do the same (see ``_trace._observe`` for the choice). Where torch's own call would
do nothing but call ``forward``, the observer calls it itself.
"""
from __future__ import annotations

from types import FrameType
from typing import Any, Callable

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules import module as _torch_module

from ._activations import output_nbytes
from ._facts import KnownTensors, ModuleFacts, attribute_facts
from ._shapes import describe
from ._traits import ClassTraits, traits
from ._watch import WatchSwitch

_NO_ATTRIBUTE = object()
_TORCH_CALL = nn.Module._call_impl
# The global hooks torch's `_call_impl` runs (torch adds to these dicts in place).
_GLOBAL_HOOKS = (
    _torch_module._global_backward_pre_hooks,
    _torch_module._global_backward_hooks,
    _torch_module._global_forward_pre_hooks,
    _torch_module._global_forward_hooks,
)
_tracing_state = torch._C._get_tracing_state


# A row of the table as the pass records it: (qualified name, facts, output description,
# the output's bytes).
PassRow = tuple[str, ModuleFacts, Any, int]


def one_row(append: Callable[[PassRow], None], name: str, facts: ModuleFacts) -> Callable[[Any], None]:
    """The row writer of a module with one row per call whose facts were read before the
    pass, where it is not a ``_RootObserver`` that appends the row itself."""

    def note(output: Any) -> None:
        shape = output.shape if type(output) is Tensor else describe(output)
        append((name, facts, shape, output_nbytes(output)))

    return note


def row_writer(
    rows: list[PassRow],
    module: nn.Module,
    name: str,
    copies: int,
    known: KnownTensors,
    registry: ModuleFacts | None,
) -> Callable[[Any], None]:
    """Appends ``copies`` rows for one call of ``module`` (qualified ``name``), given its
    output.

    torchsummary hooks a module once per parent holding it, so it prints that many rows per
    call. Where `weight` and `bias` live in the registries, the row's facts were read before
    the pass (``registry``). Otherwise they are read like torchsummary reads them, after the
    module ran (a pre-hook may have made them): at the first call, or at every call where
    reading runs code. (A module with one row per call and facts read before the pass is
    observed through ``Observation.observe_row`` instead.)
    """
    if not copies:
        return _ignore
    append = rows.append
    facts = registry
    every_call = traits(type(module)).computes_weight

    def note(output: Any) -> None:
        nonlocal facts
        description = output.shape if type(output) is Tensor else describe(output)
        nbytes = output_nbytes(output)
        for _ in range(copies):
            if facts is None or every_call:
                at = len(rows)
                append(None)  # type: ignore[arg-type]  # this row's number comes first
                facts = attribute_facts(module, known)
                rows[at] = (name, facts, description, nbytes)
            else:
                append((name, facts, description, nbytes))

    return note


class _Observer:
    """Observes one module during the pass. Its bound ``call`` is the module's instance
    ``_call_impl``. A bound method, because a deep copy of the module (a model may make one
    in its own forward pass) then copies the observer through
    ``__deepcopy__``: the copy gets an observer of its own, as a copy of a hooked module gets
    copies of torchsummary's hooks. It runs itself and keeps nothing of the summary."""

    __slots__ = ("module", "original", "direct", "note", "switch", "observation")
    pauses = False  # whether it pauses the watch while its module runs (a trusted root's)

    def __init__(
        self, module: nn.Module, note: Callable[[Any], None], observation: Observation, own_call: bool
    ) -> None:
        self.module = module
        # whether the module's `_call_impl` is torch's own, which calls `forward` and nothing
        # else where nothing hooks the module and nothing traces it (see `run`)
        self.direct = not own_call and type(module)._call_impl is _TORCH_CALL
        if not self.direct:
            self.original = module._call_impl  # one the user set on the instance, or a class's
        self.note = note
        self.switch = observation.switch
        self.observation = observation

    def run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The module's own call. Where torch's ``_call_impl`` would only call ``forward``,
        it is called here directly: the same call, without a frame of closures on every
        module call, which costs more than observing it."""
        module = self.module
        if not self.direct:
            return self.original(*args, **kwargs)
        if (
            module._forward_hooks
            or module._forward_pre_hooks
            or module._backward_hooks
            or module._backward_pre_hooks
            or any(_GLOBAL_HOOKS)
            or _tracing_state() is not None
        ):
            return _TORCH_CALL(module, *args, **kwargs)
        return module.forward(*args, **kwargs)

    def call(self, *args: Any, **kwargs: Any) -> Any:
        output = self.run(args, kwargs)
        self.switch.unwatched(self.note, output)
        return output

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        copied = memo.get(id(self.module))
        if copied is None:  # the observer copied on its own, not as part of its module
            return self
        return self.observation.observe_copy(copied, self.module, self.pauses)


class _RootObserver(_Observer):
    """Observes a trusted root whose call is torch's own (nearly every root): the hot path
    of the pass, in one frame. It pauses the watch while the module runs
    (``WatchSwitch.enter`` and ``leave``, inline), appends its row before the watch resumes
    (where its facts were read before the pass; otherwise its note writes the rows) and
    marks itself as run."""

    __slots__ = ("append", "name", "facts")
    pauses = True

    def __init__(
        self,
        module: nn.Module,
        row: tuple[Callable[[PassRow], None], str, ModuleFacts | None],
        note: Callable[[Any], None],
        observation: Observation,
    ) -> None:
        self.module = module
        self.direct = True  # (see Observation.observe_row)
        # (append to the rows, qualified name, facts): the row of each call, where its facts
        # were read before the pass; otherwise (a copy's) `note` reads them
        self.append, self.name, self.facts = row
        self.note = note
        self.switch = observation.switch
        self.observation = observation

    def call(self, *args: Any, **kwargs: Any) -> Any:
        switch = self.switch
        module = self.module
        depth = switch.depth
        paused = False
        if not depth and switch.watching:
            if switch.verifying and not switch.holds_own(module):
                return _Observer.call(self, *args, **kwargs)  # other parameters swapped in: watched
            paused = switch.pause(args, kwargs)
        switch.depth = depth + 1
        try:
            # `run`, spelt out: its frame costs a fifth of the observer's own time on this,
            # the hot path of the pass
            if (
                module._forward_hooks
                or module._forward_pre_hooks
                or module._backward_hooks
                or module._backward_pre_hooks
                or any(_GLOBAL_HOOKS)
                or _tracing_state() is not None
            ):
                output = _TORCH_CALL(module, *args, **kwargs)
            else:
                output = module.forward(*args, **kwargs)
            facts = self.facts
            if facts is None:
                self.note(output)
            else:
                shape = output.shape if type(output) is Tensor else describe(output)
                self.append((self.name, facts, shape, output_nbytes(output)))
        finally:
            switch.ran.add(module)
            switch.depth = depth
            if paused:
                switch.resume()
        return output


_NO_ROW: Any = (None, "", None)  # a root observer's row where its note writes the rows
_CALL_FRAMES = (_TORCH_CALL.__code__, _Observer.run.__code__, _RootObserver.call.__code__)


def module_call(frame: FrameType) -> tuple[nn.Module, tuple[Any, ...]] | None:
    """(module, inputs) of the module call that ``frame`` runs, where it is one: torch's
    ``_call_impl``, or an observer's (which may call ``forward`` directly)."""
    if frame.f_code not in _CALL_FRAMES:
        return None
    caller = frame.f_locals.get("self")
    module = caller.module if isinstance(caller, _Observer) else caller
    return module, frame.f_locals.get("args", ())


# Makes the row writer of a copy of a module, given (copy, module).
CopyRows = Callable[[nn.Module, nn.Module], Callable[[Any], None]]


class Observation:
    """How the modules are observed during one pass (an instance ``_call_impl``, or hooks
    where that could see something else), and how that is undone afterwards, also after a
    setup cut short. ``copy_rows`` gives the row writer of a copy of an observed module."""

    def __init__(self, switch: WatchSwitch) -> None:
        self.switch = switch
        self.wrapping = True  # whether an instance `_call_impl` may be used at all
        self.copy_rows: CopyRows = _no_rows
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

    def observe(
        self, module: nn.Module, kind: ClassTraits, note: Callable[[Any], None], pauses: bool
    ) -> None:
        """Observe every ``module(...)`` call: through an instance ``_call_impl`` where that
        sees what torchsummary's hook would see and pauses the watch around nothing but
        torch.nn's own code, else with hooks (``kind``: the module's class traits)."""
        instance = module.__dict__
        own_call = instance.get("_call_impl", _NO_ATTRIBUTE)
        if not self._wraps(module, kind, own_call, pauses):
            self.hook(module, note, pauses)
            return
        self.wrapped.append((module, own_call))
        if pauses:
            observer: _Observer = _RootObserver(module, _NO_ROW, note, self)
        else:
            observer = _Observer(module, note, self, own_call is not _NO_ATTRIBUTE)
        instance["_call_impl"] = observer.call

    def observe_row(
        self,
        module: nn.Module,
        kind: ClassTraits,
        row: tuple[Callable[[PassRow], None], str, ModuleFacts],
        pauses: bool,
    ) -> None:
        """``observe`` for a module with one row per call whose facts were read before the
        pass (nearly every module), given the row as (append to the rows, qualified name,
        facts): the observer of a trusted root appends it itself."""
        own_call = module.__dict__.get("_call_impl", _NO_ATTRIBUTE)
        if not (pauses and self._wraps(module, kind, own_call, pauses)):
            self.observe(module, kind, one_row(*row), pauses)
            return
        self.wrapped.append((module, own_call))
        module.__dict__["_call_impl"] = _RootObserver(module, row, _ignore, self).call

    def _wraps(self, module: nn.Module, kind: ClassTraits, own_call: Any, pauses: bool) -> bool:
        """Whether an instance ``_call_impl`` sees what torchsummary's hook would see and
        pauses the watch around nothing but torch.nn's own code (``kind``: the module's class
        traits; ``own_call``: a `_call_impl` set on its instance). A root (``pauses``) also
        needs torch's own call: its observer stands in for it."""
        if (
            not self.wrapping
            or kind.script
            or module._forward_hooks
            or module._forward_pre_hooks
            or "_compiled_call_impl" in module.__dict__  # compile() bypasses it
        ):
            return False
        return not pauses or (own_call is _NO_ATTRIBUTE and type(module)._call_impl is _TORCH_CALL)

    def observe_copy(self, copied: nn.Module, module: nn.Module, pauses: bool) -> _Observer:
        """The observer of a deep copy of ``module``, made during the pass: the copy gets rows
        as the module does, and pauses the watch where the module does (``pauses``; its
        parameters are none of the model's)."""
        self.wrapped.append((copied, _NO_ATTRIBUTE))  # the copy's `_call_impl` goes after the pass
        note = self.copy_rows(copied, module)
        if pauses:
            return _RootObserver(copied, _NO_ROW, note, self)
        return _Observer(copied, note, self, False)

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


def _no_rows(copied: nn.Module, module: nn.Module) -> Callable[[Any], None]:
    return _ignore
