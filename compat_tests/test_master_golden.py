"""layout="master" against the GitHub master's exact outputs, stored in master_golden/."""
from __future__ import annotations

import pytest

from torchsummary_plus import summary, summary_string

from ._helpers import MASTER_GOLDEN
from .master_models import CASES

IDS = [case[0] for case in CASES]


def _golden(name: str) -> tuple[str, str]:
    text = (MASTER_GOLDEN / f"{name}.txt").read_text()
    ret = (MASTER_GOLDEN / f"{name}.ret").read_text()
    return text, ret.rstrip("\n")


@pytest.mark.parametrize("name, make, size, dtypes", CASES, ids=IDS)
def test_summary_string_equals_master(name, make, size, dtypes):
    text, ret = _golden(name)
    got, result = summary_string(make(), size, device="cpu", dtypes=dtypes, plus=False)
    # the master's print adds one newline to the string summary_string returns
    assert got + "\n" == text
    assert repr(result) == ret


@pytest.mark.parametrize("name, make, size, dtypes", CASES, ids=IDS)
def test_summary_prints_master(name, make, size, dtypes, capsys):
    text, ret = _golden(name)
    result = summary(make(), size, device="cpu", dtypes=dtypes, layout="master", plus=False)
    assert capsys.readouterr().out == text
    assert repr(result) == ret
    assert repr(tuple(result)) == ret
