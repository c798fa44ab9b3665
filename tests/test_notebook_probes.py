"""Notebook 04 writes out the battery of latent points it decodes (``probe_points``) and hands that
very function to ``helpers.latent.battery``; notebook 05 uses the copy in helpers.latent. These
tests keep the two equal, and check that the function shown in notebook 04 is the one that runs."""

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


def code_cells():
    return ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
            if c["cell_type"] == "code"]


def notebook_probe_points():
    cells = code_cells()
    defining = [c for c in cells if "\ndef probe_points(" in f"\n{c}"]
    assert len(defining) == 1, "notebook 04 should define probe_points in exactly one code cell"
    return _function(defining[0], "probe_points")


def test_notebook_04_shows_the_probe_points_that_helpers_use():
    helpers_version = _function(inspect.getsource(latent), "probe_points")
    assert _without_docstring(notebook_probe_points()) == _without_docstring(helpers_version), (
        "notebook 04's probe_points differs from helpers.latent.probe_points: change both")


def test_the_comparison_detects_a_change():
    changed = inspect.getsource(latent.probe_points).replace("0.1 * (full - mean)",
                                                             "0.2 * (full - mean)")
    assert changed != inspect.getsource(latent.probe_points)
    assert _without_docstring(notebook_probe_points()) != _without_docstring(
        _function(changed, "probe_points"))


def _battery_calls(source):
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "battery"]


def test_notebook_04_decodes_the_points_of_its_own_probe_points():
    cells = [c for c in code_cells() if "notebook.start()" not in c]  # the setup holds !shell lines
    calls = [call for cell in cells if "battery(" in cell for call in _battery_calls(cell)]
    assert calls, "notebook 04 no longer calls battery"
    for call in calls:
        given = {k.arg: k.value for k in call.keywords}
        assert getattr(given.get("make_points"), "id", None) == "probe_points", (
            "notebook 04 must call battery(..., make_points=probe_points), so that the "
            "probe_points cell it shows is the code that runs")
    imported = [alias.name for cell in cells for node in ast.walk(ast.parse(cell))
                if isinstance(node, ast.ImportFrom) for alias in node.names]
    assert "probe_points" not in imported, "an import of probe_points would shadow the cell's"


def test_the_battery_check_detects_the_default_points():
    call = _battery_calls("battery(model, judge, a, b, c, d, n=N, seed=s)")[0]
    assert "make_points" not in {k.arg for k in call.keywords}
