"""Comparison mode: torchsummary's figures beside three true ones, and a live check.

The four value columns count the parameters of the same forward pass four ways (the names
are those of the block, the result and docs/output.md), each differing from the one before
it in one respect:

- torchsummary: what torchsummary prints (each row's `weight` and `bias`, repeats included);
- unique in table: the same tensors, each once;
- unique in model: every parameter tensor the model holds, each once, whatever its name;
- used in pass: the unique parameters an operation of the pass used.

Each reason the columns differ is worded once, as a numbered note under the table. The live
check runs the installed torchsummary on the same model and input and says whether it
printed this package's original-layout table byte for byte.
"""
from __future__ import annotations

import contextlib
import html
import importlib
import importlib.metadata
import inspect
import io
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
from tabulate import multiline_formats, tabulate, tabulate_formats

from ._arguments import CallSpec, check_call
from ._footnotes import wrapped
from ._index import index_model
from ._legacy import MB, LegacyFigures
from ._pipeline import Device, InputSize, summarize
from ._render import legacy_table
from ._result import SummaryResult
from ._snapshot import ModelSnapshot

HEADERS = (
    "Figure",
    "torchsummary",
    "unique in table",
    "unique in model",
    "used in pass",
    "notes",
)
# Text formats that show a header over two lines: there the names break after their first
# word, which keeps the table within 100 columns up to figures of 14 characters (markdown,
# org, jira and rst tables need one header line).
_TWO_LINE_HEADERS = frozenset(multiline_formats) - {"github", "pipe", "jira", "orgtbl", "rst"}
_LISTED = 3  # items named in a reason before "and N more"
_HTML_FORMATS = ("html", "unsafehtml")


@dataclass(frozen=True)
class Tally:
    """One column's parameters: how many, how many trainable, how many bytes."""

    total: int
    trainable: int
    nbytes: int


@dataclass(frozen=True)
class FigureRow:
    """One line of the comparison table, with the reasons its columns differ."""

    label: str
    values: tuple[str, ...]  # torchsummary, unique in table, unique in model, used in pass
    reasons: tuple[str, ...]  # empty where all four agree


@dataclass(frozen=True)
class _Reasons:
    """What makes columns differ, each already worded (empty when it does not apply)."""

    repeats: str  # torchsummary vs unique in table
    four_bytes: str  # torchsummary vs unique in table, sizes only
    memory: str  # torchsummary vs unique in table, the estimated total only
    missed: str  # unique in table vs unique in model
    weight_decides: str  # unique in table vs unique in model, trainability only
    unused: str  # unique in model vs used in pass


def _listing(items: Sequence[str], where: str) -> str:
    shown = ", ".join(items[:_LISTED])
    more = len(items) - _LISTED
    return shown + (f" and {more} more ({where})" if more > 0 else "")


def _reasons(result: SummaryResult) -> _Reasons:
    not_named: list[str] = []
    no_row: list[str] = []
    for name, numel in result.uncounted_params:
        leaf = name.rsplit(".", 1)[-1]
        (no_row if leaf in ("weight", "bias") else not_named).append(f"{name} ({numel:,})")
    missed = []
    if not_named:
        missed.append("not named weight/bias: " + _listing(not_named, "result.uncounted_params"))
    if no_row:
        missed.append("in no row of the table: " + _listing(no_row, "result.uncounted_params"))
    repeats = [f"{row} repeats {earlier}" for row, earlier in result.shared_rows.items()]
    unused = result.unused_modules
    return _Reasons(
        repeats="rows repeat earlier rows' parameters: "
        + _listing(repeats, "result.shared_rows") if repeats else "",
        four_bytes=(
            "torchsummary assumes 4 bytes per parameter"
            if result.table_unique_params_bytes != 4 * result.table_unique_params
            else ""
        ),
        memory=(
            "torchsummary's total multiplies output shapes together and doubles them, 4 bytes "
            "each; the others add the rows' output tensors and the inputs at their dtypes"
        ),
        missed="; ".join(missed),
        weight_decides=(
            "torchsummary takes trainability from each module's weight"
            if result.table_unique_requires_grad_params != result.table_unique_trainable_params
            else ""
        ),
        unused=(
            f"never used: {_listing(unused, 'result.unused_modules')} "
            f"({result.unused_params:,} parameters)" if unused else ""
        ),
    )


def _why(values: Sequence[Any], reasons: _Reasons, kind: str) -> tuple[str, ...]:
    """The reasons behind the neighbouring columns that differ on this line."""
    naive, table, held, used = values
    parts = []
    if naive != table:
        parts += [reasons.repeats, reasons.four_bytes if kind == "size" else ""]
        parts.append(reasons.memory if kind == "total" else "")
    if table != held:
        parts += [reasons.missed, reasons.weight_decides if kind == "trainable" else ""]
    if held != used:
        parts.append(reasons.unused)
    return tuple(p for p in parts if p)


