"""Sharded models: FSDP2 (``fully_shard``, DTensor parameters) and DistributedDataParallel on
2 gloo processes on 127.0.0.1 (tests/sharded_worker.py, one per rank), and DeepSpeed ZeRO-3's
``ds_numel`` with a fake parameter (deepspeed is never imported).

The worker's model, ``Net``, counted by hand:
    stem   Linear(6, 8)        6*8 + 8 = 56      (the root's: FSDP root group)
    blocks 2 x Block(8):  fc1 Linear(8, 4) 32 + 4 = 36, fc2 Linear(4, 8) 32 + 8 = 40: 152
    norm   BatchNorm1d(8)      8 + 8 = 16        (the root's)
    head   Linear(8, 3)        24 + 3 = 27
    spare  Linear(8, 5)        40 + 5 = 45       (the root's, never called)
    unique 296, used 296 - 45 = 251; float32, so 1,184 and 1,004 bytes.
FSDP2 cuts dim 0 of each parameter as torch.chunk does: rank 0 takes ceil(n / 2) rows,
rank 1 the rest. Rank 0 / rank 1 hold:
    stem   w 8x6: 24 / 24, b 8: 4 / 4                 28 / 28
    blocks fc1 w 4x8: 16/16, b: 2/2; fc2 w 8x4: 16/16, b: 4/4; twice   76 / 76
    norm   w: 4 / 4, b: 4 / 4                           8 / 8
    head   w 3x8: 2 rows = 16 / 1 row = 8, b 3: 2 / 1  18 / 9
    spare  w 5x8: 3 rows = 24 / 2 rows = 16, b 5: 3 / 2 27 / 18
    total  157 / 139 (157 + 139 = 296), bytes 628 / 556.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from torchsummary_plus import summary_string

WORKER = Path(__file__).with_name("sharded_worker.py")
TITLE = "Corrected by torchsummary_plus"
HELD = {0: (157, 628), 1: (139, 556)}  # (parameters, bytes) per rank, from the docstring
RUNS = ("fast pypi", "fast master", "reference pypi", "reference master")

distributed = pytest.mark.skipif(
    not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
    reason="torch.distributed with the gloo backend is not available in this torch build",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """Both ranks' reports: two worker processes, ended after 120 s at the latest."""
    folder = tmp_path_factory.mktemp("sharded")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", str(port), str(folder / f"{rank}.json")],
            cwd=WORKER.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    for rank, (worker, output) in enumerate(zip(workers, outputs, strict=True)):
        assert worker.returncode == 0, f"rank {rank} failed:\n{output}"
    return {rank: json.loads((folder / f"{rank}.json").read_text()) for rank in (0, 1)}


def _is_twin_plus_rank_line(seen: dict, line: str) -> list[str]:
    """Asserts the rank's text is the unsharded twin's with ``line`` added; returns its lines."""
    lines = seen["text"].splitlines()
    assert line in lines
    assert [text for text in lines if text != line] == seen["twin_text"].splitlines()
    return lines


