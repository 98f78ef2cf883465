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
from ._watch import ParameterWatch, WatchSwitch, trusted_modules, trusted_roots


class SummaryError(RuntimeError):
    """The model's own forward pass raised; the message says where."""


class ModuleFacts:
    """What a row needs to know about its module, worked out once per module."""

    __slots__ = ("class_name", "qualname", "naive_count", "trainable", "naive", "own_ids")

    def __init__(self, module: nn.Module, qualname: str, canonical: dict[int, int]) -> None:
        # torchsummary's way of naming: the text after the last dot of str(class)
        self.class_name = str(module.__class__).split(".")[-1].split("'")[0]
        self.qualname = qualname
        self.trainable: bool | None = None  # decided by `weight` alone, None without one
        naive = []  # (tensor id, numel) of what torchsummary counts: `weight` and `bias` only
        for attr in ("weight", "bias"):
            tensor = getattr(module, attr, None)
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


@dataclass
class ParamInfo:
    name: str  # first qualified name, as model.named_parameters() gives it
    numel: int
    nbytes: int
    trainable: bool


@dataclass
class Trace:
    rows: list[tuple[ModuleFacts, Any]]  # (facts, output description), in table order
    params: dict[int, ParamInfo]  # each distinct parameter once, in definition order
    owners: list[tuple[str, tuple[int, ...]]]  # modules owning parameters, in definition order
    used_ids: set[int]
    untraced: list[tuple[str, int]] = field(default_factory=list)  # TorchScript: (module, params)


def hooked_modules(model: nn.Module, layout: str, skipped: set[nn.Module]) -> dict[nn.Module, int]:
    """Each module torchsummary hooks, with how many hooks it gets.

    torchsummary registers through ``model.apply``, which reaches a module once per parent
    that holds it: such a module prints that many rows per call.
    """
    counts: dict[nn.Module, int] = {}

    def count(module: nn.Module) -> None:
        if isinstance(module, (nn.Sequential, nn.ModuleList)) or module in skipped:
            return
        if layout == "pypi" and module is model:
            return
        counts[module] = counts.get(module, 0) + 1

    model.apply(count)
    return counts


def _script_subtrees(model: nn.Module) -> tuple[set[nn.Module], list[nn.Module]]:
    tops = [m for m in model.modules() if isinstance(m, torch.jit.ScriptModule)]
    tops = [m for m in tops if not any(m is not t and m in set(t.modules()) for t in tops)]
    inside = {m for top in tops for m in top.modules()}
    return inside, tops


def _meta_stand_ins(model: nn.Module) -> dict[str, torch.Tensor]:
    stand_ins: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        stand_ins[name] = nn.Parameter(torch.empty_like(p, device="meta"), p.requires_grad)
    for name, b in model.named_buffers():
        stand_ins[name] = torch.empty_like(b, device="meta")
    return stand_ins


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
    names: dict[nn.Module, str] = {}
    for qualname, module in model.named_modules():
        names.setdefault(module, qualname)
    scripted, script_tops = _script_subtrees(model)
    params = {
        id(p): ParamInfo(name, p.numel(), p.numel() * p.element_size(), p.requires_grad)
        for name, p in model.named_parameters()
    }
    owners = [
        (names[m], tuple(dict.fromkeys(id(p) for p in m._parameters.values() if p is not None)))
        for m in names
        if any(p is not None for p in m._parameters.values())
    ]
    rows: list[tuple[ModuleFacts, Any]] = []
    canonical: dict[int, int] = {}
    snapshot = ModelSnapshot(model)
    handles: list[Any] = []
    watch = ParameterWatch(set(params))
    switch = WatchSwitch(watch)
    try:
        inputs = make_inputs(spec)
        call: Callable[[], Any] = lambda: model(*inputs)  # noqa: E731
        if spec.meta_run:
            stand_ins = _meta_stand_ins(model)
            by_name = dict(model.named_parameters())
            canonical = {id(stand_ins[n]): id(p) for n, p in by_name.items()}
            watch.watched_ids = set(canonical)
            call = lambda: torch.func.functional_call(model, stand_ins, tuple(inputs))  # noqa: E731
        for module, copies in hooked_modules(model, spec.layout, scripted).items():
            handles.append(module.register_forward_hook(_row_hook(rows, names[module], copies, canonical)))
        for module in trusted_roots(model, trusted_modules(model)):
            handles.append(module.register_forward_pre_hook(switch.enter))
            handles.append(module.register_forward_hook(switch.leave, always_call=True))
        torch._C._push_on_torch_function_stack(watch)
        try:
            call()
        finally:
            n = torch._C._len_torch_function_stack()
            if n and torch._C._get_function_stack_at(n - 1) is watch:
                torch._C._pop_torch_function_stack()
    except Exception as error:
        raise _forward_error(error, names, len(rows)) from error
    finally:
        for handle in handles:
            handle.remove()
        snapshot.restore()
    used = {canonical.get(i, i) for i in watch.seen_ids}
    for module in list(switch.ran) + script_tops:
        used.update(id(p) for p in module.parameters())
    untraced = [(names[m], sum(p.numel() for p in m.parameters())) for m in script_tops]
    return Trace(rows, params, owners, used, untraced)


def _row_hook(
    rows: list[tuple[ModuleFacts, Any]], qualname: str, copies: int, canonical: dict[int, int]
) -> Callable[[nn.Module, Any, Any], None]:
    """The forward hook of one module: appends `copies` rows per call (see hooked_modules)."""
    facts: ModuleFacts | None = None
    tensor = torch.Tensor
    append = rows.append

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        nonlocal facts
        if facts is None:
            facts = ModuleFacts(module, qualname, canonical)
        shape = output.shape if type(output) is tensor else describe(output)
        for _ in range(copies):
            append((facts, shape))

    return hook
