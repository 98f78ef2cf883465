"""Shared helpers of the compatibility suite: capture what a call prints, compare to files."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Callable, NamedTuple

import torch

HERE = Path(__file__).parent
MASTER_GOLDEN = HERE / "master_golden"
GOLDEN = HERE / "golden"


def printed(call: Callable[[], Any], seed: int = 0) -> tuple[str, Any]:
    """Run ``call`` with the global RNG seeded and stdout captured: (text, returned value).

    Both torchsummary and torchsummary_plus draw their random inputs from the global RNG,
    so it is seeded the same way before each of the two calls being compared.
    """
    buffer = io.StringIO()
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(buffer):
        value = call()
    return buffer.getvalue(), value


def printed_until_error(call: Callable[[], Any], error: type[BaseException]) -> str:
    """What ``call`` printed before raising ``error`` (it must raise it)."""
    buffer = io.StringIO()
    torch.manual_seed(0)
    raised = False
    with contextlib.redirect_stdout(buffer):
        try:
            call()
        except error:
            raised = True
    assert raised, f"expected {error.__name__}"
    return buffer.getvalue()


def updating_golden() -> bool:
    """UPDATE_GOLDEN=1 rewrites compat_tests/golden/*.txt from the current output."""
    return os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """``text`` must equal golden/NAME.txt; with UPDATE_GOLDEN=1 the file is written instead.

    A rewritten file must be read by hand before it is committed: these tables have no
    live torchsummary to compare with.
    """
    path = GOLDEN / f"{name}.txt"
    if updating_golden():
        path.write_text(text)
    assert text == path.read_text()


class Outputs(NamedTuple):
    theirs: str  # torchsummary 1.5.1's stdout
    ours: str  # torchsummary_plus.summary(..., plus=False) stdout
    ours_plus: str  # the same with plus=True
    ours_string: str  # summary_string(..., layout="pypi", plus=False) text


def fresh_model(make: Callable[[], Any]) -> Any:
    """A model built right after seeding torch, so every build is the same model."""
    torch.manual_seed(0)
    return make()


def side_by_side(
    make: Callable[[], Any],
    input_size: Any,
    batch_size: int = -1,
    plus_dtypes: Any = None,
    device: str = "cpu",
) -> Outputs:
    """torchsummary 1.5.1's text beside torchsummary_plus's, each from a fresh model.

    torch is seeded before each model is built, and the global RNG is seeded the same way
    before each call, so nothing one call does can change what another sees.
    """
    import torchsummary

    import torchsummary_plus

    def fresh() -> Any:
        return fresh_model(make)

    args = (input_size, batch_size)
    theirs, _ = printed(lambda: torchsummary.summary(fresh(), *args, device=device))
    ours, _ = printed(
        lambda: torchsummary_plus.summary(fresh(), *args, device=device, dtypes=plus_dtypes, plus=False)
    )
    ours_plus, _ = printed(
        lambda: torchsummary_plus.summary(fresh(), *args, device=device, dtypes=plus_dtypes)
    )
    silent, (text, _) = printed(
        lambda: torchsummary_plus.summary_string(
            fresh(), *args, device=device, dtypes=plus_dtypes, layout="pypi", plus=False
        )
    )
    assert silent == ""  # summary_string prints nothing
    return Outputs(theirs, ours, ours_plus, text)


def torchsummary_table(
    rows: list[tuple[str, str, str]],
    total: str,
    trainable: str,
    non_trainable: str,
    sizes_mb: tuple[str, str, str, str],
) -> str:
    """A table laid out as torchsummary 1.5.1 prints it, from hand-written cells.

    rows: (layer, output shape, params) cells; sizes_mb: input, forward/backward, params
    and total, already formatted with two decimals.
    """
    rule, double = "-" * 64, "=" * 64
    cell = "{:>20}  {:>25} {:>15}"
    lines = [rule, cell.format("Layer (type)", "Output Shape", "Param #"), double]
    lines += [cell.format(*row) for row in rows]
    lines += [
        double,
        f"Total params: {total}",
        f"Trainable params: {trainable}",
        f"Non-trainable params: {non_trainable}",
        rule,
        f"Input size (MB): {sizes_mb[0]}",
        f"Forward/backward pass size (MB): {sizes_mb[1]}",
        f"Params size (MB): {sizes_mb[2]}",
        f"Estimated Total Size (MB): {sizes_mb[3]}",
        rule,
    ]
    return "".join(line + "\n" for line in lines)
