"""Instructions the summary executes against the model's own bare forward on meta: a
reading of the meta ratio that the machine's load cannot move.

    python benchmarks/meta_instructions.py [--config 7b|13b|70b|405b] [--calls 2]

Needs valgrind (its callgrind tool and ``callgrind_annotate``); the run takes minutes (about
5 for 70B), since every instruction is simulated. The script starts itself again under
callgrind, which counts only while the C functions ``itertools.starmap`` and
``itertools.filterfalse`` run (``--toggle-collect``): the bare forwards run inside the one,
the summaries inside the other, after two warm-up calls of each, in one process. Neither
torch nor torchsummary_plus calls those two functions itself, so each count holds exactly
its own calls. Instructions are not time (a cache miss costs many times an instruction), so
this reading sits below the timed one of ``meta_llama.py``; it moves by no more than a
fraction of a percent from run to run.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch

import torchsummary_plus
from benchmarks.meta_llama import CONFIGS, SEQ
from benchmarks.models import decoder

CHILD = "--child"
COUNTED = {"starmap_next": "bare forward", "filterfalse_next": "summary"}


def child(config_name: str, calls: int) -> None:
    """The run callgrind counts: the bare forwards under starmap, the summaries under
    filterfalse."""
    model = decoder(CONFIGS[config_name], device="meta")
    ids = torch.zeros(2, SEQ, dtype=torch.long, device="meta")

    def bare() -> None:
        model(ids)

    def summary(_: object) -> bool:
        with contextlib.redirect_stdout(io.StringIO()):
            torchsummary_plus.summary(model, (SEQ,), device="meta", dtypes=[torch.LongTensor])
        return True

    for _ in range(2):  # warm-up, not counted
        bare()
        summary(None)
    list(itertools.starmap(bare, [()] * calls))
    list(itertools.filterfalse(summary, range(calls)))


def counted(out_file: str) -> dict[str, int]:
    """Instructions counted inside each toggle function, from ``callgrind_annotate``."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", out_file],
        capture_output=True, text=True, check=True,
    ).stdout
    found: dict[str, int] = {}
    for line in text.splitlines():
        match = re.match(r"\s*([\d,]+)\s.*itertoolsmodule\.c:(\w+) ", line)
        if match and match.group(2) in COUNTED:
            found[COUNTED[match.group(2)]] = int(match.group(1).replace(",", ""))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="70b")
    parser.add_argument("--calls", type=int, default=2, help="counted calls of each (default 2)")
    parser.add_argument(CHILD, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.config, args.calls)
        return 0
    with tempfile.TemporaryDirectory() as folder:
        out_file = os.path.join(folder, "callgrind.out")
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no",
             *(f"--toggle-collect={name}" for name in COUNTED),
             f"--callgrind-out-file={out_file}",
             sys.executable, os.path.abspath(__file__), CHILD,
             "--config", args.config, "--calls", str(args.calls)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        found = counted(out_file)
    if set(found) != set(COUNTED.values()):
        print(f"callgrind counted {found}: expected both the bare forward and the summary")
        return 1
    bare, summary = found["bare forward"] / args.calls, found["summary"] / args.calls
    print(f"{args.config}: bare forward {bare / 1e6:,.1f} M instructions, summary "
          f"{summary / 1e6:,.1f} M, ratio {summary / bare:.3f}x (each per call, {args.calls} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
