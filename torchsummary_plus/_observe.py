"""How modules are observed during the pass: their rows, and the watch's pause.

Two paths give the same rows and figures:

- the reference path: torchsummary's way. A forward hook on every module that gets rows,
  registered after the user's (it sees the output they leave), and no pause: the watch
  sees every operation.
- the fast path: a hooked call takes PyTorch's slow path (a closure and a hook loop per
  call), which on small layers costs more than the layer. So each observed module gets, for
  the pass, an ``Observer`` as its instance attribute ``_call_impl``: ``Module.__call__``
  looks it up on the instance, so it sees every ``module(...)`` call (a direct
  ``module.forward(...)`` gets no row, as with hooks) and the output after every hook. Where
  torch's own call would do nothing but call ``forward`` it calls ``forward`` itself, and
  around trusted roots it pauses the watch (``Watch.enter``/``leave``). It switches itself
  off where torch's internals are not what it relies on (``fast_path_available``).

Both write rows through one ``Recorder``.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable
from types import FrameType
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from ._activations import output_nbytes
from ._facts import KnownTensors, ModuleFacts, RowFacts
from ._index import GLOBAL_HOOKS, ModelIndex
from ._legacy import gets_rows, rows_per_call
from ._shapes import describe
from ._traits import traits
from ._watch import Watch

REFERENCE_PATH_VARIABLE = "TORCHSUMMARY_PLUS_REFERENCE"
_TORCH_CALL = nn.Module._call_impl
# The hook dictionaries torch 2.x's `_call_impl` reads; it calls `forward` and nothing else
# where the first eight are empty and nothing traces (see `Observer._own_call`).
_CALL_IMPL_HOOK_NAMES = frozenset(
    [f"_{kind}_hooks" for kind in ("backward", "backward_pre", "forward", "forward_pre")]
    + [f"_global_{kind}_hooks" for kind in ("backward", "backward_pre", "forward", "forward_pre")]
    + ["_global_forward_hooks_always_called", "_forward_hooks_always_called", "_forward_hooks_with_kwargs"]
)
_tracing_state = torch._C._get_tracing_state


class Call(NamedTuple):
    """One row of the table, as the pass records it."""

    module: str  # qualified name ("" for the model; "fc (a copy)" for a copy made in the pass)
    facts: ModuleFacts
    output: Any  # the output's description (see `_shapes`)
    nbytes: int  # the output's bytes (see `_activations.output_nbytes`)


@functools.cache
def fast_path_available() -> bool:
    """Whether torch works the way the fast path relies on: ``module(...)`` reaches an
    instance ``_call_impl``, torch's ``_call_impl`` reads exactly the hook dictionaries
    ``Observer._own_call`` checks, and the function-mode stack can be popped and pushed."""
    names = {name for name in _TORCH_CALL.__code__.co_names if "hooks" in name}
    if names != _CALL_IMPL_HOOK_NAMES:
        return False
    if not all(hasattr(torch._C, name) for name in (
        "_len_torch_function_stack", "_pop_torch_function_stack", "_push_on_torch_function_stack"
    )):
        return False
    probe = nn.Identity()
    probe.__dict__["_call_impl"] = lambda *args, **kwargs: "observed"
    return probe(0) == "observed"  # type: ignore[no-any-return]


def use_fast_path() -> bool:
    """The fast path, unless the environment asks for the reference path."""
    return os.environ.get(REFERENCE_PATH_VARIABLE) != "1" and fast_path_available()


class Recorder:
    """Writes the table's rows: torchsummary's rows per call, its weight/bias reads."""

    def __init__(
        self, index: ModelIndex, model: nn.Module, layout: str, known: KnownTensors, watch: Watch
    ) -> None:
        self.rows: list[Call | None] = []
        self.model_rows: list[Call | None] = []  # PyPI's model row: shown when no other row
        self.facts = RowFacts(known)
        self.watch = watch
        # module -> (rows per call, where they go, qualified name)
        self.plan: dict[nn.Module, tuple[int, list[Call | None], str]] = {}
        for module, name in index.names.items():
            if module in index.scripted:
                continue
            if layout == "tree":  # one row per call of every module: the tree's calls
                self.plan[module] = (1, self.rows, name)
            elif layout == "pypi" and module is model:
                self.plan[module] = (1, self.model_rows, name)
            elif gets_rows(traits(type(module)).not_hooked, module is model, layout):
                self.plan[module] = (rows_per_call(index.visits[module]), self.rows, name)

    def plan_copy(self, copied: nn.Module, module: nn.Module) -> None:
        """A copy of ``module`` made during the pass gets rows as the module does."""
        copies, target, name = self.plan[module]
        if target is self.model_rows:
            copies = 0
        self.plan[copied] = (copies, target, name + " (a copy)")

    def write(self, module: nn.Module, output: Any) -> None:
        """The rows of one finished call of ``module``, given its output. The summary's own
        reads here are no use of a parameter: no operation is watched, and no registry read
        switches the watch on."""
        plan = self.plan.get(module)
        if plan is None or not plan[0]:
            return
        watch = self.watch
        watch.inside += 1
        try:
            if watch.watching:
                with torch._C.DisableTorchFunction():
                    self._append(module, output, plan)
            else:
                self._append(module, output, plan)
        finally:
            watch.inside -= 1

    def _append(self, module: nn.Module, output: Any, plan: tuple[int, list[Call | None], str]) -> None:
        copies, target, name = plan
        description = describe(output)
        nbytes = output_nbytes(output)
        for _ in range(copies):
            at = len(target)
            target.append(None)  # this row's number comes before rows its reads may add
            # (tuple.__new__: the NamedTuple without its Python-level constructor, once a row)
            target[at] = tuple.__new__(Call, (name, self.facts.of(module), description, nbytes))

    def table(self) -> list[Call]:
        rows = self.rows or self.model_rows
        return [row for row in rows if row is not None]


class Observer:
    """A module's instance ``_call_impl`` for the pass. A bound method, because a deep copy
    of the module (a model may make one in its forward) then copies the observer through
    ``__deepcopy__``: the copy gets an observer of its own, as a copy of a hooked module gets
    copies of torchsummary's hooks. It keeps nothing of the summary afterwards."""

    __slots__ = ("module", "observation", "own_call", "pauses")

    def __init__(self, module: nn.Module, own_call: Any, pauses: bool, observation: Observation) -> None:
        self.module = module
        self.own_call = own_call  # a `_call_impl` of the module's own, else None
        self.pauses = pauses
        self.observation = observation

    def call(self, *args: Any, **kwargs: Any) -> Any:
        module = self.module
        run, class_forward_only = self._own_call()
        # a trusted root pauses the watch only while nothing but its class's code runs: a hook
        # or a `forward` the pass put on it since the index trusted it is the user's code
        if self.pauses and class_forward_only:
            watch = self.observation.watch
            token = watch.enter(module, args, kwargs)
            try:
                output = run(*args, **kwargs)
            finally:
                watch.leave(module, token)
        else:
            output = run(*args, **kwargs)
        self.observation.recorder.write(module, output)
        return output

    def _own_call(self) -> tuple[Callable[..., Any], bool]:
        """What makes the module's own call, and whether that runs its class's ``forward``
        and nothing else. ``forward`` itself where torch's ``_call_impl`` would only call
        ``forward`` (no hook on the module, none global, nothing tracing). Returned, not
        called, so that each level of a nested model is as many frames deep as under
        torch's own call: a model as deep as the recursion limit lets it run still gets its
        summary."""
        if self.own_call is not None:
            return self.own_call, False
        module = self.module
        instance = module.__dict__
        if (
            instance["_forward_hooks"]
            or instance["_forward_pre_hooks"]
            or instance["_backward_hooks"]
            or instance["_backward_pre_hooks"]
            or any(GLOBAL_HOOKS)
            or _tracing_state() is not None
        ):
            return functools.partial(_TORCH_CALL, module), False
        return module.forward, "forward" not in instance

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        copied = memo.get(id(self.module))
        if copied is None:  # the observer copied on its own, not as part of its module
            return self
        return self.observation.observe_copy(copied, self)


