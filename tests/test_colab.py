import json
import shutil
from importlib import metadata

import pytest

from helpers import colab

from .conftest import REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_badge_opens_this_notebook(path):
    first = "".join(_cells(path)[0]["source"])
    assert colab.colab_url(path.name) in first


def test_readme_links_every_notebook_to_colab():
    readme = (REPO_ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert colab.colab_url(path.name) in readme, path.name


def test_every_notebook_starts_with_the_same_setup_cell():
    setups = {path.name: "".join(next(c for c in _cells(path) if c["cell_type"] == "code")["source"])
              for path in NOTEBOOKS}
    reference = next(iter(setups.values()))
    assert f'GITHUB_REPO = "{colab.GITHUB_REPO}"' in reference
    assert f'"{colab.CLONE_DIR}"' in reference
    assert all(setup == reference for setup in setups.values()), sorted(setups)


def test_set_github_repo_rewrites_every_place(tmp_path):
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    (tmp_path / "helpers").mkdir()
    shutil.copy(REPO_ROOT / "helpers" / "colab.py", tmp_path / "helpers" / "colab.py")
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    changed = colab.set_github_repo("someone/vae-course", root=tmp_path)
    assert len(changed) == len(NOTEBOOKS) + 2
    for path in changed:
        text = path.read_text()
        repos = {m.group(2) for pattern in colab._REPO_PATTERNS for m in pattern.finditer(text)}
        assert repos == {"someone/vae-course"}, (path.name, repos)
    with pytest.raises(ValueError, match="owner/name"):
        colab.set_github_repo("not a repo", root=tmp_path)


def test_colab_gets_tf_keras_at_its_tensorflow_minor(monkeypatch):
    versions = {"tensorflow": "2.19.0", "tf-keras": "2.21.0"}
    monkeypatch.setattr(metadata, "version", lambda name: versions[name])
    assert "tf-keras~=2.19.0" in colab.missing_packages()
    versions["tf-keras"] = "2.19.1"
    assert not any(p.startswith("tf-keras") for p in colab.missing_packages())
