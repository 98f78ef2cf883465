"""Footnotes at scale: at most 12 lines whatever the model, every line at most 100
characters, repeated rows grouped per block, never used parameters grouped per subtree and
counted once each. Expected numbers are worked out by hand next to each test."""
from __future__ import annotations

import torch.nn as nn

from torchsummary_plus import summary_string

TITLE = "Corrected by torchsummary_plus"


def notes_of(text: str) -> list[str]:
    """The lines between the block's second and third rules."""
    block = text[text.index(TITLE):].splitlines()
    rules = [i for i, line in enumerate(block) if set(line) == {"-"}]
    assert len(rules) == 3, text
    assert max(len(line) for line in block) <= 100
    return block[rules[1] + 1:rules[2]]


def run(model, input_size):
    return summary_string(model, input_size, device="cpu", layout="pypi")


class Decoder(nn.Module):
    def __init__(self, embed: nn.Embedding) -> None:
        super().__init__()
        self.embed = embed  # tied: the encoder's embedding, held here too
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        self.head = nn.Linear(4, 2)


class EncoderOnly(nn.Module):
    """An encoder-decoder called as an encoder only: the decoder is never used."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.encoder = nn.Linear(4, 4)
        self.decoder = Decoder(self.embed)
        self.spare = nn.Linear(4, 1)

    def forward(self, x):
        return self.encoder(self.embed(x.long()))


def test_an_unused_subtree_is_one_item_and_each_parameter_counts_once():
    text, result = run(EncoderOnly(), (3,))
    # decoder: 3 layers of 4*4 + 4 = 20 and a head of 4*2 + 2 = 10: 70, in 4 modules; its
    # embed is the encoder's (used, counted under its first owner, `embed`); spare 4 + 1 = 5
    assert result.unused_params == 75
    assert result.unused_modules == [
        "decoder.layers.0", "decoder.layers.1", "decoder.layers.2", "decoder.head", "spare"]
    # embed has two parents (the model, decoder): torchsummary hooks it twice, two rows a call
    assert notes_of(text) == [
        "[1] Embedding-2 repeats the parameters of Embedding-1 (module embed): 40 counted twice above",
        "[2] Never used in this pass: decoder (70) in 4 modules, spare (5); 75 in all"]


class ManyUnused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(2, 2)
        for i in range(30):
            self.add_module(f"head_{i}", nn.Linear(2, 1))  # 2 + 1 = 3 each, never called

    def forward(self, x):
        return self.used(x)


def test_many_unused_modules_are_named_a_few_then_counted():
    text, result = run(ManyUnused(), (2,))
    assert result.unused_params == 30 * 3
    assert len(result.unused_modules) == 30
    assert notes_of(text) == [
        "[1] Never used in this pass: head_0 (3), head_1 (3), head_2 (3), head_3 (3), head_4 (3) and 25 more",
        "    (see result.unused_modules); 90 in all",
    ]


class Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(self.fc(x))


class ManyRepeats(nn.Module):
    """40 blocks named without numbers (nothing to merge), each running its Linear twice."""

    def __init__(self) -> None:
        super().__init__()
        self.names = [f"block{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
        for name in self.names:
            self.add_module(name, Twice())

    def forward(self, x):
        for name in self.names:
            x = getattr(self, name)(x)
        return x


def test_at_most_twelve_lines_and_the_rest_counted():
    text, result = run(ManyRepeats(), (2,))
    # each block: Linear-(3k+1), Linear-(3k+2) repeating it, the block's row; the Linear's
    # 2*2 + 2 = 6 counted again once per block: 40 shared rows, 240 counted again
    assert len(result.shared_rows) == 40
    notes = notes_of(text)
    assert len(notes) == 12
    assert notes[0] == (
        "[1] Linear-2 repeats the parameters of Linear-1 (module blockaa.fc): 6 counted twice above")
    assert notes[10].startswith("[11] Linear-32 repeats the parameters of Linear-31 ")
    # the 11 notes shown explain 11 rows and 66 of the 240; the rest on one line
    assert notes[11] == ("... and 29 more groups (29 rows, 174 counted again above): "
                         "see result.shared_rows")


class Tied(nn.Module):
    """A language model's head holding the embedding's weight, called three times."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 3)
        self.head = nn.Linear(3, 5, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, x):
        h = self.embed(x.long())
        return self.head(h), self.head(h), self.head(h)


def test_rows_of_a_tied_module_are_one_note():
    text, result = run(Tied(), (2,))
    # the embedding's 5*3 = 15, shown again on 3 rows of head: 45 counted again
    assert result.shared_rows == {"Linear-2": "Embedding-1", "Linear-3": "Embedding-1",
                                  "Linear-4": "Embedding-1"}
    assert notes_of(text) == [
        "[1] 3 rows of head (Linear-2, Linear-3, ...) repeat the parameters of embed (Embedding-1); 45",
        "    counted again above",
    ]


class Deep(nn.Module):
    """A Linear 12 levels down `stage_with_a_long_name`, and a sibling never called."""

    def __init__(self) -> None:
        super().__init__()
        inner: nn.Module = self
        for _ in range(12):
            inner.add_module("stage_with_a_long_name", nn.Module())
            inner = inner.stage_with_a_long_name
        inner.add_module("fc", nn.Linear(2, 2))
        inner.add_module("skipped", nn.Linear(2, 2))  # 2*2 + 2 = 6, never called
        self.inner = [inner]  # a plain list: no second name in the module tree

    def forward(self, x):
        return self.inner[0].fc(x)


def test_a_long_name_is_wrapped_with_a_hanging_indent_and_cut_at_three_lines():
    text, result = run(Deep(), (2,))
    name = ".".join(["stage_with_a_long_name"] * 12) + ".skipped"
    assert result.unused_modules == [name]
    notes = notes_of(text)
    # 12 * 22 + 11 + 8 = 283 characters of name; with "[1] Never used in this pass: " (29) and
    # " (6)": 316, in lines of 100 then 96 after the indent: 4 lines, cut to 3 ending "..."
    assert len(notes) == 3 and all(line.startswith("    ") for line in notes[1:])
    assert notes[2].endswith("...") and len(notes[2]) == 100
    assert notes[0] + "".join(line[4:] for line in notes[1:]) == (
        "[1] Never used in this pass: " + name)[:100 + 96 + 93] + "..."
