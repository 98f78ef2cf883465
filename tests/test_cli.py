"""The command line, in process (cli.main) and as subprocesses (python -m, console script).

Tables are checked against what the real torchsummary 1.5.1 prints for the same model, and
figures against arithmetic written out here."""
from __future__ import annotations

import contextlib
import importlib.metadata
import io
import json
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch.nn as nn
import torchsummary
from tabulate import tabulate

import torchsummary_plus
from torchsummary_plus import cli
from torchsummary_plus._demo import SharedConv, TwoConvs, UnusedConv

ROOT = Path(__file__).resolve().parent.parent
MODELS = "tests/fixtures_cli/models.py"
SCRIPT = "tests/legacy_script.py"
CONSOLE = Path(sys.executable).parent / "torchsummary-plus"
HEADERS = ("torchsummary", "unique in table", "unique in model", "used in pass", "notes")
TWO_LINE_HEADERS = ("torchsummary", "unique\nin table", "unique\nin model", "used\nin pass", "notes")
MEMORY = ("[1] torchsummary's total multiplies output shapes together and doubles them, 4 bytes each; the\n"
          "    others add the rows' output tensors and the inputs at their dtypes")
ALIGN = ("left", "right", "right", "right", "right", "left")
SAME = "torchsummary check: torchsummary 1.5.1 printed the same table, byte for byte"


def real_table(model: nn.Module, size) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        torchsummary.summary(model, size, device="cpu")
    return buffer.getvalue()


def figure_line(label: str, *values: str) -> str:
    """A line of the corrected block of a small model: label in 46 columns (its longest label
    has 44 characters, + 2), values right-aligned in 17 ("unique in model", 15, + 2)."""
    return label.ljust(46) + "".join(v.rjust(17) for v in values)


