"""Models on which torchsummary 1.5.1 raises, each with what it raises.

torchsummary_plus must print a complete table for all of them; the expected tables are
worked out by hand in test_crash_cases.py and stored in golden/NAME.txt.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple

import torch
import torch.nn as nn


class CrashCase(NamedTuple):
    name: str
    make: Callable[[], nn.Module]
    input_size: Any
    batch_size: int
    raises: type[BaseException]  # what torchsummary 1.5.1 raises


def bare_linear() -> nn.Module:
    """The root is never hooked: no rows, so its parameter total stays the int 0."""
    return nn.Linear(2, 5)


class RawLSTM(nn.Module):
    """nn.LSTM returns (output, (h_n, c_n)): the hook calls .size() on the inner tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 512, batch_first=True)
        self.fc = nn.Linear(512, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (_, _) = self.lstm(x)
        return self.fc(out[:, -1])


class DictHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4096, 10)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"logits": self.fc(x), "embedding": x}


class DictOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.heads = DictHeads()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.heads(x)["logits"]


Encoded = namedtuple("Encoded", "logits maps")


class NamedTupleEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16 * 32 * 32, 10)

    def forward(self, x: torch.Tensor) -> Encoded:
        return Encoded(self.fc(x.flatten(1)), x)


class NamedTupleOutput(nn.Module):
    """A namedtuple of tensors of different ranks: np.prod of the shape list raises."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = NamedTupleEncoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).logits


class Probe(nn.Module):
    """Records what passes and returns None."""

    def forward(self, x: torch.Tensor) -> None:
        self.seen = tuple(x.shape)
        return None


class NoneOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 7)
        self.probe = Probe()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        self.probe(y)
        return y


class NoLayers(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class KeywordCall(nn.Module):
    """A child called with keyword arguments only: the hook's positional inputs are empty."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 5)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(input=x))


class DifferentRanks(nn.Module):
    """Inputs of rank 1 and 2 (after the batch): np.prod(input_size) raises under numpy 2."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(1000, 8)
        self.b = nn.Linear(50, 8)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.a(a) + self.b(b).mean(1)


class AttentionNoWeights(nn.Module):
    """nn.MultiheadAttention with need_weights=False returns (output, None)."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(256, 8, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class ScalarOutput(nn.Module):
    """A loss module returns a 0-dim tensor: the hook cannot replace its first dimension."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 3)
        self.loss = nn.MSELoss()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        return self.loss(y, torch.zeros_like(y))


CASES: list[CrashCase] = [
    CrashCase("bare_linear", bare_linear, (2,), -1, AttributeError),
    CrashCase("raw_lstm", RawLSTM, (100, 8), -1, AttributeError),
    CrashCase("dict_output", DictOutput, (4096,), -1, AttributeError),
    CrashCase("namedtuple_output", NamedTupleOutput, (16, 32, 32), -1, ValueError),
    CrashCase("none_output", NoneOutput, (3,), -1, AttributeError),
    CrashCase("no_layers", NoLayers, (3, 64, 64), 16, AttributeError),
    CrashCase("keyword_call", KeywordCall, (2,), -1, IndexError),
    CrashCase("different_ranks", DifferentRanks, [(1000,), (20, 50)], -1, ValueError),
    CrashCase("attention_no_weights", AttentionNoWeights, (512, 256), -1, AttributeError),
    CrashCase("scalar_output", ScalarOutput, (6,), -1, IndexError),
]