def figure_rows(result: SummaryResult) -> list[FigureRow]:
    """The comparison's lines, worked out from one summary's result."""
    tallies = (
        Tally(result.total_params, result.trainable_params, 4 * result.total_params),
        Tally(
            result.table_unique_params,
            result.table_unique_trainable_params,
            result.table_unique_params_bytes,
        ),
        Tally(result.unique_params, result.unique_trainable_params, result.unique_params_bytes),
        Tally(result.used_params, result.used_trainable_params, result.used_params_bytes),
    )
    reasons = _reasons(result)
    rest = result.activation_bytes + result.input_bytes  # the block's, real dtypes

    def counts(label: str, key: Callable[[Tally], int], kind: str) -> FigureRow:
        values = [key(t) for t in tallies]
        return FigureRow(label, tuple(f"{v:,}" for v in values), _why(values, reasons, kind))

    def sizes(label: str, naive_mb: float, others: Callable[[Tally], float], kind: str) -> FigureRow:
        shown = ("%0.2f" % naive_mb, *("%0.2f" % others(t) for t in tallies[1:]))
        # the neighbours differ where their bytes do (the rounded text may hide it);
        # torchsummary's total never agrees with the others' by its rule
        nbytes = [-1 if kind == "total" else tallies[0].nbytes, *(t.nbytes for t in tallies[1:])]
        return FigureRow(label, shown, _why(nbytes, reasons, kind))

    return [
        counts("Total params", lambda t: t.total, "count"),
        counts("Trainable params", lambda t: t.trainable, "trainable"),
        counts("Non-trainable params", lambda t: t.total - t.trainable, "trainable"),
        sizes("Params size (MB)", result.params_size_mb, lambda t: t.nbytes / MB, "size"),
        sizes("Estimated Total Size (MB)", result.estimated_total_size_mb,
              lambda t: (t.nbytes + rest) / MB, "total"),
    ]


def check_tablefmt(tablefmt: str) -> None:
    if tablefmt not in tabulate_formats:
        raise ValueError(f"tablefmt={tablefmt!r} is not a format tabulate knows: expected one of "
                         + ", ".join(tabulate_formats))


def numbered_table(lines: Sequence[tuple[str, FigureRow]], first: str, tablefmt: str) -> str:
    """Labelled lines of figures (``first`` heads the labels) in any of tabulate's formats,
    each reason once as a numbered note under the table (an ordered list in HTML)."""
    notes: dict[str, int] = {}
    cells = []
    for label, row in lines:
        numbers = [notes.setdefault(reason, len(notes) + 1) for reason in row.reasons]
        cells.append([label, *row.values, ",".join(str(n) for n in sorted(numbers))])
    headers: Sequence[str] = (first, *HEADERS[1:])
    if tablefmt in _TWO_LINE_HEADERS:
        headers = [h.replace(" ", "\n", 1) for h in headers]
    table: str = tabulate(
        cells,
        headers=headers,
        tablefmt=tablefmt,
        disable_numparse=True,
        colalign=("left", "right", "right", "right", "right", "left"),
    )
    if tablefmt in _HTML_FORMATS:
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in notes)
        return table + (f"\n<ol>{items}</ol>" if notes else "")
    text = [line for reason, n in notes.items() for line in wrapped(f"[{n}] {reason}")]
    return "\n".join([table, *(text or ["All four columns agree on every line."])])


def comparison_table(result: SummaryResult, tablefmt: str = "simple") -> str:
    """The comparison as text, in any of tabulate's formats, with its numbered notes."""
    check_tablefmt(tablefmt)
    return numbered_table([(row.label, row) for row in figure_rows(result)], "Figure", tablefmt)


def _show(text: str, tablefmt: str) -> None:
    """Print ``text``; in a notebook, an HTML table is shown as HTML."""
    ipython: Any = sys.modules.get("IPython")  # imported by the notebook's kernel, never here
    shell = ipython.get_ipython() if ipython is not None else None
    if tablefmt in _HTML_FORMATS and getattr(shell, "kernel", None) is not None:
        shown: Any = importlib.import_module("IPython.display")
        shown.display(shown.HTML(text))
    else:
        print(text)


@contextlib.contextmanager
def _model_kept(model: nn.Module) -> Iterator[None]:
    """Undo what another package's summary may do to the model and the random state: the
    snapshot the trace uses (which also removes hooks it left behind when its pass raised),
    plus a copy of every parameter, since that pass is not watched for writes."""
    snapshot = ModelSnapshot(index_model(model))
    copies: dict[int, tuple[torch.Tensor, torch.Tensor]] = {
        id(p): (p, p.detach().clone()) for p in model.parameters()
    }
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
    def shown(lines: list[str], i: int) -> str:
        return repr(lines[i]) if i < len(lines) else "(no such line)"

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
        torchsummary: Any = importlib.import_module("torchsummary")  # it ships no types
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
    _show(comparison_table(result, tablefmt), tablefmt)
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
