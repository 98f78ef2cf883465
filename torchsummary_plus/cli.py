"""The ``torchsummary-plus`` command (also ``python -m torchsummary_plus``).

Three uses: no arguments runs the demo; ``TARGET --input-size ...`` (or ``--input-data
FILE.pt``) summarizes a model named on the command line; ``run SCRIPT.py [ARGS...]`` runs a
script written for torchsummary with its imports redirected here. Mistakes in the arguments
end with a message and status 2.

torch is imported only once argparse has answered, so ``--help`` and ``--version`` are instant.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import inspect
import json
import os
import re
import runpy
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tabulate import tabulate_formats

from ._version import __version__

if TYPE_CHECKING:
    import torch
    import torch.nn as nn

PROG = "torchsummary-plus"
LAYOUTS = ("pypi", "master", "tree")  # _arguments.LAYOUTS, which imports torch; a test checks they agree
FORMAT_ALIASES = {"markdown": "pipe", "md": "pipe"}  # Markdown's pipe table
USAGE = f"""\
{PROG} [-h] [--version]
       {PROG} TARGET --input-size D1,D2,... [options]
       {PROG} TARGET --input-data FILE.pt [options]
       {PROG} run SCRIPT.py [ARGS ...]"""
DESCRIPTION = """\
torchsummary's table, byte for byte, followed by the figures it gets wrong.

Without arguments: a demo of three small models.
With TARGET: summarize the model TARGET names (see TARGET and the options below).
run SCRIPT.py [ARGS ...]: run a script written for torchsummary, as 'python SCRIPT.py ARGS'
  would, with its torchsummary imports resolved to torchsummary_plus."""
RUN_HELP = """\
SCRIPT.py   the script to run; its folder comes first on sys.path
ARGS        the script's own arguments (its sys.argv[1:]), passed on unchanged"""
# Python parameter names in the messages of the checks (_arguments), as the flags that set them.
FLAGS = {"input_size": "--input-size", "batch_size": "--batch-size", "dtypes": "--dtypes",
         "device": "--device", "layout": "--layout", "depth": "--depth", "input_data": "--input-data",
         "forward_kwargs": "--kwarg"}


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
    import torch

    found = []
    for item in text.split(","):
        name = item.strip().removeprefix("torch.")
        dtype = getattr(torch, name, None) if name else None
        if not isinstance(dtype, torch.dtype):
            raise argparse.ArgumentTypeError(
                f"unknown dtype {name!r}: expected torch dtype names separated by commas, "
                "such as float,long or float32,int64"
            )
        found.append(dtype)
    return tuple(found)


def parse_kwarg(text: str) -> tuple[str, tuple[int, ...], torch.dtype]:
    """``attention_mask=16:long`` to ``("attention_mask", (16,), torch.int64)``; float by default."""
    import torch

    name, equals, rest = text.partition("=")
    if not equals or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not valid: expected NAME=D1,D2[:DTYPE], such as attention_mask=16:long"
        )
    size, _, dtype = rest.partition(":")
    dtypes = parse_dtypes(dtype) if dtype else (torch.float32,)
    if len(dtypes) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} has {len(dtypes)} dtypes: expected one")
    return name.strip(), parse_input_size(size), dtypes[0]


def parse_build_args(text: str) -> tuple[list[Any], dict[str, Any]]:
    """A JSON list (positional arguments) or object (keyword arguments) for TARGET's constructor."""
    expected = "expected a JSON list (positional arguments) or object (keyword arguments), " \
               "such as '[4, 2]' or '{\"in_features\": 4, \"out_features\": 2}'"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({error}): {expected}") from None
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return [], value
    raise argparse.ArgumentTypeError(f"{text!r} is a JSON {type(value).__name__}: {expected}")


