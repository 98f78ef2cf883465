"""One forward pass of the model, observed the way torchsummary observes it.

Yields a ``Trace``: the table's rows (one per call of a hooked module, in torchsummary's
order and naming), the model's parameters, and which of them took part in the pass. The
model, its modes and the random state are restored afterwards (see ``_restore``).
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable, ContextManager

import torch
import torch.nn as nn

from ._activations import SavedForBackward
from ._arguments import CallSpec, make_inputs
from ._facts import KnownTensors, ModuleFacts, ParamInfo
from ._gate import can_wait, guard_registries, put_back
from ._index import ModelIndex, index_model
from ._observe import Observation, PassRow, module_call, row_writer
from ._restore import ModelSnapshot
from ._traits import TRAITS_BY_CLASS, traits
from ._watch import ParameterWatch, WatchSwitch


class SummaryError(RuntimeError):
    """The model's own forward pass raised; the message says where."""


@dataclass
class Trace:
    rows: list[tuple[str, ModuleFacts, Any, int]]  # (module name, facts, output description, its bytes)
    params: dict[int, ParamInfo]  # each distinct parameter once, in definition order
    owners: dict[nn.Module, tuple[int, ...]]  # modules owning parameters, in definition order
    names: dict[nn.Module, str]  # each module's qualified name
    used_ids: set[int]
    untraced: list[tuple[str, int]] = field(default_factory=list)  # TorchScript: (module, params)
    saved_bytes: int | None = None  # what autograd saved for backward (None: not measured)


def _meta_stand_ins(model: nn.Module) -> dict[str, torch.Tensor]:
    stand_ins: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        stand_ins[name] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for name, b in model.named_buffers():
        stand_ins[name] = torch.empty_like(b, device="meta")
    return stand_ins


def _forward_call(
    model: nn.Module, spec: CallSpec, watch: ParameterWatch
) -> tuple[Callable[[], Any], dict[int, int], list[torch.Tensor]]:
    """The call that runs the pass, a map from stand-in parameter ids to the real ones, and
    the tensors the call holds before it runs (inputs, parameters, buffers).

    For a meta run of a model with real parameters, ``functional_call`` swaps in meta
    stand-ins for the duration of the call only, so the model itself is never moved.
    """
    inputs = make_inputs(spec)
    if not spec.meta_run:
        return lambda: model(*inputs), {}, [*inputs, *model.parameters(), *model.buffers()]
    stand_ins = _meta_stand_ins(model)
    canonical = {id(stand_ins[n]): id(p) for n, p in model.named_parameters()}
    watch.watched_ids = set(canonical)
    call = lambda: torch.func.functional_call(model, stand_ins, tuple(inputs))  # noqa: E731
    return call, canonical, [*inputs, *stand_ins.values()]


def _eager() -> ContextManager[Any]:
    """Compiled code (``torch.compile``, ``module.compile()``) runs eagerly during the pass:
    dynamo would trace the summary's own observers and refuses the mode stack changing under
    it, and the rows are the eager modules' anyway. Nothing is compiled where dynamo was never
    imported (importing it takes seconds); torch before 2.6 has no stance to set."""
    set_stance = getattr(torch.compiler, "set_stance", None)
    if set_stance is None or "torch._dynamo" not in sys.modules:
        return contextlib.nullcontext()
    return set_stance("force_eager")


def _watched(
    call: Callable[[], Any], switch: WatchSwitch, watch_now: bool, saved: SavedForBackward
) -> None:
    with _eager(), saved:
        switch.start(watch_now)
        try:
            call()
        finally:
            switch.stop()


def _failing_module(tb: TracebackType | None, names: dict[nn.Module, str]) -> tuple[Any, Any]:
    """The innermost module of the model whose call the traceback passes through."""
    found: tuple[Any, Any] = (None, ())
    while tb is not None:
        called = module_call(tb.tb_frame)
        if called is not None and called[0] in names:
            found = called
        tb = tb.tb_next
    return found


def _shapes_of(args: Any) -> str:
    return ", ".join(
        str(list(a.shape)) if isinstance(a, torch.Tensor) else type(a).__name__ for a in args
    )


def _forward_error(error: Exception, names: dict[nn.Module, str], rows: int) -> SummaryError:
    module, args = _failing_module(error.__traceback__, names)
    if module is None:
        where = "before any module of the model ran"
    else:
        name = traits(type(module)).row_name
        qualname = names[module] or "(the model itself)"
        where = (
            f"in module {qualname} ({name}, would be row {name}-{rows + 1}) "
            f"called with inputs [{_shapes_of(args)}]"
        )
    return SummaryError(f"the model's forward pass failed {where}: {type(error).__name__}: {error}")


