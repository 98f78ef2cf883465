"""Floating-point operations of the pass, counted by torch's own ``FlopCounterMode`` (as
Lightning counts them), in total and per module.

The counter is a ``TorchDispatchMode``: it sees every operation below the function-mode
stack, so the watch (a ``TorchFunctionMode``) and the rows are left as they are. It names
modules its own way (the model's class name, then each child's attribute names, as its
``ModuleTracker`` first walked them); ``flop_figures`` maps those names back to the
modules' qualified names through the tracker's own map, so a module held twice is found.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn as nn


@dataclass(frozen=True)
class FlopFigures:
    total: int  # every counted operation of the pass
    by_module: dict[str, int]  # qualified name -> its calls' operations, its children's included


def flop_counter() -> Any:
    """A counter for one pass that prints nothing (imported here: only when asked)."""
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False)


def flop_figures(counter: Any, names: dict[nn.Module, str]) -> FlopFigures:
    """The counter's figures by qualified name (0 for a module it never saw run)."""
    counts: dict[str, dict[Any, int]] = counter.get_flop_counts()
    tracked: Any = counter.mod_tracker._known_modules  # module -> the counter's name for it
    by_module = {}
    for module, qualname in names.items():
        name = tracked.get(module)
        by_module[qualname] = sum(counts.get(name, {}).values()) if name is not None else 0
    return FlopFigures(int(counter.get_total_flops()), by_module)
