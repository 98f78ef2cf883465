"""The ``torchsummary-plus`` command (also ``python -m torchsummary_plus``).

Three uses: no arguments runs the demo; ``TARGET --input-size ...`` summarizes a model named
on the command line; ``run SCRIPT.py [ARGS...]`` runs a script written for torchsummary with
its imports redirected here. Mistakes in the arguments end with a message and status 2.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import torch
import torch.nn as nn
from tabulate import tabulate_formats

from ._arguments import LAYOUTS, check_call
from ._compare import print_comparison
from ._legacy_shim import torchsummary_redirected
from ._errors import SummaryError
from ._pipeline import summarize as _summarize

PROG = "torchsummary-plus"


class UsageError(Exception):
    """A mistake in the command line: reported in one line, exit status 2."""


class UserCodeError(Exception):
    """The user's own code (import, constructor, forward pass) raised: exit status 1."""


def parse_input_size(text: str) -> tuple[int, ...]:
    """``1,28,28`` (brackets and spaces allowed) to ``(1, 28, 28)``."""
    parts = text.strip().strip("()[]").split(",")
    try:
        dims = tuple(int(part) for part in parts)
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not valid: expected positive integers separated by commas, such as 1,28,28"
        )
    return dims


def parse_dtypes(text: str) -> tuple[torch.dtype, ...]:
    """``float,long`` to torch dtypes; any name torch gives a dtype (``torch.`` optional)."""
    found = []
    for name in text.split(","):
        name = name.strip().removeprefix("torch.")
        dtype = getattr(torch, name, None) if name else None
        if not isinstance(dtype, torch.dtype):
            raise argparse.ArgumentTypeError(
                f"unknown dtype {name!r}: expected torch dtype names separated by commas, "
                "such as float,long or float32,int64"
            )
        found.append(dtype)
    return tuple(found)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "torchsummary's table, byte for byte, followed by the figures it gets wrong. "
            "Without arguments: a demo of three small models. "
            f"'{PROG} run SCRIPT.py [ARGS...]' runs a script written for torchsummary "
            "with its torchsummary imports resolved to torchsummary_plus."
        ),
    )
    parser.add_argument(
        "target", nargs="?", metavar="TARGET",
        help="path/to/file.py:NAME or package.module:NAME, where NAME is an nn.Module "
             "subclass or a callable returning a module, built with no arguments",
    )
    parser.add_argument(
        "--input-size", action="append", type=parse_input_size, metavar="D1,D2,...",
        help="shape of one input without the batch, e.g. 1,28,28; repeat it for each input",
    )
    parser.add_argument("--batch-size", type=int, default=-1, metavar="N",
                        help="batch size shown in the table (default -1)")
    parser.add_argument("--device", default="cpu",
                        help="where the model is moved and the pass runs (default cpu)")
    parser.add_argument("--dtypes", type=parse_dtypes, metavar="T1,T2,...",
                        help="one dtype per input, e.g. float,long (default float)")
    parser.add_argument("--layout", choices=LAYOUTS, default="pypi",
                        help="torchsummary's table as PyPI 1.5.1 (default) or GitHub master prints it")
    parser.add_argument("--no-plus", action="store_true",
                        help="torchsummary's table only, without the corrected block")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--compare", action="store_true",
                        help="after the summary, the comparison table and the torchsummary check")
    output.add_argument("--json", action="store_true",
                        help="print one JSON object with every figure and the rows, nothing else")
    parser.add_argument("--format", choices=tabulate_formats, metavar="FMT",
                        help="tabulate format of the --compare table (default simple): "
                             + ", ".join(tabulate_formats))
    return parser


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} run",
        description="Run SCRIPT.py as 'python SCRIPT.py ARGS' would, with 'import torchsummary' "
                    "resolved to torchsummary_plus.",
    )
    parser.add_argument("script", metavar="SCRIPT.py")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser


