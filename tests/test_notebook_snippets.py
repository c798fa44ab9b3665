"""Notebooks 06 and 07 show, in Markdown code blocks, the lines of helpers/models.py that implement
the beta / capacity objective and the label conditioning. These tests keep each block equal to
the code that runs: a block whose lines no longer appear, in order, in helpers/models.py fails."""

import json
import re

import pytest

from .conftest import REPO_ROOT

SOURCE = (REPO_ROOT / "helpers" / "models.py").read_text()
NOTEBOOKS = ["06_beta_vae.ipynb", "07_conditional_vae.ipynb"]


def code_blocks(name):
    cells = json.loads((REPO_ROOT / "notebooks" / name).read_text())["cells"]
    shown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    # an exercise's folded solution is the learner's code, checked by tests/test_exercises.py
    markdown = "\n".join(text for text in shown if "<summary>Solution</summary>" not in text)
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def appears_in(block, source):
    """Whether the block's lines, stripped of indentation, occur consecutively in ``source``."""
    lines = [line.strip() for line in block.strip().splitlines()]
    source_lines = [line.strip() for line in source.splitlines()]
    return any(source_lines[i:i + len(lines)] == lines for i in range(len(source_lines)))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_shown_block_is_the_code_that_runs(name):
    blocks = code_blocks(name)
    assert blocks, f"{name} shows no code block from helpers/models.py"
    for block in blocks:
        assert appears_in(block, SOURCE), f"{name} shows code that helpers/models.py no longer has:\n{block}"


def test_a_changed_line_is_detected():
    block = code_blocks("06_beta_vae.ipynb")[0]
    assert not appears_in(block, SOURCE.replace("self.beta * kl", "2 * self.beta * kl"))


@pytest.mark.parametrize("name", ["07_conditional_vae.ipynb", "08_applications.ipynb"])
def test_mnist_models_use_the_networks_of_notebook_03(name):
    """07 once defined its own MNIST_NET with 512-unit dense layers (3.3 M parameters instead of
    0.23 M) while its text said "the VAE of notebook 03": the MNIST models must use helpers'."""
    cells = json.loads((REPO_ROOT / "notebooks" / name).read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert re.search(r"from helpers\.models import [^\n]*\bMNIST_NET\b", code), name
    assert not re.search(r"^\s*MNIST_NET\s*=", code, flags=re.M), f"{name} redefines MNIST_NET"
