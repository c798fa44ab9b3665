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
