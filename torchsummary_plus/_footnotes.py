"""The footnotes under the corrected block: why the table's totals repeat parameters, what
was never used, what is TorchScript. At most ``MAX_LINES`` lines whatever the model.

Rows that repeat earlier rows' parameters are grouped: the rows of a module run several
times go under the outermost module around it that ran as often (a block run N times is one
note); rows of a module holding another module's parameters (a tied weight) go under that
pair. Each note is wrapped to ``WIDTH`` columns with a hanging indent; "... and N more"
points at the result's attributes, which keep every row and module.
"""
from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._figures import CorrectedFigures, Row, ancestors

WIDTH = 100
MAX_LINES = 12
INDENT = "    "
_NAMED = 5  # modules named in the unused note before "and N more"
_ROWS_NAMED = 2  # rows named in a group's note before "..."
_NOTE_LINES = 3  # lines the unused and the TorchScript notes may take each


@dataclass
class _Group:
    """Shared rows explained by one note: the later calls of a block that ran several times
    (``block``), or the rows of ``module`` holding the parameters of ``earlier_module`` (a
    tie). Groups alike but for the numbers in their names (``stage.0.prelu``,
    ``stage.1.prelu``, ...) are merged: ``modules`` says how many."""

    block: bool
    module: str  # the block, or the module holding another's parameters
    earlier_module: str
    calls: int  # the rows of the block, or of the module: how many times it ran
    rows: list[str] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)  # the earlier row of each
    twice: int = 0  # parameters counted again above
    modules: int = 1


def _module(qualname: str) -> str:
    return qualname or "(model)"


def _pattern(qualname: str) -> str:
    """The name with its numbers (indices in containers) as ``*``."""
    return ".".join("*" if part.isdigit() else part for part in qualname.split("."))


def shared_groups(rows: list[Row], corrected: CorrectedFigures) -> list[_Group]:
    """The shared rows grouped, in the table's order of each group's first row."""
    if not corrected.shared_rows:
        return []
    module_of = {row.name: row.module for row in rows}
    calls: dict[str, int] = {}
    for row in rows:
        calls[row.module] = calls.get(row.module, 0) + 1
    groups: dict[tuple[bool, str, str], _Group] = {}
    for row in rows:
        earlier = row.shared_with
        if earlier is None:
            continue
        module, earlier_module = row.module, module_of[earlier]
        block = module == earlier_module
        if block:  # the module ran again: under the outermost module around it run as often
            module = earlier_module = next(
                p for p in ancestors(module) if calls.get(p, 0) == calls[module]
            )
        group = groups.get((block, module, earlier_module))
        if group is None:
            group = _Group(block, module, earlier_module, calls[module])
            groups[(block, module, earlier_module)] = group
        group.rows.append(row.name)
        group.earlier.append(earlier)
        group.twice += corrected.counted_twice[row.name]
    merged: dict[tuple[bool, str, str, int, int], _Group] = {}
    for group in groups.values():
        key = (group.block, _pattern(group.module), _pattern(group.earlier_module), group.calls,
               len(group.rows))
        alike = merged.get(key)
        if alike is None:
            merged[key] = group
            continue
        if alike.modules == 1:
            alike.module, alike.earlier_module = key[1], key[2]
        alike.modules += 1
        alike.rows += group.rows
        alike.earlier += group.earlier
        alike.twice += group.twice
    return list(merged.values())


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_ROWS_NAMED])
    return shown + (", ..." if len(names) > _ROWS_NAMED else "")


