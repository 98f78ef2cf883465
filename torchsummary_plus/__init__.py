"""torchsummary's table, byte for byte, followed by the figures it gets wrong."""
from ._compare import compare
from ._result import SummaryResult
from ._errors import SummaryError
from .api import summary, summary_string

__all__ = ["summary", "summary_string", "compare", "SummaryResult", "SummaryError"]
__version__ = "0.1.0"
