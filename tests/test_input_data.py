"""``input_data=`` and ``forward_kwargs=`` (issue 15, item 1).

Real transformers models built from small configs in code (never downloaded), run on inputs
the test makes itself: figures against a count of the test's own and the independent oracle
of tests/oracle.py, rows against forward hooks of the test's own (torchsummary 1.5.1 makes its
own float inputs and cannot run these models), the model and the caller's tensors untouched.
Small models of this file check the table against the real torchsummary where it can run,
the Input size line and the block's bytes by hand, and every bad call.
"""
from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never reach a hub

import contextlib
import copy
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import torch.nn as nn
import transformers
from helpers_model_state import tensor_bytes, torchsummary_text
from oracle import oracle_of_call
from trust_models import DeepState, deep_differences

from torchsummary_plus import compare, summary, summary_string

MB = 2**20
VOCAB = 100


def t5() -> nn.Module:
    config = transformers.T5Config(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=37, num_layers=1,
                                   num_decoder_layers=1, num_heads=2)
    return transformers.T5Model(config).eval()


def whisper() -> nn.Module:
    config = transformers.WhisperConfig(
        vocab_size=VOCAB, num_mel_bins=16, encoder_layers=1, decoder_layers=1, d_model=32,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=37,
        decoder_ffn_dim=37, max_source_positions=32, max_target_positions=16, pad_token_id=0,
        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
    )
    return transformers.WhisperModel(config).eval()


def clip() -> nn.Module:
    text = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 37,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 16,
            "bos_token_id": 1, "eos_token_id": 2}
    vision = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
              "num_attention_heads": 2, "image_size": 32, "patch_size": 8}
    config = transformers.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    return transformers.CLIPModel(config).eval()


def bert() -> nn.Module:
    config = transformers.BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=37,
                                     max_position_embeddings=32)
    return transformers.BertModel(config).eval()


