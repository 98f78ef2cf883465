"""One forward pass of the model, observed the way torchsummary observes it.

Yields a ``Trace``: the table's rows (one per call of a hooked module, in torchsummary's
order and naming), the model's parameters, and which of them took part in the pass. The
model, its modes and the random state are restored afterwards (see ``_restore``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Callable

import torch
import torch.nn as nn

from ._arguments import CallSpec, make_inputs
from ._restore import ModelSnapshot
from ._shapes import describe
from ._index import NOT_HOOKED, ModelIndex, ParamInfo, index_model
from ._watch import ParameterWatch, WatchSwitch


class SummaryError(RuntimeError):
    """The model's own forward pass raised; the message says where."""


class ModuleFacts:
    """What a row needs to know about its module, read as torchsummary reads it."""

    __slots__ = ("class_name", "qualname", "naive_count", "trainable", "naive", "own_ids")

    def __init__(self, module: nn.Module, qualname: str, canonical: dict[int, int]) -> None:
        # torchsummary's way of naming: the text after the last dot of str(class)
        self.class_name = str(module.__class__).split(".")[-1].split("'")[0]
        self.qualname = qualname
        self.trainable: bool | None = None  # decided by `weight` alone, None without one
        naive = []  # (tensor id, numel) of what torchsummary counts: `weight` and `bias` only
        for attr, reads in (("weight", 4), ("bias", 3)):
            tensor = _read_like_torchsummary(module, attr, reads)
            if not isinstance(tensor, torch.Tensor):
                continue
            naive.append((canonical.get(id(tensor), id(tensor)), tensor.numel()))
            if attr == "weight":
                self.trainable = tensor.requires_grad
        self.naive = tuple(naive)
        self.naive_count = sum(numel for _, numel in naive)
        self.own_ids = tuple(
            canonical.get(id(p), id(p)) for p in module._parameters.values() if p is not None
        )


def computes_weight(module: nn.Module) -> bool:
    """Whether reading `weight` or `bias` runs code (a parametrization's property)."""
    cls = type(module)
    return isinstance(getattr(cls, "weight", None), property) or isinstance(
        getattr(cls, "bias", None), property
    )


def _read_like_torchsummary(module: nn.Module, attr: str, reads: int) -> Any:
    """torchsummary reads `weight` four times and `bias` three times when they are tensors.

    Where reading runs code (a parametrization calls its modules, which print rows of their
    own), it is read that many times, so the same rows appear in the same order.
    """
    value = getattr(module, attr, None)
    if isinstance(value, torch.Tensor) and computes_weight(module):
        for _ in range(reads - 1):
            value = getattr(module, attr, None)
    return value


@dataclass
class Trace:
    rows: list[tuple[ModuleFacts, Any]]  # (facts, output description), in table order
    params: dict[int, ParamInfo]  # each distinct parameter once, in definition order
    owners: list[tuple[str, tuple[int, ...]]]  # modules owning parameters, in definition order
    used_ids: set[int]
    untraced: list[tuple[str, int]] = field(default_factory=list)  # TorchScript: (module, params)


def hooked_modules(model: nn.Module, layout: str, index: ModelIndex) -> dict[nn.Module, int]:
    """Each module torchsummary hooks, with how many hooks it gets.

    torchsummary registers through ``model.apply``, which reaches a module once per parent
    that holds it: such a module prints that many rows per call.
    """
    return {
        module: visits
        for module, visits in index.visits.items()
        if not isinstance(module, NOT_HOOKED)
        and module not in index.scripted
        and not (layout == "pypi" and module is model)
    }


def _meta_stand_ins(model: nn.Module) -> dict[str, torch.Tensor]:
    stand_ins: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        stand_ins[name] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for name, b in model.named_buffers():
        stand_ins[name] = torch.empty_like(b, device="meta")
    return stand_ins


