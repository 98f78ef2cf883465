"""A user's script exercising the whole documented API, type-checked by ``mypy --strict``
(tests/test_typing.py): every documented attribute of SummaryResult has a declared type."""
from __future__ import annotations

import torch
import torch.nn as nn

from torchsummary_plus import SummaryError, SummaryResult, compare, summary, summary_string
from torchsummary_plus._figures import Row


def figures(result: SummaryResult) -> dict[str, object]:
    total, trainable = result  # the pair, as torchsummary's GitHub master returns it
    pair: tuple[torch.Tensor, torch.Tensor] = (total, trainable)
    counts: list[int] = [
        result.total_params,
        result.trainable_params,
        result.non_trainable_params,
        result.unique_params,
        result.unique_trainable_params,
        result.unique_params_bytes,
        result.used_params,
        result.used_trainable_params,
        result.used_params_bytes,
        result.unused_params,
        result.table_unique_params,
        result.table_unique_trainable_params,
        result.table_unique_requires_grad_params,
        result.table_unique_params_bytes,
        result.input_bytes,
        result.activation_bytes,
        result.estimated_total_bytes,
    ]
    sizes: list[float] = [
        result.input_size_mb,
        result.forward_backward_size_mb,
        result.params_size_mb,
        result.estimated_total_size_mb,
    ]
    saved: int | None = result.saved_activation_bytes
    shared: dict[str, str] = result.shared_rows
    unused: list[str] = result.unused_modules
    untraced: list[str] = result.untraced_modules
    uncounted: list[tuple[str, int]] = result.uncounted_params
    rows: list[Row] = result.rows
    names: list[str] = [row.name for row in rows] + [row.module for row in rows]
    params: list[int] = [row.params for row in rows]
    earlier: list[str | None] = [row.shared_with for row in rows]
    as_json: dict[str, object] = result.to_dict()
    return {
        "pair": [int(t.item()) for t in pair], "counts": counts, "sizes": sizes, "saved": saved,
        "shared": shared, "unused": unused, "untraced": untraced, "uncounted": uncounted,
        "names": names, "params": params, "earlier": earlier, "json": as_json,
    }


def main() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    result = summary(model, (4,), device="cpu")
    figures(result)
    figures(summary(model, (4,), 16, "cpu", [torch.float32], layout="master", plus=False))
    text, again = summary_string(model, (4,), device="cpu", layout="pypi")
    print(text.count("\n"), figures(again))
    figures(compare(model, (4,), device="cpu", tablefmt="github"))
    x = torch.rand(2, 4)
    figures(summary(model, input_data=x, device="cpu"))
    figures(summary(model, input_data=[x], forward_kwargs={}, device="cpu"))
    figures(summary_string(model, input_data={"input": x}, device="cpu")[1])
    figures(compare(model, input_data=(x,), device="cpu"))
    try:
        summary(nn.Linear(3, 2), (5,), device="cpu")
    except SummaryError as error:
        print(str(error))


if __name__ == "__main__":
    main()
