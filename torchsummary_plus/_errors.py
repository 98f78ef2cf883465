"""The package's own error."""


class SummaryError(RuntimeError):
    """The model's forward pass raised, or putting the model back failed; the message says
    where."""
