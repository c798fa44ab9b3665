"""Run each notebook that ships weights with TRAIN = False, in quick mode: the path a learner takes
to skip the training. nbval (pytest) runs the notebooks as committed, with TRAIN = True; this runs
the other branch of every training cell, loading weights/ instead. Notebooks 02, 05 and 06
load release assets, which CI, offline and with the placeholder repository name, cannot download:
there this checks that they say so and fall back to training.

    VAE_QUICK=1 python .ci/run_with_shipped_weights.py

Stops with the failing cell's error; prints each notebook's time, and the times it printed itself
for its first figure and for the whole notebook. With VAE_QUICK=0 and every weights file present
(after full runs, or with the release downloaded) this measures a learner's wait with
`TRAIN = False`, the README's "skip the training" times; `--report FILE` also writes them as a
Markdown table:

    VAE_QUICK=0 python .ci/run_with_shipped_weights.py --report benchmarks/results/train_false_times.md

Numbers (e.g. `08`) run only those notebooks.
"""

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO_ROOT / "notebooks"
FELL_BACK = "Training the model instead"  # helpers.pretrained.load_if_published's note
SWITCH = "TRAIN = True"
PRINTED_TIME = re.compile(r"^(First figure|Whole notebook): (\d+) s", re.MULTILINE)


def _text(notebook):
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.outputs)


def printed_times(notebook):
    """``{"First figure": seconds, "Whole notebook": seconds}``, as the notebook printed them with
    helpers.notebook.print_time."""
    return {label: int(seconds) for label, seconds in PRINTED_TIME.findall(_text(notebook))}


def write_report(path, rows, numbers):
    sys.path.insert(0, str(REPO_ROOT))
    from helpers import config

    lines = ["# Notebooks run with `TRAIN = False`", "",
             "What a learner waits for when the notebook loads the committed full run's weights "
             "instead of training: the times each notebook printed (from its first cell to its "
             "first figure, and to its last cell).", "",
             f"Command: `VAE_QUICK={os.environ.get('VAE_QUICK', '')} python "
             f".ci/run_with_shipped_weights.py --report {path}{''.join(' ' + n for n in numbers)}`, "
             "one notebook at a time"
             + (" (the other rows: the same command without numbers, earlier)." if numbers else "."),
             "",
             f"Runtime: {config.describe_runtime()}.", "",
             "| notebook | first figure (s) | whole notebook (s) | trained a model instead |",
             "|---|---|---|---|"]
    table = {}  # notebook -> row; rows of notebooks not run this time are kept from the last report
    if Path(path).is_file():
        table = {line.split(" | ")[0][2:]: line for line in Path(path).read_text().splitlines()
                 if line.startswith("| 0")}
    table.update({name: f"| {name} | {times.get('First figure', '–')} | "
                        f"{times.get('Whole notebook', '–')} | "
                        f"{'yes: weights not available' if fell_back else 'no'} |"
                  for name, times, fell_back in rows})
    Path(path).write_text("\n".join(lines + [table[name] for name in sorted(table)]) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", help="write the times as a Markdown table to this file "
                                         "(rows of notebooks not run this time are kept)")
    parser.add_argument("numbers", nargs="*", help="the notebooks to run, e.g. 05 08 (default: all)")
    args = parser.parse_args()
    rows = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if args.numbers and path.name[:2] not in args.numbers:
            continue
        notebook = nbformat.read(path, as_version=4)
        cells = [cell for cell in notebook.cells if cell.cell_type == "code" and SWITCH in cell.source]
        if not cells:
            continue
        if len(cells) != 1:
            sys.exit(f"{path.name}: expected one cell that sets {SWITCH!r}, found {len(cells)}")
        cells[0].source = cells[0].source.replace(SWITCH, "TRAIN = False")
        start = time.perf_counter()
        NotebookClient(notebook, timeout=900, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        times = printed_times(notebook)
        fell_back = FELL_BACK in _text(notebook)
        print(f"{path.name}: ran with TRAIN = False in {time.perf_counter() - start:.0f} s ("
              + ", ".join(f"{label.lower()} {seconds} s" for label, seconds in times.items())
              + ("; trained a model instead" if fell_back else "") + ")", flush=True)
        rows.append((path.name, times, fell_back))
    if not rows:
        sys.exit(f"no notebook in {NOTEBOOKS} sets {SWITCH!r}")
    if args.report:
        write_report(args.report, rows, args.numbers)


if __name__ == "__main__":
    main()
