"""The fast path against the reference path, and what the fast path relies on in torch.

The reference path (``TORCHSUMMARY_PLUS_REFERENCE=1``) observes as torchsummary does, with
plain forward hooks and the watch on for every operation; the fast path must print the same
text and give the same figures on every model of the suite's catalogs. ``.ci/run`` also runs
the whole suite on each path.
"""
from __future__ import annotations

import ast
import contextlib
import io
import pathlib

import pytest
import torch
import torch.nn as nn
from torch.nn.modules import module as torch_module

import torchsummary_plus
from torchsummary_plus import _observe, _snapshot, summary
from test_used_oracle import CATALOG, _built

PACKAGE = pathlib.Path(torchsummary_plus.__file__).parent


def _summary_on(path: str, monkeypatch: pytest.MonkeyPatch, name: str) -> tuple[str, dict]:
    entry = CATALOG[name]
    model = _built(entry.make)
    if path == "reference":
        monkeypatch.setenv(_observe.REFERENCE_PATH_VARIABLE, "1")
    else:
        monkeypatch.delenv(_observe.REFERENCE_PATH_VARIABLE, raising=False)
    assert _observe.use_fast_path() is (path == "fast")
    out = io.StringIO()
    torch.manual_seed(0)
    with contextlib.redirect_stdout(out):
        result = summary(model, entry.input_size, device="cpu", dtypes=entry.dtypes)
    return out.getvalue(), result.to_dict()


@pytest.mark.parametrize("name", list(CATALOG))
def test_both_paths_print_the_same_text_and_figures(name, monkeypatch):
    fast = _summary_on("fast", monkeypatch, name)
    reference = _summary_on("reference", monkeypatch, name)
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]


def test_torch_works_as_the_fast_path_relies_on():
    # Fails loudly on a torch whose Module.__call__ no longer reaches an instance
    # `_call_impl`, whose `_call_impl` reads other hook dictionaries, or whose function-mode
    # stack API changed: the fast path then switches itself off (and this test says why).
    names = {name for name in nn.Module._call_impl.__code__.co_names if "hooks" in name}
    assert names == _observe._CALL_IMPL_HOOK_NAMES
    assert _observe.fast_path_available()


def test_the_snapshot_knows_every_container_torch_keeps_on_a_module():
    for module in (nn.Module(), nn.Linear(2, 2), nn.LSTM(2, 2), nn.BatchNorm1d(2)):
        containers = {
            name for name, value in vars(module).items()
            if isinstance(value, (dict, set)) and name.startswith("_")
        }
        assert containers <= set(_snapshot.MODULE_CONTAINERS), containers - set(_snapshot.MODULE_CONTAINERS)
    global_dicts = {
        name for name, value in vars(torch_module).items()
        if name.startswith("_global_") and isinstance(value, dict)
    }
    assert global_dicts <= set(_snapshot.GLOBAL_CONTAINERS), global_dicts - set(_snapshot.GLOBAL_CONTAINERS)


def _imports(path: pathlib.Path) -> set[str]:
    """The package modules a module imports, anywhere in it (relative imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_module_of_the_package_imports_one_that_imports_it_back():
    graph = {path.stem: _imports(path) for path in PACKAGE.glob("*.py")}
    graph["__init__"] = set()  # the package's face: imports everything, imported by nothing

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in graph.get(start, ()):
            if name == goal or (name not in seen and not seen.add(name) and reaches(name, goal, seen)):
                return True
        return False

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles
    # a control: the check does see a cycle
    graph["_figures"] = graph["_figures"] | {"_pipeline"}
    assert reaches("_pipeline", "_pipeline", set())
