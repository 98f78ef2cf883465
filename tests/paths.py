"""Which observation path the suite runs on (``.ci/run`` runs the table and figure tests on
both): tests of the fast path's own machinery are skipped on the reference path."""
import os

import pytest

from torchsummary_plus._observe import REFERENCE_PATH_VARIABLE

ON_REFERENCE_PATH = os.environ.get(REFERENCE_PATH_VARIABLE) == "1"
fast_path_only = pytest.mark.skipif(
    ON_REFERENCE_PATH, reason="tests the fast path's gate, which the reference path does not have"
)
