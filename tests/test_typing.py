"""A user's file using the whole documented API passes ``mypy --strict``: every documented
attribute of SummaryResult is declared with its type, and the pair unpacks as tensors."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

USER_FILE = Path(__file__).with_name("typing_user.py")


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None,
                    reason="mypy is not installed (pip install -r requirements-lint.txt)")
def test_a_user_file_passes_mypy_strict(tmp_path):
    # --follow-imports=silent: the user's file is what is judged here; the package's own
    # modules are type-checked on their own (see .ci/run)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent",
         "--cache-dir", str(tmp_path / "cache"), str(USER_FILE)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found in 1 source file")


def test_the_user_file_runs(capsys):
    # what mypy checked also runs: the attributes exist with the types declared
    namespace: dict[str, object] = {}
    exec(compile(USER_FILE.read_text(), str(USER_FILE), "exec"), namespace)
    result = namespace["figures"](namespace["summary"](namespace["nn"].Linear(4, 3), (4,), device="cpu"))
    capsys.readouterr()
    # Linear(4, 3): 4*3 + 3 = 15 parameters; one sample of 4 float32 in, 3 float32 out
    assert result["pair"] == [15, 15]
    assert result["counts"][:4] == [15, 15, 0, 15]
    assert result["counts"][-3:] == [16, 12, 15 * 4 + 12 + 16]
    assert result["saved"] == 0  # the Linear saves only the input, which is not an activation
