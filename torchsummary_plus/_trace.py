"""One forward pass of the model, observed the way torchsummary observes it.

Yields a ``Trace`` of plain data: the table's rows, the model's parameters, and which of
them took part in the pass. The pass is a stack of undoable steps, entered in this order
and undone in the reverse order, each registering its undo before it changes anything:

1. the snapshot (``_snapshot``): what the pass may change; gradients set aside;
2. meta stand-ins, for a meta run of a model with real tensors: every registry entry is
   swapped for a meta tensor of the same shape (one per distinct tensor, so ties hold);
   then, for a model with FSDP2 modules, their unsharded parameters mapped to the sharded
   ones as they appear, and the model resharded afterwards (``_sharded``);
3. the registry guard (``_watch``), where the watch can wait for a parameter read;
4. the observation (``_observe``): rows, and the watch's pause;
5. compiled code run eagerly (torch.compiler's stance, where dynamo was imported);
6. the measure of what autograd saves for backward (``_activations``: saved-tensor hooks);
7. when FLOPs are asked for, torch's ``FlopCounterMode`` (``_flops``): a dispatch mode, and
   global module hooks that fire after the observation's own;
8. the watch on the function-mode stack (now, or at the first parameter read).

Ctrl-C is held while steps are entered and undone (``_interrupts``); every undo runs even
when another raises. Summaries in one process take turns (a lock): the same model from two
threads, and the global random state, stay right.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import torch
import torch.nn as nn

from ._activations import SavedForBackward
from ._arguments import CallSpec, make_inputs
from ._errors import SummaryError
from ._facts import KnownTensors, ParamInfo
from ._flops import FlopFigures, flop_counter, flop_figures
from ._given import placed, tensors_in
from ._index import ModelIndex, index_model
from ._interrupts import interrupts_held
from ._observe import Call, Observation, Recorder, module_call, use_fast_path
from ._sharded_pass import RankShare, ShardedPass, check_meta_run, rank_share
from ._snapshot import ModelSnapshot
from ._traits import traits
from ._watch import ParameterWatch, RegistryGuard, Watch, can_wait, storages_aliased

_ONE_AT_A_TIME = threading.RLock()


@dataclass
class Trace:
    rows: list[Call]  # the table's rows, in order
    params: dict[int, ParamInfo]  # each distinct parameter once, in definition order
    owners: dict[str, tuple[int, ...]]  # qualified name -> its own parameter ids, definition order
    used_ids: set[int]
    untraced: list[tuple[str, int]] = field(default_factory=list)  # TorchScript: (module, params)
    saved_bytes: int | None = None  # what autograd saved for backward (None: not measured)
    modules: list[str] = field(default_factory=list)  # every module's qualified name, pre-order
    flops: FlopFigures | None = None  # None: not asked for
    rank_share: RankShare | None = None  # what this rank holds of a sharded model


class MetaStandIns:
    """Every parameter and buffer of the model swapped, in its registry, for a meta tensor
    of the same shape, dtype and flags (through ``setattr``, so modules that keep their own
    lists of parameters, as RNNs do, follow), and put back afterwards."""

    def __init__(self, index: ModelIndex) -> None:
        self.index = index
        self.stand_ins: dict[int, torch.Tensor] = {}
        self.swapped: list[tuple[nn.Module, str, torch.Tensor]] = []

    def _stand_in(self, tensor: torch.Tensor) -> torch.Tensor:
        made = self.stand_ins.get(id(tensor))
        if made is None:
            empty = torch.empty_like(tensor, device="meta")
            made = nn.Parameter(empty, tensor.requires_grad) if isinstance(tensor, nn.Parameter) else empty
            self.stand_ins[id(tensor)] = made
        return made

    def swap_in(self) -> None:
        for module in self.index.names:
            for registry in (module._parameters, module._buffers):
                for name, tensor in list(registry.items()):
                    if tensor is not None and tensor.device.type != "meta":
                        self.swapped.append((module, name, tensor))
                        setattr(module, name, self._stand_in(tensor))

    def put_back(self) -> None:
        for module, name, tensor in reversed(self.swapped):
            setattr(module, name, tensor)

    def canonical(self) -> dict[int, int]:
        """Stand-in ids -> the ids of the parameters they stand for."""
        return {id(made): key for key, made in self.stand_ins.items() if key in self.index.params}


def _eager() -> contextlib.AbstractContextManager[Any]:
    """Compiled code runs eagerly during the pass: dynamo would trace the summary's own
    observers, and the rows are the eager modules' anyway. Nothing is compiled where dynamo
    was never imported (importing it takes seconds)."""
    set_stance = getattr(torch.compiler, "set_stance", None)
    if set_stance is None or "torch._dynamo" not in sys.modules:
        return contextlib.nullcontext()
    return set_stance("force_eager")  # type: ignore[no-any-return]


def _message(error: BaseException) -> str:
    try:
        return f"{type(error).__name__}: {error}"
    except Exception:  # an exception whose str() raises
        return f"{type(error).__name__} (its message could not be read)"


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
        qualname = names[module] or "the model itself"
        where = (
            f"in module {qualname} ({name}, would be row {name}-{rows + 1}) "
            f"called with inputs [{_shapes_of(args)}]"
        )
    return SummaryError(f"the model's forward pass failed {where}: {_message(error)}")


def _inputs(spec: CallSpec) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's positional and keyword arguments: made from ``input_size``, or copies of
    the caller's tensors on the pass's device (see ``_given``)."""
    given = spec.given
    try:
        if given.args is None:
            return tuple(make_inputs(spec)), placed(dict(given.kwargs), spec.device)
        args, kwargs = placed((given.args, dict(given.kwargs)), spec.device)
        return args, kwargs
    except (RuntimeError, OverflowError, MemoryError) as error:
        what = (
            f"input_size={[list(s) for s in spec.input_shapes]} with a batch of 2 cannot be made"
            if given.args is None else "the tensors of input_data and forward_kwargs cannot be copied"
        )
        raise ValueError(
            f"{what} on {spec.device}: {_message(error)}; expected sizes that fit in memory"
        ) from None