def _forward_call(
    model: nn.Module, spec: CallSpec, watch: ParameterWatch
) -> tuple[Callable[[], Any], dict[int, int]]:
    """The call that runs the pass, and a map from stand-in parameter ids to the real ones.

    For a meta run of a model with real parameters, ``functional_call`` swaps in meta
    stand-ins for the duration of the call only, so the model itself is never moved.
    """
    inputs = make_inputs(spec)
    if not spec.meta_run:
        return lambda: model(*inputs), {}
    stand_ins = _meta_stand_ins(model)
    canonical = {id(stand_ins[n]): id(p) for n, p in model.named_parameters()}
    watch.watched_ids = set(canonical)
    return lambda: torch.func.functional_call(model, stand_ins, tuple(inputs)), canonical


def _watched(call: Callable[[], Any], watch: ParameterWatch) -> None:
    torch._C._push_on_torch_function_stack(watch)
    try:
        call()
    finally:
        n = torch._C._len_torch_function_stack()
        if n and torch._C._get_function_stack_at(n - 1) is watch:
            torch._C._pop_torch_function_stack()


_CALL_IMPL = nn.Module._call_impl.__code__


def _failing_module(tb: TracebackType | None, names: dict[nn.Module, str]) -> tuple[Any, Any]:
    """The innermost module of the model whose call the traceback passes through."""
    found: tuple[Any, Any] = (None, ())
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code is _CALL_IMPL and frame.f_locals.get("self") in names:
            found = (frame.f_locals["self"], frame.f_locals.get("args", ()))
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
        class_name = str(module.__class__).split(".")[-1].split("'")[0]
        qualname = names[module] or "(the model itself)"
        where = (
            f"in module {qualname} ({class_name}, would be row {class_name}-{rows + 1}) "
            f"called with inputs [{_shapes_of(args)}]"
        )
    return SummaryError(f"the model's forward pass failed {where}: {type(error).__name__}: {error}")


def run_trace(model: nn.Module, spec: CallSpec) -> Trace:
    """Run one forward pass with hooks and the parameter watch; leave the model as it was."""
    index = index_model(model)
    if index.lazy:
        raise ValueError(
            f"the model has uninitialised lazy parameters ({', '.join(index.lazy[:3])}): a forward "
            "pass would initialise them and so change the model; run one forward pass yourself "
            "first, then summarize"
        )
    names = index.names
    rows: list[tuple[ModuleFacts, Any]] = []
    watch = ParameterWatch(set(index.params))
    switch = WatchSwitch(watch, list(index.trusted_roots))
    snapshot = ModelSnapshot(list(names))
    handles: list[Any] = []
    try:
        call, canonical = _forward_call(model, spec, watch)
        for module, copies in hooked_modules(model, spec.layout, index).items():
            hook = _row_hook(rows, module, names[module], copies, canonical)
            handles.append(module.register_forward_hook(hook))
        handles += switch.register()  # after the row hooks: see WatchSwitch.register
        try:
            _watched(call, watch)
        except Exception as error:
            raise _forward_error(error, names, len(rows)) from error
    finally:
        for handle in handles:
            handle.remove()
        snapshot.restore(watch.originals)
    used = {canonical.get(i, i) for i in watch.seen_ids} | switch.used_ids()
    for module in index.script_tops:
        used.update(id(p) for p in module.parameters())
    untraced = [(names[m], sum(p.numel() for p in m.parameters())) for m in index.script_tops]
    return Trace(rows, index.params, index.owners, used, untraced)


def _row_hook(
    rows: list[tuple[ModuleFacts, Any]],
    module: nn.Module,
    qualname: str,
    copies: int,
    canonical: dict[int, int],
) -> Callable[[nn.Module, Any, Any], None]:
    """The forward hook of one module: appends `copies` rows per call (see hooked_modules).

    Like torchsummary, the module's `weight` and `bias` are read after it ran (a pre-hook may
    have made them); once for the first call, or at every call where reading runs code.
    """
    facts: ModuleFacts | None = None
    every_call = computes_weight(module)
    tensor = torch.Tensor
    append = rows.append

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        nonlocal facts
        shape = output.shape if type(output) is tensor else describe(output)
        for _ in range(copies):
            if facts is None or every_call:
                at = len(rows)
                append(None)  # type: ignore[arg-type]  # this row's number comes first
                facts = ModuleFacts(module, qualname, canonical)
                rows[at] = (facts, shape)
            else:
                append((facts, shape))

    return hook
