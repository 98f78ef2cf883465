"""The value ``summary`` returns: torchsummary's pair, carrying every other figure too."""
from __future__ import annotations

from typing import Any

import torch

from ._figures import CorrectedFigures, Row
from ._legacy import LegacyFigures
from ._tree import TreeRecord


class SummaryResult(tuple[torch.Tensor, torch.Tensor]):
    """Unpacks as ``total_params, trainable_params`` (0-dim int64 tensors, as torchsummary's
    GitHub master returns them); every figure is also an attribute, as a Python number.
    The names are those of docs/output.md.

    In a script its repr is the master's pair. In a notebook a cell ending with
    ``summary(...)`` shows the printed table alone, as torchsummary 1.5.1 does (which returns
    None): ``_ipython_display_`` shows nothing.
    """

    # torchsummary's figures, its quirks included ("torchsummary")
    total_params: int
    trainable_params: int
    non_trainable_params: int
    input_size_mb: float
    forward_backward_size_mb: float
    params_size_mb: float
    estimated_total_size_mb: float
    # "unique in model": every parameter tensor the model holds, each once
    unique_params: int
    unique_trainable_params: int
    unique_params_bytes: int
    # "used in pass": the unique parameters an operation of the pass used
    used_params: int
    used_trainable_params: int
    used_params_bytes: int
    unused_params: int  # unique in model - used in pass
    # "unique in table": the table's own tensors (each row's weight and bias), each once
    table_unique_params: int
    table_unique_trainable_params: int  # torchsummary's rule: each row's weight decides
    table_unique_requires_grad_params: int  # each tensor's own flag
    table_unique_params_bytes: int
    uncounted_params: list[tuple[str, int]]  # (parameter, size) in no row of the table
    # memory, real dtypes, for the table's batch (one sample where it shows -1)
    input_bytes: int
    activation_bytes: int  # the rows' outputs, each storage once per row
    saved_activation_bytes: int | None  # what autograd saved for backward; None: not measured
    estimated_total_bytes: int  # unique parameters + activations + inputs
    # where the figures differ, row by row and module by module
    shared_rows: dict[str, str]  # row -> the earlier row whose parameters it repeats
    unused_modules: list[str]  # modules with never used parameters (each parameter once)
    untraced_modules: list[str]  # TorchScript modules: no rows, counted as used
    # a sharded model (FSDP2, DeepSpeed ZeRO-3): this rank's share; None where nothing is sharded
    rank_held_params: int | None
    rank_held_params_bytes: int | None
    rows: list[Row]  # the table's rows
    flops: int | None  # floating-point operations of the pass (batch of 2); None: not asked for
    tree: list[TreeRecord] | None  # the tree layout's lines; None in the other layouts

    def __new__(
        cls,
        rows: list[Row],
        legacy: LegacyFigures,
        corrected: CorrectedFigures,
        tree: list[TreeRecord] | None = None,
    ) -> SummaryResult:
        pair = (
            torch.tensor(legacy.total_params, dtype=torch.int64),
            torch.tensor(legacy.trainable_params, dtype=torch.int64),
        )
        self = super().__new__(cls, pair)
        c = corrected
        self.total_params = legacy.total_params
        self.trainable_params = legacy.trainable_params
        self.non_trainable_params = legacy.total_params - legacy.trainable_params
        self.input_size_mb = legacy.input_size_mb
        self.forward_backward_size_mb = legacy.forward_backward_size_mb
        self.params_size_mb = legacy.params_size_mb
        self.estimated_total_size_mb = legacy.estimated_total_size_mb
        self.unique_params = c.unique_params
        self.unique_trainable_params = c.unique_trainable_params
        self.unique_params_bytes = c.unique_params_bytes
        self.used_params = c.used_params
        self.used_trainable_params = c.used_trainable_params
        self.used_params_bytes = c.used_params_bytes
        self.unused_params = c.unique_params - c.used_params
        self.table_unique_params = c.table_unique_params
        self.table_unique_trainable_params = c.table_unique_trainable_params
        self.table_unique_requires_grad_params = c.table_unique_requires_grad_params
        self.table_unique_params_bytes = c.table_unique_params_bytes
        self.uncounted_params = list(c.uncounted)
        self.input_bytes = c.input_bytes
        self.activation_bytes = c.activation_bytes
        self.saved_activation_bytes = c.saved_activation_bytes
        self.estimated_total_bytes = c.estimated_total_bytes
        self.shared_rows = dict(c.shared_rows)
        self.unused_modules = [module for module, _ in c.unused]
        self.untraced_modules = [module for module, _ in c.untraced]
        share = c.rank_share
        self.rank_held_params = None if share is None else share.params
        self.rank_held_params_bytes = None if share is None else share.nbytes
        self.rows = rows
        self.flops = c.flops
        self.tree = tree
        return self

    def _ipython_display_(self) -> None:
        """Shown by IPython for a cell's last value: nothing, the table is already printed."""

    def to_dict(self) -> dict[str, Any]:
        """Every figure and the rows, JSON-ready (shapes of non-tensors become their text),
        in the order declared above."""
        figures: dict[str, Any] = {
            name: getattr(self, name) for name in SummaryResult.__annotations__
        }
        figures["rows"] = [
            dict(row._asdict(), output_shape=str(row.output_shape)) for row in self.rows
        ]
        if self.tree is not None:
            figures["tree"] = [
                dict(line._asdict(), output_shape=_text(line.output_shape)) for line in self.tree
            ]
        return figures


def _text(shape: Any) -> str | None:
    return None if shape is None else str(shape)
