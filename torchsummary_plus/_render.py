"""Text: torchsummary's table, character for character, and the corrected block below it.

Functions here yield lines (without newlines) so that a table of a million rows is written
as it is made rather than built as one string first.
"""
from __future__ import annotations

from typing import Any, Iterator

from ._figures import CorrectedFigures, LegacyFigures, Row

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


def _figure_line(label: str, *values: str) -> str:
    """A label and up to two right-aligned values, 14 characters each, 64 in all."""
    return label.ljust(WIDTH - 28) + "".join(v.rjust(14) for v in values)


def _mb(nbytes: int) -> str:
    return "%0.2f" % (nbytes / 1024**2)


def _module(qualname: str) -> str:
    return qualname or "(model)"


def footnotes(rows: list[Row], corrected: CorrectedFigures) -> Iterator[str]:
    """One note per row that repeats an earlier row, one for what was never used."""
    modules = {row.name: row.module for row in rows} if corrected.shared_rows else {}
    number = 0
    for name, earlier in corrected.shared_rows.items():
        number += 1
        twice = corrected.counted_twice[name]
        yield (
            f"[{number}] {name} repeats the parameters of {earlier} "
            f"(module {_module(modules[name])}): {twice:,} counted twice above"
        )
    if corrected.unused:
        number += 1
        listed = ", ".join(f"{_module(m)} ({n:,})" for m, n in corrected.unused)
        yield f"[{number}] Never used in this pass: {listed}"
    if corrected.untraced:
        number += 1
        listed = ", ".join(f"{_module(m)} ({n:,})" for m, n in corrected.untraced)
        yield f"[{number}] TorchScript, so no rows and counted as used: {listed}"


def corrected_block(rows: list[Row], corrected: CorrectedFigures) -> Iterator[str]:
    """The figures torchsummary gets wrong, below its table, in its width and style.

    No line starts with the words that start a line of the table above (``Total params``,
    ``Params size``, ...), so scripts that grep the table still find only torchsummary's.
    """
    c = corrected
    unique_non = c.unique_params - c.unique_trainable_params
    used_non = c.used_params - c.used_trainable_params
    yield _figure_line("Corrected by torchsummary_plus", "counted once", "used in pass")
    yield RULE
    yield _figure_line("All parameters", f"{c.unique_params:,}", f"{c.used_params:,}")
    yield _figure_line("  trainable", f"{c.unique_trainable_params:,}", f"{c.used_trainable_params:,}")
    yield _figure_line("  non-trainable", f"{unique_non:,}", f"{used_non:,}")
    yield _figure_line(
        "  their size (MB, real dtypes)", _mb(c.unique_params_bytes), _mb(c.used_params_bytes)
    )
    yield _figure_line("Unused parameters", f"{c.unique_params - c.used_params:,}")
    yield _figure_line("Inputs (MB, real dtypes)", _mb(c.input_bytes))
    yield RULE
    notes = list(footnotes(rows, corrected))
    if notes:
        yield from notes
        yield RULE