def parse_format(text: str) -> str:
    """A tabulate format name; ``markdown`` and ``md`` mean its pipe table."""
    name = FORMAT_ALIASES.get(text, text)
    if name not in tabulate_formats:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a table format: expected markdown (or md), "
            + ", ".join(tabulate_formats)
        )
    return name


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, usage=USAGE, description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="arguments of run:\n" + RUN_HELP,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument(
        "target", nargs="?", metavar="TARGET",
        help="path/to/file.py:NAME or package.module:NAME, where NAME is an nn.Module, an "
             "nn.Module subclass or a callable returning a module (built with --build-args)",
    )
    parser.add_argument(
        "--build-args", type=parse_build_args, default=([], {}), metavar="JSON",
        help="arguments for building TARGET: a JSON list (positional) or object (keyword), "
             "e.g. '[4, 2]' or '{\"in_features\": 4, \"out_features\": 2}' (default: none)",
    )
    parser.add_argument(
        "--input-size", action="append", type=parse_input_size, metavar="D1,D2,...",
        help="shape of one input without the batch, e.g. 1,28,28; repeat it for each input",
    )
    parser.add_argument(
        "--input-data", metavar="FILE.pt",
        help="the model's own inputs instead of --input-size: a file torch.save wrote holding a "
             "tensor, a tuple (positional arguments) or a dict (keyword arguments), loaded "
             "with torch.load(weights_only=True)",
    )
    parser.add_argument(
        "--kwarg", action="append", type=parse_kwarg, default=[], metavar="NAME=D1,D2[:DTYPE]",
        help="an extra keyword argument of the forward: a tensor made like the inputs (uniform "
             "noise cast to DTYPE, float by default, with the inputs' batch); repeat it for each",
    )
    parser.add_argument("--batch-size", type=int, default=-1, metavar="N",
                        help="batch size shown in the table (default -1)")
    parser.add_argument("--device", default="cpu",
                        help="where the model is moved and the pass runs (default cpu)")
    parser.add_argument("--dtypes", type=parse_dtypes, metavar="T1,T2,...",
                        help="one dtype per input, e.g. float,long (default float)")
    parser.add_argument("--layout", choices=LAYOUTS, default="pypi",
                        help="torchsummary's table as PyPI 1.5.1 (default) or GitHub master prints "
                             "it, or the module tree (tree)")
    parser.add_argument("--depth", type=int, metavar="N",
                        help="with --layout tree: how many levels below the model (default 3)")
    parser.add_argument("--flops", action="store_true",
                        help="count the pass's floating-point operations (torch's FlopCounterMode)")
    parser.add_argument("--no-plus", action="store_true",
                        help="torchsummary's table only, without the corrected block")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--compare", action="store_true",
                        help="after the summary, the comparison table and the torchsummary check")
    output.add_argument("--json", action="store_true",
                        help="print one JSON object with every figure and the rows, nothing else")
    parser.add_argument("--format", type=parse_format, metavar="FMT",
                        help="format of the --compare table or of the tree (--layout tree): "
                             "simple (default), markdown (or md), "
                             "or any other tabulate format: " + ", ".join(tabulate_formats))
    return parser


