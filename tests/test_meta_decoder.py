"""A small LLaMA-shaped decoder (benchmarks/models.py) summarized on meta and on the CPU.

Configuration: 2 layers, hidden 64, MLP 176, 4 heads, vocab 100; input (16,) token ids.

Parameters, worked out by hand:
  per layer:  q, k, v, o          4 * 64 * 64   = 16,384
              gate, up, down      3 * 64 * 176  = 33,792
              two RMSNorm weights 2 * 64        =    128
                                                  50,304, times 2 layers = 100,608
  embedding   100 * 64 = 6,400
  final norm  64
  lm_head     64 * 100 = 6,400 (the embedding's tensor when tied)
  untied: 100,608 + 6,400 + 64 + 6,400 = 113,472
  tied:   100,608 + 6,400 + 64         = 107,072

torchsummary's naive total adds the `weight`/`bias` of every hooked module at each call;
RMSNorm has a `weight`, the custom containers (DecoderLayer, Attention, SwiGLU, Decoder)
have none. Every parameter sits on exactly one module called once, so the naive total is
113,472 in both cases: when tied, lm_head's weight is counted a second time.

Rows (pypi layout, the root is not hooked; hooks fire when a module returns):
  Embedding-1, then per layer 12 rows (RMSNorm, 4 Linear, Attention, RMSNorm, 3 Linear,
  SwiGLU, DecoderLayer), then RMSNorm-26 and Linear-27: 1 + 2 * 12 + 2 = 27 rows.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.models import DecoderConfig, decoder, decoder_param_count  # noqa: E402
from torchsummary_plus import summary, summary_string  # noqa: E402

SMALL = DecoderConfig(layers=2, hidden=64, mlp=176, heads=4, vocab=100)
SMALL_TIED = DecoderConfig(layers=2, hidden=64, mlp=176, heads=4, vocab=100, tie_embeddings=True)

UNTIED_UNIQUE = 113_472
TIED_UNIQUE = 107_072
NAIVE_TOTAL = 113_472  # both cases, see the module docstring
ROWS = 27


def _run(model: torch.nn.Module, device: str):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = summary(model, (16,), device=device, dtypes=[torch.LongTensor])
    return result, buffer.getvalue()


def test_formula_matches_hand_arithmetic():
    assert decoder_param_count(SMALL) == UNTIED_UNIQUE
    assert decoder_param_count(SMALL_TIED) == TIED_UNIQUE
    # LLaMA-7B: 32 * (4*4096*4096 + 3*4096*11008 + 2*4096) = 32 * 202,383,360 = 6,476,267,520
    # plus embedding 131,072,000, final norm 4,096, lm_head 131,072,000 = 6,738,415,616
    big = DecoderConfig(layers=32, hidden=4096, mlp=11008, heads=32, vocab=32000)
    assert decoder_param_count(big) == 6_738_415_616


@pytest.mark.parametrize(
    "config, unique",
    [(SMALL, UNTIED_UNIQUE), (SMALL_TIED, TIED_UNIQUE)],
    ids=["untied", "tied"],
)
@pytest.mark.parametrize("where", ["meta", "cpu"])
def test_figures(config, unique, where):
    model = decoder(config, device=where)
    assert sum(p.numel() for p in model.parameters()) == unique
    result, text = _run(model, where)
    assert result.unique_params == unique
    assert result.unique_trainable_params == unique
    assert result.used_params == unique
    assert result.unused_params == 0
    assert result.unique_params_bytes == unique * 4
    assert result.total_params == NAIVE_TOTAL
    assert result.trainable_params == NAIVE_TOTAL
    assert int(result[0]) == NAIVE_TOTAL
    assert len(result.rows) == ROWS
    assert result.rows[0].name == "Embedding-1"
    assert result.rows[-1].name == "Linear-27"
    assert result.rows[-1].output_shape == [-1, 16, 100]
    assert result.rows[-2].name == "RMSNorm-26"
    assert result.rows[-2].params == 64
    # one sample of 16 int64 ids: 16 * 8 = 128 bytes
    assert result.input_bytes == 128
    assert "Total params: 113,472" in text
    if config.tie_embeddings:
        assert result.shared_rows == {"Linear-27": "Embedding-1"}
    else:
        assert result.shared_rows == {}


@pytest.mark.parametrize("config", [SMALL, SMALL_TIED], ids=["untied", "tied"])
def test_meta_model_stays_on_meta(config):
    model = decoder(config, device="meta")
    _run(model, "meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    assert all(b.device.type == "meta" for b in model.buffers())
    assert model.lm_head.weight.is_meta
    if config.tie_embeddings:
        assert model.lm_head.weight is model.embed_tokens.weight
    assert not model.training


@pytest.mark.parametrize(
    "config, unique",
    [(SMALL, UNTIED_UNIQUE), (SMALL_TIED, TIED_UNIQUE)],
    ids=["untied", "tied"],
)
def test_cpu_model_summarized_on_meta_is_unchanged(config, unique):
    torch.manual_seed(0)
    model = decoder(config, device="cpu")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    objects = {name: p for name, p in model.named_parameters()}
    rng = torch.get_rng_state()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected for a deliberate meta run
        result, _ = _run(model, "meta")
    assert result.unique_params == unique
    assert result.used_params == unique
    assert result.total_params == NAIVE_TOTAL
    after = dict(model.named_parameters())
    assert list(after) == list(before)
    for name, p in after.items():
        assert p is objects[name]
        assert p.device.type == "cpu"
        assert p.grad is None
        assert torch.equal(p.detach(), before[name]), name
    if config.tie_embeddings:
        assert model.lm_head.weight is model.embed_tokens.weight
    assert torch.equal(torch.get_rng_state(), rng)


def test_meta_model_asked_for_cpu_warns_and_runs_on_meta():
    model = decoder(SMALL, device="meta")
    with pytest.warns(UserWarning, match="meta"):
        result, _ = _run(model, "cpu")
    assert result.unique_params == UNTIED_UNIQUE
    assert all(p.is_meta for p in model.parameters())


def test_master_layout_string_on_meta():
    model = decoder(SMALL_TIED, device="meta")
    text, result = summary_string(model, (16,), device="meta", dtypes=[torch.LongTensor])
    # the master hooks the root as well: one more row, Decoder-28, with no `weight`
    assert len(result.rows) == ROWS + 1
    assert result.rows[-1].name == "Decoder-28"
    assert result.rows[-1].params == 0
    assert result.total_params == NAIVE_TOTAL
    assert result.unique_params == TIED_UNIQUE
    assert "Decoder-28" in text
