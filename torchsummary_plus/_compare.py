"""Comparison mode: torchsummary's naive figures beside three true ones, and a live check.

The four value columns answer four questions about the same forward pass:

- torchsummary (naive): what torchsummary prints (each row's `weight` and `bias`, repeats
  included);
- deduplicated: the same tensors, each counted once;
- used in pass: every parameter the pass took part in, whatever its name;
- model.parameters(): every parameter the model holds.

The live check runs the installed torchsummary on the same model and input and says whether
it printed this package's original-layout table byte for byte.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import inspect
import io
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
import torch.nn as nn
from tabulate import tabulate, tabulate_formats

from ._arguments import CallSpec, check_call
from ._legacy import MB, LegacyFigures
from ._render import legacy_table
from ._index import index_model
from ._snapshot import ModelSnapshot
from ._result import SummaryResult
from ._pipeline import Device, InputSize, summarize

HEADERS = (
    "Figure",
    "torchsummary (naive)",
    "deduplicated",
    "used in pass",
    "model.parameters()",
    "why they differ",
)
_LISTED = 3  # items named in a reason before "and N more"


@dataclass(frozen=True)
class Tally:
    """One column's parameters: how many, how many trainable, how many bytes."""

    total: int
    trainable: int
    nbytes: int


@dataclass(frozen=True)
class FigureRow:
    """One line of the comparison table."""

    label: str
    values: tuple[str, str, str, str]  # naive, deduplicated, used, model.parameters()
    why: str


@dataclass(frozen=True)
class _Reasons:
    """What makes columns differ, each already worded (empty when it does not apply)."""

    repeats: str  # naive vs deduplicated
    four_bytes: str  # naive vs deduplicated, sizes only
    missed: str  # deduplicated vs model.parameters()
    weight_decides: str  # deduplicated vs model.parameters(), trainability only
    unused: str  # used vs model.parameters()


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _reasons(result: SummaryResult) -> _Reasons:
    not_named, no_row = [], []
    for name, numel in result.uncounted_params:
        leaf = name.rsplit(".", 1)[-1]
        (no_row if leaf in ("weight", "bias") else not_named).append(f"{name} ({numel:,})")
    missed = []
    if not_named:
        missed.append("not named weight/bias: " + _listing(not_named))
    if no_row:
        missed.append("in no row of the table: " + _listing(no_row))
    repeats = [f"{row} repeats {earlier}" for row, earlier in result.shared_rows.items()]
    unused = result.unused_modules
    return _Reasons(
        repeats="repeated rows: " + _listing(repeats) if repeats else "",
        four_bytes=(
            "torchsummary assumes 4 bytes per parameter"
            if result.deduplicated_params_bytes != 4 * result.deduplicated_params
            else ""
        ),
        missed="; ".join(missed),
        weight_decides=(
            "torchsummary takes trainability from each module's weight"
            if result.deduplicated_requires_grad_params != result.deduplicated_trainable_params
            else ""
        ),
        unused=f"never used: {_listing(unused)} ({result.unused_params:,} parameters)" if unused else "",
    )


def _why(key: Callable[[Tally], int], tallies: Sequence[Tally], reasons: _Reasons, kind: str) -> str:
    """The reasons behind the pairs that differ on this line, or plainly that they agree."""
    naive, dedup, used, held = (key(t) for t in tallies)
    if naive == dedup == used == held:
        return "all four agree"
    parts = []
    if naive != dedup:
        parts += [reasons.repeats, reasons.four_bytes if kind == "size" else ""]
    if dedup != held:
        parts += [reasons.missed, reasons.weight_decides if kind == "trainable" else ""]
    if used != held:
        parts.append(reasons.unused)
    if dedup == used == held:
        parts.append("the other three agree")
    return "; ".join(p for p in parts if p)


def figure_rows(result: SummaryResult) -> list[FigureRow]:
    """The comparison's lines, worked out from one summary's result."""
    dedup = Tally(
        result.deduplicated_params,
        result.deduplicated_trainable_params,
        result.deduplicated_params_bytes,
    )
    naive = Tally(result.total_params, result.trainable_params, 4 * result.total_params)
    used = Tally(result.used_params, result.used_trainable_params, result.used_params_bytes)
    held = Tally(result.unique_params, result.unique_trainable_params, result.unique_params_bytes)
    tallies = (naive, dedup, used, held)
    reasons = _reasons(result)
    rest_mb = result.forward_backward_size_mb + result.input_size_mb

    def counts(label: str, key: Callable[[Tally], int], kind: str) -> FigureRow:
        values = tuple(f"{key(t):,}" for t in tallies)
        return FigureRow(label, values, _why(key, tallies, reasons, kind))  # type: ignore[arg-type]

    def sizes(label: str, naive_mb: float, others: Callable[[Tally], float]) -> FigureRow:
        values = ("%0.2f" % naive_mb,) + tuple("%0.2f" % others(t) for t in tallies[1:])
        return FigureRow(label, values, _why(lambda t: t.nbytes, tallies, reasons, "size"))  # type: ignore[arg-type]

    return [
        counts("Total params", lambda t: t.total, "count"),
        counts("Trainable params", lambda t: t.trainable, "trainable"),
        counts("Non-trainable params", lambda t: t.total - t.trainable, "trainable"),
        sizes("Params size (MB)", result.params_size_mb, lambda t: t.nbytes / MB),
        sizes("Estimated Total Size (MB)", result.estimated_total_size_mb,
              lambda t: t.nbytes / MB + rest_mb),
    ]


def check_tablefmt(tablefmt: str) -> None:
    if tablefmt not in tabulate_formats:
        raise ValueError(f"tablefmt={tablefmt!r} is not a format tabulate knows: expected one of "
                         + ", ".join(tabulate_formats))


