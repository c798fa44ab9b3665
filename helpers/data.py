"""Data sets as uint8 arrays, from a local copy when there is one, else from ``keras.datasets``.

Shape convention, the same for every data set:

- images ``x``: ``uint8`` array of shape ``(N, H, W, C)``, pixel values 0-255
  (MNIST and Fashion-MNIST: ``(N, 28, 28, 1)``; CIFAR-10: ``(N, 32, 32, 3)``);
- labels ``y``: ``uint8`` array of shape ``(N,)``, class indices 0-9.

Call ``load_dataset(name)`` with ``name`` in ``DATASETS``. The local layouts it reads are listed in
``data/README.md``. Every file is checked against what its data set must hold, and a file that is
damaged or of another shape raises a ``ValueError`` that names it and says how to fix it.
"""

import gzip
import hashlib
import importlib
import io
import math
import os
import pickle
import socket
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from helpers import config

CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"],
}
DATASETS = tuple(CLASS_NAMES)
_IMAGE_SHAPES = {"mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
# The mean pixel (0-255) of each 28x28 data set's training images: a fingerprint that tells the two
# apart in milliseconds (a few hundred images of either land within 2 of it; the other is 40 away).
_MEAN_PIXEL = {"mnist": 33.32, "fashion_mnist": 72.94}
_ARRAYS = ("x_train", "y_train", "x_test", "y_test")

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_IDX_DIRS = {"mnist": ("mnist",), "fashion_mnist": ("fashion-mnist", "fashion_mnist")}
_IMAGE_FOLDERS = {"cifar10": ("cifar10", "cifar10-jpeg")}
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_REFETCH = "Fix: download it again (the sources are listed in data/README.md)."
_CIFAR_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
_CIFAR_REFETCH = ("Fix: download cifar-10-python.tar.gz again from "
                  "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it (cifar-10-batches-py/).")
# The only globals a CIFAR-10 batch pickle needs: numpy's array reconstruction (protocols 2-4, and
# 5), and _codecs.encode, which protocol 2 uses for bytes written by Python 3.
_PICKLE_GLOBALS = {("numpy._core.multiarray", "_reconstruct"), ("numpy._core.numeric", "_frombuffer"),
                   ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}
_CACHE_FORMAT = 2  # bump when the cached arrays or their key change: older cache files are then ignored


class DatasetNotFoundError(FileNotFoundError):
    """No local copy of a data set was found and ``keras.datasets`` could not download it."""


# --------------------------------------------------------------------------- file formats


def read_idx(path):
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Returns:
        numpy array with the shape stored in the file, e.g. ``(60000, 28, 28)`` uint8 for images.

    Raises:
        ValueError: the file is empty, not gzip although named ``.gz``, not IDX, or cut short.
    """
    path = Path(path)
    raw = _file_bytes(path)
    if not raw:
        raise ValueError(f"{path} is empty: expected an IDX file. {_REFETCH}")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: it should start with two zero bytes and a "
                         f"type code in {sorted(_IDX_DTYPES)}, got {raw[:4]!r}. {_REFETCH}")
    ndim, dtype = raw[3], np.dtype(_IDX_DTYPES[raw[2]])
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: the header announces {ndim} dimensions but the file ends after "
                         f"{len(raw)} bytes; the file is truncated or corrupt. {_REFETCH}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    body = len(raw) - 4 - 4 * ndim
    if body != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{path}: header says shape {shape} ({math.prod(shape)} values of "
                         f"{dtype.itemsize} bytes) but the file holds {body} bytes of data; the file is "
                         f"truncated or corrupt. {_REFETCH}")
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def _file_bytes(path):
    """The bytes of ``path``, decompressed when its name ends in ``.gz``."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a complete gzip file ({type(error).__name__}: {error}): it "
                         f"is damaged or was cut short. {_REFETCH} If the file is not compressed, "
                         f"remove the .gz from its name.") from error


