"""Helpers for the issue-12 regression tests (tests/test_trust_*.py).

``DeepState.of(model)`` extends ``helpers_model_state.ModelState`` with what a restore that
only compares values would miss: every parameter and buffer kept as the same Python object
with the same storage (data_ptr, offset, size, stride, dtype, device), plain-dict
registries, no instance ``_call_impl``, each module's ``__dict__`` keys and ``__class__``,
and the process-wide switches a summary touches (the garbage collector, torch's
function-mode stack). ``assert_whole(before, model)`` fails naming what differs.

``table_of`` returns what the real torchsummary 1.5.1 prints for a model, run on a deep
copy so that a forward pass which changes the model changes only the copy.
"""
from __future__ import annotations

import contextlib
import copy
import gc
import io
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn as nn

from helpers_model_state import ModelState, differences, tensor_bytes, torchsummary_text

REGISTRIES = ("_parameters", "_buffers", "_modules")


def _tensor_facts(tensor: torch.Tensor | None) -> tuple | None:
    """The object and where its values live; its values too (non-persistent buffers are
    not in the state_dict that ModelState compares)."""
    if tensor is None:
        return None
    if tensor.device.type == "meta":
        values = b"<meta>"
    else:
        values = tensor_bytes(tensor)
    return (
        id(tensor),
        type(tensor),
        tensor.untyped_storage().data_ptr() if tensor.device.type != "meta" else None,
        tensor.storage_offset(),
        tuple(tensor.shape),
        tensor.stride(),
        tensor.dtype,
        str(tensor.device),
        tensor.requires_grad,
        values,
    )


@dataclass
class DeepState:
    base: ModelState
    tensors: dict[str, tuple | None]  # "module path:kind:name" -> _tensor_facts
    registry_types: dict[str, tuple[type, ...]]
    module_ids: dict[str, int]
    dict_keys: dict[str, tuple[str, ...]]
    classes: dict[str, type]
    instance_call_impl: list[str]
    non_persistent: dict[str, tuple[str, ...]]
    gc_enabled: bool  # (the RNG and the function-mode stack are in base)

    @classmethod
    def of(cls, model: nn.Module) -> "DeepState":
        modules = list(model.named_modules(remove_duplicate=False))
        tensors: dict[str, tuple | None] = {}
        for path, module in modules:
            for kind in ("_parameters", "_buffers"):
                for name, tensor in getattr(module, kind).items():
                    tensors[f"{path}:{kind}:{name}"] = _tensor_facts(tensor)
        return cls(
            base=ModelState.of(model),
            tensors=tensors,
            registry_types={p: tuple(type(getattr(m, r)) for r in REGISTRIES) for p, m in modules},
            module_ids={p: id(m) for p, m in modules},
            dict_keys={p: tuple(sorted(vars(m))) for p, m in modules},
            classes={p: m.__class__ for p, m in modules},
            instance_call_impl=[p for p, m in modules if "_call_impl" in vars(m)],
            non_persistent={p: tuple(sorted(m._non_persistent_buffers_set)) for p, m in modules},
            gc_enabled=gc.isenabled(),
        )


def deep_differences(before: DeepState, after: DeepState) -> list[str]:
    found = differences(before.base, after.base)
    for field in before.__dataclass_fields__:
        if field == "base":
            continue
        old, new = getattr(before, field), getattr(after, field)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new), key=str)
            found.append(f"{field} changed for {[k for k in keys if old.get(k) != new.get(k)]}")
        else:
            found.append(f"{field} changed: {old!r} -> {new!r}")
    return found


def assert_whole(before: DeepState, model: nn.Module) -> None:
    """The model (and the process-wide state) exactly as recorded in ``before``."""
    changed = deep_differences(before, DeepState.of(model))
    assert not changed, "; ".join(changed)


def table_of(model: nn.Module, input_size: Any, seed: int = 0) -> str:
    """torchsummary 1.5.1's text for ``model``, from a deep copy (the model is not run)."""
    return torchsummary_text(copy.deepcopy(model), input_size, seed=seed)


def plus_table(model: nn.Module, input_size: Any, **kwargs: Any) -> str:
    """What ``summary`` prints with plus=False (torchsummary's table only). Seed the
    random state as ``table_of`` does before recording the state to compare with."""
    from torchsummary_plus import summary

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary(model, input_size, device="cpu", plus=False, **kwargs)
    return out.getvalue()


def set_grads(model: nn.Module, seed: int = 7) -> None:
    """Give every parameter a .grad (as after a backward), which a summary must keep."""
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.randn(p.shape, generator=generator)


@contextlib.contextmanager
def collector_restored() -> Iterator[None]:
    """Put the garbage collector back on after a test, so one failing test cannot leave
    it off for the rest of the session (the test itself asserts what it found)."""
    try:
        yield
    finally:
        gc.enable()