def run_cli(*args: str, console: bool = False) -> subprocess.CompletedProcess:
    command = [str(CONSOLE)] if console else [sys.executable, "-m", "torchsummary_plus"]
    return subprocess.run(command + list(args), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(autouse=True)
def in_root(monkeypatch):
    """Relative paths of the tests are from the repository's root."""
    monkeypatch.chdir(ROOT)


def main_output(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------- the demo


def test_demo(capsys):
    code = cli.main([])
    out = capsys.readouterr().out
    assert code == 0
    for word in ("write-up", "seed", "issue"):  # the demo speaks of its models only
        assert word not in out
    parts = out.split("\n=== ")
    assert len(parts) == 5  # intro, three models, side by side
    # (model, counted once, used in pass, footnotes): each conv is 3*3 = 9, no bias
    cases = [
        (TwoConvs(), "18", "18", []),
        (SharedConv(), "9", "9",
         ["[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv1): 9 counted twice above"]),
        (UnusedConv(), "18", "9",
         ["[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv1): 9 counted twice above",
          "[2] Never used in this pass: conv2 (9)"]),
    ]
    for part, (model, once, used, notes) in zip(parts[1:4], cases, strict=True):
        title, body = part.split("\n", 1)
        assert title == f"{type(model).__name__} ==="
        assert body.startswith(real_table(model, (1, 64, 64)))  # torchsummary's table, 18 params
        assert "Total params: 18\n" in body
        assert figure_line("Parameters", once, used) + "\n" in body
        assert figure_line("Unused parameters", str(int(once) - int(used))) + "\n" in body
        for note in notes:
            assert "\n" + note + "\n" in body
        block = body[:body.index("\nFigure ")]  # the compare table's notes come after it
        assert "[1]" in block if notes else "[1]" not in block
        assert body.rstrip("\n").endswith(SAME)
    # torchsummary's 18 (9 + 9, two rows each) against the count of distinct tensors and of those used
    side_by_side = tabulate([["TwoConvs", 18, 18, 18], ["SharedConv", 18, 9, 9], ["UnusedConv", 18, 18, 9]],
                            headers=("model", "torchsummary's Total params", "unique in model", "used in pass"))
    assert parts[4] == "Side by side ===\n" + side_by_side + "\n"


def test_demo_as_python_m_and_console_script(capsys):
    cli.main([])
    in_process = capsys.readouterr().out
    done = run_cli()
    assert (done.returncode, done.stdout, done.stderr) == (0, in_process, "")
    if not CONSOLE.exists():
        pytest.skip("the console script is not installed in this environment")
    done = run_cli(console=True)
    assert (done.returncode, done.stdout) == (0, in_process)


# ---------------------------------------------------------------- TARGET


TINY_JSON = {
    # Linear 3 -> 2: 3*2 + 2 = 8 parameters, float32, all used
    "total_params": 8,
    "trainable_params": 8,
    "non_trainable_params": 0,
    "input_size_mb": 12 / 2**20,  # 3 * |-1| * 4 B
    "forward_backward_size_mb": 16 / 2**20,  # 2 * |(-1) * 2| * 4 B
    "params_size_mb": 32 / 2**20,  # 8 * 4 B
    "estimated_total_size_mb": 60 / 2**20,  # 32 + 16 + 12 B
    "unique_params": 8,
    "unique_trainable_params": 8,
    "used_params": 8,
    "used_trainable_params": 8,
    "unused_params": 0,
    "unique_params_bytes": 32,
    "used_params_bytes": 32,
    "input_bytes": 12,  # one sample of 3 float32
    # torchsummary's own tensors (fc.weight, fc.bias) once: 8, trainable, 32 B; none left out
    "table_unique_params": 8,
    "table_unique_trainable_params": 8,
    "table_unique_requires_grad_params": 8,
    "table_unique_params_bytes": 32,
    "uncounted_params": [],
    "activation_bytes": 8,  # the row's output: one sample of 2 float32
    "saved_activation_bytes": 0,  # autograd saves only the input (an input, counted apart)
    "estimated_total_bytes": 52,  # 32 + 8 + 12
    "shared_rows": {},
    "unused_modules": [],
    "untraced_modules": [],
    "rank_held_params": None,  # nothing is sharded
    "rank_held_params_bytes": None,
    "rows": [
        {"name": "Linear-1", "module": "fc", "output_shape": "[-1, 2]", "params": 8, "shared_with": None}
    ],
    "flops": None,  # not asked for
    "tree": None,  # not the tree layout
}


def test_json_is_every_figure_and_nothing_else(capsys):
    code, out, err = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == TINY_JSON


def test_json_two_inputs_with_dtypes(capsys):
    code, out, _ = main_output(capsys, f"{MODELS}:TwoInputs", "--input-size", "4",
                               "--input-size", "5", "--dtypes", "float,long", "--json")
    figures = json.loads(out)
    assert code == 0
    assert figures["total_params"] == 60  # Linear 4*4 + 4 = 20, Embedding 10*4 = 40
    assert figures["input_bytes"] == 56  # 4 float32 (16 B) + 5 int64 (40 B)
    assert [(r["name"], r["output_shape"]) for r in figures["rows"]] == [
        ("Linear-1", "[-1, 4]"), ("Embedding-2", "[-1, 5, 4]")]


def test_file_target_prints_torchsummary_table_then_corrected_block(capsys):
    code, out, _ = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3")
    assert code == 0
    expected = real_table(runpy.run_path(MODELS)["Tiny"](), (3,))
    assert out.startswith(expected + figure_line("Corrected by torchsummary_plus",
                                                 "unique in model", "used in pass") + "\n")
    assert figure_line("Parameters", "8", "8") in out


def test_module_target_callable_no_plus_as_subprocess():
    done = run_cli("tests.fixtures_cli.models:make_tiny", "--input-size", "3", "--no-plus")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == real_table(runpy.run_path(MODELS)["Tiny"](), (3,))


def test_compare_in_github_format(capsys):
    code, out, _ = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3", "--no-plus",
                               "--compare", "--format", "github")
    # 8 parameters everywhere; 32 B params, 60 B in all by torchsummary's rule, 52 B by the
    # others' (32 + the row's 8 B output + the 12 B input): 0.00 MB
    table = tabulate([
        ["Total params", "8", "8", "8", "8", ""],
        ["Trainable params", "8", "8", "8", "8", ""],
        ["Non-trainable params", "0", "0", "0", "0", ""],
        ["Params size (MB)", "0.00", "0.00", "0.00", "0.00", ""],
        ["Estimated Total Size (MB)", "0.00", "0.00", "0.00", "0.00", "1"],
    ], headers=("Figure",) + HEADERS, tablefmt="github", disable_numparse=True,
        colalign=ALIGN) + "\n" + MEMORY
    assert code == 0
    assert out == real_table(runpy.run_path(MODELS)["Tiny"](), (3,)) + table + "\n" + SAME + "\n"


def test_batch_size_shows_in_the_table(capsys):
    code, out, _ = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3", "--batch-size", "16",
                               "--no-plus")
    assert code == 0
    assert "{:>20}  {:>25} {:>15}".format("Linear-1", "[16, 2]", "8") in out


