"""Google Colab support: the repository's GitHub name, the "Open in Colab" links, Colab installs.

The GitHub ``owner/name`` of this repository is set here, in ``GITHUB_REPO``, and copied into the
notebooks' badges and first cells and the README (badges and the course site's address) by::

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
# GitHub's rules: an owner is 1-39 letters, digits and hyphens, not starting with a hyphen; a
# repository's name is letters, digits, '.', '-' and '_', at most 100 of them
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")
_REPO_PATTERNS = (
    re.compile(r"(colab\.research\.google\.com/github/)([\w.-]+/[\w.-]+)(/blob/)"),
    re.compile(r'(GITHUB_REPO = \\?")([\w.-]+/[\w.-]+)(\\?")'),
)


def check_github_repo(repo):
    """Raise ``ValueError``, saying what is wrong and what was expected, unless ``repo`` is a
    GitHub ``owner/name`` such as ``alice/vae-tutorial``."""
    owner, slash, name = repo.partition("/")
    example = "e.g. alice/vae-tutorial"
    if not slash or "/" in name:
        raise ValueError(f"{repo!r} is not a GitHub 'owner/name': expected the owner and the "
                         f"repository's name with one '/' between them, {example}.")
    if not _OWNER.fullmatch(owner):
        raise ValueError(f"{owner!r} in {repo!r} is not a GitHub owner: expected 1 to 39 letters, "
                         f"digits or hyphens, not starting with a hyphen, {example}.")
    if name.lower().endswith(".git"):
        raise ValueError(f"{repo!r} ends in '.git': give the repository's name without it, "
                         f"{owner}/{name[:-4]}.")
    if name in (".", "..") or not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} in {repo!r} is not a repository name: expected up to 100 "
                         f"letters, digits, '.', '-' or '_', and not '.' or '..', {example}.")


def site_url(repo=None):
    """The address of the course site on GitHub Pages for ``repo`` (default ``GITHUB_REPO``)."""
    owner, name = (repo or GITHUB_REPO).split("/")
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if name.lower() == host else f"https://{host}/{name}/"


def colab_url(notebook_name):
    """The "Open in Colab" address of ``notebooks/<notebook_name>`` on the main branch."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/main/notebooks/{notebook_name}"


# The TensorFlow Probability release that works with each TensorFlow minor version (TFP's release
# notes); 2.20 (Colab, August 2026) and 2.21 (requirements.txt) are the ones CI tests.
TFP_FOR_TF = {"2.18": "0.25.0", "2.19": "0.25.0", "2.20": "0.25.0", "2.21": "0.25.0"}


def missing_packages():
    """pip requirements for what a Colab runtime lacks, leaving its own TensorFlow in place.

    TensorFlow Probability needs ``tf-keras`` at TensorFlow's minor version, so that one is pinned
    to whatever TensorFlow is installed, and TFP itself to the release made for that TensorFlow
    (an unpinned TFP can require a newer TensorFlow than the runtime has).
    """
    tf_version = metadata.version("tensorflow")
    minor = ".".join(tf_version.split(".")[:2])
    if minor not in TFP_FOR_TF:
        print(f"Note: TensorFlow {tf_version} is not one this series was tested with "
              f"({', '.join(sorted(TFP_FOR_TF))}); trying TensorFlow Probability "
              f"{TFP_FOR_TF[max(TFP_FOR_TF)]}.")
    tfp_pin = f"tensorflow-probability=={TFP_FOR_TF.get(minor, TFP_FOR_TF[max(TFP_FOR_TF)])}"
    wanted = {"tensorflow_probability": tfp_pin, "sklearn": "scikit-learn"}
    needed = [pip for module, pip in wanted.items() if importlib.util.find_spec(module) is None]
    try:
        tf_keras_ok = metadata.version("tf-keras").startswith(minor + ".")
    except metadata.PackageNotFoundError:
        tf_keras_ok = False
    if not tf_keras_ok:
        needed.append(f"tf-keras~={minor}.0")
    return needed


def install_missing_packages():
    """Install ``missing_packages()`` with pip (used by the notebooks' first cell on Colab).

    Raises:
        RuntimeError: pip failed; the message holds pip's own error text.
    """
    needed = missing_packages()
    if needed:
        command = [sys.executable, "-m", "pip", "install", "-q", *needed]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"Installing {' '.join(needed)} failed (pip exit code {done.returncode}):\n"
                               f"{(done.stderr or done.stdout)[-3000:]}")


def set_github_repo(repo, root=_ROOT):
    """Write ``repo`` (``owner/name``) into this file, the README and every notebook; return the paths changed.

    The course site's address is rewritten where it is the current one, ``site_url()`` of the
    ``GITHUB_REPO`` in ``root``; other github.io addresses are left alone.

    Raises:
        ValueError: ``repo`` is not a GitHub ``owner/name`` (``check_github_repo``); then
            nothing is written.
    """
    check_github_repo(repo)
    current = _REPO_PATTERNS[1].search((root / "helpers" / "colab.py").read_text()).group(2)
    changed = []
    for path in [root / "helpers" / "colab.py", root / "README.md", *sorted((root / "notebooks").glob("*.ipynb"))]:
        if not path.is_file():
            continue
        text = path.read_text()
        new = text
        for pattern in _REPO_PATTERNS:
            new = pattern.sub(lambda m: m.group(1) + repo + m.group(3), new)
        new = new.replace(site_url(current), site_url(repo))
        if new != text:
            path.write_text(new)
            changed.append(path)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m helpers.colab OWNER/NAME")
    try:
        changed_paths = set_github_repo(sys.argv[1])
    except ValueError as error:
        sys.exit(f"python -m helpers.colab: {error} Nothing was changed.")
    for changed_path in changed_paths:
        print("updated", changed_path)
