"""Put the model and the random state back as they were before the summary's forward pass.

The pass runs in the model's own modes, as torchsummary runs it, so BatchNorm updates its
running statistics and dropout draws from the global generator. This module records what
the pass may change and restores it afterwards, whether the pass returned or raised.
"""
from __future__ import annotations

import warnings
import torch
import torch.nn as nn


def _writes_own_parameters(module: nn.Module) -> bool:
    """Built-in modules known to change their parameters in place while running."""
    return isinstance(module, (nn.Embedding, nn.EmbeddingBag)) and module.max_norm is not None


class ModelSnapshot:
    """What a forward pass can change: buffers, modes, flags, gradients, random state."""

    def __init__(self, model: nn.Module) -> None:
        modules = list(model.modules())
        self.modes = [(m, m.training) for m in modules]
        self.buffer_slots = [
            (m, name, buf, None if buf is None else buf.detach().clone())
            for m in modules
            for name, buf in m._buffers.items()
        ]
        self.parameter_slots = [(m, name, p) for m in modules for name, p in m._parameters.items()]
        params = [p for _, _, p in self.parameter_slots if p is not None]
        self.flags = [(p, p.requires_grad, p.grad, p._version) for p in params]
        self.written = [
            (p, p.detach().clone())
            for m in modules
            if _writes_own_parameters(m)
            for p in m.parameters(recurse=False)
        ]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def restore(self) -> None:
        with torch.no_grad():
            for module, name, buf, saved in self.buffer_slots:
                module._buffers[name] = buf
                if saved is not None:
                    buf.copy_(saved)
            for module, name, param in self.parameter_slots:
                module._parameters[name] = param
            for param, saved in self.written:
                param.copy_(saved)
        for module, training in self.modes:
            module.training = training
        written = {id(p) for p, _ in self.written}
        changed = []
        for param, requires_grad, grad, version in self.flags:
            param.requires_grad_(requires_grad)
            param.grad = grad
            if param._version != version and id(param) not in written:
                changed.append(tuple(param.shape))
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        if changed:
            warnings.warn(
                f"the model's forward pass changed {len(changed)} parameter(s) in place "
                f"(shapes {changed[:3]}); torchsummary_plus restores buffers, modes and random "
                "state but keeps no copy of every parameter",
                stacklevel=3,
            )