def build_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} run", usage=f"{PROG} run SCRIPT.py [ARGS ...]",
        description="Run SCRIPT.py as 'python SCRIPT.py ARGS' would, with 'import torchsummary' "
                    "resolved to torchsummary_plus.",
        epilog="arguments:\n" + RUN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Both optional for argparse, so that a missing script gets a message of its own.
    parser.add_argument("script", nargs="?", metavar="SCRIPT.py", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _exit_code(code: object) -> int:
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


def _check_buildable(target: str, value: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
    """A constructor that cannot take the given arguments is a usage error, before it runs."""
    try:
        signature = inspect.signature(value).replace(return_annotation=inspect.Signature.empty)
    except (TypeError, ValueError):
        return  # no signature to check (some builtins): calling it will tell
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        if args or kwargs:
            problem, hint = "from --build-args", "check --build-args against"
        else:
            problem, hint = "without arguments", "give them with --build-args, a JSON list or object " \
                "such as '[4, 2]' or '{\"in_features\": 4}'; its signature is"
        raise UsageError(f"TARGET {target!r} cannot be built {problem}: {error}; {hint} "
                         f"{getattr(value, '__name__', 'TARGET')}{signature}") from None


def load_model(target: str, args: list[Any], kwargs: dict[str, Any]) -> nn.Module:
    """Import TARGET's file or module and build NAME from the given arguments."""
    import torch.nn as nn

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
        if args or kwargs:
            raise UsageError(f"{name!r} is already a module: --build-args applies to a class "
                             "or a callable that builds one")
        return value
    if not callable(value):
        raise UsageError(f"{name!r} is of type {type(value).__name__}, not an nn.Module subclass "
                         "or a callable returning a module")
    _check_buildable(target, value, args, kwargs)
    try:
        model = value(*args, **kwargs)
    except Exception as error:
        raise UserCodeError(f"building {name}() failed: {type(error).__name__}: {error}") from error
    if not isinstance(model, nn.Module):
        raise UsageError(f"{name}() returned an object of type {type(model).__name__}, not an nn.Module")
    return model


def _device(text: str) -> torch.device:
    import torch

    try:
        device = torch.device(text.strip().lower())
    except RuntimeError:
        raise UsageError(f"--device {text!r} is not a device torch knows: expected cpu, cuda, "
                         "cuda:1 or meta") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"{PROG}: CUDA is not available: running on cpu", file=sys.stderr)
        return torch.device("cpu")
    return device


def load_input_data(path: str) -> Any:
    """What ``--input-data`` holds: a tensor, a tuple or list, or a dict (on the CPU; the
    summary copies it to where the model is)."""
    import pickle

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UsageError(f"--input-data {path!r}: no such file") from None
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise UsageError(f"--input-data {path!r} cannot be loaded with torch.load(weights_only=True): "
                         f"{type(error).__name__}: {error}") from None
    if not isinstance(data, (torch.Tensor, tuple, list, dict)):
        raise UsageError(f"--input-data {path!r} holds a {type(data).__name__}: expected a tensor, "
                         "a tuple (positional arguments) or a dict (keyword arguments)")
    return data


def made_kwargs(specs: list[tuple[str, tuple[int, ...], torch.dtype]], data: Any) -> dict[str, Any]:
    """The ``--kwarg`` tensors, made as the summary makes inputs (uniform noise from the global
    generator, cast to the dtype), with the batch of the inputs: 2, or that of the first tensor
    of ``--input-data``."""
    import torch

    from ._given import tensors_in

    first = next(tensors_in(data), None)
    batch = first.shape[0] if first is not None and first.dim() > 0 else 2
    made: dict[str, Any] = {}
    for name, shape, dtype in specs:
        if name in made:
            raise UsageError(f"--kwarg {name} is given twice: give each keyword argument once")
        made[name] = torch.rand(batch, *shape).to(dtype)
    return made


def flag_message(message: str) -> str:
    """A check's message in the command line's words: ``batch_size=0`` becomes ``--batch-size 0``."""
    names = "|".join(FLAGS)
    return re.sub(rf"\b({names})(=|\b)",
                  lambda m: FLAGS[m[1]] + (" " if m[2] == "=" else ""), message)


def summarize_target(args: argparse.Namespace) -> int:
    """Build the model, run one pass and print what the options ask for."""
    from ._arguments import check_call
    from ._errors import SummaryError
    from ._pipeline import summarize
    from ._tree import check_tree_options

    device = _device(args.device)
    model = load_model(args.target, *args.build_args).to(device)
    sizes = args.input_size or []
    input_size = None if not sizes else sizes[0] if len(sizes) == 1 else sizes
    dtypes = list(args.dtypes) if args.dtypes else None
    data = None if args.input_data is None else load_input_data(args.input_data)
    kwargs = made_kwargs(args.kwarg, data) if args.kwarg else None
    try:
        spec = check_call(model, input_size, args.batch_size, device, dtypes, args.layout,
                          data, kwargs)
        tree_format = args.format if args.layout == "tree" else None
        depth, tablefmt = check_tree_options(args.layout, args.depth, tree_format)
    except (TypeError, ValueError) as error:
        raise UsageError(flag_message(str(error))) from None
    spec = dataclasses.replace(spec, flops=args.flops)
    try:
        lines, result = summarize(spec, model, not args.no_plus, depth, tablefmt)
    except SummaryError as error:
        raise UserCodeError(str(error)) from error
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for line in lines:
        print(line)
    if args.compare:
        from ._compare import print_comparison

        print_comparison(model, spec, result, args.format or "simple")
    return 0


def run_script(script: str, script_args: Sequence[str]) -> int:
    """Run ``script`` as ``python script args`` would; its exit status is returned."""
    from ._legacy_shim import torchsummary_redirected

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
        run_parser = build_run_parser()
        run_args = run_parser.parse_args(argv[1:])
        if run_args.script is None:
            run_parser.error("run needs a script: give SCRIPT.py, then the script's own arguments")
        return run_script(run_args.script, run_args.args)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.target is None:
        if argv:
            parser.error("TARGET is required with these options (no arguments at all runs the demo)")
        from ._demo import run_demo

        run_demo()
        return 0
    if not args.input_size and args.input_data is None:
        parser.error("--input-size or --input-data is required with TARGET")
    if args.format and not args.compare and args.layout != "tree":
        parser.error("--format applies to the --compare table or the tree: add --compare or "
                     "--layout tree")
    try:
        return summarize_target(args)
    except UsageError as error:
        parser.error(str(error))
    except UserCodeError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status instead of exiting."""
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's flush at exit
        return code
    except UsageError as error:  # from `run`
        print(f"{PROG} run: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit:  # argparse's errors, --help and --version
        return _exit_code(exit.code)
    except BrokenPipeError:  # `... | head`: the reader left; stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 1
