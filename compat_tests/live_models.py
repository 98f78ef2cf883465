"""Models that torchsummary 1.5.1 summarises without crashing, for side-by-side comparison.

Each entry of CASES is a ``LiveCase``. Factories take no argument; the tests seed torch
before calling one, so two calls build identical models.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F


class LiveCase(NamedTuple):
    name: str
    make: Callable[[], nn.Module]
    input_size: Any
    batch_size: int = -1
    plus_dtypes: Sequence[Any] | None = None  # dtypes given to torchsummary_plus only


# ---------------------------------------------------------------- convolutional


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10),
    )


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn plus a shortcut (1x1 conv when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNetish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 16, 2), BasicBlock(16, 32, 2))
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.layers(self.stem(x))), 1))


def depthwise_separable() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(4), nn.ReLU6(),
        nn.Conv2d(4, 12, 1), nn.BatchNorm2d(12), nn.Hardswish(),
        nn.Conv2d(12, 12, 5, stride=2, padding=2, groups=12),
    )


def conv_transpose_decoder() -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), nn.Tanh(),
    )


def pooling_upsampling() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 3, 1), nn.MaxPool2d(2), nn.AvgPool2d(3, stride=1, padding=1),
        nn.Upsample(scale_factor=2, mode="nearest"), nn.UpsamplingBilinear2d(scale_factor=2),
        nn.AdaptiveMaxPool2d((5, 7)), nn.PixelShuffle(1), nn.ZeroPad2d((1, 2, 0, 3)),
    )


def conv1d_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv1d(4, 6, 5), nn.BatchNorm1d(6), nn.ELU(), nn.MaxPool1d(2),
        nn.Conv1d(6, 6, 3, dilation=2), nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(24, 3),
    )


def conv3d_net() -> nn.Module:
    return nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2))


def norm_zoo() -> nn.Module:
    # InstanceNorm2d without affine has weight None: 0 params, and no "trainable" entry
    return nn.Sequential(
        nn.Conv2d(3, 8, 1), nn.GroupNorm(2, 8), nn.InstanceNorm2d(8),
        nn.InstanceNorm2d(8, affine=True), nn.LayerNorm([8, 6, 6]), nn.LocalResponseNorm(2),
    )


def big_input_conv() -> nn.Module:
    """A cheap model on a 3x224x224 input, so the MB figures are large and rounded."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 2, 3, stride=4))


def eval_mode_cnn() -> nn.Module:
    return small_cnn().eval()


# ---------------------------------------------------------------- recurrent and attention


class GRUHead(nn.Module):
    """The GRU row shows its (output, h_n) pair; both are tensors of rank 3."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(6, 10, batch_first=True)
        self.fc = nn.Linear(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.fc(out[:, -1])


class BiRNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(5, 7, num_layers=2, bidirectional=True, nonlinearity="relu")
        self.fc = nn.Linear(14, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out)


class LSTMOutput(nn.LSTM):
    """An LSTM that returns its output sequence only (a plain nn.LSTM crashes torchsummary)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = LSTMOutput(8, 16, batch_first=True)  # no `weight`: torchsummary counts 0
        self.drop = nn.Dropout(0.1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(self.lstm(x))[:, -1])


class LinearSelfAttention(nn.Module):
    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.scale = dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) * self.scale, dim=-1)
        return self.out(weights @ self.v(x))


class TransformerBlock(nn.Module):
    """Multi-head attention from Linear layers, LayerNorm, feed-forward, residuals."""

    def __init__(self, dim: int = 24, heads: int = 3) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.ff(self.norm2(x))


class EmbeddingBag(nn.Module):
    """Float inputs are turned into ids, so torchsummary (float only) can run it too;
    torchsummary_plus is given integer inputs through dtypes."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 12, padding_idx=0)
        self.fc = nn.Linear(12, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fc(self.emb((ids * 49).long()).mean(1))


# ---------------------------------------------------------------- parameters: frozen, shared, odd


class FrozenBackbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = small_cnn()[:7]
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
        for p in self.backbone.parameters():
            p.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def frozen_weight_trainable_bias() -> nn.Module:
    """torchsummary decides a row's trainability by its weight alone."""
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    model[0].weight.requires_grad = False
    model[2].bias.requires_grad = False
    return model


class CalledTwice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.fc(x)))


class TwoParents(nn.Module):
    """One Linear held by two parents: model.apply reaches it twice, so two rows per call."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(4, 4)
        self.left = nn.Sequential(shared, nn.ReLU())
        self.right = nn.Sequential(nn.Tanh(), shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.right(self.left(x))


class TwoNamesOneParent(nn.Module):
    """One Linear under two names of the same parent: reached once, one row per call."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = self.a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x))


