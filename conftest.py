"""Applies to every test, unit tests and notebooks alike: quick mode, and an absolute data path."""

import os
from pathlib import Path

# The notebooks' kernels inherit this environment: `pytest` never waits for a full training run.
os.environ["VAE_QUICK"] = "1"
# The kernels run from notebooks/, so a relative VAE_DATA_DIR is made absolute here.
if os.environ.get("VAE_DATA_DIR"):
    os.environ["VAE_DATA_DIR"] = str(Path(os.environ["VAE_DATA_DIR"]).expanduser().resolve())