class _Pass:
    """The steps of one pass (see the module's docstring), entered into ``stack``."""

    def __init__(self, model: nn.Module, index: ModelIndex, spec: CallSpec, fast: bool) -> None:
        self.model, self.index, self.spec, self.fast = model, index, spec, fast
        # decided before the summary holds parameters anywhere but in the index
        aliased = not spec.meta_run and storages_aliased(index)
        self.waits = fast and not spec.meta_run and not aliased and can_wait(index)
        self.mode = ParameterWatch(index)
        self.mode.aliased = aliased
        self.watch = Watch(self.mode, index.owners)
        self.known = KnownTensors(index.params, index.buffers)
        self.recorder = Recorder(index, model, spec.layout, self.known, self.watch)
        self.restore_errors: list[BaseException] = []
        self.saved = SavedForBackward([])
        self.flop_counter = flop_counter() if spec.flops else None

    def enter(self, stack: ExitStack) -> Callable[[], Any]:
        index, spec, watch, waits = self.index, self.spec, self.watch, self.waits
        watch.verifying = not waits  # else a write to a guarded registry starts it
        snapshot = ModelSnapshot(index)
        stack.callback(lambda: self.restore_errors.extend(snapshot.restore(self.mode.originals)))
        snapshot.set_grads_aside()
        args, kwargs = _inputs(spec)
        tensors = list(index.tensors.values())  # the model's, as the pass will see them
        if spec.meta_run:
            stand_ins = MetaStandIns(index)
            stack.callback(stand_ins.put_back)
            stand_ins.swap_in()
            watch.canonical = self.known.canonical = stand_ins.canonical()
            self.mode.watched_ids = set(watch.canonical)
            tensors = list(stand_ins.stand_ins.values())
        else:
            watch.canonical = self.known.canonical  # one map, which a sharded model fills
        self.saved.held = [*tensors_in((args, kwargs)), *tensors]
        sharded = ShardedPass(index, watch.canonical, self.mode.watched_ids, self.saved.hold)
        stack.callback(sharded.undo)
        sharded.install()
        if waits:
            guard = RegistryGuard(index, watch)
            stack.callback(guard.put_back)
            guard.install()
        observation = Observation(index, self.recorder, watch, self.fast)
        stack.callback(observation.undo)
        observation.install()
        stack.callback(watch.stop)
        stack.enter_context(_eager())
        stack.enter_context(self.saved)  # what autograd saves, less what the pass holds
        if self.flop_counter is not None:
            stack.enter_context(self.flop_counter)
        watch.start(watch_now=not waits)
        return lambda: self.model(*args, **kwargs)

    def trace(self) -> Trace:
        index = self.index
        used = self.watch.used_ids(index.below)
        untraced = []
        for module in index.script_tops:  # their operations cannot be watched
            used.update(id(p) for p in module.parameters())
            untraced.append((index.names[module], sum(p.numel() for p in module.parameters())))
        owners = {index.names[m]: ids for m, ids in index.owners.items()}
        counter = self.flop_counter
        flops = None if counter is None else flop_figures(counter, index.names)
        return Trace(
            self.recorder.table(), index.params, owners, used, untraced, self.saved.nbytes,
            list(index.names.values()), flops, rank_share(index),
        )


def _check_lazy(index: ModelIndex) -> None:
    if index.lazy:
        raise ValueError(
            f"the model has uninitialised lazy parameters ({', '.join(index.lazy[:3])}): a forward "
            "pass would initialise them and so change the model; run one forward pass yourself "
            "first, then summarize"
        )


def run_trace(model: nn.Module, spec: CallSpec) -> Trace:
    """Run one forward pass, observed and watched; leave the model as it was."""
    with _ONE_AT_A_TIME:
        index = index_model(model)
        _check_lazy(index)
        if spec.meta_run:
            check_meta_run(index)
        one = _Pass(model, index, spec, use_fast_path())
        failure: BaseException | None = None
        stack = ExitStack()
        try:
            with interrupts_held():
                forward = one.enter(stack)
            try:
                forward()
            except Exception as error:
                failure = _forward_error(error, index.names, len(one.recorder.rows))
                failure.__cause__ = error
        finally:
            # Undone with Ctrl-C held; one that arrives before the hold is in place is
            # delivered once the stack is closed all the same. (Inline: a signal can land
            # at the entry of any function called before the `try`.)
            closed = False
            early: KeyboardInterrupt | None = None
            while not closed:
                try:
                    with interrupts_held():
                        try:
                            stack.close()
                        except BaseException as error:  # an undo raised: the others still ran
                            one.restore_errors.insert(0, error)
                        closed = True
                except KeyboardInterrupt as interrupt:
                    if closed:
                        raise
                    early = interrupt
            if early is not None:
                raise early
            _raise_restore_errors(one.restore_errors, failure)
        if failure is not None:
            raise failure
        return one.trace()


def _raise_restore_errors(errors: list[BaseException], failure: BaseException | None) -> None:
    """An interrupt during the undo is delivered once everything ran; any other error as
    a ``SummaryError`` chained to it."""
    if not errors:
        return
    for error in errors:
        if isinstance(error, KeyboardInterrupt):
            raise error
    first = errors[0]
    raise SummaryError(
        f"putting the model back after the pass failed ({len(errors)} step(s)); the model may be "
        f"changed: {_message(first)}"
    ) from first
