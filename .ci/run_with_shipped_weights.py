"""Run each notebook that ships weights with TRAIN = False, in quick mode: the path a learner takes
to skip the training. nbval (pytest) runs the notebooks as committed, with TRAIN = True; this runs
the other branch of every training cell, loading weights/ instead. Notebooks 02, 05 and 06
load release assets, which CI, offline and with the placeholder repository name, cannot download:
there this checks that they say so and fall back to training.

    VAE_QUICK=1 python .ci/run_with_shipped_weights.py

Stops with the failing cell's error; prints each notebook's time, and the times it printed itself
for its first figure and for the whole notebook. With VAE_QUICK=0 and every weights file present
(after full runs, or with the release downloaded) this measures a learner's wait with
`TRAIN = False`, the README's "skip the training" times.
"""

import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SWITCH = "TRAIN = True"
PRINTED_TIME = re.compile(r"^(First figure|Whole notebook): (\d+) s", re.MULTILINE)


def printed_times(notebook):
    """The times the notebook printed with helpers.notebook.print_time, e.g. "first figure 12 s"."""
    text = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)
    return ", ".join(f"{label.lower()} {seconds} s" for label, seconds in PRINTED_TIME.findall(text))


def main():
    ran = 0
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells = [cell for cell in notebook.cells if cell.cell_type == "code" and SWITCH in cell.source]
        if not cells:
            continue
        if len(cells) != 1:
            sys.exit(f"{path.name}: expected one cell that sets {SWITCH!r}, found {len(cells)}")
        cells[0].source = cells[0].source.replace(SWITCH, "TRAIN = False")
        start = time.perf_counter()
        NotebookClient(notebook, timeout=900, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        print(f"{path.name}: ran with TRAIN = False in {time.perf_counter() - start:.0f} s "
              f"({printed_times(notebook)})", flush=True)
        ran += 1
    if not ran:
        sys.exit(f"no notebook in {NOTEBOOKS} sets {SWITCH!r}")


if __name__ == "__main__":
    main()
