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

Where the weights files live. Notebooks 01, 03, 04, 07 and 08 keep theirs in git (``IN_GIT``,
about 15 MB together). The models of notebooks 02, 05 and 06 would add about 46 MB, past the
repository's budget of 20 MB, so their weights files are assets of the GitHub release
``RELEASE_TAG``: a full run writes them to ``weights/release/`` (ignored by git; the maintainer
publishes them with ``gh release create weights-v1 weights/release/*.weights.h5``) and their records
to ``weights/`` (in git). ``load`` downloads an asset on first use, into Keras's cache
(``~/.keras/vae-tutorial-weights/``), checked against the SHA-256 in its record;
``load_if_published`` is the notebooks' way in: it returns None, and says why, when the asset cannot
be had (no network, the repository not yet published), so that the notebook trains instead.
"""

import hashlib
import json
import os
import tempfile
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import h5py
import keras
import numpy as np

from helpers import colab, config

WEIGHTS_DIR = config.REPO_ROOT / "weights"
IN_GIT = ("01", "03", "04", "07", "08")  # notebooks whose weights files are committed
RELEASE_TAG = "weights-v1"
CACHE_DIR = None  # where downloaded release assets go; None: Keras's cache folder, ~/.keras
CACHE_SUBDIR = "vae-tutorial-weights"


FLOAT16_RTOL = 1e-3  # float16 keeps 11 significant bits (relative error <= 4.9e-4) up to 65,504
_RECORD_KEYS = {"model": str, "architecture": dict, "sha256": str, "history": dict,
                "seconds": (int, float, type(None))}


class WeightsUnavailable(FileNotFoundError):
    """A weights file that is neither in this checkout nor downloadable from the release."""


def in_git(name):
    """Whether the weights ``name`` (e.g. ``"02_autoencoder"``) are committed, not a release asset."""
    return name.split("_")[0] in IN_GIT


def weights_path(name):
    """Where ``save`` writes ``name``'s weights: ``weights/<name>.weights.h5`` when they are
    committed, ``weights/release/<name>.weights.h5`` when they are a release asset."""
    return (WEIGHTS_DIR if in_git(name) else WEIGHTS_DIR / "release") / f"{name}.weights.h5"


def release_url(name):
    """The download address of the release asset ``name``, in ``colab.GITHUB_REPO``'s release."""
    return (f"https://github.com/{colab.GITHUB_REPO}/releases/download/{RELEASE_TAG}/"
            f"{name}.weights.h5")


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
    copies of every weight, needed only to resume training), every float32 array as float16.

    Scalars (a VAE's beta, capacity, gamma) stay float32, and so does any array whose float16
    copy would not be within ``FLOAT16_RTOL`` of it (values beyond float16's 65,504 would become
    inf); a warning names those. Weights that are NaN or infinite are refused: nothing is written.
    """
    kept = []
    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        dst.attrs.update(src.attrs)

        def copy(name, item):
            if name.split("/")[0] == "optimizer":
                return
            if isinstance(item, h5py.Group):
                dst.require_group(name).attrs.update(item.attrs)
                return
            data = item[()]
            if data.dtype == np.float32 and data.ndim:
                if not np.isfinite(data).all():
                    raise ValueError(f"The weights {name} hold NaN or infinite values, so the "
                                     f"model is broken (training diverged); nothing was saved. "
                                     f"Train it again with a lower learning rate.")
                with np.errstate(over="ignore"):  # overflow is what the comparison below catches
                    half = data.astype(np.float16)
                if np.allclose(half, data, rtol=FLOAT16_RTOL, atol=1e-7):
                    data = half
                else:
                    kept.append(f"{name} (largest |value| {np.abs(data).max():.4g})")
            options = dict(compression="gzip", shuffle=True) if data.ndim else {}
            dst.create_dataset(name, data=data, **options).attrs.update(item.attrs)

        src.visititems(copy)
    if kept:
        warnings.warn(f"Kept as float32 (float16 would change them by more than {FLOAT16_RTOL:g} "
                      f"relative, or overflow past 65,504): {', '.join(kept)}.", stacklevel=3)


@contextmanager
def _replacing(path):
    """A temporary path beside ``path``, renamed to ``path`` when the block succeeds, removed when
    it fails: readers and concurrent writers see the old file or a whole new one, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; weights are shared like any file
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)


@contextmanager
def _locked(folder):
    """Hold an exclusive lock on ``folder/.lock`` (where ``fcntl`` exists), so that two processes
    saving at once do not pair one's weights with the other's record."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; each file is still replaced whole
        yield
        return
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


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
    path, record_path = weights_path(name), _record_path(name)
    for folder in {path.parent, record_path.parent}:
        folder.mkdir(parents=True, exist_ok=True)
    logs = getattr(history, "history", history) or {}
    # Both files are written under temporary names and renamed only when both are complete (the
    # weights first), so a failure (a full disk, broken weights) leaves the previous pair as it was;
    # the lock keeps two processes that save at once from pairing one's weights with the other's
    # record.
    with (_locked(record_path.parent), tempfile.TemporaryDirectory() as tmp,
          _replacing(record_path) as new_record, _replacing(path) as new_weights):
        full = Path(tmp) / "float32.weights.h5"
        model.save_weights(full)
        _copy_as_float16(full, new_weights)
        record = {"model": type(model).__name__, "architecture": _architecture(model),
                  "sha256": _sha256(new_weights), "seconds": seconds,
                  "history": {key: [float(v) for v in values] for key, values in logs.items()}}
        if getattr(model, "settings", None) and model.settings():
            record["settings"] = model.settings()
        new_record.write_text(json.dumps(record, indent=1) + "\n")
    return path


def _read_record(record_path):
    """The record ``weights/<name>.json`` as a dict, or a ValueError that names the file and what
    is wrong with it (empty, not JSON, a key missing or of another type)."""
    fix = (f"Restore it with `git checkout -- weights/{record_path.name}`, or set TRAIN = True to "
           f"train the model (a full run writes a new record).")
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"weights/{record_path.name} is not a text file ({error}). "
                         f"{fix}") from error
    except json.JSONDecodeError as error:
        empty = not record_path.read_bytes().strip()
        what = "is empty" if empty else f"is not valid JSON ({error})"
        raise ValueError(f"weights/{record_path.name} {what}: expected the JSON record that "
                         f"helpers.pretrained.save writes. {fix}") from error
    if not isinstance(record, dict):
        raise ValueError(f"weights/{record_path.name} holds a JSON {type(record).__name__}, not a "
                         f"record (an object with {', '.join(_RECORD_KEYS)}). {fix}")
    for key, kind in _RECORD_KEYS.items():
        if key not in record:
            raise ValueError(f"weights/{record_path.name} has no {key!r}: a record needs "
                             f"{', '.join(_RECORD_KEYS)}. {fix}")
        if not isinstance(record[key], kind) or isinstance(record[key], bool):
            raise ValueError(f"weights/{record_path.name}: {key!r} is {record[key]!r}, of the "
                             f"wrong type. {fix}")
    sha = record["sha256"]
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"weights/{record_path.name}: 'sha256' is {sha!r}, not 64 hexadecimal "
                         f"digits. {fix}")
    return record


def load(model, name):
    """Load the weights ``name`` into ``model``, after checking that they belong to it.

    Committed weights are read from ``weights/``; a release asset from ``weights/release/`` if a
    full run wrote it there, else from Keras's cache, downloading it first if needed.

    Args:
        model: a model built with the same class and constructor arguments as the saved one.
        name: the file stem given to ``save``.

    Returns:
        ``(history, seconds)`` of the run that trained the weights: a ``keras.callbacks.History``
        whose ``.history`` holds the per-epoch logs, and the training time in seconds.

    Raises:
        WeightsUnavailable: the files are not in this checkout, or a release asset cannot be
            downloaded; the message says why and what to do.
        ValueError: the record names another class or architecture, or the weights file's
            checksum does not match its record (a corrupt or replaced file).
    """
    record_path = _record_path(name)
    needed = [weights_path(name), record_path] if in_git(name) else [record_path]
    missing = [path for path in needed if not path.is_file()]
    if missing:
        raise WeightsUnavailable(
            f"weights/{missing[0].name} is not in this checkout, so there are no shipped weights "
            f"named {name!r}. Set TRAIN = True to train the model instead, or restore the file "
            f"with `git checkout -- weights/`.")
    record = _read_record(record_path)
    saved = (record["model"], record["architecture"])
    wanted = (type(model).__name__, json.loads(json.dumps(_architecture(model))))
    if saved != wanted:
        raise ValueError(
            f"weights/{record_path.name} holds a {saved[0]} {saved[1]}, but this model is a "
            f"{wanted[0]} {wanted[1]}. Build the model with the arguments the notebook's full run "
            f"used, or set TRAIN = True to train this one.")
    path = weights_path(name) if in_git(name) or weights_path(name).is_file() else _download(name, record)
    if _sha256(path) != record["sha256"]:
        raise ValueError(
            f"{path} does not match the SHA-256 in weights/{record_path.name}: the file is corrupt "
            f"or was replaced. Restore it with `git checkout -- weights/` (a release asset: delete "
            f"it to download it again), or set TRAIN = True to train the model instead.")
    if not model.built:
        _build(model, wanted[1])
    with warnings.catch_warnings():
        # the optimizer's state is not shipped (see _copy_as_float16): Keras notes that it skips it
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        # a fresh optimizer state, as before training: a later model.save then writes the same
        # variables that keras.models.load_model's optimizer has, with no "skipping" warning
        optimizer.build(model.trainable_variables)
    history = keras.callbacks.History()
    history.history = record["history"]
    return history, record["seconds"]


def load_if_published(model, name):
    """``load(model, name)``, or None, with a printed note of why, when the weights are a release
    asset that cannot be had here; the caller then trains the model. Other errors (a wrong
    architecture, a corrupt file) are raised as ``load`` raises them."""
    try:
        return load(model, name)
    except WeightsUnavailable as unavailable:
        if in_git(name):
            raise
        print(f"{unavailable} Training the model instead.")
        return None


def load_or_fit(model, name, fit, train=True):
    """Train ``model`` with ``fit()`` and save it, or load the weights of the committed full run.

    The one way every notebook trains: its training cells read as training, and its ``TRAIN``
    switch decides here whether they run.

    Args:
        model: the model, compiled (loading gives its optimizer a fresh state, as before training).
        name: the weights' file stem, ``"<notebook number>_<model>"``, e.g. ``"02_latent64"``.
        fit: a function of no arguments that trains ``model`` and returns ``fit``'s ``History``.
        train: the notebook's ``TRAIN`` switch. True: call ``fit``, time it and ``save`` the
            weights (full runs only). False: ``load`` them; a release asset that cannot be
            downloaded is trained instead, with a printed note of why.

    Returns:
        ``(history, seconds)``: the ``History`` (loaded: the saved per-epoch logs) and the
        training time in seconds.
    """
    if not train:
        loaded = load_if_published(model, name)
        if loaded:
            return loaded
    start = time.perf_counter()
    history = fit()
    seconds = time.perf_counter() - start
    save(model, name, history, seconds)  # full runs only
    return history, seconds


def _download(name, record):
    """The path of the release asset ``name`` in Keras's cache, downloaded there if needed;
    ``keras.utils.get_file`` checks it against the record's SHA-256."""
    if colab.GITHUB_REPO == "OWNER/REPO":
        raise WeightsUnavailable(
            f"The weights {name!r} are an asset of this repository's GitHub release "
            f"{RELEASE_TAG!r}, but helpers/colab.py still names the placeholder repository "
            f"OWNER/REPO, so there is nowhere to download them from. Run "
            f"`python -m helpers.colab OWNER/NAME` with the repository's GitHub name, or set "
            f"TRAIN = True.")
    url = release_url(name)
    target = _cache_folder() / f"{name}.weights.h5"
    if target.is_file() and _sha256(target) == record["sha256"]:
        return target
    try:
        # into a private folder, then renamed into the cache: a process that downloads the same
        # asset at the same time never reads this one's half-written file
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as private:
            downloaded = keras.utils.get_file(target.name, url, file_hash=record["sha256"],
                                              hash_algorithm="sha256", cache_dir=private,
                                              cache_subdir=".")
            os.replace(downloaded, target)
        return target
    except ValueError as corrupt:  # get_file's "Incomplete or corrupted file detected"
        raise ValueError(f"The download of {url} does not match the SHA-256 in "
                         f"weights/{name}.json: {corrupt}") from corrupt
    except Exception as failed:  # get_file raises a bare Exception for URL errors
        raise WeightsUnavailable(
            f"Could not download the weights {name!r} from {url} ({failed}). Without a network, "
            f"or before the maintainer has uploaded the release {RELEASE_TAG!r}, set TRAIN = True "
            f"to train the model instead.") from failed


def _cache_folder():
    """Where release assets are kept: ``CACHE_DIR`` (default: Keras's home, ``$KERAS_HOME`` or
    ``~/.keras``) / ``CACHE_SUBDIR``, or the same under the temporary folder if that is
    read-only."""
    base = Path(CACHE_DIR or os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    for folder in (base / CACHE_SUBDIR, Path(tempfile.gettempdir()) / ".keras" / CACHE_SUBDIR):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return folder


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
