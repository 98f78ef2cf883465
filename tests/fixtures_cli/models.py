"""Targets for the command-line tests."""
import torch.nn as nn


class Tiny(nn.Module):
    """One Linear 3 -> 2: 3 * 2 weights + 2 biases = 8 parameters."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


class TwoInputs(nn.Module):
    """An embedding of long ids (10 x 4 = 40) and a Linear 4 -> 4 (20) over a float input."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.fc = nn.Linear(4, 4)

    def forward(self, x, ids):
        return self.fc(x) + self.embed(ids).sum(1)


def make_tiny():
    return Tiny()


def make_number():
    return 42


NOT_A_MODULE = 42


class NeedsArgument(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return self.fc(x)


class BrokenInit(nn.Module):
    """Its constructor raises: the user's own code failing, not a usage mistake."""

    def __init__(self):
        super().__init__()
        raise RuntimeError("no weights here")


class Boom(nn.Module):
    """The model itself raises in forward, before any submodule runs."""

    def forward(self, x):
        raise ValueError("boom")


class InnerBoom(nn.Module):
    """A Linear 3 -> 2 runs (row Linear-1), then the submodule `inner` raises."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.inner = Boom()

    def forward(self, x):
        return self.inner(self.fc(x))
