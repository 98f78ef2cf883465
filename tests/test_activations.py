"""Activations: the bytes of each row's output and what autograd saved for backward, each
storage once, at real dtypes, for the table's batch. Every expected number is worked out by
hand next to it (float32 4 B, float16 2 B, int64 8 B, bool 1 B an element)."""
from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from torchsummary_plus import summary_string
from torchsummary_plus._activations import SavedForBackward, output_nbytes, scaled_to_batch


def run(model, input_size, **kwargs):
    kwargs.setdefault("layout", "pypi")
    return summary_string(model, input_size, device="cpu", **kwargs)


# --- output_nbytes ---------------------------------------------------------------------


def test_one_tensor_at_its_dtype():
    assert output_nbytes(torch.zeros(2, 3)) == 2 * 3 * 4
    assert output_nbytes(torch.zeros(4, dtype=torch.float16)) == 4 * 2
    assert output_nbytes(torch.zeros(3, 4, device="meta")) == 3 * 4 * 4  # nothing allocated


def test_tuple_of_mixed_dtypes_is_the_sum_not_a_product_of_shapes():
    pair = (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int64))
    assert output_nbytes(pair) == 2 * 3 * 4 + 2 * 3 * 8  # 24 + 48, not 2*3*2*3 of anything


def test_each_storage_once():
    x = torch.zeros(2, 3)
    assert output_nbytes([x, x.view(6), x[0]]) == 24  # three views of one storage of 6 floats
    assert output_nbytes(torch.arange(10.0).split(5)) == 10 * 4  # two chunks of one storage
    assert output_nbytes(torch.zeros(1).expand(100)) == 4  # an expanded tensor holds one float
    assert output_nbytes((x, x.clone())) == 48  # a copy is a storage of its own


@dataclasses.dataclass
class Out:
    logits: torch.Tensor
    hidden: tuple[torch.Tensor, ...]
    note: str


def test_nested_containers_and_non_tensors():
    a, b = torch.zeros(2, 2), torch.zeros(3, dtype=torch.bool)
    assert output_nbytes({"a": [a, (b,)], "n": None, "k": 7}) == 16 + 3
    assert output_nbytes(Out(a, (b, b), "text")) == 16 + 3
    assert output_nbytes(None) == 0 and output_nbytes("x") == 0


def test_a_list_holding_itself_and_deep_nesting_end():
    x = torch.zeros(2)
    loop: list = [x]
    loop.append(loop)
    assert output_nbytes(loop) == 8
    deep: list = [x]
    for _ in range(5000):  # far past Python's recursion limit
        deep = [deep]
    assert output_nbytes(deep) == 8


def test_a_sparse_tensor_counts_its_dense_size():
    # a sparse layout has no storage of its own: numel * element size, 3*3 float32
    assert output_nbytes(torch.eye(3).to_sparse()) == 9 * 4


def test_scaled_to_the_tables_batch():
    # measured on the pass's batch of 2: linear in the batch, one sample where it shows -1
    assert scaled_to_batch(64, 16) == 64 * 16 // 2
    assert scaled_to_batch(64, -1) == 32


# --- through summary: tuple outputs, mixed dtypes, a batch size -------------------------


class Halves(nn.Module):
    """Returns (float16 copy, bool mask): a tuple of two dtypes."""

    def forward(self, h):
        return h.to(torch.float16), h > 0


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.halves = Halves()

    def forward(self, x):
        half, mask = self.halves(self.fc(x))
        return half.float() * mask


def test_tuple_output_mixed_dtypes_and_batch_size():
    text, result = run(Mixed(), (3,), batch_size=16)
    # Row outputs, per sample: Linear-1 4 float32 = 16 B; Halves-2 4 float16 + 4 bool =
    # 8 + 4 = 12 B. For the table's batch of 16: (16 + 12) * 16 = 448 B.
    assert result.activation_bytes == 448
    # Saved for backward: the Linear saves its input (an input, left out); `to` saves no
    # tensor; `half.float() * mask` needs only the mask for the gradient of its first
    # operand: 4 bool = 4 B a sample, 64 B for 16.
    assert result.saved_activation_bytes == 64
    # Inputs 3 float32 * 16 = 192 B; parameters 4*3 + 4 = 16 float32 = 64 B.
    # Estimate 64 + 448 + 192 = 704 B.
    assert (result.input_bytes, result.unique_params_bytes) == (192, 64)
    assert result.estimated_total_bytes == 704
    # torchsummary multiplies shapes: Linear-1 [16, 4] -> 64; Halves-2 [[-1, 4], [-1, 4]]
    # -> (-1)*4*(-1)*4 = 16 (its batch stays -1 in a tuple); (64 + 16) x2 x4 B = 640 B
    assert "Forward/backward pass size (MB): 0.00\n" in text
    assert result.forward_backward_size_mb == 640 / 2**20
    _, one_sample = run(Mixed(), (3,))
    assert (one_sample.activation_bytes, one_sample.saved_activation_bytes) == (28, 4)


def test_saved_for_backward_leaves_out_parameters_and_counts_a_storage_once():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    _, result = run(model, (3,))
    # Saved: Linear-1 its input (left out); ReLU its result r (4 float32 = 16 B a sample);
    # Linear-3 its input, r again (the same storage: once), and its weight's transpose (a
    # view of a parameter: left out). 16 B for one sample.
    assert result.saved_activation_bytes == 16
    # Row outputs: 16 + 16 + 8 = 40 B a sample (the ReLU's output is a row of its own)
    assert result.activation_bytes == 40


def test_without_autograd_nothing_is_measured_and_the_block_says_so():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with torch.no_grad():
        text, result = run(model, (3,))
    assert result.saved_activation_bytes is None
    assert result.activation_bytes == 32  # row outputs are still measured: 16 + 16
    line = [row for row in text.splitlines() if row.startswith("Saved for backward")]
    assert line == ["Saved for backward, activations (MB)".ljust(46) + "n/a (no grad)".rjust(17)]


def test_saved_for_backward_alone():
    w = torch.ones(3, requires_grad=True)
    x = torch.ones(3)
    with SavedForBackward([w, x]) as saved:
        y = (w * 2).exp()  # exp saves its result: 3 float32 = 12 B; `* 2` saves no tensor
        (y * x).sum()  # mul saves x (held: left out) and y (already counted)
    assert saved.nbytes == 12
    with torch.inference_mode(), SavedForBackward([]) as saved:
        torch.ones(2).exp()
    assert saved.nbytes is None
