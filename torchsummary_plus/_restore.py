"""Put the model and the random state back as they were before the summary's forward pass.

The pass runs in the model's own modes, as torchsummary runs it, so BatchNorm updates its
running statistics and dropout draws from the global generator. This module records what
the pass may change and restores it afterwards, whether the pass returned or raised.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn

from ._index import traits


def _writes_own_parameters(module: nn.Module) -> bool:
    """Built-in modules known to change their parameters in place while running."""
    return traits(type(module)).renorms and module.max_norm is not None


class ModelSnapshot:
    """What a forward pass can change: buffers, registrations, modes, flags, gradients, and
    the random state. Gradients are taken aside for the pass (a forward that calls backward
    must not add into them) and put back by ``restore``."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modes = [(m, m.training) for m in modules]
        self.registrations = [
            (m, dict(m._parameters), dict(m._buffers), dict(m._modules),
             set(m._non_persistent_buffers_set))
            for m in modules
            if not traits(type(m)).script  # their registrations are fixed
        ]
        self.buffers = [
            (buf, buf.detach().clone())
            for m in modules
            for buf in m._buffers.values()
            if buf is not None
        ]
        params = list({id(p): p for m in modules for p in m._parameters.values() if p is not None}.values())
        self.flags = [(p, p.requires_grad, p.grad, p._version) for p in params]
        self.written = [
            (p, p.detach().clone())
            for m in modules
            if _writes_own_parameters(m)
            for p in m.parameters(recurse=False)
        ]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        for param in params:
            param.grad = None

    def restore(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Put everything back; ``originals`` holds copies of parameters the pass wrote to."""
        for module, params, buffers, children, non_persistent in self.registrations:
            for current, saved in ((module._parameters, params), (module._buffers, buffers),
                                   (module._modules, children)):
                if current != saved:
                    current.clear()
                    current.update(saved)
            if module._non_persistent_buffers_set != non_persistent:
                module._non_persistent_buffers_set = non_persistent
        written = self.written + list(originals.values())
        with torch.no_grad():
            for buf, saved in self.buffers:
                buf.copy_(saved)
            for param, saved in written:
                param.copy_(saved)
        for module, training in self.modes:
            if module.training is not training:  # Module.__setattr__ is slow: only when needed
                module.training = training
        written_ids = {id(p) for p, _ in written}
        changed = []
        for param, requires_grad, grad, version in self.flags:
            if param.requires_grad is not requires_grad:
                param.requires_grad_(requires_grad)
            if param.grad is not grad:
                param.grad = grad
            if param._version != version and id(param) not in written_ids:
                changed.append(tuple(param.shape))
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        if changed:
            warnings.warn(
                f"the model's forward pass changed {len(changed)} parameter(s) in place where "
                f"torchsummary_plus could not see it (shapes {changed[:3]}); they keep the new values",
                stacklevel=3,
            )
