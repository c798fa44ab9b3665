"""Notebook 04 writes out the battery of latent points it decodes (``probe_points``); the notebooks
call the same function from helpers.latent. This test keeps the two equal, and fails when either
changes without the other."""

import ast
import inspect
import json

from helpers import latent

from .conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "04_autoencoder_vs_vae_on_mnist.ipynb"


def _without_docstring(function):
    """The function's syntax tree, its docstring removed, as a comparable string."""
    if ast.get_docstring(function) is not None:
        function.body = function.body[1:]
    return ast.dump(function)


def _function(source, name):
    found = [node for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.FunctionDef) and node.name == name]
    assert found, f"no function {name} in the source"
    return found[0]


def notebook_probe_points():
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    defining = [c for c in cells if "\ndef probe_points(" in f"\n{c}"]
    assert len(defining) == 1, "notebook 04 should define probe_points in exactly one code cell"
    return _function(defining[0], "probe_points")


def test_notebook_04_shows_the_probe_points_that_helpers_use():
    helpers_version = _function(inspect.getsource(latent), "probe_points")
    assert _without_docstring(notebook_probe_points()) == _without_docstring(helpers_version), (
        "notebook 04's probe_points differs from helpers.latent.probe_points: change both")


def test_the_comparison_detects_a_change():
    changed = inspect.getsource(latent.probe_points).replace("0.1 * (full - mean)", "0.2 * (full - mean)")
    assert changed != inspect.getsource(latent.probe_points)
    assert _without_docstring(notebook_probe_points()) != _without_docstring(
        _function(changed, "probe_points"))
