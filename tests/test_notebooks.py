"""What a reader sees on GitHub: the committed notebooks hold a clean, full (not quick) run."""

import json

import pytest

from .conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return json.loads(request.param.read_text())


def test_outputs_of_a_clean_full_run_are_committed(notebook):
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "some cells were not run"
    assert counts == sorted(counts), "cells ran out of order: restart and run all"
    outputs = [o for c in code for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    stderr = ["".join(o["text"]) for o in outputs if o.get("name") == "stderr"]
    assert not stderr, f"stderr in a committed cell: {stderr[0][:200]}"
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "quick mode: off" in text, "committed outputs come from a quick run"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure in the outputs"


def test_ends_with_a_question_and_a_hidden_answer(notebook):
    markdown = "".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert "Check your understanding" in markdown
    assert "<details>" in markdown and "</details>" in markdown


def test_each_notebook_ends_with_a_link_to_the_next():
    for path, following in zip(NOTEBOOKS, [*NOTEBOOKS[1:], None]):
        last = json.loads(path.read_text())["cells"][-1]
        text = "".join(last["source"])
        assert last["cell_type"] == "markdown", path.name
        assert f"]({following.name})" in text if following else "](../README.md)" in text, path.name