def read_image_folder(root):
    """Read an image-folder tree ``root/{train,test}/<class>/*.{png,jpg}``, or a ``.tar.gz`` of one.

    Classes are the sub-folder names in sorted order (for CIFAR-10 this is its label order).
    Images are returned in a fixed shuffled order (seed 0), so that the first few hundred hold every
    class, as the original files do. Every image must have the size and colour mode of the first
    (grayscale images give ``C = 1``, any other mode is converted to RGB, ``C = 3``).

    Returns:
        ``((x_train, y_train), (x_test, y_test), class_names)`` with ``x`` uint8 ``(N, H, W, C)``.

    Raises:
        ValueError: a damaged archive or image, or an image of another size or mode; the message
            names the file.
    """
    root = Path(root)
    files = {"train": {}, "test": {}}  # split -> class -> [(relative path, read function)]
    for relpath, read in _files_in(root):
        parts = relpath.parts
        if len(parts) < 3 or parts[-3] not in files or relpath.suffix.lower() not in _IMAGE_EXTENSIONS:
            continue
        files[parts[-3]].setdefault(parts[-2], []).append((relpath, read))
    if not files["train"] or not files["test"]:
        raise ValueError(f"{root} has no train/<class>/*.png|jpg and test/<class>/*.png|jpg images.")
    class_names = sorted(files["train"])
    if sorted(files["test"]) != class_names:
        raise ValueError(f"{root}: train classes {class_names} differ from test classes "
                         f"{sorted(files['test'])}.")
    reference = None  # (shape, relative path) of the first image: every other one must match it

    def decode(split):
        nonlocal reference
        images, labels = [], []
        for label, name in enumerate(class_names):
            for relpath, read in sorted(files[split][name], key=lambda item: item[0].name):
                image = _decoded_image(read, relpath, root)
                reference = reference or (image.shape, relpath)
                if image.shape != reference[0]:
                    raise ValueError(f"{relpath} in {root} is an image of shape {image.shape} (height, "
                                     f"width[, channels]), but {reference[1]} is {reference[0]}: every "
                                     f"image must have the same size and colour mode. Fix: resize or "
                                     f"convert that image, or remove it.")
                images.append(image)
                labels.append(label)
        x = np.stack(images)
        x = x[..., None] if x.ndim == 3 else x
        order = np.random.default_rng(0).permutation(len(x))
        return x[order], np.asarray(labels, np.uint8)[order]

    return decode("train"), decode("test"), class_names


