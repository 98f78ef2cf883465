"""On every model the test suites build (compat_tests' live and crash models, the
transformers architectures where transformers is installed, the large models here): no line
of the corrected block is over 100 characters, the footnotes take at most 12 lines, figures
never touch, and the never-used note accounts for every unused parameter."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # compat_tests, as a package

from compat_tests import crash_models, live_models  # noqa: E402
from large_models import AlbertLike, ENetLike, llama_70b  # noqa: E402
from torchsummary_plus import summary_string  # noqa: E402

TITLE = "Corrected by torchsummary_plus"


def _models() -> list[tuple[str, Callable[[], Any], Any, int, Any, str]]:
    """(name, make, input_size, batch_size, dtypes, device) of every model."""
    found = [(c.name, c.make, c.input_size, c.batch_size, c.plus_dtypes, "cpu")
             for c in live_models.CASES]
    found += [(c.name, c.make, c.input_size, c.batch_size, None, "cpu") for c in crash_models.CASES]
    if importlib.util.find_spec("transformers") is not None:
        from compat_tests import transformers_models

        found += [(c.name, c.make, c.input_size, -1, None, "cpu")
                  for c in transformers_models.CASES]
    found += [("albert_like", AlbertLike, (6,), -1, None, "cpu"),
              ("enet_like", ENetLike, (3, 32, 32), 16, None, "cpu"),
              ("llama_70b", llama_70b, (16,), -1, [torch.long], "meta")]
    return found


MODELS = _models()


@pytest.mark.parametrize("name, make, size, batch, dtypes, device", MODELS,
                         ids=[m[0] for m in MODELS])
def test_the_block_is_readable(name, make, size, batch, dtypes, device):
    text, result = summary_string(make(), size, batch, device, dtypes, layout="pypi")
    block = text[text.index(TITLE):].splitlines()
    assert max(len(line) for line in block) <= 100
    rules = [i for i, line in enumerate(block) if line and set(line) == {"-"}]
    notes = block[rules[1] + 1:rules[2]] if len(rules) == 3 else []
    assert len(notes) <= 12
    # figures never touch: split at runs of 2+ spaces, each line is its label and its values
    # (2 on the four parameter lines, 1 on the others)
    pieces = [len(re.split(r"  +", line.strip())) for line in block[2:rules[1]]]
    assert pieces == [3, 3, 3, 3, 2, 2, 2, 2, 2], block
    never = [i for i, line in enumerate(notes) if "] Never used in this pass: " in line]
    if result.unused_params:
        note = " ".join([notes[never[0]]] + [n.strip() for n in notes[never[0] + 1:]
                                              if n.startswith("    ")])
        listed = [int(n.replace(",", "")) for n in re.findall(r"\(([\d,]+)\)", note)]
        total = re.search(r"; ([\d,]+) in all", note)
        # the total where several are listed, else the one count: the unused parameters
        assert (int(total.group(1).replace(",", "")) if total else listed[0]) == result.unused_params
        if " more (see " not in note:
            assert sum(listed) == result.unused_params
    else:
        assert never == []
