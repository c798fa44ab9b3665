"""Run-time switches shared by every notebook: quick mode, the data directory, a quiet TensorFlow import.

Environment variables:

- ``VAE_QUICK``: ``1`` trains on a small subset for a few steps (what CI and ``pytest`` use),
  ``0`` runs the full lesson. Unset, quick mode follows ``CI`` (on when ``CI=true``).
- ``VAE_DATA_DIR``: the folder with local copies of the data sets (default: ``data/`` in the repo).
"""

import os
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(name, value):
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={value!r} is not understood: use 1 (on) or 0 (off).")


def quick_mode():
    """True when the notebooks should train on a small subset for a few steps.

    ``VAE_QUICK`` decides when it is set; otherwise quick mode is on when ``CI`` is true.
    """
    if "VAE_QUICK" in os.environ:
        return _flag("VAE_QUICK", os.environ["VAE_QUICK"])
    return _flag("CI", os.environ.get("CI", ""))


def data_dir():
    """The folder the data loaders search first: ``$VAE_DATA_DIR``, or ``data/`` in the repo.

    A relative ``VAE_DATA_DIR`` is taken from the current folder when there is such a folder there,
    else from the repository's root: the README's ``VAE_DATA_DIR=../shared/data`` is written from
    the root, and Jupyter runs the notebooks from ``notebooks/``.

    Raises:
        FileNotFoundError: ``VAE_DATA_DIR`` names no folder; the message lists where it looked.
    """
    setting = os.environ.get("VAE_DATA_DIR")
    if not setting:
        return REPO_ROOT / "data"
    path = Path(setting).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, REPO_ROOT / path]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    searched = " and ".join(str(c.resolve()) for c in candidates)
    raise FileNotFoundError(f"VAE_DATA_DIR={setting!r} names no folder: looked for {searched}. "
                            f"Fix: set it to the folder that holds the data sets (an absolute path "
                            f"is safest), or unset it to use data/ in the repository.")


def data_dir_label():
    """How printed output names ``data_dir()`` without a machine path: ``$VAE_DATA_DIR`` or ``data``."""
    return "$VAE_DATA_DIR" if os.environ.get("VAE_DATA_DIR") else "data"


def cache_dir():
    """Where decoded copies of image folders are kept (``data/cache/`` in the repo, git-ignored)."""
    return REPO_ROOT / "data" / "cache"


def import_tensorflow():
    """Import TensorFlow and Keras with TensorFlow's C++ start-up messages silenced.

    ``TF_CPP_MIN_LOG_LEVEL`` hides most of TensorFlow's log, but the oneDNN and CUDA lines are
    written to the process's stderr before that setting is read, and a notebook shows them as
    red text. They are harmless, so stderr is pointed at /dev/null for the import alone.

    Returns:
        ``(tf, keras)``, the two modules.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf
        import keras

        tf.config.list_physical_devices()  # device discovery logs too: keep it inside the silence
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    tf.get_logger().setLevel("ERROR")
    # Keras warns that fit's default shuffle=True is ignored for a tf.data input; our datasets
    # shuffle themselves (helpers.data.image_dataset), so the warning is only noise.
    warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed")
    return tf, keras


def describe_runtime():
    """One line naming the hardware and library versions, printed at the top of every notebook."""
    import platform

    import keras
    import tensorflow as tf

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpus = tf.config.list_physical_devices("GPU")
    gpu = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name)
                    for g in gpus) or "none"
    return (f"TensorFlow {tf.__version__}, Keras {keras.__version__} | CPU: {cpu}, "
            f"{os.cpu_count()} cores | GPU: {gpu} | quick mode: {'on' if quick_mode() else 'off'}")