def _decoded_image(read, relpath, root):
    """The pixels of one image file: uint8 ``(H, W)`` for grayscale, else ``(H, W, 3)``."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(read())) as image:
            return np.asarray(image.convert("RGB") if image.mode != "L" else image)
    except (OSError, SyntaxError, ValueError) as error:  # what Pillow raises for damaged files
        raise ValueError(f"{relpath} in {root} is not a readable image ({type(error).__name__}: "
                         f"{error}). Fix: replace or remove that file, or download the data set "
                         f"again (see data/README.md).") from error


def _files_in(root):
    """``[(relative path, read function)]`` for every file in a folder or a tar archive."""
    if root.is_dir():
        return [(path.relative_to(root), path.read_bytes) for path in root.rglob("*") if path.is_file()]
    try:
        with tarfile.open(root) as archive:
            members = [(Path(m.name), archive.extractfile(m).read()) for m in archive if m.isfile()]
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise ValueError(f"{root} is not a readable tar archive ({type(error).__name__}: {error}): "
                         f"it is damaged or was cut short. {_REFETCH}") from error
    return [(path, (lambda data=data: data)) for path, data in members]


def read_cifar_batches(folder):
    """Read CIFAR-10's Python version, ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``).

    The batches are pickles; they are read with an unpickler that builds numpy arrays and nothing
    else, so a tampered file cannot run code.

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` with ``x`` uint8 ``(N, 32, 32, 3)``.

    Raises:
        DatasetNotFoundError: a batch file is missing.
        pickle.UnpicklingError: a batch asks for anything but numpy arrays (a tampered file).
        ValueError: a batch is damaged, or does not hold ``(N, 3072)`` uint8 images and N labels 0-9.
    """
    def read(names):
        batches = [_cifar_batch(Path(folder) / name) for name in names]
        return np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])

    return read(_CIFAR_BATCHES[:5]), read(_CIFAR_BATCHES[5:])


class _UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for a global that a CIFAR-10 batch does not need."""


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles the dicts of numpy arrays, lists and bytes that CIFAR-10 batches hold, and nothing else."""

    def __init__(self, file, path):
        super().__init__(file, encoding="bytes")
        self.path = path

    def find_class(self, module, name):
        if module == "numpy.core" or module.startswith("numpy.core."):  # written by numpy 1
            module = "numpy._core" + module[len("numpy.core"):]  # its name in numpy 2, without a warning
        if (module, name) not in _PICKLE_GLOBALS:
            raise _UnsafePickleError(f"{self.path} asks to load {module}.{name}, which a CIFAR-10 batch "
                                     f"never needs (it holds only numpy arrays, lists and bytes); the "
                                     f"file was not read, as it could run code. {_CIFAR_REFETCH}")
        return getattr(importlib.import_module(module), name)


def _cifar_batch(path):
    """One CIFAR-10 batch file -> images uint8 ``(N, 32, 32, 3)``, labels uint8 ``(N,)``."""
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} is missing: cifar-10-batches-py/ must hold "
                                   f"{', '.join(_CIFAR_BATCHES)}. {_CIFAR_REFETCH}")
    try:
        with open(path, "rb") as f:
            batch = _CifarUnpickler(f, path).load()
    except _UnsafePickleError:
        raise
    except Exception as error:  # a damaged pickle can fail in many ways (EOFError, UnpicklingError, ...)
        raise ValueError(f"{path} could not be read as a CIFAR-10 batch ({type(error).__name__}: "
                         f"{error}): it is damaged or cut short. {_CIFAR_REFETCH}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = f"a dict with keys {list(batch)}" if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{path} is not a CIFAR-10 batch: expected a dict with the keys b'data' and "
                         f"b'labels', got {found}. {_CIFAR_REFETCH}")
    data = batch[b"data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{path}: b'data' should be a uint8 array of shape (N, 3072), one row of "
                         f"3 x 32 x 32 bytes per image, got {_described(data)}. {_CIFAR_REFETCH}")
    labels = _checked_labels(batch[b"labels"], len(data), f"{path} (b'labels')")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _described(value):
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _read_npz(path):
    """The arrays ``x_train, y_train, x_test, y_test`` of a Keras-style ``.npz`` file."""
    fix = (f"Fix: save the four arrays with np.savez({path.name!r}, x_train=..., y_train=..., "
           f"x_test=..., y_test=...), or download the file again (see data/README.md).")
    try:
        archive = np.load(path)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array")
        with archive:
            missing = [key for key in _ARRAYS if key not in archive.files]
            if missing:
                raise ValueError(f"it has no {', '.join(missing)} (it holds {', '.join(archive.files)})")
            return tuple(archive[key] for key in _ARRAYS)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{path} is not a readable .npz file with the arrays {', '.join(_ARRAYS)}: "
                         f"{error}. {fix}") from error


# --------------------------------------------------------------------------- checking a split


def _checked_images(name, x, where):
    """``x`` as uint8 ``(N, H, W, C)`` with the shape of ``name``'s images, or a ValueError naming ``where``.

    Float images in [0, 1] become ``round(x * 255)``; whole-number floats in 0-255 and integer
    images in 0-255 are kept as they are.
    """
    x = np.asarray(x)
    expected = _IMAGE_SHAPES[name]
    if x.ndim == 3 and expected[-1] == 1:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != expected or len(x) == 0:
        wanted = f"(N, {', '.join(map(str, expected))})" + (" or (N, 28, 28)" if expected[-1] == 1 else "")
        flat = ", flattened: reshape them" if x.ndim == 2 and x.shape[1] == math.prod(expected) else ""
        raise ValueError(f"{where}: expected {name} images of shape {wanted} with N > 0, got shape "
                         f"{x.shape}{flat}. Fix: save the images with that shape, or download the data "
                         f"set again (see data/README.md).")
    return _as_uint8_pixels(x, where)


def _as_uint8_pixels(x, where):
    """Images with pixel values 0-255 as uint8; float images in [0, 1] are scaled by 255 and rounded."""
    if x.dtype == np.uint8:
        return x
    is_float = np.issubdtype(x.dtype, np.floating)
    if not (is_float or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{where}: images of dtype {x.dtype}; expected uint8 0-255 or float in [0, 1]. "
                         f"Fix: save the images as uint8.")
    lo, hi = x.min(), x.max()
    if is_float and 0 <= lo and hi <= 1:  # NaN fails every comparison
        return np.round(x * 255).astype(np.uint8)
    if 0 <= lo and hi <= 255 and (not is_float or np.array_equal(x, np.round(x))):
        return x.astype(np.uint8)
    nonfinite = " (NaN or inf present)" if is_float and not np.isfinite([lo, hi]).all() else ""
    raise ValueError(f"{where}: {x.dtype} images with values in [{lo}, {hi}]{nonfinite}; expected uint8 "
                     f"0-255, whole numbers 0-255, or floats in [0, 1]. Fix: rescale the images to 0-255 "
                     f"and save them as uint8, or download the data set again (see data/README.md).")


def _checked_labels(y, n, where):
    """``y`` as uint8 ``(n,)`` class indices 0-9, or a ValueError naming ``where``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ValueError(f"{where}: expected {n} labels, one per image, of shape ({n},) or ({n}, 1); "
                         f"got shape {y.shape}. Fix: save one class index per image.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{where}: labels of dtype {y.dtype}; expected integer class indices 0-9. "
                         f"Fix: save them as integers, e.g. y.astype('uint8') (not one-hot).")
    if n and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{where}: labels range from {y.min()} to {y.max()}; expected class indices "
                         f"0-9. Fix: save the class index of each image.")
    return y.astype(np.uint8)


def _check_fingerprint(name, x, where):
    """Raise a ValueError when images loaded as ``name`` look like the other 28x28 data set.

    Fashion-MNIST has MNIST's file names, shapes and labels, so only the pictures tell them apart:
    the mean pixel is the fingerprint (``_MEAN_PIXEL``). Images that match neither (a data set of
    one's own) pass.
    """
    if name not in _MEAN_PIXEL:
        return
    mean = float(x[:10_000].mean())
    (other, other_mean), = ((k, v) for k, v in _MEAN_PIXEL.items() if k != name)
    if abs(mean - other_mean) < 8 < abs(mean - _MEAN_PIXEL[name]):
        folder = {"mnist": "mnist/", "fashion_mnist": "fashion-mnist/"}
        raise ValueError(f"{where}: these images look like {other}, not {name}: their mean "
                         f"pixel is {mean:.1f} (0-255), {other}'s is {other_mean:.1f}, {name}'s "
                         f"{_MEAN_PIXEL[name]:.1f}. Fix: move the files to the data folder's "
                         f"{folder[other]} (or {other}.npz), and place {name}'s own files where "
                         f"this was (see data/README.md).")


# --------------------------------------------------------------------------- finding a copy


def _find_local(name, root):
    """The first local copy under ``root``, else ``None``.

    Returns:
        ``(splits, origins, description)``: ``splits`` as ``load_dataset`` returns them (not yet
        checked), ``origins`` the file each of x_train, y_train, x_test, y_test came from (for error
        messages), ``description`` the source as printed.
    """
    npz = root / f"{name}.npz"
    if npz.is_file():
        x_train, y_train, x_test, y_test = _read_npz(npz)
        origins = [f"{npz} (array {key})" for key in _ARRAYS]
        return ((x_train, y_train), (x_test, y_test)), origins, f"Keras-style {_shown(npz)}"

    for folder in _IDX_DIRS.get(name, ()):
        paths = [_first_existing(root / folder / stem, (".gz", "")) for stem in _IDX_FILES]
        if all(paths):
            arrays = [read_idx(p) for p in paths]
            return (((arrays[0], arrays[1]), (arrays[2], arrays[3])), [str(p) for p in paths],
                    f"IDX files in {_shown(root / folder)}")

    batches = root / "cifar-10-batches-py"
    if name == "cifar10" and batches.is_dir():
        origins = [f"{batches} ({key})" for key in _ARRAYS]
        return read_cifar_batches(batches), origins, f"CIFAR-10 python batches in {_shown(batches)}"

    for folder in _IMAGE_FOLDERS.get(name, ()):
        source = _first_existing(root / folder, ("", ".tar.gz", ".tgz", ".tar"))
        if source:
            origins = [f"{source} ({key})" for key in _ARRAYS]
            return _read_image_folder_cached(name, source), origins, f"image folder {_shown(source)}"
    return None


def _first_existing(stem, suffixes):
    for suffix in suffixes:
        path = stem.with_name(stem.name + suffix)
        if path.exists():
            return path
    return None


def _shown(path):
    """``path`` inside the data folder as printed: ``$VAE_DATA_DIR/...`` or ``data/...``, no machine path."""
    return f"{config.data_dir_label()}/{path.relative_to(config.data_dir()).as_posix()}"


def _read_image_folder_cached(name, source):
    """Decode an image folder once and keep the arrays in the cache folder, keyed by its content.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as ``read_image_folder`` gives them.
    """
    key = _content_key(source)
    cache = config.cache_dir() / f"{source.name.split('.')[0]}.npz"
    cached = _cached_splits(cache, key)
    if cached is not None:
        return cached
    (x_train, y_train), (x_test, y_test), class_names = read_image_folder(source)
    if class_names != CLASS_NAMES[name]:
        raise ValueError(f"{source}: class folders {class_names} are not {name}'s classes "
                         f"{CLASS_NAMES[name]}.")
    _write_cache(cache, key, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return (x_train, y_train), (x_test, y_test)


def _content_key(source):
    """A hex digest that changes whenever ``source`` changes.

    An archive is hashed byte for byte (a fraction of a second for CIFAR-10's 19 MB); a folder by the
    relative path, size and modification time in nanoseconds of every file in it, as reading 60,000
    files would take longer than the stat calls.
    """
    digest = hashlib.blake2b(f"cache format {_CACHE_FORMAT}\n".encode())
    if source.is_dir():
        for path in sorted(p for p in source.rglob("*") if p.is_file()):
            stat = path.stat()
            relpath = path.relative_to(source).as_posix()
            digest.update(f"{relpath}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    else:
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _cached_splits(cache, key):
    """The arrays in ``cache`` when it was written for ``key``, else ``None``."""
    try:
        with np.load(cache) as f:
            if str(f["key"]) != key:
                return None
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except Exception:  # missing, damaged, cut short or of an older format: decode the source again
        return None


def _write_cache(cache, key, **arrays):
    """Save ``arrays`` and ``key`` to ``cache`` atomically; warn and go on when it cannot be written."""
    temporary = None
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        # A unique name, then a rename: a process that loads at the same time sees the old file or
        # the new one, never half of one.
        handle, temporary = tempfile.mkstemp(dir=cache.parent, prefix=f".{cache.stem}-", suffix=".npz")
        with os.fdopen(handle, "wb") as f:
            np.savez(f, key=key, **arrays)
        os.chmod(temporary, 0o644)  # mkstemp makes it private (0600); a cache may be shared
        os.replace(temporary, cache)
    except OSError as error:
        if temporary:
            Path(temporary).unlink(missing_ok=True)
        warnings.warn(f"Could not write the decoded images to the cache {cache} "
                      f"({type(error).__name__}: {error}); they will be decoded again next time. "
                      f"Fix: make {cache.parent} writable.")


def _download_with_keras(name):
    """``keras.datasets.<name>.load_data()``; fails within seconds when there is no network."""
    import keras

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)  # an unreachable host must not hang the loader
    try:
        return getattr(keras.datasets, name).load_data()
    finally:
        socket.setdefaulttimeout(previous)


def _missing_data_message(name, root, error):
    wanted = {
        "mnist": f"{root}/mnist/ with the four IDX files {', '.join(s + '.gz' for s in _IDX_FILES)}, "
                 f"or {root}/mnist.npz",
        "fashion_mnist": f"{root}/fashion-mnist/ with the four IDX files "
                         f"{', '.join(s + '.gz' for s in _IDX_FILES)}, or {root}/fashion_mnist.npz",
        "cifar10": f"{root}/cifar-10-batches-py/ (from cifar-10-python.tar.gz), or an image folder "
                   f"{root}/cifar10-jpeg/{{train,test}}/<class>/*.jpg (or cifar10-jpeg.tar.gz)",
    }[name]
    return (f"No local copy of '{name}' was found in {root}, and downloading it with "
            f"keras.datasets.{name}.load_data() failed ({type(error).__name__}: {error}).\n"
            f"Fix: place {wanted}; or set VAE_DATA_DIR to a folder that holds them "
            f"(see data/README.md); or connect to the internet so Keras can download it.")


def load_dataset(name, verbose=True):
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10``: a local copy if any, else ``keras.datasets``.

    The local copy is searched for in ``helpers.config.data_dir()`` (``$VAE_DATA_DIR`` or ``data/``).
    Whatever the source, the arrays are checked: images of the data set's shape with pixel values
    0-255 (float images in [0, 1] are converted), labels 0-9, one per image.

    Args:
        name: one of ``DATASETS``.
        verbose: print which source was used (as a path inside the data folder, no machine path).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(N, H, W, C)``, labels uint8 ``(N,)``.

    Raises:
        ValueError: unknown ``name``, or a local file that is damaged or holds other arrays; the
            message names the file and says how to fix it.
        DatasetNotFoundError: no local copy and the download failed; the message says what to place
            where.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")
    root = config.data_dir()  # raises when VAE_DATA_DIR names no folder
    found = _find_local(name, root) if root.is_dir() else None
    if found is None:
        try:
            splits = _download_with_keras(name)
        except Exception as error:  # any failure to download becomes one clear message
            raise DatasetNotFoundError(_missing_data_message(name, root, error)) from error
        origins = [f"keras.datasets.{name} ({key})" for key in _ARRAYS]
        source = f"keras.datasets.{name} (downloaded, or Keras' cache in ~/.keras/datasets)"
    else:
        splits, origins, source = found
    (x_train, y_train), (x_test, y_test) = (
        (_checked_images(name, x, x_origin), _checked_labels(y, len(x), y_origin))
        for (x, y), (x_origin, y_origin) in zip(splits, (origins[:2], origins[2:])))
    _check_fingerprint(name, x_train, origins[0])
    _check_fingerprint(name, x_test, origins[2])
    if verbose:
        print(f"{name}: {len(x_train)} train + {len(x_test)} test images of shape "
              f"{x_train.shape[1:]}, from {source}")
    return (x_train, y_train), (x_test, y_test)


def to_float(x):
    """uint8 images -> float32 in [0, 1], same shape.

    Raises:
        ValueError: float images already in [0, 1]: dividing them by 255 again would leave them
            nearly black.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.floating) and x.size and 0 < np.nanmax(x) <= 1:
        raise ValueError(f"x is already float in [0, 1] (dtype {x.dtype}, largest value "
                         f"{np.nanmax(x):.3g}): it was scaled before, and dividing it by 255 again "
                         f"would make every image nearly black. Pass the uint8 images (0-255) "
                         f"from load_dataset, or use x as it is.")
    return x.astype(np.float32) / 255.0


def binarize(x, seed=0):
    """A fixed random binarization: pixel ``i`` becomes 1 with probability ``x_i / 255``.

    Args:
        x: uint8 images ``(N, H, W, C)``.

    Returns:
        float32 array of 0s and 1s, same shape; the same for the same ``seed``.
    """
    probabilities = to_float(x)  # refuses images already in [0, 1]
    return (np.random.default_rng(seed).random(x.shape) < probabilities).astype(np.float32)


def image_dataset(inputs, targets=None, batch_size=128, shuffle=True, seed=0, binarize=False):
    """A ``tf.data.Dataset`` of ``(input, target)`` batches, for ``fit``, ``evaluate`` and ``predict``.

    Feeding ``fit`` from ``tf.data`` avoids the seconds that Keras spends converting a large numpy
    array on every ``fit`` call.

    Images are arrays of shape ``(N, H, W, C)``: uint8 0-255, scaled to float32 in [0, 1] batch by
    batch; or float (or bool) in [0, 1], cast to float32. Other targets (labels ``(N,)``, one-hot
    or other vectors ``(N, K)``) are cast to float32 with their values unchanged, whatever their
    dtype: uint8 labels stay 0-9.

    Args:
        inputs: images ``(N, H, W, C)``.
        targets: ``None`` to use the inputs as targets (an autoencoder), images ``(N, H, W, C)``,
            or labels ``(N,)`` / vectors ``(N, K)``.
        batch_size: images per batch.
        shuffle: reshuffle every epoch (with ``seed``); use ``False`` for evaluation.
        seed: seeds the shuffle and the binarization: the same seed gives the same batches in every
            run (also under the same ``tf.random.set_seed``), and each epoch differs from the last.
        binarize: dynamic binarization of the inputs: every time an image is drawn, each pixel
            becomes 1 with probability equal to its value in [0, 1], else 0. With
            ``targets=None`` the target is the same binary image; other targets (e.g. one-hot
            labels for a conditional VAE) pass through unchanged.

    Returns:
        ``tf.data.Dataset`` yielding ``(x, y)`` float32 batches.

    Raises:
        ValueError: inputs that are not images ``(N, H, W, C)``, float images outside [0, 1] or with
            NaN/inf, integer images other than uint8, targets of another rank, or inputs and targets
            of different lengths.
    """
    import tensorflow as tf

    autoencoder = targets is None
    inputs = np.asarray(inputs)
    targets = inputs if autoencoder else np.asarray(targets)
    if inputs.ndim and targets.ndim and len(inputs) != len(targets):
        raise ValueError(f"inputs and targets differ in length: {len(inputs)} vs {len(targets)}.")
    if inputs.ndim and len(inputs) == 0:
        raise ValueError(f"inputs hold no images (shape {inputs.shape}); expected at least one. "
                         f"Check the slice or filter that made them (e.g. x[y == 10] is empty).")
    if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1):
        raise ValueError(f"batch_size={batch_size!r}: expected a positive integer, e.g. 128.")
    _check_images("inputs", inputs)
    if not autoencoder and targets.ndim == 4:
        _check_images("targets", targets)
    elif targets.ndim not in (1, 2, 4):
        raise ValueError(f"targets of shape {targets.shape}: expected images (N, H, W, C), labels (N,) "
                         f"or vectors (N, K). Fix: give images a channel axis, e.g. y[..., None].")
    scale_inputs = inputs.dtype == np.uint8
    scale_targets = targets.dtype == np.uint8 and targets.ndim == 4

    def as_float(a, scale):
        return tf.cast(a, tf.float32) / 255.0 if scale else tf.cast(a, tf.float32)

    def prepare(x, y):
        return as_float(x, scale_inputs), as_float(y, scale_targets)

    def prepare_binary(batch, draw):
        x, y = prepare(*batch)
        # Stateless: the draw depends on the seed and this batch's random number alone, so the
        # parallel map gives the same images in every run.
        noise = tf.random.stateless_uniform(tf.shape(x), seed=tf.stack([tf.constant(seed, tf.int64), draw]))
        x = tf.cast(noise < x, tf.float32)
        return x, (x if autoencoder else y)

    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        ds = ds.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if binarize:
        # One random number per batch: the same sequence in every run with this seed, a new one
        # every epoch (each iteration of the dataset).
        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, draws).map(prepare_binary, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _check_images(what, a):
    """Raise a ValueError unless ``a`` is images ``(N, H, W, C)``: uint8, bool, or float in [0, 1]."""
    if a.ndim != 4:
        hint = (" Fix: reshape flattened images, e.g. x.reshape(-1, 28, 28, 1) for MNIST's (N, 784)."
                if a.ndim == 2 else " Fix: add a channel axis, e.g. x[..., None]." if a.ndim == 3 else "")
        raise ValueError(f"{what} should be images of shape (N, H, W, C), e.g. (N, 28, 28, 1); "
                         f"got shape {a.shape}.{hint}")
    if a.dtype in (np.uint8, np.bool_):
        return
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{what}: images of dtype {a.dtype}; expected uint8 0-255 or float in [0, 1]. "
                         f"Fix: cast 0-255 integers with x.astype('uint8'), or pass floats in [0, 1].")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not (0.0 <= lo and hi <= 1.0):  # NaN fails both comparisons
        present = "" if math.isfinite(lo) and math.isfinite(hi) else " (NaN or inf present)"
        raise ValueError(f"{what}: float images with values in [{lo:g}, {hi:g}]{present}; expected "
                         f"floats in [0, 1] or uint8 0-255. Fix: divide 0-255 values by 255 (or pass "
                         f"the uint8 images, or helpers.data.to_float(x_uint8)), and remove NaN/inf.")