def _rank_line(rank: int) -> str:
    return f"This rank holds (rank {rank} of 2): {HELD[rank][0]} parameters, 0.00 MB"


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", RUNS)
def test_fsdp_prints_the_unsharded_twins_summary_and_this_ranks_share(reports, rank, run):
    seen = reports[rank]["fsdp"][run]
    lines = seen["text"].splitlines()
    estimate = next(i for i, line in enumerate(lines) if line.startswith("Estimate: "))
    # one line more than the twin's: this rank's share, right below the figures
    assert lines[estimate + 1] == _rank_line(rank)
    assert lines[:estimate + 1] + lines[estimate + 2:] == seen["twin_text"].splitlines()
    block = lines[lines.index(next(line for line in lines if line.startswith(TITLE))):]
    assert max(map(len, block)) <= 100
    figures, twin = seen["figures"], seen["twin_figures"]
    assert (figures.pop("rank_held_params"), figures.pop("rank_held_params_bytes")) == HELD[rank]
    assert (twin.pop("rank_held_params"), twin.pop("rank_held_params_bytes")) == (None, None)
    assert figures == twin
    assert (figures["unique_params"], figures["used_params"]) == (296, 251)
    assert (figures["unique_params_bytes"], figures["used_params_bytes"]) == (1184, 1004)
    assert figures["unused_modules"] == ["spare"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", RUNS)
def test_fsdp_shards_are_untouched_and_the_model_still_trains(reports, rank, run):
    seen = reports[rank]["fsdp"][run]
    # every registry entry the same object, a DTensor still, its shard at the same address
    # with the same bits; buffers (BatchNorm's running statistics) too
    assert seen["changed"] == []
    assert seen["again"] == seen["text"]  # a second summary finds the model as the first did
    assert reports[rank]["fsdp trains"]  # a training step's loss equals the twin's


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", ["fast pypi", "reference pypi"])
def test_fsdp_without_reshard_after_forward(reports, rank, run):
    seen = reports[rank]["fsdp blocks not resharded"][run]
    _is_twin_plus_rank_line(seen, _rank_line(rank))
    assert seen["changed"] == [] and seen["again"] == seen["text"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", ["fast pypi", "reference pypi"])
def test_fsdp_tied_weight_is_a_shared_row_as_in_the_twin(reports, rank, run):
    seen = reports[rank]["fsdp tied"][run]
    # emb 10x4 = 40 (out's weight too), mid Linear(4, 4) 16 + 4 = 20: 60 once, 100 in the
    # table. Rank 0 / 1 hold emb rows 5 / 5 = 20 / 20 and mid w 2 rows = 8 / 8, b 2 / 2: 30 / 30
    line = f"This rank holds (rank {rank} of 2): 30 parameters, 0.00 MB"
    lines = _is_twin_plus_rank_line(seen, line)
    assert "[1] Linear-4 repeats the parameters of Embedding-1 (module out): 40 counted twice above" in lines
    assert (seen["figures"]["total_params"], seen["figures"]["unique_params"]) == (100, 60)
    assert seen["changed"] == [] and seen["again"] == seen["text"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", ["fast tree", "reference tree"])
def test_fsdp_tree_layout_is_the_twins(reports, rank, run):
    seen = reports[rank]["fsdp tied"][run]
    line = f"This rank holds (rank {rank} of 2): 30 parameters, 0.00 MB"
    # the model's line names its own class, Tied, not the FSDPTied fully_shard made
    lines = _is_twin_plus_rank_line(seen, line)
    assert any(text.startswith("Tied ") for text in lines)
    assert seen["changed"] == [] and seen["again"] == seen["text"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
def test_fsdp_compare_runs_torchsummary_and_leaves_the_shards(reports, rank):
    printed = reports[rank]["fsdp compare"]
    # torchsummary names rows by the class FSDP2 made up: the check shows that difference,
    # first at the first sharded block's row (line 8: 3 header lines, then Linear-1..Block-5)
    assert "torchsummary check: the tables differ; first at line 8:" in printed
    assert "  torchsummary_plus: '             Block-5  " in printed
    assert "  torchsummary:      '         FSDPBlock-5  " in printed
    # its forward pass leaves the root unsharded: resharded, the shards as they were
    assert reports[rank]["fsdp compare changed"] == []
    assert reports[rank]["fsdp trains"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
def test_fsdp_on_meta_is_refused_before_anything_runs(reports, rank):
    kind, message = reports[rank]["fsdp meta"]
    assert kind == "ValueError"
    assert message.startswith("device='meta' cannot run a model sharded with FSDP2")
    assert "expected the device its shards are on" in message
    assert reports[rank]["fsdp meta changed"] == []


@distributed
@pytest.mark.parametrize("rank", [0, 1])
@pytest.mark.parametrize("run", RUNS)
def test_ddp_keeps_working(reports, rank, run):
    seen = reports[rank]["ddp"][run]
    figures, twin = seen["figures"], seen["twin_figures"]
    for name in ("unique_params", "used_params", "unique_params_bytes", "used_params_bytes",
                 "saved_activation_bytes", "input_bytes"):
        assert figures[name] == twin[name], name
    assert (figures["unique_params"], figures["used_params"]) == (296, 251)
    assert figures["unused_modules"] == ["module.spare"]  # DDP holds the model as `module`
    assert figures["rank_held_params"] is None  # replicated: nothing is sharded
    assert seen["changed"] == [] and seen["again"] == seen["text"]
    assert reports[rank]["ddp trains"]


@distributed
@pytest.mark.parametrize("rank", [0, 1])
def test_ddp_table_is_torchsummarys(reports, rank):
    plus, torchsummary = reports[rank]["ddp plus vs torchsummary"]
    assert plus[:plus.index(TITLE)] == torchsummary


class ZeroThree(nn.Module):
    """A layer as DeepSpeed ZeRO-3 leaves it between passes (``sharded``): empty tensors
    carrying their global size in ``ds_numel``, the weight with a local partition of 35 in
    ``ds_tensor``; or its unsharded twin with real 7x10 and 7 tensors."""

    def __init__(self, sharded: bool) -> None:
        super().__init__()
        if sharded:
            self.weight = nn.Parameter(torch.empty(0))
            self.weight.ds_numel = 70
            self.weight.ds_tensor = torch.zeros(35)
            self.bias = nn.Parameter(torch.empty(0))
            self.bias.ds_numel = 7
        else:
            self.weight = nn.Parameter(torch.zeros(7, 10))
            self.bias = nn.Parameter(torch.zeros(7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight.sum() + self.bias.sum()


def test_ds_numel_is_counted_without_deepspeed():
    assert "deepspeed" not in sys.modules
    model, unsharded = (nn.Sequential(ZeroThree(sharded), nn.Linear(4, 2)) for sharded in (True, False))
    text, result = summary_string(model, (4,), device="cpu", layout="pypi")
    twin_text, twin = summary_string(unsharded, (4,), device="cpu", layout="pypi")
    # ZeroThree 70 + 7 = 77, Linear 4*2 + 2 = 10: 87 in all, float32: 348 bytes
    assert (result.total_params, result.unique_params, result.used_params) == (87, 87, 87)
    assert result.unique_params_bytes == 348
    # held here: the weight's partition 35, the bias nothing, the Linear all 10: 45, 180 bytes
    assert (result.rank_held_params, result.rank_held_params_bytes) == (45, 180)
    assert (twin.rank_held_params, twin.rank_held_params_bytes) == (None, None)
    lines = text.splitlines()
    assert "This rank holds (of 1 rank): 45 parameters, 0.00 MB" in lines
    assert [line for line in lines if not line.startswith("This rank holds")] == twin_text.splitlines()
    assert "deepspeed" not in sys.modules
