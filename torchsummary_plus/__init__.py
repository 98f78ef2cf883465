"""torchsummary's table, byte for byte, followed by the figures it gets wrong."""
from ._trace import SummaryError
from ._result import SummaryResult
from .api import summary, summary_string
from ._compare import compare

__all__ = ["summary", "summary_string", "compare", "SummaryResult", "SummaryError"]
__version__ = "0.1.0"
