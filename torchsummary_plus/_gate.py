"""Keeping the parameter watch off until the model's own code can hold a parameter.

The watch (``_watch``) costs a Python call on every operation of custom code, most of which
only reshapes activations. An operation can take a parameter only if the code running it
holds a reference to that parameter. When, before the pass, nothing but the modules'
``_parameters`` registries refers to the parameters (no optimizer, closure, list, weak
reference or alias of a registry), custom code can get one only by reading a registry:
through ``Module.__getattr__`` (``self.fc.weight``), ``parameters()``, ``named_parameters()``,
``state_dict()`` or the registry itself. For the pass each registry is then replaced by a
``GuardedParameters`` copy, and the first read of a parameter from one outside a trusted
module switches the watch on for the rest of the pass. Inside a trusted module (torch.nn's
own code, paused anyway) reads change nothing. Where the references cannot be accounted
for, or for a meta run on stand-ins, the watch is on from the start, as before.
"""
from __future__ import annotations

import functools
import sys
import weakref
from typing import Any, Callable

import torch
import torch.nn as nn

from ._index import ModelIndex
from ._traits import traits
from ._watch import WatchSwitch


def _telling(method: Callable[..., Any], news: str) -> Callable[..., Any]:
    """``method`` of dict, calling the switch's ``news`` method first: ``parameter_read``
    (a parameter may be read) or ``registry_written`` (parameters may be swapped). Inside a
    trusted module neither changes anything: torch.nn's own code uses its own registries."""

    def tell(self: GuardedParameters, *args: Any) -> Any:
        if not self.switch.depth:
            getattr(self.switch, news)()
        return method(self, *args)

    tell.__name__ = method.__name__
    return tell


_dict_getitem = dict.__getitem__


class GuardedParameters(dict):
    """A module's ``_parameters`` during the pass: every way of reading a value from it
    tells the switch first (iterating keys is covered so that ``dict(...)`` copies through
    ``__getitem__`` instead of reading the values directly), and so does every way of
    writing one."""

    __slots__ = ("switch",)

    @classmethod
    def of(cls, switch: WatchSwitch, registry: dict[str, Any]) -> GuardedParameters:
        """A guarded copy of ``registry`` telling ``switch`` (dict's own constructor copies
        it: one is made per module with parameters, and a Python ``__init__`` would double
        the cost)."""
        guarded = cls(registry)
        guarded.switch = switch
        return guarded

    def __getitem__(self, key: str) -> Any:
        # Spelt out, not made by _telling: every `self.weight` of a running layer comes
        # here, and a plain signature costs about a third of the generic one.
        if not self.switch.depth:
            self.switch.parameter_read()
        return _dict_getitem(self, key)

    get = _telling(dict.get, "parameter_read")
    values = _telling(dict.values, "parameter_read")
    items = _telling(dict.items, "parameter_read")
    __iter__ = _telling(dict.__iter__, "parameter_read")
    __or__ = _telling(dict.__or__, "parameter_read")
    __ror__ = _telling(dict.__ror__, "parameter_read")
    # Writing: code may put other parameters in (torch.func.functional_call does), after
    # which a torch.nn module no longer runs with the parameters the index found for it.
    __setitem__ = _telling(dict.__setitem__, "registry_written")
    __delitem__ = _telling(dict.__delitem__, "registry_written")
    pop = _telling(dict.pop, "registry_written")
    popitem = _telling(dict.popitem, "registry_written")
    setdefault = _telling(dict.setdefault, "registry_written")
    update = _telling(dict.update, "registry_written")
    clear = _telling(dict.clear, "registry_written")
    __ior__ = _telling(dict.__ior__, "registry_written")

    def copy(self) -> dict[str, Any]:
        return dict(self.items())

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (dict, (self.copy(),))


@functools.lru_cache(maxsize=None)
def _baseline() -> tuple[int, int]:
    """References ``_unaccounted`` sees to a parameter held by one registry, and to a
    registry held by its module alone (measured, so that it holds on any CPython)."""
    probe = nn.Module()
    probe.register_parameter("p", nn.Parameter(torch.empty(0)))
    for param in probe._parameters.values():
        param_refs = sys.getrefcount(param) - 1
    del param
    return param_refs, sys.getrefcount(probe._parameters)


def _unaccounted(modules: list[nn.Module]) -> bool:
    """Whether anything besides the registries may hold a parameter (or a registry)."""
    param_base, registry_base = _baseline()
    alone = param_base + 1  # a parameter held by one registry: nearly all of them
    slots: dict[int, int] = {}  # the others: registries seen holding them
    references: dict[int, int] = {}  # and their references
    for module in modules:
        if sys.getrefcount(module._parameters) != registry_base:
            return True
        for param in module._parameters.values():
            if param is None:
                continue
            if weakref.getweakrefcount(param):
                return True
            held = sys.getrefcount(param)
            if held != alone:  # shared by registries, or held elsewhere too
                key = id(param)
                slots[key] = slots.get(key, 0) + 1
                references[key] = held
    return any(held != param_base + slots[key] for key, held in references.items())


def can_wait(index: ModelIndex) -> bool:
    """Whether the watch can wait for a registry read: every parameter's references are its
    registries (checked before the summary itself holds any, so before the snapshot)."""
    if any(traits(type(m)).script for m in index.owners):
        return False
    return not _unaccounted(list(index.owners))


def guard_registries(index: ModelIndex, switch: WatchSwitch) -> list[tuple[nn.Module, dict]]:
    """Replace the registries with guarded copies; returns the originals to put back."""
    originals: list[tuple[nn.Module, dict]] = []
    try:
        for module in index.owners:
            registry = module.__dict__["_parameters"]
            module.__dict__["_parameters"] = GuardedParameters.of(switch, registry)
            originals.append((module, registry))
    except BaseException:  # an interrupt half-way: leave no registry swapped
        put_back(originals)
        raise
    return originals


def put_back(originals: list[tuple[nn.Module, dict]]) -> None:
    for module, registry in originals:
        module.__dict__["_parameters"] = registry
