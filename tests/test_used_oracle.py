"""Issue 13: "used" equals the oracle's on every model of the suite's catalogs.

The catalogs: compat_tests/live_models.py, crash_models.py and master_models.py, small
builds of benchmarks/models.py, and the cases of test_used_cases.py. For each model the
summary and the oracle (``oracle.py``, a TorchDispatchMode of the tests' own) see the same
model (built twice from one seed) on the same inputs (the global generator seeded the same
way before each), and must agree on ``used_params``, the used trainable split and the
modules owning parameters never used.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, NamedTuple, Sequence

import pytest
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import models as bench  # noqa: E402
from compat_tests import crash_models, live_models, master_models  # noqa: E402
from oracle import oracle_of  # noqa: E402
from test_used_cases import CASE_MODELS, assert_matches_oracle, summarize  # noqa: E402


class Entry(NamedTuple):
    make: Callable[[], nn.Module]
    input_size: Any
    dtypes: Sequence[Any] | None


SMALL_DECODER = bench.DecoderConfig(layers=2, hidden=32, mlp=48, heads=4, vocab=50)
SMALL_TIED_DECODER = bench.DecoderConfig(layers=2, hidden=32, mlp=48, heads=4, vocab=50, tie_embeddings=True)

# The benchmark's models at sizes a unit test can afford: 2 layers instead of 48, the
# ResNet-50 layout with one Bottleneck per stage (the full one takes seconds to build twice).
BENCHMARK_MODELS = {
    "encoder_2_layers": Entry(lambda: bench.encoder(2), (4, 256), None),
    "custom_encoder_2_blocks": Entry(lambda: bench.custom_encoder(2), (4, 256), None),
    "resnet_one_block_per_stage": Entry(lambda: bench.ResNet50((1, 1, 1, 1), 10).eval(), (3, 64, 64), None),
    "small_cnn": Entry(bench.small_cnn, (1, 28, 28), None),
    "tiny_stack_40": Entry(lambda: bench.tiny_stack(40), (8,), None),
    "decoder": Entry(lambda: bench.decoder(SMALL_DECODER), (16,), [torch.LongTensor]),
    "decoder_tied": Entry(lambda: bench.decoder(SMALL_TIED_DECODER), (16,), [torch.LongTensor]),
}


def _catalog() -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for case in live_models.CASES:
        entries[f"live/{case.name}"] = Entry(case.make, case.input_size, case.plus_dtypes)
    for crash in crash_models.CASES:
        entries[f"crash/{crash.name}"] = Entry(crash.make, crash.input_size, None)
    for name, make, input_size, dtypes in master_models.CASES:
        entries[f"master/{name}"] = Entry(make, input_size, dtypes)
    for name, entry in BENCHMARK_MODELS.items():
        entries[f"bench/{name}"] = entry
    for name, model in CASE_MODELS.items():
        entries[f"case/{name}"] = Entry(model.make, model.input_size, model.dtypes)
    return entries


CATALOG = _catalog()


def _built(make: Callable[[], nn.Module]) -> nn.Module:
    torch.manual_seed(0)
    return make()


@pytest.mark.parametrize("name", list(CATALOG))
def test_used_figures_equal_the_oracles(name):
    entry = CATALOG[name]
    _, result = summarize(_built(entry.make), entry.input_size, entry.dtypes)
    usage = oracle_of(_built(entry.make), entry.input_size, entry.dtypes)
    assert_matches_oracle(result, usage)


def test_no_catalog_model_is_left_out():
    """Names are unique within each catalog, so none overwrote another here."""
    assert len(CATALOG) == (
        len(live_models.CASES) + len(crash_models.CASES) + len(master_models.CASES)
        + len(BENCHMARK_MODELS) + len(CASE_MODELS)
    )
