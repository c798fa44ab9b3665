"""What every notebook does after its first cell has found this repository, and its clock.

The first cell of every notebook finds the repository (on Colab it clones it), then calls
``start()``: Colab's missing packages, a quiet TensorFlow import, quick mode, the seeds, the
clock. ``print_time`` prints how long the notebook has been running, e.g. at its first figure and
in its last cell, so a reader sees what a run costs.
"""

import sys
import time

from helpers import colab, config

_started = None  # time.perf_counter() when start() ran


def start(seed=0):
    """Set the notebook up; print the hardware, the library versions and the mode.

    On Colab, installs what its runtime lacks first (``colab.install_missing_packages``).

    Returns:
        ``(tf, keras, quick)``: the TensorFlow and Keras modules, imported with TensorFlow's
        start-up log silenced, and whether quick mode is on (``VAE_QUICK=1``, or ``CI=true``).
    """
    global _started
    if "google.colab" in sys.modules:
        colab.install_missing_packages()  # its own TensorFlow stays
    tf, keras = config.import_tensorflow()
    quick = config.quick_mode()
    keras.utils.set_random_seed(seed)  # Python's, NumPy's and TensorFlow's generators
    _started = time.perf_counter()
    print(config.describe_runtime())
    return tf, keras, quick


def seconds_since_start():
    """Wall-clock seconds since ``start()`` ran.

    Raises:
        RuntimeError: ``start()`` has not run in this kernel (run the notebook's first cell).
    """
    if _started is None:
        raise RuntimeError("The notebook's clock has not started: run the first code cell "
                           "(it calls helpers.notebook.start()) and then this one.")
    return time.perf_counter() - _started


def print_time(label):
    """Print ``"<label>: <seconds> s on <hardware and versions>"``, the seconds since ``start()``."""
    print(f"{label}: {seconds_since_start():.0f} s on {config.describe_runtime()}")
