"""Shipped weights: load the models of a notebook's committed full run instead of training them.

Each shipped model is two files in ``weights/``:

- ``<name>.weights.h5``: the Keras weights, stored as float16 (half the float32 bytes; gzip saves
  little more); ``tests/test_pretrained.py`` checks that each notebook's headline numbers
  survive the rounding;
- ``<name>.json``: the model's class and architecture, the weights file's SHA-256, and the
  training run's per-epoch history and seconds, so a notebook that loads can still draw its
  training curves.

A notebook's full run with ``TRAIN = True`` writes them with ``save``; ``TRAIN = False`` reads
them back with ``load``. Quick mode never writes: its short-trained models are not worth shipping,
and a quick run must not overwrite the full run's weights.
"""

import hashlib
import json
import tempfile
import warnings
from pathlib import Path

import h5py
import keras
import numpy as np

from helpers import config

WEIGHTS_DIR = config.REPO_ROOT / "weights"


def weights_path(name):
    """``weights/<name>.weights.h5``; ``name`` is e.g. ``"01_transform"``."""
    return WEIGHTS_DIR / f"{name}.weights.h5"


def _record_path(name):
    return WEIGHTS_DIR / f"{name}.json"


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _architecture(model):
    """What decides the weights' shapes: our models' constructor arguments (``architecture()``),
    or for a plain Keras model (notebook 04's judge, a ``Sequential``) its weights' shapes."""
    if hasattr(model, "architecture"):
        return model.architecture()
    return {"weight_shapes": [list(w.shape) for w in model.weights]}


def _copy_as_float16(source, target):
    """Copy a Keras ``.weights.h5`` file without the optimizer's state (Adam's moments, two more
    copies of every weight, needed only to resume training), every float32 array as float16."""
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name, item):
            if name.split("/")[0] == "optimizer":
                return
            if isinstance(item, h5py.Group):
                dst.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            if data.dtype == np.float32:
                data = data.astype(np.float16)
            options = dict(compression="gzip", shuffle=True) if data.ndim else {}
            dst.create_dataset(name, data=data, **options).attrs.update(item.attrs)

        src.visititems(copy)


def save(model, name, history=None, seconds=None):
    """Write ``model``'s weights (float16) and its record to ``weights/``; nothing in quick mode.

    Args:
        model: a built model: a ``helpers.models`` model, a subclass, or a plain Keras model.
        name: the file stem, ``"<notebook number>_<model>"``, e.g. ``"01_transform"``.
        history: ``model.fit``'s ``History`` or its ``.history`` dict (per-epoch logs), or None.
        seconds: the training wall time in seconds, or None.

    Returns:
        The weights file's path, or None in quick mode.
    """
    if config.quick_mode():
        return None
    if not model.built:  # a custom train_step (notebook 03's VAE) never calls the model itself
        _build(model, _architecture(model))
    WEIGHTS_DIR.mkdir(exist_ok=True)
    path = weights_path(name)
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "float32.weights.h5"
        model.save_weights(full)
        _copy_as_float16(full, path)
    logs = getattr(history, "history", history) or {}
    record = {"model": type(model).__name__, "architecture": _architecture(model),
              "sha256": _sha256(path), "seconds": seconds,
              "history": {key: [float(v) for v in values] for key, values in logs.items()}}
    _record_path(name).write_text(json.dumps(record, indent=1) + "\n")
    return path


def load(model, name):
    """Load the shipped weights ``name`` into ``model``, after checking that they belong to it.

    Args:
        model: a model built with the same class and constructor arguments as the saved one.
        name: the file stem given to ``save``.

    Returns:
        ``(history, seconds)`` of the run that trained the weights: a ``keras.callbacks.History``
        whose ``.history`` holds the per-epoch logs, and the training time in seconds.

    Raises:
        FileNotFoundError: the files are not in ``weights/``.
        ValueError: the record names another class or architecture, or the weights file's
            checksum does not match its record (a corrupt or replaced file).
    """
    path, record_path = weights_path(name), _record_path(name)
    for needed in (path, record_path):
        if not needed.is_file():
            raise FileNotFoundError(
                f"weights/{needed.name} is not in this checkout, so there are no shipped weights "
                f"named {name!r}. Set TRAIN = True to train the model instead, or restore the file "
                f"with `git checkout -- weights/`.")
    record = json.loads(record_path.read_text())
    saved = (record["model"], record["architecture"])
    wanted = (type(model).__name__, json.loads(json.dumps(_architecture(model))))
    if saved != wanted:
        raise ValueError(
            f"weights/{path.name} holds a {saved[0]} {saved[1]}, but this model is a {wanted[0]} "
            f"{wanted[1]}. Build the model with the arguments the notebook's full run used, or set "
            f"TRAIN = True to train this one.")
    if _sha256(path) != record["sha256"]:
        raise ValueError(
            f"weights/{path.name} does not match the SHA-256 in weights/{record_path.name}: the file "
            f"is corrupt or was replaced. Restore it with `git checkout -- weights/`, or set "
            f"TRAIN = True to train the model instead.")
    if not model.built:
        _build(model, wanted[1])
    with warnings.catch_warnings():
        # the optimizer's state is not shipped (see _copy_as_float16): Keras notes that it skips it
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)
    history = keras.callbacks.History()
    history.history = record["history"]
    return history, record["seconds"]


def _build(model, architecture):
    """Create the model's weights by calling it once on one blank image (and a one-hot label)."""
    shape = architecture.get("input_shape") or model.encoder.inputs[0].shape[1:]  # notebook 03's VAE
    x = np.zeros((1, *shape), "float32")
    condition_dim = architecture.get("num_classes", architecture.get("condition_dim", 0))
    with warnings.catch_warnings():
        # notebook 03's VAE has no build(): its networks are built when it is made, which Keras
        # cannot tell, so it warns of "unbuilt state" that is not there
        warnings.filterwarnings("ignore", message=r"`build\(\)` was called on layer")
        model([x, np.eye(1, condition_dim, dtype="float32")] if condition_dim else x)