def _observe(
    model: nn.Module,
    index: ModelIndex,
    spec: CallSpec,
    rows: tuple[list[PassRow], list[PassRow]],
    known: KnownTensors,
    observation: Observation,
) -> None:
    """Observe every module that gets rows or pauses the watch, through ``observation``.

    ``rows`` is the table's rows and the model's own row. torchsummary registers its hook
    through ``model.apply``, which reaches a module once per parent holding it: such a
    module prints that many rows per call. PyPI torchsummary never hooks the model itself;
    with no other row it crashes, and there the model's own row (as the GitHub master shows
    it) is what the table shows instead.
    """
    table_rows, own_row = rows
    scripted = index.scripted

    def rows_of(module: nn.Module) -> tuple[int, list[PassRow]]:
        """(rows per call, where they go), as torchsummary's hooks on ``module`` make them."""
        if module is model and spec.layout == "pypi":
            return (0 if module in scripted else 1), own_row
        if traits(type(module)).not_hooked or module in scripted:
            return 0, table_rows
        return index.visits[module], table_rows

    def copy_rows(copied: nn.Module, module: nn.Module) -> Callable[[Any], None]:
        """A copy has copies of the module's hooks (PyPI torchsummary never hooks the model)."""
        copies, target = rows_of(module)
        if target is own_row:
            copies = 0
        return row_writer(target, copied, index.names[module] + " (a copy)", copies, known, None)

    torch_module = torch.nn.modules.module  # where the global hooks are registered
    # Global hooks are custom code that every module's call runs: where they exist, each
    # module is observed with hooks of its own, and where global forward hooks exist (they
    # run before a module's own hooks, so inside its pause), no module pauses the watch.
    global_hooks = torch_module._global_forward_hooks
    observation.wrapping = not (
        index.has_data_parallel or global_hooks or torch_module._global_forward_pre_hooks
    )
    trusted_roots = set() if global_hooks else index.trusted_roots
    observation.copy_rows = copy_rows
    visits, facts = index.visits, index.facts
    for module, name in index.names.items():
        kind = TRAITS_BY_CLASS.get(type(module)) or traits(type(module))
        if module is model or kind.not_hooked or module in scripted:
            copies, target = rows_of(module)
        else:  # nearly every module: a row per hook, as rows_of says, without its frame
            copies, target = visits[module], table_rows
        pauses = module in trusted_roots
        if not copies and not pauses:
            continue
        row_facts = facts.get(module)
        if copies == 1 and row_facts is not None:  # nearly every module
            observation.observe_row(module, kind, (target.append, name, row_facts), pauses)
        else:
            note = row_writer(target, module, name, copies, known, row_facts)
            observation.observe(module, kind, note, pauses)


def run_trace(model: nn.Module, spec: CallSpec) -> Trace:
    """Run one forward pass, observed, with the parameter watch; leave the model as it was."""
    index = index_model(model)
    if index.lazy:
        raise ValueError(
            f"the model has uninitialised lazy parameters ({', '.join(index.lazy[:3])}): a forward "
            "pass would initialise them and so change the model; run one forward pass yourself "
            "first, then summarize"
        )
    rows: list[PassRow] = []
    own_row: list[PassRow] = []
    watch = ParameterWatch(set(index.params))
    switch = WatchSwitch(watch, index.owners)
    wait = not spec.meta_run and can_wait(index)  # before the snapshot holds parameters
    switch.verifying = not wait  # else a write to a guarded registry starts it (see _gate)
    snapshot = ModelSnapshot(list(index.names))
    observation = Observation(switch)
    guarded: list[tuple[nn.Module, dict]] = []
    try:
        call, canonical, held = _forward_call(model, spec, watch)
        saved = SavedForBackward(held)
        switch.canonical = canonical
        known = KnownTensors(index.params, canonical, index.owners)
        _observe(model, index, spec, (rows, own_row), known, observation)
        if wait:
            guarded = guard_registries(index, switch)
        try:
            _watched(call, switch, not wait, saved)
        except Exception as error:
            raise _forward_error(error, index.names, len(rows)) from error
    finally:
        put_back(guarded)
        observation.undo()
        snapshot.restore(watch.originals)
    used = {canonical.get(i, i) for i in watch.seen_ids} | switch.used_ids(index.containers)
    for module in index.script_tops:
        used.update(id(p) for p in module.parameters())
    untraced = [
        (index.names[m], sum(p.numel() for p in m.parameters())) for m in index.script_tops
    ]
    return Trace(
        rows or own_row, index.params, index.owners, index.names, used, untraced, saved.nbytes
    )