_CALL_FRAMES = (_TORCH_CALL.__code__, Observer.call.__code__)


def module_call(frame: FrameType) -> tuple[nn.Module, tuple[Any, ...]] | None:
    """(module, inputs) of the module call that ``frame`` runs, where it is one: torch's
    ``_call_impl``, or an observer's."""
    if frame.f_code not in _CALL_FRAMES:
        return None
    caller = frame.f_locals.get("self")
    module = caller.module if isinstance(caller, Observer) else caller
    if not isinstance(module, nn.Module):
        return None
    return module, frame.f_locals.get("args", ())


class Observation:
    """Observing every module that gets rows (or, on the fast path, pauses the watch) for
    one pass, and undoing it, also after a setup cut short."""

    def __init__(self, index: ModelIndex, recorder: Recorder, watch: Watch, fast: bool) -> None:
        self.index = index
        self.recorder = recorder
        self.watch = watch
        self.fast = fast
        self.wrapped: list[tuple[nn.Module, Any]] = []  # (module, its own `_call_impl` attribute)
        self.handles: list[Any] = []

    def install(self) -> None:
        index, plan = self.index, self.recorder.plan
        wrapping = self.fast and not index.has_data_parallel  # replicas copy instance attributes
        for module in index.names:
            pauses = self.fast and module in index.trusted_roots
            if module not in plan and not pauses:
                continue
            if wrapping and self._wraps(module):
                self._wrap(module, pauses)
            elif module in plan:
                self._hook(module)

    def undo(self) -> None:
        for module, previous in self.wrapped:
            if previous is None:
                module.__dict__.pop("_call_impl", None)
            else:
                module.__dict__["_call_impl"] = previous
        for handle in self.handles:
            handle.remove()

    @staticmethod
    def _wraps(module: nn.Module) -> bool:
        """Whether an instance ``_call_impl`` sees every call: not for TorchScript, and not
        for a compiled module (``compile()`` bypasses it)."""
        return not traits(type(module)).script and "_compiled_call_impl" not in module.__dict__

    def _wrap(self, module: nn.Module, pauses: bool) -> None:
        instance = module.__dict__
        own_call = instance.get("_call_impl")
        self.wrapped.append((module, own_call))
        if own_call is None and type(module)._call_impl is not _TORCH_CALL:
            own_call = module._call_impl  # a class's own
        instance["_call_impl"] = Observer(module, own_call, pauses, self).call

    def _hook(self, module: nn.Module) -> None:
        """torchsummary's way: a forward hook after the user's. A copy of the module made
        during the pass carries the hook, which gives the copy its rows."""
        recorder = self.recorder

        def row(hooked: nn.Module, args: Any, output: Any) -> None:
            if hooked is not module and hooked not in recorder.plan:
                recorder.plan_copy(hooked, module)
            recorder.write(hooked, output)

        self.handles.append(module.register_forward_hook(row))

    def observe_copy(self, copied: nn.Module, observer: Observer) -> Observer:
        """The observer of a deep copy made during the pass: rows as the original's, the
        same pause (its parameters are none of the model's)."""
        self.wrapped.append((copied, None))  # the copy's `_call_impl` goes after the pass
        if observer.module in self.recorder.plan:
            self.recorder.plan_copy(copied, observer.module)
        return Observer(copied, None, observer.pauses, self)
