"""The command line's ``--input-data FILE.pt`` and ``--kwarg NAME=D1,D2[:DTYPE]`` (issue 15,
item 1), in process (cli.main), on a model file the test writes."""
from __future__ import annotations

import contextlib
import io
import json
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torchsummary

from torchsummary_plus import cli

MODEL = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    SEEN = []  # what forward was called with, for the test to read


    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 4)
            self.lin = nn.Linear(4, 3)

        def forward(self, ids, mask=None):
            SEEN.append((ids, mask))
            h = self.emb(ids)
            if mask is not None:
                h = h * mask.unsqueeze(-1)
            return self.lin(h)


    class Convs(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu(self.conv(x))
    """)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "inputs_models.py"
    path.write_text(MODEL)
    return path


def seen(model_file: Path) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    return sys.modules[f"_torchsummary_plus_target_{model_file.stem}"].SEEN  # type: ignore[no-any-return]


def saved(tmp_path: Path, value: object, name: str = "data.pt") -> str:
    path = tmp_path / name
    torch.save(value, path)
    return str(path)


def test_dict_file_and_kwarg_made_like_inputs(model_file: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    ids = torch.randint(0, 10, (3, 5))
    data = saved(tmp_path, {"ids": ids})
    torch.manual_seed(0)
    code = cli.main([f"{model_file}:Tagger", "--input-data", data, "--kwarg", "mask=5:float16",
                     "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert code == 0
    # Embedding 10 * 4 = 40, Linear 4 * 3 + 3 = 15; inputs: ids (3, 5) int64 = 120 bytes (the
    # --kwarg tensor is not an input figure)
    assert (figures["unique_params"], figures["input_bytes"]) == (55, 120)
    (got_ids, got_mask), = seen(model_file)
    assert torch.equal(got_ids, ids)
    # the mask: uniform noise from the global generator, after building the model, with the
    # inputs' batch
    torch.manual_seed(0)
    sys.modules[f"_torchsummary_plus_target_{model_file.stem}"].Tagger()
    assert got_mask.dtype == torch.float16 and torch.equal(got_mask, torch.rand(3, 5).to(torch.float16))


def test_tensor_file_prints_torchsummarys_table(model_file: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = saved(tmp_path, torch.rand(1, 3, 8, 8))
    assert cli.main([f"{model_file}:Convs", "--input-data", data, "--no-plus"]) == 0
    ours = capsys.readouterr().out
    from importlib import import_module

    convs = import_module(f"_torchsummary_plus_target_{model_file.stem}").Convs()
    theirs = io.StringIO()
    with contextlib.redirect_stdout(theirs):
        torchsummary.summary(convs, (3, 8, 8), device="cpu")
    assert ours == theirs.getvalue()


def test_tuple_file_is_positional(model_file: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    ids, mask = torch.randint(0, 10, (2, 4)), torch.ones(2, 4)
    data = saved(tmp_path, (ids, mask))
    assert cli.main([f"{model_file}:Tagger", "--input-data", data, "--no-plus"]) == 0
    (got_ids, got_mask), = seen(model_file)
    assert torch.equal(got_ids, ids) and torch.equal(got_mask, mask)
    assert "Embedding-1                 [-1, 4, 4]" in capsys.readouterr().out


class Custom:
    pass


BAD = [
    (["--input-data", "{missing}"], "--input-data {missing!r}: no such file"),
    (["--input-data", "{int}"], "--input-data {int!r} holds a int: expected a tensor, a tuple"),
    (["--input-data", "{text}"], "--input-data {text!r} cannot be loaded with torch.load(weights_only=True)"),
    (["--input-data", "{dict}", "--kwarg", "ids=3:long"], "--input-data and --kwarg both give ids"),
    (["--input-data", "{dict}", "--input-size", "4"],
     "--input-size (4,) disagrees with --input-data, whose tensors have the shapes [[5]]"),
    (["--input-data", "{dict}", "--kwarg", "mask=5", "--kwarg", "mask=5"],
     "--kwarg mask is given twice"),
    (["--input-data", "{dict}", "--kwarg", "1mask=5"], "argument --kwarg: '1mask=5' is not valid"),
    (["--input-data", "{dict}", "--kwarg", "mask=5:nope"], "unknown dtype 'nope'"),
    (["--input-data", "{dict}", "--kwarg", "mask=0"], "'0' is not valid"),
    (["--batch-size", "2"], "--input-size or --input-data is required with TARGET"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_bad_flags(model_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   args: list[str], message: str) -> None:
    files = {"missing": str(tmp_path / "none.pt"), "int": saved(tmp_path, 3, "int.pt"),
             "dict": saved(tmp_path, {"ids": torch.randint(0, 10, (3, 5))}, "dict.pt")}
    files["text"] = str(tmp_path / "text.pt")
    Path(files["text"]).write_text("not a tensor file")
    args = [arg.format(**files) for arg in args]
    assert cli.main([f"{model_file}:Tagger", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and message.format(**files) in err


def test_file_of_other_objects_is_refused(model_file: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    data = saved(tmp_path, {"ids": Custom()})  # weights_only refuses to build it
    assert cli.main([f"{model_file}:Tagger", "--input-data", data]) == 2
    assert "cannot be loaded with torch.load(weights_only=True)" in capsys.readouterr().err
