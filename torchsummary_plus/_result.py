"""The value ``summary`` returns: torchsummary's pair, carrying every other figure too."""
from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch

from ._figures import CorrectedFigures, LegacyFigures, Row

# Figures kept under another name or shape (the counts behind footnotes stay in the text).
_RESHAPED = frozenset(["uncounted", "shared_rows", "counted_twice", "unused", "untraced"])


class SummaryResult(tuple):
    """Unpacks as ``total_params, trainable_params`` (0-dim int64 tensors, as torchsummary's
    GitHub master returns them); every figure is also an attribute, as a Python number.

    Its repr is the pair's, so a notebook cell ending with ``summary(...)`` does not show the
    table a second time.
    """

    def __new__(cls, rows: list[Row], legacy: LegacyFigures, corrected: CorrectedFigures) -> "SummaryResult":
        pair = (
            torch.tensor(legacy.total_params, dtype=torch.int64),
            torch.tensor(legacy.trainable_params, dtype=torch.int64),
        )
        self = super().__new__(cls, pair)
        for figures in (legacy, corrected):
            for field in fields(figures):
                if field.name not in _RESHAPED:
                    setattr(self, field.name, getattr(figures, field.name))
        self.non_trainable_params = legacy.total_params - legacy.trainable_params
        self.unused_params = corrected.unique_params - corrected.used_params
        self.uncounted_params = list(corrected.uncounted)
        self.shared_rows = dict(corrected.shared_rows)
        self.unused_modules = [module for module, _ in corrected.unused]
        self.untraced_modules = [module for module, _ in corrected.untraced]
        self.rows = rows
        return self

    def to_dict(self) -> dict[str, Any]:
        """Every figure and the rows, JSON-ready (shapes of non-tensors become their text)."""
        figures = {k: v for k, v in vars(self).items() if k != "rows"}
        figures["rows"] = [
            dict(row._asdict(), output_shape=str(row.output_shape)) for row in self.rows
        ]
        return figures
