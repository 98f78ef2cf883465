"""In a notebook, a cell ending with ``summary(...)`` shows the table once and no Out[] value,
as torchsummary 1.5.1 does (it returns None); an HTML compare table is shown as HTML.
A real kernel runs the cells (nbclient + ipykernel, installed by requirements-test.txt)."""
from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs requirements-test.txt (nbclient, nbformat, ipykernel)")
nbclient = pytest.importorskip("nbclient", reason="needs requirements-test.txt (nbclient, nbformat, ipykernel)")
pytest.importorskip("ipykernel", reason="needs requirements-test.txt (nbclient, nbformat, ipykernel)")

SETUP = """\
import torch.nn as nn
from torchsummary_plus import compare, summary
model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
"""


def run_cells(*sources: str) -> list:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    return [cell.outputs for cell in notebook.cells]


def test_a_cell_ending_with_summary_shows_the_table_once_and_no_value():
    _, outputs, scripted = run_cells(
        SETUP,
        'summary(model, (4,), device="cpu")',
        'result = summary(model, (4,), device="cpu", plus=False)\nprint(repr(result))',
    )
    # one output: the printed text on stdout; no execute_result (no Out[2])
    assert [(o.output_type, o.get("name")) for o in outputs] == [("stream", "stdout")]
    text = outputs[0].text
    assert text.count("Layer (type)") == 1
    assert text.count("Corrected by torchsummary_plus") == 1
    # Linear(4, 3): 4*3 + 3 = 15 parameters
    assert "Total params: 15\n" in text
    # a script still sees the master's pair as the repr
    assert scripted[-1].text.endswith("(tensor(15), tensor(15))\n")


def test_an_html_compare_table_is_shown_as_html():
    _, outputs = run_cells(SETUP, 'compare(model, (4,), device="cpu", tablefmt="html");')
    kinds = [o.output_type for o in outputs]
    assert kinds[0] == "display_data" and "text/html" in outputs[0].data
    assert outputs[0].data["text/html"].startswith("<table>")
    # then the check against torchsummary, printed
    assert kinds[1:] == ["stream"] and outputs[1].text.startswith("torchsummary check:")
