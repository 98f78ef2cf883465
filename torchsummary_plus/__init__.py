"""torchsummary's table, byte for byte, followed by the figures it gets wrong.

The public names are imported on first use (PEP 562), so ``import torchsummary_plus`` and
``torchsummary-plus --help`` do not pay for importing torch until a summary is asked for.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from ._compare import compare
    from ._errors import SummaryError
    from ._result import SummaryResult
    from .api import summary, summary_string

__all__ = ["SummaryError", "SummaryResult", "__version__", "compare", "summary", "summary_string"]

_HOMES = {
    "summary": ".api",
    "summary_string": ".api",
    "compare": "._compare",
    "SummaryResult": "._result",
    "SummaryError": "._errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
