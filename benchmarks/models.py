"""Model builders for the benchmark and for tests/test_meta_decoder.py.

Every builder returns a model in eval mode (no dropout noise, BatchNorm on its running
statistics) so that repeated passes do the same work. Nothing here downloads anything.

- ``encoder``: 48 ``nn.TransformerEncoderLayer`` (d_model 256, 8 heads, batch_first) under
  a small custom root with an input projection and a final norm (484 modules; torch.nn's own
  layers, inside which the summary's parameter watch is paused);
- ``custom_encoder``: the same shape written as custom blocks (attention from Linear layers),
  725 modules, so that the watch sees the blocks' own operations;
- ``resnet50``: the ResNet-50 layout (Bottleneck blocks [3, 4, 6, 3]) written out here;
- ``small_cnn``: the classic MNIST network of PyTorch's examples (two convolutions, dropout,
  two linear layers: 6 modules), the size most summaries are of;
- ``tiny_stack``: ``n_modules`` alternating ``nn.Linear(8, 8)`` / ``nn.ReLU`` children of a
  custom root, to see how the cost per module call scales;
- ``Decoder``: a LLaMA-shaped decoder (RMSNorm, q/k/v/o attention without bias, SwiGLU MLP,
  final norm, lm_head), small enough to think about and buildable under
  ``with torch.device("meta"):`` at 7B/13B sizes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from compat_tests.master_models import MnistNet


# ---------------------------------------------------------------------------------------
# Transformer encoder
# ---------------------------------------------------------------------------------------
class EncoderStack(nn.Module):
    """Input projection, ``depth`` encoder layers called one after another, final LayerNorm."""

    def __init__(self, depth: int = 48, d_model: int = 256, nhead: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, d_model)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, nhead, batch_first=True) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


def encoder(depth: int = 48) -> nn.Module:
    return EncoderStack(depth).eval()


class SelfAttention(nn.Module):
    """Multi-head self-attention written out with Linear layers (custom code, watched)."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.nhead = nhead
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.o = nn.Linear(d_model, d_model)
        self.attn_drop = nn.Dropout(0.1)
        self.proj_drop = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        width = d // self.nhead
        q, k, v = [m(x).view(b, t, self.nhead, width).transpose(1, 2) for m in (self.q, self.k, self.v)]
        weights = self.attn_drop(torch.softmax(q @ k.transpose(-2, -1) / width**0.5, dim=-1))
        out = (weights @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj_drop(self.o(out))


class Block(nn.Module):
    """Pre-norm transformer block of custom code: 15 modules with the attention's."""

    def __init__(self, d_model: int, nhead: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, nhead)
        self.ln2 = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, 4 * d_model)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * d_model, d_model)
        self.drop1 = nn.Dropout(0.1)
        self.drop2 = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop1(self.attn(self.ln1(x)))
        return x + self.drop2(self.fc2(self.act(self.fc1(self.ln2(x)))))


class CustomEncoder(nn.Module):
    """Input projection, ``depth`` custom blocks, final norm and head: 725 modules at 48."""

    def __init__(self, depth: int = 48, d_model: int = 256, nhead: int = 8) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, d_model)
        self.blocks = nn.ModuleList(Block(d_model, nhead) for _ in range(depth))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def custom_encoder(depth: int = 48) -> nn.Module:
    return CustomEncoder(depth).eval()


