"""Text: torchsummary's table, character for character, and the corrected block below it.

Functions here yield lines (without newlines) so that a table of a million rows is written
as it is made rather than built as one string first.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._figures import CorrectedFigures, Row
from ._footnotes import footnotes
from ._legacy import LegacyFigures
from ._sharded_pass import RankShare

WIDTH = 64
RULE = "-" * WIDTH
DOUBLE_RULE = "=" * WIDTH


def _row_line(name: str, shape: str, params: str) -> str:
    return "{:>20}  {:>25} {:>15}".format(name, shape, params)


def _line_end(shown: Any, params: int, known: dict[tuple[tuple[int, ...], int], str]) -> str:
    """A row's line after its name: the Output Shape and Param # cells, in ``_row_line``'s
    layout. Remembered for flat shapes: most rows repeat an earlier row's shape and count
    (a tuple key is cheaper than the text)."""
    key = None
    if type(shown) is list:
        key = (tuple(shown), params)
        try:
            end = known.get(key)
        except TypeError:  # lists inside: nested outputs
            key = None
        else:
            if end is not None:
                return end
    end = "  {:>25} {:>15,}".format(str(shown), params)
    if key is not None and all(type(n) is int for n in key[0]):  # only plain shapes: True == 1
        known[key] = end
    return end


def legacy_table(rows: list[Row], legacy: LegacyFigures) -> Iterator[str]:
    """torchsummary's table: header, one line per row, totals and its memory estimate."""
    yield RULE
    yield _row_line("Layer (type)", "Output Shape", "Param #")
    yield DOUBLE_RULE
    line_ends: dict[tuple[tuple[int, ...], int], str] = {}
    for row in rows:
        yield f"{row.name:>20}{_line_end(row.output_shape, row.params, line_ends)}"
    yield DOUBLE_RULE
    yield "Total params: {0:,}".format(legacy.total_params)
    yield "Trainable params: {0:,}".format(legacy.trainable_params)
    yield "Non-trainable params: {0:,}".format(legacy.total_params - legacy.trainable_params)
    yield RULE
    yield "Input size (MB): %0.2f" % legacy.input_size_mb
    yield "Forward/backward pass size (MB): %0.2f" % legacy.forward_backward_size_mb
    yield "Params size (MB): %0.2f" % legacy.params_size_mb
    yield "Estimated Total Size (MB): %0.2f" % legacy.estimated_total_size_mb
    yield RULE


def _mb(nbytes: int | None) -> str:
    return "n/a (no grad)" if nbytes is None else "%0.2f" % (nbytes / 1024**2)


# The block's columns, named as everywhere else (see docs/output.md).
COLUMNS = ("unique in model", "used in pass")
TITLE = "Corrected by torchsummary_plus"


def _figure_lines(c: CorrectedFigures) -> list[tuple[str, tuple[str, ...]]]:
    """(label, values) of each line of the block."""
    flops = [] if c.flops is None else [("FLOPs of the pass (batch of 2)", (f"{c.flops:,}",))]
    return [
        ("Parameters", (f"{c.unique_params:,}", f"{c.used_params:,}")),
        ("  trainable", (f"{c.unique_trainable_params:,}", f"{c.used_trainable_params:,}")),
        ("  non-trainable", (
            f"{c.unique_params - c.unique_trainable_params:,}",
            f"{c.used_params - c.used_trainable_params:,}",
        )),
        ("  their size (MB, real dtypes)", (_mb(c.unique_params_bytes), _mb(c.used_params_bytes))),
        ("Unused parameters", (f"{c.unique_params - c.used_params:,}",)),
        ("Inputs (MB, real dtypes)", (_mb(c.input_bytes),)),
        ("Row outputs as activations (MB, real dtypes)", (_mb(c.activation_bytes),)),
        ("Saved for backward, activations (MB)", (_mb(c.saved_activation_bytes),)),
        ("Estimate: params + activations + inputs (MB)", (_mb(c.estimated_total_bytes),)),
        *flops,
    ]


def _rank_line(share: RankShare) -> str:
    """What this rank holds of a sharded model (the figures above are the whole model's)."""
    if share.rank is not None:
        which = f"rank {share.rank} of {share.ranks}"
    else:  # no process group
        which = f"of {share.ranks} rank" + ("s" if share.ranks != 1 else "")
    return f"This rank holds ({which}): {share.params:,} parameters, {_mb(share.nbytes)} MB"


def corrected_block(rows: list[Row], corrected: CorrectedFigures) -> Iterator[str]:
    """The figures torchsummary gets wrong, below its table, in its style: columns as wide as
    their largest figure (never touching), the block at least the table's width.

    No line starts with the words that start a line of the table above (``Total params``,
    ``Params size``, ...), so scripts that grep the table still find only torchsummary's.
    """
    lines = _figure_lines(corrected)
    label_width = max(len(TITLE), *(len(label) for label, _ in lines)) + 2
    value_width = max(len(text) for _, values in lines for text in (*values, *COLUMNS)) + 2
    width = max(WIDTH, label_width + 2 * value_width)
    label_width = width - 2 * value_width  # wider than the labels where the table is wider
    rule = "-" * width
    yield TITLE.ljust(label_width) + "".join(name.rjust(value_width) for name in COLUMNS)
    yield rule
    for label, values in lines:
        yield label.ljust(label_width) + "".join(v.rjust(value_width) for v in values)
    if corrected.rank_share is not None:
        yield _rank_line(corrected.rank_share)
    yield rule
    notes = list(footnotes(rows, corrected))
    if notes:
        yield from notes
        yield rule
