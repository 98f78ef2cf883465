"""An independent oracle for "used": which parameters took part in a forward pass.

It knows nothing of torchsummary_plus: a ``TorchDispatchMode`` of its own, with no pause and
no gate, notes every model parameter found among the arguments of every aten operation, by
identity or by storage (a view, ``.detach()`` or ``.data`` alias of a parameter shares its
storage). Tests run it on the same inputs as the summary and compare the figures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


def _storage_key(tensor: torch.Tensor) -> int | None:
    """The address of a tensor's storage, where it has one (meta tensors have none)."""
    if tensor.device.type == "meta":
        return None
    try:
        pointer = tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # tensor subclasses without a storage
        return None
    return pointer or None


class _ParameterSeer(TorchDispatchMode):
    def __init__(self, params: dict[int, nn.Parameter]) -> None:
        super().__init__()
        self.params = params
        self.by_storage: dict[int, set[int]] = {}
        for key, param in params.items():
            storage = _storage_key(param)
            if storage is not None:
                self.by_storage.setdefault(storage, set()).add(key)
        self.seen: set[int] = set()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        for leaf in tree_leaves((args, kwargs or {})):
            if not isinstance(leaf, torch.Tensor):
                continue
            if id(leaf) in self.params:
                self.seen.add(id(leaf))
                continue
            storage = _storage_key(leaf)
            if storage is not None:
                self.seen.update(self.by_storage.get(storage, ()))
        return func(*args, **(kwargs or {}))


@dataclass(frozen=True)
class Usage:
    """What the oracle saw, as figures comparable with a summary's."""

    unique_params: int
    used_params: int
    used_trainable_params: int
    unused_names: tuple[str, ...]  # qualified names of the parameters never seen


def oracle_usage(model: nn.Module, run: Callable[[], Any]) -> Usage:
    """Run ``run()`` (a forward pass of ``model``) under the oracle and count what it used."""
    named = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        named.setdefault(id(param), (name, param))
    seer = _ParameterSeer({key: param for key, (_, param) in named.items()})
    with seer:
        run()
    used = [param for key, (_, param) in named.items() if key in seer.seen]
    return Usage(
        unique_params=sum(param.numel() for _, param in named.values()),
        used_params=sum(p.numel() for p in used),
        used_trainable_params=sum(p.numel() for p in used if p.requires_grad),
        unused_names=tuple(name for key, (name, _) in named.items() if key not in seer.seen),
    )


def summary_inputs(shapes: list[tuple[int, ...]], dtypes: list[torch.dtype] | None = None,
                   device: str = "cpu") -> list[torch.Tensor]:
    """The inputs a summary makes from the global generator: a batch of 2 per input, uniform
    noise cast to each dtype (seed the generator the same way before the summary to match)."""
    dtypes = dtypes or [torch.float32] * len(shapes)
    return [torch.rand(2, *shape).to(dtype).to(device) for shape, dtype in zip(shapes, dtypes)]


def _shapes(input_size: Any) -> list[tuple[int, ...]]:
    """One shape or a list of shapes, as a summary's ``input_size`` gives them."""
    if all(isinstance(d, int) for d in input_size):
        return [tuple(input_size)]
    return [tuple(shape) for shape in input_size]


def oracle_of(model: nn.Module, input_size: Any, dtypes: Sequence[Any] | None = None,
              seed: int = 0) -> Usage:
    """What the oracle sees on the inputs a summary makes after ``torch.manual_seed(seed)``
    (dtypes as a summary takes them: torch.dtype or legacy types such as torch.LongTensor)."""
    types = None if dtypes is None else [d if isinstance(d, torch.dtype) else d.dtype for d in dtypes]
    torch.manual_seed(seed)
    inputs = summary_inputs(_shapes(input_size), types)
    return oracle_usage(model, lambda: model(*inputs))


def owners_of_unused(usage: Usage) -> list[str]:
    """The modules owning parameters the oracle never saw, each parameter under its first
    name (so its first owner), in definition order; "" is the model itself."""
    return list(dict.fromkeys(name.rpartition(".")[0] for name in usage.unused_names))


def oracle_of_call(model: nn.Module, args: Sequence[Any] = (),
                   kwargs: dict[str, Any] | None = None) -> Usage:
    """What the oracle sees when ``model(*args, **kwargs)`` runs on the caller's own inputs
    (as a summary's ``input_data`` and ``forward_kwargs`` give them)."""
    keywords = kwargs or {}
    return oracle_usage(model, lambda: model(*args, **keywords))
