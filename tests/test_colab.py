import json
import re
import shutil
import subprocess
import sys
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


def test_readme_links_the_course_site():
    assert f"]({colab.site_url()})" in (REPO_ROOT / "README.md").read_text()


def test_site_address_follows_github_pages():
    assert colab.site_url("alice/vae-tutorial") == "https://alice.github.io/vae-tutorial/"
    assert colab.site_url("Alice/VAE") == "https://alice.github.io/VAE/"  # hosts are lower case
    assert colab.site_url("alice/alice.github.io") == "https://alice.github.io/"  # a user's site


def _copy_of_the_repository(tmp_path):
    """What ``set_github_repo`` rewrites, copied into ``tmp_path``."""
    shutil.copytree(REPO_ROOT / "notebooks", tmp_path / "notebooks")
    (tmp_path / "helpers").mkdir()
    for name in ["__init__.py", "colab.py"]:
        shutil.copy(REPO_ROOT / "helpers" / name, tmp_path / "helpers" / name)
    shutil.copy(REPO_ROOT / "README.md", tmp_path / "README.md")
    return {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}


def test_set_github_repo_rewrites_every_place(tmp_path):
    _copy_of_the_repository(tmp_path)
    changed = colab.set_github_repo("someone/vae-course", root=tmp_path)
    assert len(changed) == len(NOTEBOOKS) + 2
    for path in changed:
        text = path.read_text()
        repos = {m.group(2) for pattern in colab._REPO_PATTERNS for m in pattern.finditer(text)}
        assert repos == {"someone/vae-course"}, (path.name, repos)
    readme = (tmp_path / "README.md").read_text()
    assert colab.site_url("someone/vae-course") in readme
    assert colab.site_url() not in readme
    colab.set_github_repo("another/name", root=tmp_path)  # from the name just set
    readme = (tmp_path / "README.md").read_text()
    assert "https://another.github.io/name/" in readme and "someone" not in readme


@pytest.mark.parametrize("repo", ["alice/vae-tutorial", "a-1/x.y_z", "A" * 39 + "/x", "o/.github"])
def test_github_names_are_accepted(repo):
    colab.check_github_repo(repo)


@pytest.mark.parametrize("repo, expected", [
    ("alice/vae-tutorial.git", "without it, alice/vae-tutorial."),
    ("../..", "'..' in '../..' is not a GitHub owner"),
    ("alice/..", "'..' in 'alice/..' is not a repository name"),
    ("alice/.", "'.' in 'alice/.' is not a repository name"),
    ("not a repo", "is not a GitHub 'owner/name'"),
    ("alice", "is not a GitHub 'owner/name'"),
    ("https://github.com/alice/vae-tutorial", "is not a GitHub 'owner/name'"),
    ("-alice/x", "not starting with a hyphen"),
    ("a" * 40 + "/x", "1 to 39 letters"),
    ("alice/", "is not a repository name"),
    ("alice/vae tutorial", "is not a repository name"),
])
def test_bad_names_are_refused_before_anything_is_written(tmp_path, repo, expected):
    before = _copy_of_the_repository(tmp_path)
    with pytest.raises(ValueError, match=re.escape(expected)):
        colab.set_github_repo(repo, root=tmp_path)
    assert {path: path.read_bytes() for path in before} == before


def test_command_line_refuses_a_bad_name_with_a_message(tmp_path):
    before = _copy_of_the_repository(tmp_path)
    done = subprocess.run([sys.executable, "-m", "helpers.colab", "alice/vae-tutorial.git"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "give the repository's name without it, alice/vae-tutorial" in done.stderr
    assert "Nothing was changed" in done.stderr and "Traceback" not in done.stderr
    assert {path: path.read_bytes() for path in before} == before


def test_colab_gets_tf_keras_at_its_tensorflow_minor(monkeypatch):
    versions = {"tensorflow": "2.19.0", "tf-keras": "2.21.0"}
    monkeypatch.setattr(metadata, "version", lambda name: versions[name])
    assert "tf-keras~=2.19.0" in colab.missing_packages()
    versions["tf-keras"] = "2.19.1"
    assert not any(p.startswith("tf-keras") for p in colab.missing_packages())


def test_colab_pins_tensorflow_probability_to_its_tensorflow(monkeypatch):
    monkeypatch.setattr(metadata, "version", lambda name: {"tensorflow": "2.20.0", "tf-keras": "2.20.1"}[name])
    monkeypatch.setattr(colab.importlib.util, "find_spec", lambda module: None)  # nothing installed
    assert colab.missing_packages() == ["tensorflow-probability==0.25.0", "scikit-learn"]


def test_a_failed_install_shows_pips_own_error(monkeypatch):
    monkeypatch.setattr(colab, "missing_packages", lambda: ["tensorflow-probability==0.25.0"])
    failed = subprocess.CompletedProcess([], 1, stdout="", stderr="ERROR: No matching distribution found")
    monkeypatch.setattr(colab.subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(RuntimeError, match="(?s)tensorflow-probability==0.25.0 failed.*No matching distribution"):
        colab.install_missing_packages()
