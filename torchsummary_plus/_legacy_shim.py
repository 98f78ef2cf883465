"""What ``import torchsummary`` finds under ``torchsummary-plus run``.

It stands in for both ``torchsummary`` and ``torchsummary.torchsummary``, so every import a
legacy script may use reaches this package's ``summary`` and ``summary_string``.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from .api import summary, summary_string

__all__ = ["summary", "summary_string"]

NAMES = ("torchsummary", "torchsummary.torchsummary")
torchsummary = sys.modules[__name__]  # `import torchsummary.torchsummary` needs the attribute


@contextlib.contextmanager
def torchsummary_redirected() -> Iterator[None]:
    """While inside, ``torchsummary`` imports resolve to this module; undone afterwards."""
    shim = sys.modules[__name__]
    saved = {name: sys.modules.get(name) for name in NAMES}
    for name in NAMES:
        sys.modules[name] = shim
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