def ids(length: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(3, VOCAB, (2, length), generator=generator)


@dataclass
class Case:
    name: str
    make: Callable[[], nn.Module]
    inputs: Callable[[torch.Generator], tuple[Any, dict[str, Any] | None]]  # input_data, forward_kwargs
    input_size_bytes: int  # torchsummary's Input size line, in bytes (worked by hand below)
    input_bytes: int  # the block's Inputs: the real bytes of input_data's tensors


CASES = [
    # input_ids (2, 8) and decoder_input_ids (2, 4), int64: Input size multiplies the shapes
    # without their batch, 8 * 4 = 32, by |batch_size| = 1 and 4 bytes = 128; real bytes
    # (2*8 + 2*4) * 8 = 192
    Case("t5", t5, lambda g: ({"input_ids": ids(8, g), "decoder_input_ids": ids(4, g)}, None),
         128, 192),
    # input_features (2, 16, 64) float32 positional, decoder_input_ids as forward_kwargs (which
    # no input figure counts): 16 * 64 * 4 = 4096; real bytes 2 * 16 * 64 * 4 = 8192
    Case("whisper", whisper,
         lambda g: ((torch.rand(2, 16, 64, generator=g),), {"decoder_input_ids": ids(4, g)}),
         4096, 8192),
    # input_ids (2, 8) int64 and pixel_values (2, 3, 32, 32) float32: 8 * 3 * 32 * 32 * 4 =
    # 98,304; real bytes 2 * 8 * 8 + 2 * 3072 * 4 = 128 + 24,576 = 24,704
    Case("clip", clip,
         lambda g: ({"input_ids": ids(8, g), "pixel_values": torch.rand(2, 3, 32, 32, generator=g)},
                    None),
         98304, 24704),
    # input_ids (2, 16) one tensor; the mask and the token types as forward_kwargs: 16 * 4 = 64;
    # real bytes 2 * 16 * 8 = 256
    Case("bert", bert,
         lambda g: (ids(16, g), {"attention_mask": torch.ones(2, 16, dtype=torch.long),
                                 "token_type_ids": torch.zeros(2, 16, dtype=torch.long)}),
         64, 256),
]


def call_args(data: Any, kwargs: dict[str, Any] | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """How the test itself calls the model with the same inputs."""
    if isinstance(data, torch.Tensor):
        return (data,), dict(kwargs or {})
    if isinstance(data, dict):
        return (), {**data, **(kwargs or {})}
    return tuple(data), dict(kwargs or {})


def tensor_record(value: Any) -> list[tuple[int, int, bytes, bool]]:
    """Each tensor of the caller's inputs: identity, version counter, bits, requires_grad."""
    if isinstance(value, torch.Tensor):
        return [(id(value), value._version, tensor_bytes(value), value.requires_grad)]
    items = value.values() if isinstance(value, dict) else value if value is not None else ()
    return [record for item in items for record in tensor_record(item)]


@dataclass
class Run:
    case: Case
    model: nn.Module
    twin: nn.Module  # a deep copy taken before the summary, for the reference runs
    data: Any
    kwargs: dict[str, Any] | None
    before: DeepState
    after: DeepState  # recorded right after the summary, before any test runs
    inputs_before: list[tuple[int, int, bytes, bool]]
    inputs_after: list[tuple[int, int, bytes, bool]]
    text: str
    result: Any


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def run(request: pytest.FixtureRequest) -> Run:
    case = request.param
    torch.manual_seed(0)
    model = case.make()
    twin = copy.deepcopy(model)
    data, kwargs = case.inputs(torch.Generator().manual_seed(1))
    before, inputs_before = DeepState.of(model), tensor_record([data, kwargs])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = summary(model, input_data=data, forward_kwargs=kwargs, device="cpu")
    return Run(case, model, twin, data, kwargs, before, DeepState.of(model), inputs_before,
               tensor_record([data, kwargs]), out.getvalue(), result)


def test_figures_against_own_count_and_oracle(run: Run) -> None:
    distinct = {id(p): p for _, p in run.model.named_parameters(remove_duplicate=False)}
    assert run.result.unique_params == sum(p.numel() for p in distinct.values())
    assert run.result.unique_trainable_params == sum(
        p.numel() for p in distinct.values() if p.requires_grad)
    args, kwargs = call_args(run.data, run.kwargs)
    usage = oracle_of_call(run.twin, args, kwargs)
    assert run.result.used_params == usage.used_params
    assert run.result.used_trainable_params == usage.used_trainable_params


def hooked_rows(model: nn.Module, run: Callable[[], Any]) -> list[tuple[str, Any]]:
    """(row name, output shape) of each call, from forward hooks of the test's own on every
    module torchsummary would hook (not Sequential/ModuleList, not the model itself), numbered
    in completion order; the shape as torchsummary shows a tensor returned directly (the batch
    as -1), None for other outputs."""
    rows: list[tuple[str, Any]] = []

    def hook(module: nn.Module, args: Any, output: Any) -> None:
        shape = [-1, *output.shape[1:]] if isinstance(output, torch.Tensor) else None
        rows.append((f"{type(module).__name__}-{len(rows) + 1}", shape))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if m is not model and not isinstance(m, (nn.Sequential, nn.ModuleList))]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return rows


def test_rows_against_own_hooks(run: Run) -> None:
    args, kwargs = call_args(run.data, run.kwargs)
    twin = copy.deepcopy(run.twin)
    expected = hooked_rows(twin, lambda: twin(*args, **kwargs))
    assert [row.name for row in run.result.rows] == [name for name, _ in expected]
    assert any(shape is not None for _, shape in expected)
    for row, (_, shape) in zip(run.result.rows, expected, strict=True):
        if shape is not None:
            assert row.output_shape == shape, row.name
        module = run.model.get_submodule(row.module)  # Param #: `weight` and `bias`, as torchsummary
        own = [getattr(module, a, None) for a in ("weight", "bias")]
        assert row.params == sum(t.numel() for t in own if isinstance(t, torch.Tensor)), row.name


def test_input_figures_by_hand(run: Run) -> None:
    assert run.result.input_size_mb == run.case.input_size_bytes / MB
    assert f"Input size (MB): {run.case.input_size_bytes / MB:0.2f}\n" in run.text
    assert run.result.input_bytes == run.case.input_bytes


def test_model_and_inputs_untouched(run: Run) -> None:
    assert deep_differences(run.before, run.after) == []
    assert run.inputs_after == run.inputs_before


# Small models: the table against the live torchsummary, figures by hand, the calls.

class Convs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.head = nn.Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.relu(self.conv(x)).flatten(1))


