"""Small models for the tree layout's tests and the README: a shared block run many times
(ALBERT's one layer), a language model whose head is tied to its embedding, a CNN with a
head that never runs."""
from __future__ import annotations

import torch
import torch.nn as nn


class AlbertLayer(nn.Module):
    """One transformer-like layer: attention as one projection, then a feed-forward."""

    def __init__(self, hidden: int = 16, mlp: int = 32) -> None:
        super().__init__()
        self.attention = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden)
        self.ffn = nn.Sequential(nn.Linear(hidden, mlp), nn.GELU(), nn.Linear(mlp, hidden))
        self.ffn_norm = nn.LayerNorm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x))
        return self.ffn_norm(x + self.ffn(x))


class TinyAlbert(nn.Module):
    """ALBERT's sharing: one layer (in a group, as ALBERT holds it) run ``runs`` times."""

    def __init__(self, vocab: int = 30, embedding: int = 8, hidden: int = 16, runs: int = 12) -> None:
        super().__init__()
        self.runs = runs
        self.embeddings = nn.Embedding(vocab, embedding)
        self.mapping = nn.Linear(embedding, hidden)
        self.layer_groups = nn.ModuleList([AlbertLayer(hidden)])
        self.pooler = nn.Linear(hidden, hidden)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.mapping(self.embeddings(ids))
        for _ in range(self.runs):
            x = self.layer_groups[0](x)
        return torch.tanh(self.pooler(x[:, 0]))


class TiedLM(nn.Module):
    """Embedding, two blocks, and a head that holds the embedding's weight."""

    def __init__(self, vocab: int = 40, hidden: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.blocks = nn.Sequential(
            *[nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU()) for _ in range(2)]
        )
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.embed(ids))))


class CnnUnusedHead(nn.Module):
    """Two conv stages and a classifier; ``aux_head`` is never called."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
            nn.Sequential(nn.Conv2d(4, 8, 3, stride=2), nn.ReLU()),
        )
        self.classifier = nn.Linear(8, 5)
        self.aux_head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


# name -> (constructor, input_size, dtypes)
TREE_MODELS = {
    "albert": (TinyAlbert, (6,), [torch.long]),
    "tied_lm": (TiedLM, (5,), [torch.long]),
    "cnn_unused_head": (CnnUnusedHead, (3, 8, 8), None),
}