# ---------------------------------------------------------------- run


def test_run_legacy_script_as_subprocess():
    done = run_cli("run", SCRIPT, "3")
    assert done.returncode == 3
    twice = runpy.run_path(SCRIPT)["Twice"]()  # not as __main__: nothing runs
    assert done.stdout.startswith(real_table(twice, (1, 8, 8)))  # 9 shown twice: 18
    assert figure_line("Parameters", "9", "9") + "\n" in done.stdout
    assert "[1] Conv2d-2 repeats the parameters of Conv2d-1 (module conv): 9 counted twice above\n" in done.stdout
    assert done.stdout.endswith("same function: True\nargv: ['3']\n")


def test_run_with_console_script():
    if not CONSOLE.exists():
        pytest.skip("the console script is not installed in this environment")
    done = subprocess.run([str(CONSOLE), "run", SCRIPT, "0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0
    assert done.stdout.endswith("same function: True\nargv: ['0']\n")


def test_run_in_process_restores_imports_and_argv(capsys):
    argv, path = list(sys.argv), list(sys.path)
    code = cli.main(["run", SCRIPT, "5", "--flag"])
    out = capsys.readouterr().out
    assert code == 5
    assert out.endswith("argv: ['5', '--flag']\n")
    assert sys.modules["torchsummary"] is torchsummary
    assert sys.argv == argv and sys.path == path


def test_run_script_that_raises(capsys):
    code = cli.main(["run", "tests/fixtures_cli/crash_script.py"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Traceback (most recent call last):\n  File \"tests/fixtures_cli/crash_script.py\"")
    assert err.endswith("ValueError: boom after Tiny\n")  # the sibling `models` imported


# ---------------------------------------------------------------- mistakes


BAD = [
    (["nofile.py:Net", "--input-size", "3"], "no such file: 'nofile.py'"),
    ([f"{MODELS}:Nope", "--input-size", "3"], f"'{MODELS}' has no attribute 'Nope'"),
    ([f"{MODELS}:NOT_A_MODULE", "--input-size", "3"],
     "'NOT_A_MODULE' is of type int, not an nn.Module subclass or a callable returning a module"),
    ([f"{MODELS}:make_number", "--input-size", "3"],
     "make_number() returned an object of type int, not an nn.Module"),
    (["no_such_module_xyz:Net", "--input-size", "3"], "no module named 'no_such_module_xyz'"),
    (["Tiny", "--input-size", "3"],
     "TARGET 'Tiny' is not valid: expected path/to/file.py:NAME or package.module:NAME"),
    ([f"{MODELS}:Tiny", "--input-size", "1,x"],
     "argument --input-size: '1,x' is not valid: expected positive integers separated by commas, "
     "such as 1,28,28"),
    ([f"{MODELS}:Tiny", "--input-size", "0,3"],
     "argument --input-size: '0,3' is not valid: expected positive integers separated by commas, "
     "such as 1,28,28"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--dtypes", "flaot"],
     "argument --dtypes: unknown dtype 'flaot': expected torch dtype names separated by commas, "
     "such as float,long or float32,int64"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--dtypes", "float,long"],
     "--dtypes has 2 entries but --input-size describes 1 input: give one dtype per input"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--batch-size", "0"],
     "--batch-size 0 is not valid: expected -1 (shown as -1 in the table) or a positive int"),
    ([f"{MODELS}:Tiny"], "--input-size or --input-data is required with TARGET"),
    (["--json"], "TARGET is required with these options (no arguments at all runs the demo)"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--format", "github"],
     "--format applies to the --compare table or the tree: add --compare or --layout tree"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--depth", "2"],
     "--depth 2 applies to --layout 'tree' only (this call has --layout 'pypi')"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--layout", "tree", "--depth", "-1"],
     "--depth -1 is not valid: expected an int >= 0 (0: the model only)"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--device", "gpu"],
     "--device 'gpu' is not a device torch knows: expected cpu, cuda, cuda:1 or meta"),
    ([f"{MODELS}:Tiny", "--input-size", "3", "--json", "--compare"],
     "argument --compare: not allowed with argument --json"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    code, out, err = main_output(capsys, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("usage: torchsummary-plus")
    assert err.endswith(f"torchsummary-plus: error: {message}\n")


def test_bad_target_as_subprocess_has_no_traceback():
    done = run_cli(f"{MODELS}:Nope", "--input-size", "3")
    assert (done.returncode, done.stdout) == (2, "")
    assert "Traceback" not in done.stderr
    assert done.stderr.endswith(f"torchsummary-plus: error: '{MODELS}' has no attribute 'Nope'\n")


def test_run_missing_script(capsys):
    code, out, err = main_output(capsys, "run", "nothere.py")
    assert (code, out, err) == (2, "", "torchsummary-plus run: error: no such file: 'nothere.py'\n")


def test_errors_of_the_users_code_exit_1_without_traceback(capsys):
    code, _, err = main_output(capsys, f"{MODELS}:BrokenInit", "--input-size", "3")
    assert code == 1
    assert err == ("torchsummary-plus: error: building BrokenInit() failed: RuntimeError: "
                   "no weights here\n")
    code, _, err = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "4")  # Linear wants 3
    assert code == 1
    assert err.startswith("torchsummary-plus: error: the model's forward pass failed in module fc")


def _has_nested_parentheses(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > 1:
            return True
    return False


def test_failing_model_message_names_it_without_nested_parentheses(capsys):
    code, out, err = main_output(capsys, f"{MODELS}:Boom", "--input-size", "3")
    assert (code, out) == (1, "")
    assert err.startswith("torchsummary-plus: error: the model's forward pass failed in ")
    # the pass runs a batch of 2: inputs [[2, 3]]; no row was written before the model raised
    assert "the model itself (Boom, would be row Boom-1) called with inputs [[2, 3]]: " in err
    assert err.endswith(": ValueError: boom\n")
    assert not _has_nested_parentheses(err)


def test_failing_submodule_message(capsys):
    code, _, err = main_output(capsys, f"{MODELS}:InnerBoom", "--input-size", "3")
    assert code == 1
    # Linear-1 ran (3 -> 2), so the submodule would have been row 2, called with [2, 2]
    assert err == ("torchsummary-plus: error: the model's forward pass failed in module inner "
                   "(Boom, would be row Boom-2) called with inputs [[2, 2]]: ValueError: boom\n")
    assert not _has_nested_parentheses(err)


# ---------------------------------------------------------------- --build-args


LINEAR_4_2 = {
    # Linear 4 -> 2 built from --build-args: 4*2 weights + 2 biases = 10, all used, 40 B
    "total_params": 10, "unique_params": 10, "used_params": 10, "unique_params_bytes": 40,
    "rows": [{"name": "Linear-1", "module": "", "output_shape": "[-1, 2]", "params": 10,
              "shared_with": None}],
}


@pytest.mark.parametrize("build_args", ['[4, 2]', '{"in_features": 4, "out_features": 2}',
                                        '[4, 2, true]'])
def test_build_args_build_the_target(capsys, build_args):
    code, out, err = main_output(capsys, "torch.nn:Linear", "--build-args", build_args,
                                 "--input-size", "4", "--json")
    assert (code, err) == (0, "")
    figures = json.loads(out)
    assert {key: figures[key] for key in LINEAR_4_2} == LINEAR_4_2


def test_build_args_keywords_reach_the_constructor(capsys):
    code, out, _ = main_output(capsys, "torch.nn:Linear", "--input-size", "4", "--json",
                               "--build-args", '{"in_features": 4, "out_features": 2, "bias": false}')
    assert code == 0
    assert json.loads(out)["unique_params"] == 8  # 4*2, no bias


def test_build_args_for_a_file_target(capsys):
    code, out, _ = main_output(capsys, f"{MODELS}:NeedsArgument", "--build-args", '{"width": 3}',
                               "--input-size", "3", "--json")
    assert code == 0
    assert json.loads(out)["unique_params"] == 12  # Linear 3 -> 3: 9 weights + 3 biases


NOT_BUILDABLE = [
    (["torch.nn:Linear"], "TARGET 'torch.nn:Linear' cannot be built without arguments: "
                          "missing a required argument: 'in_features'; give them with --build-args"),
    (["json:dumps"], "TARGET 'json:dumps' cannot be built without arguments: "
                     "missing a required argument: 'obj'; give them with --build-args"),
    ([f"{MODELS}:NeedsArgument"], f"TARGET '{MODELS}:NeedsArgument' cannot be built without arguments: "
                                  "missing a required argument: 'width'; give them with --build-args"),
    (["torch.nn:Linear", "--build-args", "[4, 2, true, 1, 2, 3]"],
     "TARGET 'torch.nn:Linear' cannot be built from --build-args: too many positional arguments; "
     "check --build-args against Linear(in_features: int, out_features: int, bias: bool = True, "
     "device=None, dtype=None)"),
    (["torch.nn:Linear", "--build-args", "4"],
     "argument --build-args: '4' is a JSON int: expected a JSON list (positional arguments) or "
     "object (keyword arguments)"),
    (["torch.nn:Linear", "--build-args", "[4"], "argument --build-args: '[4' is not JSON"),
    (["json:dumps", "--build-args", "[1]"], "dumps() returned an object of type str, not an nn.Module"),
]


@pytest.mark.parametrize("argv, message", NOT_BUILDABLE, ids=[" ".join(a) for a, _ in NOT_BUILDABLE])
def test_targets_that_cannot_be_built_are_usage_errors(capsys, argv, message):
    code, out, err = main_output(capsys, *argv, "--input-size", "4")
    assert (code, out) == (2, "")
    assert err.startswith("usage: torchsummary-plus")
    assert f"torchsummary-plus: error: {message}" in err


def test_build_args_for_a_module_instance_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "instance.py").write_text("import torch.nn as nn\nMODEL = nn.Linear(3, 2)\n")
    code, _, err = main_output(capsys, f"{tmp_path}/instance.py:MODEL", "--build-args", "[1]",
                               "--input-size", "3")
    assert code == 2
    assert err.endswith("torchsummary-plus: error: 'MODEL' is already a module: --build-args "
                        "applies to a class or a callable that builds one\n")


# ---------------------------------------------------------------- --format markdown


def test_format_markdown_and_md_are_the_pipe_table(capsys):
    outputs = {}
    for name in ("markdown", "md", "pipe"):
        code, outputs[name], _ = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3",
                                             "--no-plus", "--compare", "--format", name)
        assert code == 0
    assert outputs["markdown"] == outputs["md"] == outputs["pipe"]
    table = outputs["md"][len(real_table(runpy.run_path(MODELS)["Tiny"](), (3,))):].splitlines()
    assert table[0].startswith("| Figure ")
    assert re.fullmatch(r"\|(:?-+:?\|)+", table[1])  # Markdown's alignment row
    assert all(line.startswith("| ") and line.endswith(" |") for line in table[2:7])  # five figures


def test_unknown_format_names_markdown_among_the_choices(capsys):
    code, _, err = main_output(capsys, f"{MODELS}:Tiny", "--input-size", "3", "--compare",
                               "--format", "word")
    assert code == 2
    assert "argument --format: 'word' is not a table format: expected markdown (or md), " in err
    assert ", github, " in err


# ---------------------------------------------------------------- --help, --version, run's usage


def test_version_is_the_installed_distribution(capsys):
    code, out, err = main_output(capsys, "--version")
    assert (code, err) == (0, "")
    # setup.py reads the version as text from _version.py; the metadata is what pip installed
    assert out == f"torchsummary-plus {importlib.metadata.version('torchsummary_plus')}\n"
    assert torchsummary_plus.__version__ == importlib.metadata.version("torchsummary_plus")


def _imported_modules(*args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the command under -X importtime; the names of every module it imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "torchsummary_plus", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return done, names


@pytest.mark.parametrize("flag", ["--help", "--version"])
def test_help_and_version_answer_without_importing_torch(flag):
    done, names = _imported_modules(flag)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: torchsummary-plus" if flag == "--help" else "torchsummary-plus ")
    assert "torchsummary_plus.cli" in names  # the listing is real
    assert not {name for name in names if name == "torch" or name.startswith("torch.")}


def test_import_of_the_package_is_lazy():
    code = ("import sys, torchsummary_plus as t; before = 'torch' in sys.modules; "
            "from torchsummary_plus import summary; from torchsummary_plus.api import summary as s; "
            "print(before, 'torch' in sys.modules, summary is s)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.stdout == "False True True\n"


def test_package_names_and_missing_names():
    from torchsummary_plus import api
    from torchsummary_plus._compare import compare
    from torchsummary_plus._errors import SummaryError
    from torchsummary_plus._result import SummaryResult

    assert (torchsummary_plus.summary, torchsummary_plus.summary_string) == (api.summary, api.summary_string)
    assert (torchsummary_plus.compare, torchsummary_plus.SummaryResult,
            torchsummary_plus.SummaryError) == (compare, SummaryResult, SummaryError)
    assert set(torchsummary_plus.__all__) <= set(dir(torchsummary_plus))
    with pytest.raises(AttributeError, match="has no attribute 'summarry'"):
        torchsummary_plus.summarry  # noqa: B018


def test_help_shows_run_and_its_arguments(capsys):
    code, out, _ = main_output(capsys, "--help")
    assert code == 0
    usage = out.split("\n\n")[0]
    assert usage.splitlines()[-1].split() == ["torchsummary-plus", "run", "SCRIPT.py", "[ARGS", "...]"]
    assert "\nSCRIPT.py   the script to run" in out
    assert "\nARGS        the script's own arguments" in out
    assert "--build-args JSON" in out


def test_run_help_describes_its_arguments(capsys):
    code, out, _ = main_output(capsys, "run", "--help")
    assert code == 0
    assert out.startswith("usage: torchsummary-plus run SCRIPT.py [ARGS ...]\n")
    assert "\nSCRIPT.py   the script to run" in out


def test_run_without_a_script_is_a_usage_error(capsys):
    code, out, err = main_output(capsys, "run")
    assert (code, out) == (2, "")
    assert err == ("usage: torchsummary-plus run SCRIPT.py [ARGS ...]\n"
                   "torchsummary-plus run: error: run needs a script: give SCRIPT.py, "
                   "then the script's own arguments\n")


def test_layout_choices_are_the_checks_layouts():
    from torchsummary_plus._arguments import LAYOUTS

    assert cli.LAYOUTS == LAYOUTS


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`torchsummary-plus ... | head -1`: the pipe is closed before the command writes."""
    process = subprocess.Popen([sys.executable, "-m", "torchsummary_plus", f"{MODELS}:Tiny",
                                "--input-size", "3", "--json"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # long before torch is imported and the JSON is written
    err = process.stderr.read()
    assert process.wait(timeout=300) == 1
    assert err == ""
