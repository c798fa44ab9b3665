"""Shared code of the notebooks. Keras must run on TensorFlow: set before anything imports Keras."""

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
