"""What a reader sees on GitHub: the committed notebooks hold a clean, full (not quick) run."""

import json
import re

import pytest

from .conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


# Notebooks whose code changed after their committed full run (exercises, the short first cell,
# load_or_fit, the clock; December 2026): their new cells hold no output until the next full rerun,
# which removes each one from this set. Their other cells must still hold a clean full run.
AWAITING_RERUN = set()


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return {**json.loads(request.param.read_text()), "number": request.param.name[:2]}


def test_outputs_of_a_clean_full_run_are_committed(notebook):
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    if notebook["number"] in AWAITING_RERUN:
        assert None in counts, "this notebook was rerun: remove it from AWAITING_RERUN"
        counts = [n for n in counts if n is not None]
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


NUMBER = r"\d[\d,]*(?:\.\d+)?"  # 86.76, 10,000, 2


def _output_text(path):
    """Everything a notebook's committed outputs show as text: streams, plain text and Markdown."""
    texts = []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            texts.append("".join(output.get("text", "")))
            for kind in ("text/plain", "text/markdown"):
                texts.append("".join(output.get("data", {}).get(kind, "")))
    return "\n".join(texts)


def _readme_results():
    """``(notebook number, row text, numbers)`` for each row of the README's results table."""
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme.split("## Results", 1)[1].split("\n## ", 1)[0]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and (re.fullmatch(r"\d\d", cells[0]) or cells[0] == "benchmark"):
            # the value and the run-time columns; a citation such as "(Burda et al. 2015: 86.76)" is
            # the literature's number, not ours
            measured = re.sub(r"\([^()]*et al\.[^()]*\)", "", f"{cells[2]} {cells[3]}")
            yield cells[0], line, re.findall(NUMBER, measured)


def test_every_number_in_the_readme_results_is_printed_by_its_notebook():
    """Each number is compared whole, as printed: "53" does not match an output of 52.8.

    Rows of notebook NN are checked against that notebook's committed outputs; "benchmark" rows
    against the committed reports in benchmarks/results/.
    """
    printed = {path.name[:2]: set(re.findall(NUMBER, _output_text(path))) for path in NOTEBOOKS}
    reports = "\n".join(p.read_text() for p in (REPO_ROOT / "benchmarks" / "results").glob("*.md"))
    printed["benchmark"] = set(re.findall(NUMBER, reports))
    rows = list(_readme_results())
    assert rows, "no results table found in README.md"
    missing = [(number, value) for number, line, values in rows for value in values
               if value not in printed[number]]
    assert not missing, f"README numbers absent from the notebook outputs: {missing}"
