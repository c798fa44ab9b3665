"""The notebooks' first code cell and ``helpers.notebook``: what a learner sees run first.

The cell is IPython (``!git clone``, ``%cd``), so it runs here through IPython in a fresh process,
as a plain kernel or as Colab (a fake ``google.colab`` module), from a chosen folder.
"""

import json
import os
import subprocess
import sys

import pytest

from helpers import colab, notebook

from .conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def _first_code_cell(path):
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def test_every_notebook_starts_with_the_same_short_setup_cell():
    setups = {path.name: _first_code_cell(path) for path in NOTEBOOKS}
    reference = setups[NOTEBOOKS[0].name]
    assert all(setup == reference for setup in setups.values()), sorted(setups)
    assert f'GITHUB_REPO = "{colab.GITHUB_REPO}"' in reference
    assert f" {colab.CLONE_DIR}\n" in reference  # where it clones on Colab
    assert len(reference.strip().splitlines()) <= 12
    assert max(len(line) for line in reference.splitlines()) <= 100


def _run_first_cell(tmp_path, cwd, on_colab, repo=None, path=None):
    """Run the first cell in a fresh IPython, as Colab or as a plain kernel, from ``cwd``."""
    setup = _first_code_cell(NOTEBOOKS[0])
    if repo:
        setup = setup.replace(f'GITHUB_REPO = "{colab.GITHUB_REPO}"', f'GITHUB_REPO = "{repo}"')
    fake_colab = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    script = tmp_path / "cell.ipy"
    script.write_text((fake_colab if on_colab else "") + setup
                      + "\nprint('QUICK is', QUICK, 'cwd is', os.getcwd())\n")
    env = {**os.environ, "PATH": path or os.environ["PATH"]}
    result = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor",
                             str(script)], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout + result.stderr


def _fake_git(tmp_path, script):
    """A folder holding a ``git`` that runs ``script`` (sh), to put first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f"#!/bin/sh\n{script}\n")
    (bin_dir / "git").chmod(0o755)
    return f"{bin_dir}:{os.environ['PATH']}"


def test_first_cell_in_the_repository_sets_up_the_notebook(tmp_path):
    code, output = _run_first_cell(tmp_path, cwd=REPO_ROOT / "notebooks", on_colab=False)
    assert code == 0, output[-2000:]
    assert "TensorFlow" in output and "quick mode:" in output and "QUICK is True" in output


def test_first_cell_outside_the_repository_says_what_to_do(tmp_path):
    (tmp_path / "notebooks").mkdir()
    code, output = _run_first_cell(tmp_path, cwd=tmp_path / "notebooks", on_colab=False)
    assert code != 0
    assert "This notebook needs its repository: open it from the repository's notebooks/" in output


def test_first_cell_on_colab_clones_the_repository_and_works_there(tmp_path):
    # the fake git "clones" this checkout: what GitHub would send
    path = _fake_git(tmp_path, f'cp -r "{REPO_ROOT}" "$5" && echo "cloned $4" > "$5/cloned"')
    code, output = _run_first_cell(tmp_path, cwd=tmp_path, on_colab=True, repo="someone/vae",
                                   path=path)
    assert code == 0, output[-2000:]
    clone = tmp_path / colab.CLONE_DIR
    assert (clone / "cloned").read_text() == "cloned https://github.com/someone/vae\n"
    assert f"cwd is {clone / 'notebooks'}" in output


def test_first_cell_on_colab_shows_gits_error_and_what_to_do(tmp_path):
    path = _fake_git(tmp_path, 'echo "fatal: repository not found (fake git)" >&2; exit 128')
    code, output = _run_first_cell(tmp_path, cwd=tmp_path, on_colab=True, repo="someone/missing",
                                   path=path)
    assert code != 0
    assert "repository not found (fake git)" in output
    assert "on Colab: set GITHUB_REPO above to its owner/name" in output


def test_the_clock_says_to_run_the_first_cell_when_it_has_not_started(monkeypatch):
    monkeypatch.setattr(notebook, "_started", None)
    with pytest.raises(RuntimeError, match="run the first code cell"):
        notebook.print_time("Whole notebook")


def test_the_clock_prints_seconds_since_start(monkeypatch, capsys):
    tf, keras, quick = notebook.start()
    assert quick is True and hasattr(tf, "constant") and hasattr(keras, "Model")
    monkeypatch.setattr(notebook, "_started", notebook._started - 61)
    notebook.print_time("First figure")
    assert capsys.readouterr().out.splitlines()[-1].startswith("First figure: 61 s on TensorFlow")