def _group_note(group: _Group) -> str:
    rows, earlier = _names(group.rows), _names(list(dict.fromkeys(group.earlier)))
    counted = f"{group.twice:,} counted again above"
    if len(group.rows) == 1:
        return (
            f"{group.rows[0]} repeats the parameters of {group.earlier[0]} "
            f"(module {_module(group.module)}): {group.twice:,} counted twice above"
        )
    if group.block and group.modules == 1:
        return (
            f"{_module(group.module)} ran {group.calls} times: the {len(group.rows)} rows of its "
            f"later calls ({rows}) repeat those of its first ({earlier}); {counted}"
        )
    if group.block:
        return (
            f"{group.module} ({group.modules} modules) ran {group.calls} times each: "
            f"the {len(group.rows)} rows of their later calls ({rows}) repeat those of their "
            f"first ({earlier}); {counted}"
        )
    modules = f" ({group.modules} modules)" if group.modules > 1 else ""
    return (
        f"{len(group.rows)} rows of {_module(group.module)}{modules} ({rows}) repeat the "
        f"parameters of {_module(group.earlier_module)} ({earlier}); {counted}"
    )


def wrapped(text: str) -> list[str]:
    """A note in lines of at most ``WIDTH`` columns, the next lines indented."""
    return textwrap.wrap(
        text, WIDTH, subsequent_indent=INDENT, break_on_hyphens=False, break_long_words=True
    )


def _listing_note(number: int, title: str, items: list[str], where: str, end: str) -> list[str]:
    """``[number] title: item, item and N more (see where); end``, naming as many items as
    fit in ``_NOTE_LINES`` lines (at least one; cut short with "..." where one does not)."""
    for named in range(min(_NAMED, len(items)), 0, -1):
        more = len(items) - named
        text = f"[{number}] {title}: " + ", ".join(items[:named])
        text += (f" and {more} more (see {where})" if more else "") + (f"; {end}" if end else "")
        lines = wrapped(text)
        if len(lines) <= _NOTE_LINES:
            return lines
    return [*lines[:_NOTE_LINES - 1], lines[_NOTE_LINES - 1][:WIDTH - 3] + "..."]


def _endings(corrected: CorrectedFigures) -> list[tuple[str, list[str], str, str]]:
    """(title, items, where all items are, ending) of the notes after the shared rows'."""
    c = corrected
    endings = []
    if c.unused_subtrees:
        total = sum(count for _, _, count in c.unused_subtrees)
        items = [
            f"{_module(root)} ({count:,})" + (f" in {modules} modules" if modules > 1 else "")
            for root, modules, count in c.unused_subtrees
        ]
        end = f"{total:,} in all" if len(items) > 1 else ""
        endings.append(("Never used in this pass", items, "result.unused_modules", end))
    if c.untraced:
        items = [f"{_module(m)} ({n:,})" for m, n in c.untraced]
        endings.append(("TorchScript, so no rows and counted as used", items,
                        "result.untraced_modules", ""))
    return endings


def _more(groups: list[_Group]) -> list[str]:
    """The line counting the groups left out (none where none is)."""
    if not groups:
        return []
    rows = sum(len(g.rows) for g in groups)
    twice = sum(g.twice for g in groups)
    return wrapped(f"... and {len(groups)} more groups ({rows:,} rows, {twice:,} counted again "
                   "above): see result.shared_rows")


def footnotes(rows: list[Row], corrected: CorrectedFigures) -> Iterator[str]:
    """The notes, at most ``MAX_LINES`` lines: the shared rows' groups as many as fit (the
    rest counted on one line), then what was never used, then TorchScript."""
    groups = shared_groups(rows, corrected)
    endings = _endings(corrected)
    # the endings' room, sized with the largest number they could get
    last = len(groups) + len(endings)
    budget = MAX_LINES - sum(len(_listing_note(last, *ending)) for ending in endings)
    lines: list[str] = []
    number = 0
    for position, group in enumerate(groups):
        note = wrapped(f"[{number + 1}] " + _group_note(group))
        after = _more(groups[position + 1:])
        if len(lines) + len(note) + len(after) > budget:
            lines += _more(groups[position:])  # fits: the step before made room for it
            break
        number += 1
        lines += note
    yield from lines
    for ending in endings:
        number += 1
        yield from _listing_note(number, *ending)
