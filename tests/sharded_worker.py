"""One rank of tests/test_sharded.py: ``python sharded_worker.py RANK WORLD PORT OUT.json``.

Joins a gloo group on 127.0.0.1, summarizes an FSDP2-sharded model and a
DistributedDataParallel one next to their unsharded twin (same seed, same architecture) on
both observation paths, notes whether the model was left as it was and still trains, and
writes what it saw as JSON for the test to judge. It asserts nothing itself.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from typing import Any

import torch
import torch.distributed as dist
import torch.nn as nn
import torchsummary
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel

from torchsummary_plus import compare, summary_string

TITLE = "Corrected by torchsummary_plus"


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width // 2)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(width // 2, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(x)))


class Net(nn.Module):
    """stem, two blocks, a BatchNorm (buffers), a head, and a layer never called."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Linear(6, 8)
        self.blocks = nn.ModuleList([Block(8), Block(8)])
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)
        self.spare = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class Tied(nn.Module):
    """The output layer's weight is the embedding's: one parameter in two registries."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.mid = nn.Sequential(nn.Linear(4, 4), nn.Tanh())
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.mid(self.emb(x)))


def make_tied() -> Tied:
    torch.manual_seed(0)
    return Tied()


def sharded_tied() -> Tied:
    model = make_tied()
    fully_shard(model.mid)
    fully_shard(model)  # the root: emb and out, sharing their weight
    return model


def make() -> Net:
    torch.manual_seed(0)
    return Net()


def sharded(reshard_after_forward: bool = True) -> Net:
    model = make()
    for block in model.blocks:
        fully_shard(block, reshard_after_forward=reshard_after_forward)
    fully_shard(model.head)
    fully_shard(model)  # the root: stem, norm and spare
    return model


def local(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.to_local() if isinstance(tensor, DTensor) else tensor


def state(model: nn.Module) -> list[Any]:
    """What must survive the summary: each registry entry (by identity), its local shard's
    storage address, and the shard's bits (a copy)."""
    found = []
    for module_name, module in model.named_modules():
        for registry in (module._parameters, module._buffers):
            for name, tensor in registry.items():
                if tensor is None:  # (bias=False)
                    continue
                shard = local(tensor)
                found.append((f"{module_name}.{name}", tensor, type(tensor).__name__,
                              shard.untyped_storage().data_ptr(), shard.detach().clone()))
    return found


def unchanged(before: list[Any], after: list[Any]) -> list[str]:
    """The entries that differ (empty when none does)."""
    differ = []
    for (name, t1, kind1, ptr1, bits1), (_, t2, kind2, ptr2, bits2) in zip(before, after, strict=True):
        if t1 is not t2 or kind1 != kind2 or ptr1 != ptr2 or not torch.equal(bits1, bits2):
            differ.append(name)
    return differ


def summaries(
    model: nn.Module, twin: nn.Module, layouts: tuple[str, ...] = ("pypi", "master"), **extra: Any
) -> dict[str, Any]:
    """Both paths, each layout: the sharded model's text twice, the twin's, the figures."""
    seen: dict[str, Any] = {}
    for path, reference in (("fast", "0"), ("reference", "1")):
        os.environ["TORCHSUMMARY_PLUS_REFERENCE"] = reference
        for layout in layouts:
            before = state(model)
            call = {"input_size": (6,), "device": "cpu", "layout": layout, **extra}
            text, result = summary_string(model, **call)
            again, _ = summary_string(model, **call)
            twin_text, twin_result = summary_string(twin, **call)
            seen[f"{path} {layout}"] = {
                "text": text, "again": again, "twin_text": twin_text,
                "figures": result.to_dict(), "twin_figures": twin_result.to_dict(),
                "changed": unchanged(before, state(model)),
            }
    return seen


def trains_like_twin(model: nn.Module, twin: nn.Module) -> bool:
    """One training step's loss equals the twin's, and backward runs."""
    torch.manual_seed(1)
    x = torch.randn(4, 6)
    losses = []
    for each in (model, twin):
        loss = each(x).square().mean()
        loss.backward()
        losses.append(loss.detach())
    return bool(torch.allclose(losses[0], losses[1]))


def torchsummary_text(model: nn.Module) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        torchsummary.summary(model, (6,), device="cpu")
    return out.getvalue()


def main(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        model, twin = sharded(), make()
        report: dict[str, Any] = {"fsdp": summaries(model, twin)}
        before = state(model)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):  # runs the installed torchsummary too
            compare(model, (6,), device="cpu")
        report["fsdp compare"] = printed.getvalue()
        report["fsdp compare changed"] = unchanged(before, state(model))
        report["fsdp trains"] = trains_like_twin(model, twin)  # after the summaries and compare
        before = state(model)
        try:
            summary_string(model, (6,), device="meta")
            report["fsdp meta"] = None
        except Exception as error:
            report["fsdp meta"] = [type(error).__name__, str(error)]
        report["fsdp meta changed"] = unchanged(before, state(model))
        # the blocks keep their unsharded parameters between forward and backward
        report["fsdp blocks not resharded"] = summaries(sharded(False), make(), ("pypi",))
        report["fsdp tied"] = summaries(sharded_tied(), make_tied(), ("pypi", "tree"),
                                        input_size=(3,), dtypes=[torch.long])
        ddp, twin = DistributedDataParallel(make(), find_unused_parameters=True), make()
        report["ddp"] = summaries(ddp, twin)
        ddp_text, _ = summary_string(ddp, (6,), device="cpu", layout="pypi")
        report["ddp plus vs torchsummary"] = [ddp_text, torchsummary_text(ddp)]
        report["ddp trains"] = trains_like_twin(ddp, twin)
    finally:
        dist.destroy_process_group()
    with open(out, "w") as file:
        json.dump(report, file)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
