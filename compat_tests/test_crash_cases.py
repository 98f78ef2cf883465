"""Models on which torchsummary 1.5.1 raises: torchsummary_plus prints a whole table.

These layouts have no live peer, so every expected table below is worked out by hand
(MB = bytes / 1024**2, 4 bytes a number; the Forward/backward figure is
|2 * sum of the rows' np.prod(shape) * 4| / MB, where a row whose shapes numpy cannot make
an array of counts the sum of its tensors' products, None and [] as described beside them).
The same text is stored in golden/NAME.txt; UPDATE_GOLDEN=1 rewrites those files from the
current output, and a rewritten file must be read by hand before it is committed.
"""
from __future__ import annotations

import pytest
import torchsummary

import torchsummary_plus

from ._helpers import check_golden, fresh_model, printed, printed_until_error, torchsummary_table
from .crash_models import CASES, CrashCase

ZEROS = ("0.00", "0.00", "0.00", "0.00")

EXPECTED = {
    # torchsummary hooks no module (the root never is) and crashes; with no other row the
    # model's own row is shown, as the GitHub master shows it.
    # Linear(2, 5): 10 + 5 = 15. Input 2*4 = 8 B, F/B 2*5*4 = 40 B, params 60 B: all 0.00 MB.
    "bare_linear": torchsummary_table([("Linear-1", "[-1, 5]", "15")], "15", "15", "0", ZEROS),
    # nn.LSTM has no `weight` and its `bias` is the bool True: 0 params.
    # Linear(512, 4): 512*4 + 4 = 2,052.
    # Input: 100*8*4 = 3,200 B = 0.003 MB -> 0.00.
    # F/B: the LSTM row counts its tensors one by one: -1*100*512 + -1*2*512 + -1*2*512
    #      = -53,248; Linear -4; total -53,252 -> 2*53,252*4 = 426,016 B = 0.4063 MB -> 0.41.
    # Params: 2,052*4 = 8,208 B = 0.0078 MB -> 0.01. Total 0.0031 + 0.4063 + 0.0078 = 0.4172.
    "raw_lstm": torchsummary_table(
        [
            ("LSTM-1", "[[-1, 100, 512], [[-1, 2, 512], [-1, 2, 512]]]", "0"),
            ("Linear-2", "[-1, 4]", "2,052"),
        ],
        "2,052", "2,052", "0", ("0.00", "0.41", "0.01", "0.42"),
    ),
    # Linear(4096, 10): 40,960 + 10 = 40,970.
    # Input: 4,096*4 = 16,384 B = 0.015625 MB -> 0.02.
    # F/B: -10 + (-10 + -4,096) = -4,116 -> 32,928 B = 0.0314 MB -> 0.03.
    # Params: 40,970*4 = 163,880 B = 0.1563 MB -> 0.16. Total 0.0156 + 0.0314 + 0.1563 = 0.2033.
    "dict_output": torchsummary_table(
        [
            ("Linear-1", "[-1, 10]", "40,970"),
            ("DictHeads-2", "{'logits': [-1, 10], 'embedding': [-1, 4096]}", "0"),
        ],
        "40,970", "40,970", "0", ("0.02", "0.03", "0.16", "0.20"),
    ),
    # Linear(16*32*32 = 16,384, 10): 163,840 + 10 = 163,850.
    # Input: 16,384*4 = 65,536 B = 0.0625 MB -> 0.06 (an exact tie, rounded to even).
    # F/B: -10 + (-10 + -1*16*32*32) = -16,404 -> 131,232 B = 0.12515 MB -> 0.13.
    # Params: 163,850*4 = 655,400 B = 0.62504 MB -> 0.63.
    # Total 0.0625 + 0.12515 + 0.62504 = 0.81269 -> 0.81.
    "namedtuple_output": torchsummary_table(
        [
            ("Linear-1", "[-1, 10]", "163,850"),
            ("NamedTupleEncoder-2", "[[-1, 10], [-1, 16, 32, 32]]", "0"),
        ],
        "163,850", "163,850", "0", ("0.06", "0.13", "0.63", "0.81"),
    ),
    # Linear(3, 7): 21 + 7 = 28. None counts 0. Every size is under 0.005 MB.
    "none_output": torchsummary_table(
        [("Linear-1", "[-1, 7]", "28"), ("Probe-2", "None", "0")], "28", "28", "0", ZEROS
    ),
    # No submodule: the model's own row, with the batch shown as 16.
    # Input 3*64*64*16*4 = 786,432 B = 0.75 MB; F/B 2 * 16*3*64*64 * 4 = 1,572,864 B = 1.50 MB;
    # no parameters. Total 2.25.
    "no_layers": torchsummary_table(
        [("NoLayers-1", "[16, 3, 64, 64]", "0")], "0", "0", "0", ("0.75", "1.50", "0.00", "2.25")
    ),
    # Linear(2, 5): 10 + 5 = 15. Every size is under 0.005 MB.
    "keyword_call": torchsummary_table(
        [("Linear-1", "[-1, 5]", "15"), ("ReLU-2", "[-1, 5]", "0")], "15", "15", "0", ZEROS
    ),
    # Linear(1000, 8): 8,008; Linear(50, 8): 408; total 8,416.
    # Input: every dimension of every input multiplied: 1000*20*50 = 1,000,000 numbers
    #        * 4 = 4,000,000 B = 3.8147 MB -> 3.81.
    # F/B: -8 + -1*20*8 = -168 -> 1,344 B = 0.0013 MB -> 0.00.
    # Params: 8,416*4 = 33,664 B = 0.0321 MB -> 0.03. Total 3.8147 + 0.0013 + 0.0321 = 3.8481.
    "different_ranks": torchsummary_table(
        [("Linear-1", "[-1, 8]", "8,008"), ("Linear-2", "[-1, 20, 8]", "408")],
        "8,416", "8,416", "0", ("3.81", "0.00", "0.03", "3.85"),
    ),
    # nn.MultiheadAttention has neither `weight` nor `bias` (in_proj_weight, ...): 0 params.
    # Input: 512*256*4 = 524,288 B = 0.50 MB.
    # F/B: -1*512*256 = -131,072 (None counts 0) -> 2*131,072*4 = 1,048,576 B = 1.00 MB.
    "attention_no_weights": torchsummary_table(
        [("MultiheadAttention-1", "[[-1, 512, 256], None]", "0")],
        "0", "0", "0", ("0.50", "1.00", "0.00", "1.50"),
    ),
    # Linear(6, 3): 18 + 3 = 21; the loss is 0-dim: shape [] (np.prod([]) = 1).
    "scalar_output": torchsummary_table(
        [("Linear-1", "[-1, 3]", "21"), ("MSELoss-2", "[]", "0")], "21", "21", "0", ZEROS
    ),
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_torchsummary_raises_and_plus_prints_whole_table(case: CrashCase):
    before_crash = printed_until_error(
        lambda: torchsummary.summary(fresh_model(case.make), case.input_size, case.batch_size, device="cpu"),
        case.raises,
    )
    ours, _ = printed(
        lambda: torchsummary_plus.summary(
            fresh_model(case.make), case.input_size, case.batch_size, device="cpu", plus=False
        )
    )
    ours_plus, _ = printed(
        lambda: torchsummary_plus.summary(fresh_model(case.make), case.input_size, case.batch_size, device="cpu")
    )
    assert ours.startswith(before_crash)  # what torchsummary printed before raising
    check_golden(case.name, ours)
    assert ours == EXPECTED[case.name]
    assert ours_plus.startswith(ours) and len(ours_plus) > len(ours)


def test_every_case_has_a_hand_written_table():
    assert sorted(EXPECTED) == sorted(c.name for c in CASES)
