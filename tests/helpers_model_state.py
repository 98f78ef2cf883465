"""Shared test helpers: record everything a summary call could change, and compare.

``ModelState.of(model)`` takes a full record of a model (state_dict bit for bit, modes,
requires_grad flags, the .grad objects, every hook dictionary of every module, the global
hook dictionaries) plus the global CPU random state. ``assert_same(before, after)`` fails
with a message naming the first thing that differs.

``torchsummary_text`` runs the real torchsummary 1.5.1 and returns what it printed, and
``table_rows`` reads the rows back out of a printed table, so tests compare with the real
thing instead of with numbers taken from this package.
"""
from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.modules.module as module_globals
from torchsummary import summary as torchsummary_summary

# Every per-module dictionary that holds hooks in torch 2.x (missing ones are skipped).
HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)
GLOBAL_HOOK_DICTS = (
    "_global_forward_hooks",
    "_global_forward_pre_hooks",
    "_global_backward_hooks",
    "_global_backward_pre_hooks",
    "_global_forward_hooks_always_called",
)


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    """The exact bits of a tensor (so -0.0 vs 0.0 and NaN payloads count as changes)."""
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes()


def _tensor_record(tensor: torch.Tensor) -> tuple:
    if isinstance(tensor, nn.parameter.UninitializedTensorMixin):  # lazy modules
        return ("uninitialized", type(tensor).__name__)
    return (tensor.dtype, tuple(tensor.shape), tensor_bytes(tensor))


def _hooks_of(obj: Any, names: tuple[str, ...]) -> dict[str, tuple]:
    found = {}
    for name in names:
        hooks = getattr(obj, name, None)
        if hooks is not None:
            found[name] = tuple((key, id(value)) for key, value in hooks.items())
    return found


@dataclass
class ModelState:
    state: dict[str, tuple[torch.dtype, tuple[int, ...], bytes]]
    tensor_ids: dict[str, int]
    classes: dict[str, type]
    training: dict[str, bool]
    requires_grad: dict[str, bool]
    grads: dict[str, tuple[int, bytes] | None]  # the .grad object and its values
    hooks: dict[str, dict[str, tuple]]
    global_hooks: dict[str, tuple]
    rng: bytes
    grad_enabled: bool
    function_modes: int

    @classmethod
    def of(cls, model: nn.Module) -> "ModelState":
        state = model.state_dict(keep_vars=True)
        return cls(
            state={k: _tensor_record(v) for k, v in state.items()},
            tensor_ids={k: id(v) for k, v in state.items()},
            classes={name: type(m) for name, m in model.named_modules()},
            training={name: m.training for name, m in model.named_modules()},
            requires_grad={name: p.requires_grad for name, p in model.named_parameters()},
            grads={
                name: None if p.grad is None else (id(p.grad), tensor_bytes(p.grad))
                for name, p in model.named_parameters()
            },
            hooks={name: _hooks_of(m, HOOK_DICTS) for name, m in model.named_modules()},
            global_hooks=_hooks_of(module_globals, GLOBAL_HOOK_DICTS),
            rng=tensor_bytes(torch.get_rng_state()),
            grad_enabled=torch.is_grad_enabled(),
            function_modes=torch._C._len_torch_function_stack(),
        )


def differences(before: ModelState, after: ModelState) -> list[str]:
    """Human-readable list of what changed; empty when nothing did."""
    found = []
    for field in before.__dataclass_fields__:
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new), key=str)
            changed = [k for k in keys if old.get(k) != new.get(k)]
            found.append(f"{field} changed for {changed}")
        else:
            found.append(f"{field} changed")
    return found


def assert_same(before: ModelState, after: ModelState) -> None:
    changed = differences(before, after)
    assert not changed, "; ".join(changed)


def assert_untouched(model: nn.Module, action: Callable[[], Any]) -> Any:
    """Run ``action`` and check the model and RNG are as before; returns what it returned."""
    before = ModelState.of(model)
    result = action()
    assert_same(before, ModelState.of(model))
    return result


def torchsummary_text(model: nn.Module, input_size: Any, batch_size: int = -1, seed: int = 0) -> str:
    """What the real torchsummary 1.5.1 prints (on CPU), with the RNG seeded first."""
    torch.manual_seed(seed)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        torchsummary_summary(model, input_size, batch_size=batch_size, device="cpu")
    return out.getvalue()


def table_rows(text: str) -> list[tuple[str, str, str]]:
    """(layer, output shape, params) of each row of a printed torchsummary table."""
    lines = text.splitlines()
    start = lines.index("=" * 64) + 1
    end = lines.index("=" * 64, start)
    rows = []
    for line in lines[start:end]:
        # the name and the count hold no spaces; a wide cell pushes the columns right
        name, rest = line.split(None, 1)
        shape, params = rest.rsplit(None, 1)
        rows.append((name, shape.strip(), params))
    return rows


def row_names(text: str) -> list[str]:
    return [name for name, _, _ in table_rows(text)]


def reference_row_names(model: nn.Module, run: Callable[[], Any], include_model: bool = False) -> list[str]:
    """Row names worked out independently: a forward hook on each module torchsummary would
    hook (not Sequential/ModuleList, not the model itself), numbered in completion order."""
    names: list[str] = []
    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Sequential, nn.ModuleList)):
            continue
        if module is model and not include_model:
            continue
        handles.append(
            module.register_forward_hook(
                lambda m, i, o: names.append(f"{type(m).__name__}-{len(names) + 1}")
            )
        )
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return names