# ---------------------------------------------------------------------------------------
# ResNet-50
# ---------------------------------------------------------------------------------------
class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, residual add, ReLU.

    One ReLU module is called three times per block, so each block gives three ReLU rows.
    """

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + skip)


class ResNet50(nn.Module):
    def __init__(self, blocks: tuple[int, ...] = (3, 4, 6, 3), num_classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages = []
        in_ch = 64
        for index, count in enumerate(blocks):
            width = 64 * 2**index
            stage = []
            for position in range(count):
                stride = 2 if (position == 0 and index > 0) else 1
                stage.append(Bottleneck(in_ch, width, stride))
                in_ch = width * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet50() -> nn.Module:
    return ResNet50().eval()


# ---------------------------------------------------------------------------------------
# A small CNN
# ---------------------------------------------------------------------------------------
def small_cnn() -> nn.Module:
    """The MNIST network of PyTorch's examples (the compatibility tests' ``MnistNet``)."""
    return MnistNet().eval()


# ---------------------------------------------------------------------------------------
# A stack of tiny layers
# ---------------------------------------------------------------------------------------
class TinyStack(nn.Module):
    """``n_modules`` children, Linear(8, 8) and ReLU alternating, each called once."""

    def __init__(self, n_modules: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(8, 8) if i % 2 == 0 else nn.ReLU() for i in range(n_modules)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


def tiny_stack(n_modules: int) -> nn.Module:
    return TinyStack(n_modules).eval()


# ---------------------------------------------------------------------------------------
# LLaMA-shaped decoder
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecoderConfig:
    layers: int
    hidden: int
    mlp: int
    heads: int
    vocab: int
    tie_embeddings: bool = False
    eps: float = 1e-6
    kv_heads: int | None = None  # grouped-query attention: fewer key/value heads (None: as many)

    @property
    def kv_hidden(self) -> int:
        """The width of the key and value projections."""
        return self.hidden * (self.kv_heads or self.heads) // self.heads


LLAMA_7B = DecoderConfig(layers=32, hidden=4096, mlp=11008, heads=32, vocab=32000)
LLAMA_13B = DecoderConfig(layers=40, hidden=5120, mlp=13824, heads=40, vocab=32000)
LLAMA_70B = DecoderConfig(layers=80, hidden=8192, mlp=28672, heads=64, vocab=128256, kv_heads=8)
LLAMA_405B = DecoderConfig(layers=126, hidden=16384, mlp=53248, heads=128, vocab=128256, kv_heads=8)


def decoder_param_count(config: DecoderConfig) -> int:
    """Distinct parameters of ``Decoder(config)``, by formula."""
    h, m, kv = config.hidden, config.mlp, config.kv_hidden
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * m + 2 * h  # q/o, k/v, gate/up/down, two norms
    head = 0 if config.tie_embeddings else config.vocab * h
    return config.layers * per_layer + config.vocab * h + h + head


class RMSNorm(nn.Module):
    def __init__(self, hidden: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (x.float() * scale).to(x.dtype) * self.weight


class Attention(nn.Module):
    """Causal self-attention without rotary embeddings."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        h = config.hidden
        self.heads = config.heads
        self.kv_heads = config.kv_heads or config.heads
        self.q_proj = nn.Linear(h, h, bias=False)
        self.k_proj = nn.Linear(h, config.kv_hidden, bias=False)
        self.v_proj = nn.Linear(h, config.kv_hidden, bias=False)
        self.o_proj = nn.Linear(h, h, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, hidden = x.shape
        width = hidden // self.heads
        q = self.q_proj(x).view(batch, seq, self.heads, width).transpose(1, 2)
        k = self.k_proj(x).view(batch, seq, self.kv_heads, width).transpose(1, 2)
        v = self.v_proj(x).view(batch, seq, self.kv_heads, width).transpose(1, 2)
        grouped = self.kv_heads != self.heads
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=grouped)
        return self.o_proj(y.transpose(1, 2).reshape(batch, seq, hidden))


class SwiGLU(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden, config.mlp, bias=False)
        self.up_proj = nn.Linear(config.hidden, config.mlp, bias=False)
        self.down_proj = nn.Linear(config.mlp, config.hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.input_norm = RMSNorm(config.hidden, config.eps)
        self.attn = Attention(config)
        self.post_attn_norm = RMSNorm(config.hidden, config.eps)
        self.mlp = SwiGLU(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.input_norm(x))
        return x + self.mlp(self.post_attn_norm(x))


class Decoder(nn.Module):
    """Token ids (batch, seq) in, logits (batch, seq, vocab) out."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab, config.hidden)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.layers))
        self.norm = RMSNorm(config.hidden, config.eps)
        self.lm_head = nn.Linear(config.hidden, config.vocab, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def decoder(config: DecoderConfig, device: str | torch.device | None = None) -> Decoder:
    """Build ``Decoder(config)`` in eval mode, under ``torch.device(device)`` when given."""
    if device is None:
        return Decoder(config).eval()
    with torch.device(device):
        return Decoder(config).eval()