def _exit_code(code: Any) -> int:
    """What the interpreter makes of ``sys.exit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise UsageError(f"no such file: {str(path)!r}")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # its sibling modules import as when run from there
    name = f"_torchsummary_plus_target_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {str(path)!r} as Python source")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise UserCodeError(f"importing {str(path)!r} failed: {type(error).__name__}: {error}") from error
    return module


def _import_module(name: str) -> ModuleType:
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m` does; a console script does not
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise UsageError(f"no module named {missing!r}") from error
        raise UserCodeError(f"importing {name!r} failed: {type(error).__name__}: {error}") from error
    except Exception as error:
        raise UserCodeError(f"importing {name!r} failed: {type(error).__name__}: {error}") from error


def load_model(target: str) -> nn.Module:
    """Import TARGET's file or module and build NAME with no arguments."""
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise UsageError(f"TARGET {target!r} is not valid: expected path/to/file.py:NAME "
                         "or package.module:NAME")
    is_file = where.endswith(".py") or "/" in where or os.sep in where
    module = _import_file(Path(where)) if is_file else _import_module(where)
    value: Any = module
    for part in name.split("."):
        if not hasattr(value, part):
            raise UsageError(f"{where!r} has no attribute {name!r}")
        value = getattr(value, part)
    if isinstance(value, nn.Module):
        return value
    if not callable(value):
        raise UsageError(f"{name!r} is of type {type(value).__name__}, not an nn.Module subclass "
                         "or a callable returning a module")
    try:
        model = value()
    except Exception as error:
        raise UserCodeError(f"building {name}() failed: {type(error).__name__}: {error}") from error
    if not isinstance(model, nn.Module):
        raise UsageError(f"{name}() returned an object of type {type(model).__name__}, not an nn.Module")
    return model


def _device(text: str) -> torch.device:
    try:
        device = torch.device(text.strip().lower())
    except RuntimeError:
        raise UsageError(f"--device {text!r} is not a device torch knows: expected cpu, cuda, "
                         "cuda:1 or meta") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{PROG}: CUDA is not available: running on cpu", file=sys.stderr)
        return torch.device("cpu")
    return device


def summarize_target(args: argparse.Namespace) -> int:
    """Build the model, run one pass and print what the options ask for."""
    device = _device(args.device)
    model = load_model(args.target).to(device)
    sizes = args.input_size
    input_size = sizes[0] if len(sizes) == 1 else sizes
    dtypes = list(args.dtypes) if args.dtypes else None
    try:
        spec = check_call(model, input_size, args.batch_size, device, dtypes, args.layout)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    try:
        lines, result = _summarize(spec, model, plus=not args.no_plus)
    except SummaryError as error:
        raise UserCodeError(str(error)) from error
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for line in lines:
        print(line)
    if args.compare:
        print_comparison(model, spec, result, args.format or "simple")
    return 0


def run_script(script: str, script_args: Sequence[str]) -> int:
    """Run ``script`` as ``python script args`` would; its exit status is returned."""
    path = Path(script)
    if not path.is_file():
        raise UsageError(f"no such file: {script!r}")
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *script_args]
    sys.path[0] = str(path.resolve().parent)  # as the interpreter sets it for a script
    try:
        with torchsummary_redirected():
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exit:
        return _exit_code(exit.code)
    except Exception as error:
        _print_script_traceback(error, script)
        return 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return 0


def _print_script_traceback(error: BaseException, script: str) -> None:
    """The traceback from the script's first frame on, as the interpreter would show it."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != script:
        tb = tb.tb_next
    traceback.print_exception(type(error), error, tb or error.__traceback__)


def _main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        run_args = build_run_parser().parse_args(argv[1:])
        return run_script(run_args.script, run_args.args)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.target is None:
        if argv:
            parser.error("TARGET is required with these options (no arguments at all runs the demo)")
        from ._demo import run_demo

        run_demo()
        return 0
    if not args.input_size:
        parser.error("--input-size is required with TARGET")
    if args.format and not args.compare:
        parser.error("--format applies to the --compare table: add --compare")
    try:
        return summarize_target(args)
    except UsageError as error:
        parser.error(str(error))
    except UserCodeError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    return 0  # not reached: parser.error exits


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status instead of exiting."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except UsageError as error:  # from `run`
        print(f"{PROG} run: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit:  # argparse's errors and --help
        return _exit_code(exit.code)