class Unused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(10, 5)
        self.spare = nn.Linear(10, 5)
        self.spare_block = nn.Sequential(nn.Conv2d(1, 1, 3), nn.BatchNorm2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


class BufferWeight(nn.Module):
    """`weight` is a buffer: torchsummary counts it, and as non-trainable."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", torch.randn(3, 6))
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class AttributeWeight(nn.Module):
    """`weight` is a plain tensor attribute, neither parameter nor buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.randn(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t()


class BiasOnly(nn.Module):
    """A bias without a weight: counted in the total, never in the trainable figure."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.ones(6))
        self.scale = nn.Parameter(torch.ones(6))  # not named weight/bias: not counted

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.bias


class OddParams(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.buffer_weight = BufferWeight()
        self.attribute_weight = AttributeWeight()
        self.bias_only = nn.Sequential(nn.Linear(4, 6), BiasOnly())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias_only(self.attribute_weight(self.buffer_weight(x)))


class NestedModules(nn.Module):
    """Custom modules inside custom modules: a parent's row follows its children's."""

    class Inner(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(6, 6)
            self.act = nn.SiLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.fc(x))

    class Middle(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = NestedModules.Inner()
            self.stack = nn.ModuleList([NestedModules.Inner(), NestedModules.Inner()])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.inner(x)
            for block in self.stack:
                x = block(x)
            return x

    def __init__(self) -> None:
        super().__init__()
        self.middle = self.Middle()
        self.heads = nn.ModuleDict({"a": nn.Linear(6, 2), "b": nn.Linear(6, 3)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.middle(x)
        return torch.cat([self.heads["a"](x), self.heads["b"](x)], dim=1)


class AVeryLongCustomModuleNameForTheTable(nn.Module):
    """A class name over 20 characters and a shape cell over 25: the columns overflow."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 64, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y * 2


class LongNames(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = AVeryLongCustomModuleNameForTheTable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.block(x)
        return a + b


def activation_zoo() -> nn.Module:
    return nn.Sequential(
        nn.Linear(12, 12), nn.GELU(), nn.SiLU(), nn.Tanh(), nn.Sigmoid(), nn.Dropout(0.5),
        nn.LeakyReLU(0.2), nn.PReLU(), nn.Softmax(dim=-1), nn.Identity(), nn.Hardtanh(),
    )


def wide_linears() -> nn.Module:
    """Millions of parameters: thousands separators and a Params size above 1 MB."""
    return nn.Sequential(nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 1000))


# ---------------------------------------------------------------- inputs and outputs


class TwoImages(nn.Module):
    """Two inputs of the same rank: torchsummary multiplies all their dims together."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3)
        self.b = nn.Conv2d(3, 4, 5)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.a(x).mean((2, 3)) + self.b(y).mean((2, 3))


class ThreeVectors(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(35, 4)

    def forward(self, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.cat([a, b, c], dim=1))


class Split(nn.Module):
    """Returns a tuple of `parts` tensors of equal rank."""

    def __init__(self, parts: int) -> None:
        super().__init__()
        self.parts = parts

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.chunk(x, self.parts, dim=1)


class TupleOutputs(nn.Module):
    """Tuple rows: np.prod of [[-1, a], [-1, b]] is positive, of three shapes negative."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 3000)
        self.two = Split(2)
        self.three = Split(3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        a, b = self.two(h)
        c, d, e = self.three(h)
        return a + b, c + d + e


class Int64Wrap(nn.Module):
    """np.prod of six [-1, 3001] shapes is 3001**6 > 2**63: numpy's int64 wraps around."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 6 * 3001)
        self.six = Split(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.six(self.fc(x))).sum(0)


Halves = namedtuple("Halves", "first second")


class NamedTupleSplit(nn.Module):
    def forward(self, x: torch.Tensor) -> Halves:
        return Halves(x[:, :3], x[:, 3:])


class NamedTupleChild(nn.Module):
    """A child returning a namedtuple of equal-rank tensors: torchsummary handles it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 8)
        self.split = NamedTupleSplit()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        halves = self.split(self.fc(x))
        return halves.first.sum(1) + halves.second.sum(1)


class ListOutput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = self.fc(x)
        return [y, y + 1, y * 2, y - 1]


class ListOutputParent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lists = ListOutput()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.lists(x)).sum(0)


class BatchReshape(nn.Module):
    """A layer that folds the batch into another dimension: the first shown dim is still -1."""

    def __init__(self) -> None:
        super().__init__()
        self.flat = nn.Flatten(0)
        self.fc = nn.Linear(2 * 3 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flat(x).view(1, -1))


class TiedWeights(nn.Module):
    """Two layers sharing one weight (own biases): torchsummary counts it in both rows."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(8, 8)
        self.second = nn.Linear(8, 8)
        self.second.weight = self.first.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.relu(self.first(x)))


class ResidualSequential(nn.Sequential):
    """A Sequential subclass with its own forward: torchsummary never hooks Sequentials."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def sequential_subclass() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 6), ResidualSequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 6)), nn.Linear(6, 2)
    )