def comparison_table(result: SummaryResult, tablefmt: str = "simple") -> str:
    """The comparison as text, in any of tabulate's formats."""
    check_tablefmt(tablefmt)
    return tabulate(
        [[row.label, *row.values, row.why] for row in figure_rows(result)],
        headers=HEADERS,
        tablefmt=tablefmt,
        disable_numparse=True,
        colalign=("left", "right", "right", "right", "right", "left"),
    )


@contextlib.contextmanager
def _model_kept(model: nn.Module) -> Iterator[None]:
    """Undo what another package's summary may do to the model and the random state: the
    snapshot the trace uses (which also removes hooks it left behind when its pass raised),
    plus a copy of every parameter, since that pass is not watched for writes."""
    snapshot = ModelSnapshot(index_model(model))
    copies = {id(p): (p, p.detach().clone()) for p in model.parameters()}
    try:
        yield
    finally:
        errors = snapshot.restore(copies)
        if errors:
            raise errors[0]


def _legacy_text(result: SummaryResult) -> str:
    legacy = LegacyFigures(
        result.total_params,
        result.trainable_params,
        result.input_size_mb,
        result.forward_backward_size_mb,
        result.params_size_mb,
        result.estimated_total_size_mb,
    )
    return "".join(line + "\n" for line in legacy_table(result.rows, legacy))


def _side_by_side(ours: str, theirs: str) -> Iterator[str]:
    left, right = ours.splitlines(keepends=True), theirs.splitlines(keepends=True)
    first = next(
        (i for i in range(max(len(left), len(right)))
         if i >= len(left) or i >= len(right) or left[i] != right[i]),
        0,
    )
    shown = lambda lines, i: repr(lines[i]) if i < len(lines) else "(no such line)"  # noqa: E731
    yield f"torchsummary check: the tables differ; first at line {first + 1}:"
    yield f"  torchsummary_plus: {shown(left, first)}"
    yield f"  torchsummary:      {shown(right, first)}"
    left_title = "torchsummary_plus (layout='pypi', plus=False)"
    width = max([len(left_title)] + [len(line.rstrip("\n")) for line in left])
    yield f"  {left_title:<{width}} | torchsummary"
    for i in range(max(len(left), len(right))):
        mark = "*" if i >= len(left) or i >= len(right) or left[i] != right[i] else " "
        a = left[i].rstrip("\n") if i < len(left) else ""
        b = right[i].rstrip("\n") if i < len(right) else ""
        yield f"{mark} {a:<{width}} | {b}"


def _torchsummary_version() -> str:
    try:
        return importlib.metadata.version("torchsummary")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def torchsummary_check(model: nn.Module, spec: CallSpec, result: SummaryResult) -> list[str]:
    """Run the installed torchsummary on the same call; say whether its table is ours."""
    if spec.layout != "pypi":
        return [f"torchsummary check: skipped; it is made against layout='pypi' "
                f"(this summary used layout={spec.layout!r})"]
    try:
        import torchsummary
    except ImportError:
        return ["torchsummary check: could not check, torchsummary is not installed"]
    if torchsummary.__name__.startswith(__package__):
        return ["torchsummary check: could not check, 'torchsummary' is torchsummary_plus here "
                "(under torchsummary-plus run)"]
    if spec.device.type not in ("cpu", "cuda"):
        return [f"torchsummary check: could not check, torchsummary runs on 'cpu' or 'cuda' only, "
                f"not {spec.device.type!r}"]
    extra: dict[str, Any] = {}
    if any(d != torch.float32 for d in spec.dtypes):
        if "dtypes" not in inspect.signature(torchsummary.summary).parameters:
            return ["torchsummary check: could not check, this torchsummary takes no dtypes "
                    "and feeds float inputs only"]
        extra["dtypes"] = list(spec.dtypes)
    shapes = spec.input_shapes
    input_size = shapes[0] if len(shapes) == 1 else list(shapes)
    version = _torchsummary_version()
    printed = io.StringIO()
    with _model_kept(model), contextlib.redirect_stdout(printed):
        try:
            torchsummary.summary(model, input_size, spec.batch_size, spec.device.type, **extra)
        except Exception as error:  # any crash of the other package is the finding
            return [f"torchsummary check: torchsummary {version} crashed on this model: "
                    f"{type(error).__name__}: {error}"]
    ours, theirs = _legacy_text(result), printed.getvalue()
    if ours == theirs:
        return [f"torchsummary check: torchsummary {version} printed the same table, byte for byte"]
    return list(_side_by_side(ours, theirs))


def print_comparison(model: nn.Module, spec: CallSpec, result: SummaryResult,
                     tablefmt: str = "simple") -> None:
    """The comparison table, then the torchsummary check, on stdout."""
    print(comparison_table(result, tablefmt))
    for line in torchsummary_check(model, spec, result):
        print(line)


def compare(
    model: nn.Module,
    input_size: InputSize,
    batch_size: int = -1,
    device: Device = "cuda",
    dtypes: Sequence[Any] | None = None,
    *,
    tablefmt: str = "simple",
) -> SummaryResult:
    """Print torchsummary's figures beside the true ones, from one forward pass.

    Arguments as ``summary``'s; ``tablefmt`` is any format tabulate knows (github, latex...).
    Returns the same result ``summary`` returns.
    """
    check_tablefmt(tablefmt)
    spec = check_call(model, input_size, batch_size, device, dtypes, "pypi")
    _, result = summarize(spec, model, plus=False)
    print_comparison(model, spec, result, tablefmt)
    return result
