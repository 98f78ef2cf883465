"""The corrected block, its footnotes, the compare table and the JSON on models at real-model
scale (tests/large_models.py), against golden files in tests/golden_large/: the block has no
live peer. Regenerate with ``UPDATE_GOLDENS=1 python -m pytest tests/test_large_models.py``
and read the diff. The table above the block is the live torchsummary's, and the figures
that matter are worked out by hand here, so a golden cannot hide a wrong number."""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
from pathlib import Path

import pytest
import torch
import torchsummary

from large_models import AlbertLike, ENetLike, llama_70b
from torchsummary_plus import SummaryResult, summary_string
from torchsummary_plus._compare import comparison_table

GOLDEN = Path(__file__).with_name("golden_large")
UPDATE = os.environ.get("UPDATE_GOLDENS") == "1"
TITLE = "Corrected by torchsummary_plus"

CASES = {
    # name: (model factory, input size, dtypes, device, compared with the live torchsummary)
    "albert": (AlbertLike, (6,), None, "cpu", True),
    "enet": (ENetLike, (3, 32, 32), None, "cpu", True),
    "llama70b": (llama_70b, (16,), [torch.long], "meta", False),
}


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


@functools.lru_cache(maxsize=None)
def summarized(name: str) -> tuple[str, SummaryResult, str | None]:
    """(text, result, the live torchsummary's table or None) of one case, made once."""
    factory, size, dtypes, device, live = CASES[name]
    text, result = summary_string(factory(), size, device=device, dtypes=dtypes, layout="pypi")
    expected_table = None
    if live:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            torchsummary.summary(factory(), size, device=device)
        expected_table = printed.getvalue()
    return text, result, expected_table


@pytest.fixture(params=sorted(CASES))
def case(request):
    return (request.param, *summarized(request.param))


def test_goldens_of_block_compare_and_json(case):
    name, text, result, _ = case
    golden(f"{name}_block.txt", text[text.index(TITLE):])
    golden(f"{name}_compare.txt", comparison_table(result) + "\n")
    figures = {k: v for k, v in result.to_dict().items() if k != "rows"}
    golden(f"{name}_json.txt", json.dumps(figures, indent=2) + "\n")


def test_table_is_torchsummarys_and_every_block_line_fits(case):
    name, text, result, expected_table = case
    if expected_table is not None:
        assert text.startswith(expected_table + TITLE)
    block = text[text.index(TITLE):].splitlines()
    assert max(len(line) for line in block) <= 100
    rules = [i for i, line in enumerate(block) if set(line) == {"-"}]
    notes = block[rules[1] + 1:rules[2]] if len(rules) == 3 else []
    assert len(notes) <= 12
    assert max(len(line) for line in comparison_table(result).splitlines()) <= 100


def test_albert_like_figures_by_hand():
    text, result, _ = summarized("albert")
    # embeddings 100*8 = 800; mapping 8*16 + 16 = 144; the layer: query, key, value, dense
    # 4 * (16*16 + 16) = 1088, two LayerNorms 2 * 32, ffn 16*32 + 32 = 544, ffn_output
    # 32*16 + 16 = 528: 2224; pooler 16*16 + 16 = 272; classifier (never called) 16*3 + 3 = 51
    assert result.unique_params == 800 + 144 + 2224 + 272 + 51
    assert result.used_params == result.unique_params - 51
    assert result.total_params == 800 + 144 + 12 * 2224 + 272  # torchsummary: the layer 12 times
    assert result.unused_modules == ["classifier"]
    # the layer's 8 rows with parameters, in each of its 11 later calls: 88 rows, 11 * 2224
    assert len(result.shared_rows) == 88
    notes = text[text.index("[1]"):]
    assert notes.startswith("[1] encoder.albert_layer_groups.0 ran 12 times: the 88 rows")
    assert "; 24,464 counted again above\n" in notes
    assert "[2] Never used in this pass: classifier (51)\n" in notes


def test_enet_like_figures_by_hand():
    text, result, _ = summarized("enet")
    # initial 3*4*9 + 4 = 112; a bottleneck: conv1 4*4 = 16, bn 4 + 4, conv2 4*4*9 = 144,
    # prelu 1: 169, 100 of them; classifier 4*2 + 2 = 10. torchsummary counts each PReLU 3x.
    assert result.unique_params == 112 + 100 * 169 + 10
    assert result.total_params == result.unique_params + 100 * 2
    assert len(result.shared_rows) == 200
    # Row outputs, one sample: initial 4*32*32 float32 = 16384 B; MaxPool2d and Downsample each
    # (4*16*16 float32 + 4*16*16 int64) = 4096 + 8192 = 12288 B; each bottleneck 7 rows (conv1,
    # bn, prelu, conv2, prelu, prelu, itself) of 4*16*16 float32 = 7 * 4096 B; classifier
    # 2*16*16 float32 = 2048 B.
    assert result.activation_bytes == 16384 + 2 * 12288 + 100 * 7 * 4096 + 2048
    # torchsummary: 10.50 MB, multiplying the tuples' shapes and doubling
    assert "Forward/backward pass size (MB): 10.50\n" in text
    assert "[1] stage.*.prelu (100 modules) ran 3 times each: the 200 rows" in text


def test_llama_70b_figures_by_hand():
    text, result, _ = summarized("llama70b")
    # embed and head 128256*8192 = 1,050,673,152 each; a layer: q and o 8192^2 = 67,108,864
    # each, k and v 8192*1024 = 8,388,608 each, gate, up, down 8192*28672 = 234,881,024 each,
    # two norms 8192 each: 855,654,400; 80 layers; the final norm 8192.
    params = 2 * 1_050_673_152 + 80 * 855_654_400 + 8192
    assert params == 70_553_706_496
    assert result.unique_params == result.used_params == result.total_params == params
    assert "Total params: 70,553,706,496\n" in text
    assert "Parameters                                       70,553,706,496   70,553,706,496\n" in text
    # Row outputs, one sample of 16 tokens, float32: per layer 8 rows of 16*8192 (2 norms, q,
    # o, attention, down, MLP, the layer) = 8 * 524,288 B, k and v 16*1024 = 2 * 65,536 B,
    # gate and up 16*28672 = 2 * 1,835,008 B; embed and final norm 524,288 B each, the head
    # 16*128256*4 = 8,208,384 B.
    per_layer = 8 * 524_288 + 2 * 65_536 + 2 * 1_835_008
    assert result.activation_bytes == 80 * per_layer + 2 * 524_288 + 8_208_384
