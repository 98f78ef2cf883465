"""The value ``summary`` returns: torchsummary's pair, carrying every other figure too."""
from __future__ import annotations

from typing import Any

import torch

from ._figures import CorrectedFigures, LegacyFigures, Row


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
        self.total_params = legacy.total_params
        self.trainable_params = legacy.trainable_params
        self.non_trainable_params = legacy.total_params - legacy.trainable_params
        self.input_size_mb = legacy.input_size_mb
        self.forward_backward_size_mb = legacy.forward_backward_size_mb
        self.params_size_mb = legacy.params_size_mb
        self.estimated_total_size_mb = legacy.estimated_total_size_mb
        self.unique_params = corrected.unique_params
        self.unique_trainable_params = corrected.unique_trainable_params
        self.used_params = corrected.used_params
        self.used_trainable_params = corrected.used_trainable_params
        self.unused_params = corrected.unique_params - corrected.used_params
        self.unique_params_bytes = corrected.unique_params_bytes
        self.used_params_bytes = corrected.used_params_bytes
        self.input_bytes = corrected.input_bytes
        self.deduplicated_params = corrected.deduplicated_params
        self.deduplicated_trainable_params = corrected.deduplicated_trainable_params
        self.deduplicated_requires_grad_params = corrected.deduplicated_requires_grad_params
        self.deduplicated_params_bytes = corrected.deduplicated_params_bytes
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