def legacy_part(text: str) -> str:
    """The printed text down to and including torchsummary's last rule."""
    return text[: text.index("Corrected by torchsummary_plus")]


@pytest.mark.parametrize("batch", [1, 2, 5])
def test_table_is_torchsummarys_for_the_same_shapes(batch: int) -> None:
    # the given batch is not shown: the table's first dimension is batch_size (-1), and
    # Input size comes from the shapes without it, as torchsummary's from input_size
    torch.manual_seed(0)
    model = Convs()
    theirs = torchsummary_text(copy.deepcopy(model), (3, 8, 8))
    x = torch.rand(batch, 3, 8, 8)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary(model, input_data=x, device="cpu")
    assert legacy_part(out.getvalue()) == theirs


def test_batch_size_shown_and_in_the_input_line() -> None:
    # x (2, 3, 64, 64): Input size = 3 * 64 * 64 * batch_size 4 * 4 bytes = 196,608 B = 0.1875 MB
    model = nn.Sequential(nn.Conv2d(3, 2, 1))
    text, result = summary_string(model, input_data=[torch.rand(2, 3, 64, 64)], batch_size=4,
                                  device="cpu", layout="pypi")
    assert result.input_size_mb == 196608 / MB
    assert "Conv2d-1             [4, 2, 64, 64]" in text


def test_block_bytes_are_those_of_the_pass() -> None:
    # x (3, 4) float: Inputs 3 * 4 * 4 = 48 bytes; the one row's output (3, 2) float is
    # 3 * 2 * 4 = 24 bytes, as run (not scaled from a batch of 2 to batch_size)
    model = nn.Sequential(nn.Linear(4, 2))
    _, result = summary_string(model, input_data=torch.rand(3, 4), device="cpu", batch_size=7)
    assert (result.input_bytes, result.activation_bytes) == (48, 24)


