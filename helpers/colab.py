"""Google Colab support: the repository's GitHub name, the "Open in Colab" links, Colab installs.

The GitHub ``owner/name`` of this repository is set here, in ``GITHUB_REPO``, and copied into the
notebooks' badges and first cells and the README by::

    python -m helpers.colab OWNER/NAME
"""

import importlib.util
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

GITHUB_REPO = "OWNER/REPO"
CLONE_DIR = "vae-tutorial"  # where the first cell of a notebook clones the repository on Colab

_ROOT = Path(__file__).resolve().parent.parent
_REPO_PATTERNS = (
    re.compile(r"(colab\.research\.google\.com/github/)([\w.-]+/[\w.-]+)(/blob/)"),
    re.compile(r'(GITHUB_REPO = \\?")([\w.-]+/[\w.-]+)(\\?")'),
)


def colab_url(notebook_name):
    """The "Open in Colab" address of ``notebooks/<notebook_name>`` on the main branch."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/{notebook_name}"


def missing_packages():
    """pip requirements for what a Colab runtime lacks, leaving its own TensorFlow in place.

    TensorFlow Probability needs ``tf-keras`` at TensorFlow's minor version, so that one is pinned
    to whatever TensorFlow is installed.
    """
    tf_version = metadata.version("tensorflow")
    minor = ".".join(tf_version.split(".")[:2])
    wanted = {"tensorflow_probability": "tensorflow-probability", "sklearn": "scikit-learn"}
    needed = [pip for module, pip in wanted.items() if importlib.util.find_spec(module) is None]
    try:
        tf_keras_ok = metadata.version("tf-keras").startswith(minor + ".")
    except metadata.PackageNotFoundError:
        tf_keras_ok = False
    if not tf_keras_ok:
        needed.append(f"tf-keras~={minor}.0")
    return needed


def install_missing_packages():
    """Install ``missing_packages()`` with pip (used by the notebooks' first cell on Colab)."""
    needed = missing_packages()
    if needed:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *needed], check=True)


def set_github_repo(repo, root=_ROOT):
    """Write ``repo`` (``owner/name``) into this file, the README and every notebook; return the paths changed."""
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ValueError(f"{repo!r} is not a GitHub 'owner/name'.")
    changed = []
    for path in [root / "helpers" / "colab.py", root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        if not path.is_file():
            continue
        text = path.read_text()
        new = text
        for pattern in _REPO_PATTERNS:
            new = pattern.sub(lambda m: m.group(1) + repo + m.group(3), new)
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m helpers.colab OWNER/NAME")
    for changed_path in set_github_repo(sys.argv[1]):
        print("updated", changed_path)