class UserHook(nn.Module):
    """A hook of the user's own replaces the conv's output before the summary's hook sees it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(2 * 6 * 6, 2)
        self.conv.register_forward_hook(lambda module, args, output: output.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x))


class EmptyAndScalarTuples(nn.Module):
    """() shows as [] and (scalar, scalar) as [[-1], [-1]]: np.prod gives 1 for both."""

    class Nothing(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[()]:
            return ()

    class Stats(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x.mean(), x.std()

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.nothing = self.Nothing()
        self.stats = self.Stats()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc(x)
        self.nothing(y)
        mean, std = self.stats(y)
        return (y - mean) / std


def affine_free_norms() -> nn.Module:
    # weight and bias None, then a weight without a bias
    return nn.Sequential(
        nn.Linear(8, 8), nn.LayerNorm(8, elementwise_affine=False), nn.LayerNorm(8, bias=False),
        nn.BatchNorm1d(8, affine=False),
    )


def spectral_normed() -> nn.Module:
    """The old-style spectral_norm sets `weight` as a plain tensor before each call."""
    return nn.Sequential(nn.utils.spectral_norm(nn.Linear(5, 7)), nn.ReLU(), nn.Linear(7, 1))


def data_parallel() -> nn.Module:
    """DataParallel without GPUs calls its module directly: the wrapper is the unhooked root."""
    return nn.DataParallel(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))


class ListedTwice(nn.Module):
    """One Linear at two places of a ModuleList: reached once by model.apply, run twice."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(3, 3)
        self.blocks = nn.ModuleList([shared, nn.ReLU(), shared])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


CASES: list[LiveCase] = [
    LiveCase("small_cnn", small_cnn, (3, 16, 16)),
    LiveCase("small_cnn_batch16", small_cnn, (3, 16, 16), 16),
    LiveCase("eval_mode_cnn", eval_mode_cnn, (3, 12, 12)),
    LiveCase("basic_block", lambda: BasicBlock(4, 8, 2), (4, 10, 10)),
    LiveCase("resnetish", ResNetish, (3, 32, 32)),
    LiveCase("resnetish_batch16", ResNetish, (3, 16, 16), 16),
    LiveCase("depthwise_separable", depthwise_separable, (4, 15, 15)),
    LiveCase("conv_transpose", conv_transpose_decoder, (16, 5, 5)),
    LiveCase("pooling_upsampling", pooling_upsampling, (2, 12, 12)),
    LiveCase("conv1d", conv1d_net, (4, 40)),
    LiveCase("conv3d", conv3d_net, (1, 6, 8, 8)),
    LiveCase("norm_zoo", norm_zoo, (3, 6, 6)),
    LiveCase("big_input", big_input_conv, (3, 224, 224)),
    LiveCase("gru_head", GRUHead, (9, 6)),
    LiveCase("birnn", BiRNN, (4, 5)),
    LiveCase("lstm_output", LSTMClassifier, (7, 8)),
    LiveCase("self_attention", LinearSelfAttention, (10, 16)),
    LiveCase("transformer_block", TransformerBlock, (6, 24)),
    LiveCase("transformer_block_batch16", TransformerBlock, (5, 24), 16),
    LiveCase("embedding_ids", EmbeddingBag, (7,), -1, [torch.LongTensor]),
    LiveCase("frozen_backbone", FrozenBackbone, (3, 8, 8)),
    LiveCase("frozen_weight_trainable_bias", frozen_weight_trainable_bias, (6,)),
    LiveCase("called_twice", CalledTwice, (8,)),
    LiveCase("two_parents", TwoParents, (4,)),
    LiveCase("two_names_one_parent", TwoNamesOneParent, (4,)),
    LiveCase("unused", Unused, (10,)),
    LiveCase("odd_params", OddParams, (6,)),
    LiveCase("nested_modules", NestedModules, (6,)),
    LiveCase("long_names", LongNames, (2, 4, 4)),
    LiveCase("activation_zoo", activation_zoo, (12,)),
    LiveCase("wide_linears", wide_linears, (1024,)),
    LiveCase("two_images", TwoImages, [(3, 9, 9), (3, 13, 11)]),
    LiveCase("three_vectors", ThreeVectors, [(10,), (20,), (5,)]),
    LiveCase("three_vectors_batch16", ThreeVectors, [(10,), (20,), (5,)], 16),
    LiveCase("tuple_outputs", TupleOutputs, (6,)),
    LiveCase("tuple_outputs_batch16", TupleOutputs, (6,), 16),
    LiveCase("int64_wrap", Int64Wrap, (2,)),
    LiveCase("namedtuple_child", NamedTupleChild, (5,)),
    LiveCase("list_output", ListOutputParent, (3,)),
    LiveCase("batch_reshape", BatchReshape, (3, 4)),
    LiveCase("tied_weights", TiedWeights, (8,)),
    LiveCase("sequential_subclass", sequential_subclass, (6,)),
    LiveCase("user_hook", UserHook, (1, 8, 8)),
    LiveCase("empty_and_scalar_tuples", EmptyAndScalarTuples, (4,)),
    LiveCase("affine_free_norms", affine_free_norms, (8,)),
    LiveCase("lists_as_shapes", TwoImages, [[3, 9, 9], [3, 13, 11]]),
    LiveCase("small_cnn_batch1", small_cnn, (3, 8, 8), 1),
    LiveCase("data_parallel", data_parallel, (4,)),
    LiveCase("listed_twice", ListedTwice, (3,)),
]