class Recording(nn.Module):
    """Notes what forward was called with, and writes into its input in place."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.seen: list[tuple[Any, ...]] = []

    def forward(self, x: torch.Tensor, pair: Any = None, *, scale: Any = 1.0,
                extra: Any = None) -> torch.Tensor:
        self.seen.append((x, pair, scale, extra))
        x.mul_(2)
        return self.lin(x) * (scale if isinstance(scale, float) else 1.0)


def test_arguments_reach_forward_as_copies_and_objects() -> None:
    model = Recording()
    x, y, marker = torch.rand(2, 4), torch.rand(2, 4), object()
    bits = tensor_bytes(x)
    pair = [y, marker]
    summary(model, input_data=(x, pair), forward_kwargs={"scale": 0.5, "extra": marker},
            device="cpu", plus=False)
    (got_x, got_pair, got_scale, got_extra), = model.seen
    assert got_x is not x and got_pair[0] is not y  # copies: the in-place write is theirs
    assert torch.equal(got_pair[0], y) and got_pair[1] is marker
    assert got_scale == 0.5 and got_extra is marker
    assert tensor_bytes(x) == bits and x._version == 0 and pair == [y, marker]


def test_a_tensor_given_twice_is_one_copy() -> None:
    # (x, x) and the same x as a keyword: the forward sees one tensor three times, as it would
    # be called by the caller; the real bytes count it once: 3 * 4 * 4 = 48
    model = Recording()
    x = torch.rand(3, 4)
    _, result = summary_string(model, input_data=(x, [x]), forward_kwargs={"extra": x}, device="cpu")
    (got_x, got_pair, _, got_extra), = model.seen
    assert got_x is got_pair[0] is got_extra and got_x is not x
    assert result.input_bytes == 48


def test_requires_grad_kept_on_the_copy_and_off_the_callers_grad() -> None:
    seen: list[torch.Tensor] = []
    model = nn.Linear(4, 2)
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    x = torch.rand(3, 4, requires_grad=True)
    summary(model, input_data=x, device="cpu", plus=False)
    assert seen[0] is not x and seen[0].requires_grad and seen[0].is_leaf
    assert x.grad is None and x.requires_grad


def test_forward_kwargs_with_input_size() -> None:
    model = Recording()
    summary(model, (4,), forward_kwargs={"scale": 0.25}, device="cpu", plus=False)
    (x, _, scale, _), = model.seen
    assert tuple(x.shape) == (2, 4) and scale == 0.25


def test_input_size_that_agrees_is_accepted() -> None:
    model = nn.Sequential(nn.Linear(4, 2))
    x = torch.rand(3, 4)
    agreed = summary_string(model, (4,), input_data=x, dtypes=[torch.float32], device="cpu")[0]
    assert agreed == summary_string(model, input_data=x, device="cpu")[0]


def test_meta_run_copies_onto_meta() -> None:
    # device="meta" with real parameters: the inputs are copied onto meta with the model
    model = nn.Sequential(nn.Linear(4, 2))
    x = torch.rand(3, 4)
    _, result = summary_string(model, input_data=x, device="meta")
    assert result.unique_params == 4 * 2 + 2 and result.input_bytes == 48
    assert x.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_tensor_on_cpu_copied_to_the_models_cuda() -> None:
    model = nn.Sequential(nn.Linear(4, 2)).cuda()
    x = torch.rand(3, 4)
    _, result = summary_string(model, input_data={"input": x}, device="cuda")
    assert result.unique_params == 10 and x.device.type == "cpu"


def test_compare_with_input_data() -> None:
    model = nn.Sequential(nn.Linear(4, 2))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = compare(model, input_data=torch.rand(3, 4), device="cpu")
    assert result.unique_params == 10
    assert ("torchsummary check: could not check, torchsummary makes its own inputs and takes "
            "no input_data or forward_kwargs") in out.getvalue()


class Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)
        self.calls = 0

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.lin(args[0])


META = torch.empty(2, 4, device="meta")
BAD = [
    (TypeError, {}, "input_size is missing"),
    (TypeError, {"input_data": 5}, "input_data of type int is not valid"),
    (TypeError, {"input_data": "ids"}, "input_data of type str is not valid"),
    (TypeError, {"input_data": {torch.rand(2, 4)}}, "input_data of type set is not valid"),
    (TypeError, {"input_data": {1: torch.rand(2, 4)}}, "input_data has the key 1"),
    (TypeError, {"input_data": torch.rand(2, 4), "forward_kwargs": [1]},
     "forward_kwargs of type list is not valid"),
    (ValueError, {"input_size": (5,), "input_data": torch.rand(2, 4)},
     "input_size=(5,) disagrees with input_data, whose tensors have the shapes [[4]]"),
    (ValueError, {"input_data": torch.rand(2, 4), "dtypes": [torch.int64]},
     "dtypes=[torch.int64] disagrees with input_data"),
    (ValueError, {"input_data": torch.rand(2, 4), "dtypes": [torch.float32] * 2},
     "dtypes has 2 entries but input_data describes 1 input"),
    (ValueError, {"input_data": {"x": torch.rand(2, 4)}, "forward_kwargs": {"x": 1}},
     "input_data and forward_kwargs both give x"),
    (ValueError, {"input_data": [META]}, "input_data holds a tensor on meta"),
    (ValueError, {"input_data": torch.rand(2, 4), "forward_kwargs": {"m": META}},
     "forward_kwargs holds a tensor on meta"),
]


@pytest.mark.parametrize("error, kwargs, message", BAD, ids=[m for _, _, m in BAD])
@pytest.mark.parametrize("function", [summary, summary_string, compare])
def test_bad_calls_before_anything_runs(function: Any, error: type, kwargs: dict[str, Any],
                                        message: str, capsys: pytest.CaptureFixture[str]) -> None:
    model = Counting()
    with pytest.raises(error, match=re.escape(message)):
        function(model, device="cpu", **kwargs)
    assert model.calls == 0
    assert capsys.readouterr() == ("", "")


def test_input_data_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        summary(Counting(), (4,), -1, "cpu", None, torch.rand(2, 4))  # type: ignore[misc]
