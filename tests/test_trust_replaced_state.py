"""Issue 12, case 1: a forward pass that replaces a registered buffer or parameter.

torchsummary 1.5.1 prints its table on each of these models; the summary must print the
same table byte for byte (compared with the live torchsummary, run on a deep copy with the
same seed) and leave the model whole: the original buffer and parameter objects back in
their registries, BatchNorm statistics, the gradients set before, the random state.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from trust_models import DeepState, assert_whole, deep_differences, plus_table, set_grads, table_of


class EmaStatistics(nn.Module):
    """Keeps a running mean of its output by rebinding the buffer (a new tensor each call)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.register_buffer("avg", torch.zeros(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        self.avg = 0.9 * self.avg + 0.1 * y.detach().mean(0)
        return y - self.avg


class EmaQuantizer(nn.Module):
    """A VQ-VAE vector quantizer with an exponential-moving-average codebook: in training,
    forward rebinds its cluster-size buffer, its running sum parameter and the codebook."""

    def __init__(self, codes: int = 8, dim: int = 4, decay: float = 0.99) -> None:
        super().__init__()
        self.codes, self.decay, self.eps = codes, decay, 1e-5
        self.embedding = nn.Embedding(codes, dim)
        self.register_buffer("cluster_size", torch.zeros(codes))
        self.ema_w = nn.Parameter(torch.randn(codes, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        book = self.embedding.weight
        distances = (x**2).sum(1, keepdim=True) + (book**2).sum(1) - 2 * x @ book.t()
        onehot = F.one_hot(distances.argmin(1), self.codes).float()
        quantized = onehot @ book
        if self.training:
            size = self.cluster_size * self.decay + (1 - self.decay) * onehot.sum(0)
            n = size.sum()
            self.cluster_size = (size + self.eps) / (n + self.codes * self.eps) * n
            self.ema_w = nn.Parameter(self.ema_w * self.decay + (1 - self.decay) * (onehot.t() @ x))
            self.embedding.weight = nn.Parameter(self.ema_w / self.cluster_size.unsqueeze(1))
        return x + (quantized - x).detach()


def _angles(length: int, inv_freq: torch.Tensor) -> torch.Tensor:
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return torch.cat([freqs, freqs], -1)


class DynamicRotary(nn.Module):
    """Rotary position embedding whose cos/sin cache (and, as dynamic NTK scaling does,
    its frequencies) are re-registered when an input is longer than the cache."""

    def __init__(self, dim: int = 4, max_positions: int = 3) -> None:
        super().__init__()
        self.dim, self.max_positions = dim, max_positions
        self.register_buffer("inv_freq", self._inv_freq(10000.0), persistent=False)
        self._cache(max_positions)

    def _inv_freq(self, base: float) -> torch.Tensor:
        return 1.0 / base ** (torch.arange(0, self.dim, 2, dtype=torch.float32) / self.dim)

    def _cache(self, length: int) -> None:
        angles = _angles(length, self.inv_freq)
        self.register_buffer("cos_cached", angles.cos(), persistent=False)
        self.register_buffer("sin_cached", angles.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [batch, seq, dim]
        seq = x.shape[1]
        if seq > self.cos_cached.shape[0]:  # decided by the cache itself, not a Python int
            base = 10000.0 * (2 * seq / self.max_positions - 1) ** (self.dim / (self.dim - 2))
            self.register_buffer("inv_freq", self._inv_freq(base), persistent=False)
            self._cache(seq)
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
        return x * self.cos_cached[:seq] + rotated * self.sin_cached[:seq]


def _sinusoids(length: int, dim: int) -> torch.Tensor:
    step = math.log(10000) / (dim // 2 - 1)
    freqs = torch.exp(torch.arange(dim // 2, dtype=torch.float32) * -step)
    angles = torch.arange(length, dtype=torch.float32).unsqueeze(1) * freqs.unsqueeze(0)
    return torch.cat([angles.sin(), angles.cos()], 1)


class GrowingSinusoids(nn.Module):
    """A sinusoidal position table re-registered, longer, when an input outgrows it."""

    def __init__(self, dim: int = 4, length: int = 2) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("weights", _sinusoids(length, dim), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [batch, seq, dim]
        seq = x.shape[1]
        if seq > self.weights.shape[0]:
            self.register_buffer("weights", _sinusoids(seq, self.dim), persistent=False)
        return x + self.weights[:seq]


class ReassignsWeight(nn.Module):
    """Puts a new nn.Parameter in place of a child's weight, then calls the child."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc.weight = nn.Parameter(self.fc.weight.detach() * 0.5)
        return self.fc(x)


def with_norm_and_dropout(inner: nn.Module, features: int) -> nn.Module:
    """BatchNorm (statistics a pass changes) and dropout (random draws) around ``inner``."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, features), nn.BatchNorm1d(features), nn.Dropout(0.3), inner)


class SeqInput(nn.Module):
    """[batch, 5, 4] sequences: BatchNorm over the 4 features, dropout, then ``inner``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.norm = nn.BatchNorm1d(5)
        self.drop = nn.Dropout(0.3)
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.drop(self.norm(self.fc(x))))


CASES = {
    "ema_buffer": (lambda: with_norm_and_dropout(EmaStatistics(), 4), (4,)),
    "vq_vae_ema": (lambda: with_norm_and_dropout(EmaQuantizer(), 4), (4,)),
    "rotary_cache_longer_input": (lambda: SeqInput(DynamicRotary(max_positions=3)), (5, 4)),
    "growing_sinusoids": (lambda: SeqInput(GrowingSinusoids(length=2)), (5, 4)),
}


def _check(model: nn.Module, input_size: tuple) -> None:
    set_grads(model)
    expected = table_of(model, input_size)  # seeded 0
    torch.manual_seed(0)
    before = DeepState.of(model)
    assert plus_table(model, input_size) == expected
    assert_whole(before, model)


@pytest.mark.parametrize("case", list(CASES))
def test_replaced_buffer_prints_torchsummary_table_and_leaves_model_whole(case):
    make, input_size = CASES[case]
    _check(make(), input_size)


@pytest.mark.parametrize("case", list(CASES))
def test_control_a_plain_forward_does_replace_the_state(case):
    """The checks above can fail: calling the model itself rebinds a registry entry."""
    make, input_size = CASES[case]
    model = make()
    before = DeepState.of(model)
    model(torch.rand(2, *input_size))
    changed = deep_differences(before, DeepState.of(model))
    assert any(d.startswith("tensors changed") for d in changed), changed


def test_new_parameter_in_forward_with_an_optimizer_alive():
    model = with_norm_and_dropout(ReassignsWeight(), 4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _check(model, (4,))
    # the optimizer still steps the model's own parameters
    held = optimizer.param_groups[0]["params"]
    assert [id(p) for p in held] == [id(p) for p in model.parameters()]
    weight = model[3].fc.weight
    old = weight.detach().clone()
    optimizer.step()  # the grads set by _check are still there
    assert not torch.equal(weight.detach(), old)
