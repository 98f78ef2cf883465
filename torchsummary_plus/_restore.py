"""Put the model and the random state back as they were before the summary's forward pass.

The pass runs in the model's own modes, as torchsummary runs it, so BatchNorm updates its
running statistics and dropout draws from the global generator. This module records what
the pass may change and restores it afterwards, whether the pass returned or raised.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn

from ._traits import TRAITS_BY_CLASS, traits


# Copies of registries to compare with after the pass, never changed themselves; most
# modules register nothing of a kind, and one shared empty copy stands for those.
_NOTHING: dict = {}
_NO_NAMES: frozenset = frozenset()
_NONE_REGISTERED = (_NOTHING, _NOTHING, _NOTHING, _NO_NAMES)


def _put_back(registry: dict, saved: dict) -> None:
    registry.clear()
    registry.update(saved)


class ModelSnapshot:
    """What a forward pass can change: buffers, registrations, modes, flags, gradients, and
    the random state. Gradients are taken aside for the pass (a forward that calls backward
    must not add into them) and put back by ``restore``."""

    def __init__(self, modules: list[nn.Module]) -> None:
        self.modules = []  # (module, mode, registrations or None where fixed)
        self.buffers = []
        self.written = []
        params: dict[int, nn.Parameter] = {}
        record = self.modules.append
        for m in modules:
            kind = TRAITS_BY_CLASS.get(type(m)) or traits(type(m))
            own, buffers = m._parameters, m._buffers
            children, non_persistent = m._modules, m._non_persistent_buffers_set
            if kind.script:  # TorchScript modules' registrations are fixed
                registrations = None
            elif not (own or buffers or children or non_persistent):
                registrations = _NONE_REGISTERED  # most modules: activations, dropout...
            else:
                registrations = (  # the empty ones share one empty copy
                    own.copy() if own else _NOTHING,
                    buffers.copy() if buffers else _NOTHING,
                    children.copy() if children else _NOTHING,
                    non_persistent.copy() if non_persistent else _NO_NAMES,
                )
            record((m, m.training, registrations))
            if buffers:
                self.buffers += [(b, b.detach().clone()) for b in buffers.values() if b is not None]
            if own:
                for p in own.values():
                    if p is not None:
                        params[id(p)] = p
                if kind.renorms and m.max_norm is not None:  # embeddings renormalising in place
                    self.written += [(p, p.detach().clone()) for p in m.parameters(recurse=False)]
        self.flags = []
        flag = self.flags.append
        for param in params.values():
            grad = param.grad
            flag((param, param.requires_grad, grad, param._version))
            if grad is not None:
                param.grad = None
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None

    def restore(self, originals: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Put everything back; ``originals`` holds copies of parameters the pass wrote to."""
        for module, training, registrations in self.modules:
            if registrations is not None and (
                registrations is not _NONE_REGISTERED
                or module._parameters  # most modules: nothing registered before or after
                or module._buffers
                or module._modules
                or module._non_persistent_buffers_set
            ):
                params, buffers, children, non_persistent = registrations
                if module._parameters != params:
                    _put_back(module._parameters, params)
                if module._buffers != buffers:
                    _put_back(module._buffers, buffers)
                if module._modules != children:
                    _put_back(module._modules, children)
                if module._non_persistent_buffers_set != non_persistent:
                    module._non_persistent_buffers_set = set(non_persistent)
            if module.training is not training:  # Module.__setattr__ is slow: only when needed
                module.training = training
        written = self.written + list(originals.values())
        with torch.no_grad():
            for buf, saved in self.buffers:  # not by _version: BatchNorm's kernel leaves it
                buf.copy_(saved)
            for param, saved in written:
                param.copy_(saved)
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
