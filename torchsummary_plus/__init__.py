"""torchsummary's table, byte for byte, followed by the figures it gets wrong."""
from ._trace import SummaryError
from ._result import SummaryResult
from .api import summary, summary_string

__all__ = ["summary", "summary_string", "SummaryResult", "SummaryError"]
__version__ = "0.1.0"
