"""Three models at real-model scale, built here (no weights, no downloads), for the goldens of
the block, the footnotes, the compare table and the JSON.

- ``AlbertLike``: one layer shared by 12 calls, laid out as Hugging Face's ALBERT names it;
- ``ENetLike``: 100 small bottlenecks each running one PReLU three times (300 PReLU rows),
  and downsampling blocks returning (output, indices) tuples, as ENet does;
- ``llama_70b``: a LLaMA-70B-shaped decoder (80 layers, hidden 8192, 64 heads, 8 KV heads,
  vocabulary 128,256) built on meta: 70,553,706,496 parameters.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# --- ALBERT-like ----------------------------------------------------------------------
HIDDEN, EMBED, VOCAB, FFN, LAYERS = 16, 8, 100, 32, 12


class AlbertAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.dense = nn.Linear(HIDDEN, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.query(x), self.key(x), self.value(x)
        attended = torch.softmax(q @ k.transpose(-1, -2) / HIDDEN**0.5, dim=-1) @ v
        return self.LayerNorm(x + self.dense(attended))


class AlbertLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attention = AlbertAttention()
        self.ffn = nn.Linear(HIDDEN, FFN)
        self.ffn_output = nn.Linear(FFN, HIDDEN)
        self.full_layer_layer_norm = nn.LayerNorm(HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention(x)
        return self.full_layer_layer_norm(x + self.ffn_output(F.gelu(self.ffn(x))))


class AlbertLayerGroup(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.albert_layers = nn.ModuleList([AlbertLayer()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.albert_layers:
            x = layer(x)
        return x


class AlbertEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding_hidden_mapping_in = nn.Linear(EMBED, HIDDEN)
        self.albert_layer_groups = nn.ModuleList([AlbertLayerGroup()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embedding_hidden_mapping_in(x)
        for _ in range(LAYERS):  # one group, shared by every layer
            x = self.albert_layer_groups[0](x)
        return x


class AlbertLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(VOCAB, EMBED)
        self.encoder = AlbertEncoder()
        self.pooler = nn.Linear(HIDDEN, HIDDEN)
        self.classifier = nn.Linear(HIDDEN, 3)  # a head this forward never calls

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        # ids as floats, cast here: torchsummary 1.5.1 feeds float inputs only
        return torch.tanh(self.pooler(self.encoder(self.embeddings(ids.long()))[:, 0]))


# --- ENet-like ------------------------------------------------------------------------
CHANNELS, BOTTLENECKS = 4, 100


class Bottleneck(nn.Module):
    """ENet's regular bottleneck: one PReLU module applied three times."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(CHANNELS, CHANNELS, 1, bias=False)
        self.bn = nn.BatchNorm2d(CHANNELS)
        self.conv2 = nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, bias=False)
        self.prelu = nn.PReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.prelu(self.bn(self.conv1(x)))
        y = self.prelu(self.conv2(y))
        return self.prelu(x + y)


class Downsample(nn.Module):
    """ENet's downsampling bottleneck returns the pooled output and the pooling indices."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, return_indices=True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pool(x)


class ENetLike(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.initial = nn.Conv2d(3, CHANNELS, 3, padding=1)
        self.down = Downsample()
        self.stage = nn.Sequential(*[Bottleneck() for _ in range(BOTTLENECKS)])
        self.classifier = nn.Conv2d(CHANNELS, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, _ = self.down(self.initial(x))
        return self.classifier(self.stage(x))


# --- LLaMA-70B-shaped, on meta --------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class Attention(nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, hidden, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        q = self.q_proj(x).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        repeat = self.heads // self.kv_heads
        k, v = k.repeat_interleave(repeat, dim=1), v.repeat_interleave(repeat, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, s, -1))


class MLP(nn.Module):
    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inner, bias=False)
        self.up_proj = nn.Linear(hidden, inner, bias=False)
        self.down_proj = nn.Linear(inner, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int, inner: int) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(hidden)
        self.self_attn = Attention(hidden, heads, kv_heads)
        self.post_attention_layernorm = RMSNorm(hidden)
        self.mlp = MLP(hidden, inner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    def __init__(self, layers: int, hidden: int, heads: int, kv_heads: int, inner: int,
                 vocab: int) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, hidden)
        self.layers = nn.ModuleList(
            [DecoderLayer(hidden, heads, kv_heads, inner) for _ in range(layers)]
        )
        self.norm = RMSNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def llama_70b() -> Llama:
    with torch.device("meta"):
        return Llama(layers=80, hidden=8192, heads=64, kv_heads=8, inner=28672, vocab=128256)
