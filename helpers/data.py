"""Data sets as uint8 arrays, from a local copy when there is one, else from ``keras.datasets``.

Shape convention, the same for every data set:

- images ``x``: ``uint8`` array of shape ``(N, H, W, C)``, pixel values 0-255
  (MNIST and Fashion-MNIST: ``(N, 28, 28, 1)``; CIFAR-10: ``(N, 32, 32, 3)``);
- labels ``y``: ``uint8`` array of shape ``(N,)``, class indices 0-9.

Call ``load_dataset(name)`` with ``name`` in ``DATASETS``. The local layouts it reads are listed in
``data/README.md``.
"""

import gzip
import io
import pickle
import socket
import tarfile
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

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_IDX_DIRS = {"mnist": ("mnist",), "fashion_mnist": ("fashion-mnist", "fashion_mnist")}
_IMAGE_FOLDERS = {"cifar10": ("cifar10", "cifar10-jpeg")}
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetNotFoundError(FileNotFoundError):
    """No local copy of a data set was found and ``keras.datasets`` could not download it."""


# --------------------------------------------------------------------------- file formats


def read_idx(path):
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Returns:
        numpy array with the shape stored in the file, e.g. ``(60000, 28, 28)`` uint8 for images.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: it should start with two zero bytes and a "
                         f"type code in {sorted(_IDX_DTYPES)}, got {raw[:4]!r}.")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, _IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != np.prod(shape):
        raise ValueError(f"{path}: header says shape {shape} ({np.prod(shape)} values) but the "
                         f"file holds {data.size}; the file is truncated or corrupt.")
    return data.reshape(shape).astype(data.dtype.newbyteorder("="))


def read_image_folder(root):
    """Read an image-folder tree ``root/{train,test}/<class>/*.{png,jpg}``, or a ``.tar.gz`` of one.

    Classes are the sub-folder names in sorted order (for CIFAR-10 this is its label order).
    Images are returned in a fixed shuffled order (seed 0), so that the first few hundred hold every
    class, as the original files do.

    Returns:
        ``((x_train, y_train), (x_test, y_test), class_names)`` with ``x`` uint8 ``(N, H, W, C)``.
    """
    from PIL import Image

    files = {"train": {}, "test": {}}  # split -> class -> [(name, bytes)]
    for relpath, read in _walk_files(Path(root)):
        parts = relpath.parts
        if len(parts) < 3 or parts[-3] not in files or not relpath.suffix.lower() in _IMAGE_EXTENSIONS:
            continue
        files[parts[-3]].setdefault(parts[-2], []).append((parts[-1], read))
    if not files["train"] or not files["test"]:
        raise ValueError(f"{root} has no train/<class>/*.png|jpg and test/<class>/*.png|jpg images.")
    class_names = sorted(files["train"])
    if sorted(files["test"]) != class_names:
        raise ValueError(f"{root}: train classes {class_names} differ from test classes "
                         f"{sorted(files['test'])}.")

    def decode(split):
        images, labels = [], []
        for label, name in enumerate(class_names):
            for _, read in sorted(files[split][name], key=lambda item: item[0]):
                with Image.open(io.BytesIO(read())) as image:
                    images.append(np.asarray(image.convert("RGB") if image.mode != "L" else image))
                labels.append(label)
        x = np.stack(images)
        x = x[..., None] if x.ndim == 3 else x
        order = np.random.default_rng(0).permutation(len(x))
        return x[order], np.asarray(labels, np.uint8)[order]

    return decode("train"), decode("test"), class_names


def _walk_files(root):
    """Yield ``(relative path, read function)`` for every file in a folder or a tar archive."""
    if root.is_dir():
        for path in root.rglob("*"):
            if path.is_file():
                yield path.relative_to(root), path.read_bytes
        return
    with tarfile.open(root) as archive:
        for member in archive.getmembers():
            if member.isfile():
                data = archive.extractfile(member).read()
                yield Path(member.name), (lambda data=data: data)


def read_cifar_batches(folder):
    """Read CIFAR-10's Python version, ``cifar-10-batches-py/`` (``data_batch_1..5``, ``test_batch``).

    Returns:
        ``((x_train, y_train), (x_test, y_test))`` with ``x`` uint8 ``(N, 32, 32, 3)``.
    """
    def read(names):
        xs, ys = [], []
        for name in names:
            with open(Path(folder) / name, "rb") as f:
                batch = pickle.load(f, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(np.asarray(batch[b"labels"], np.uint8))
        return np.concatenate(xs), np.concatenate(ys)

    return read([f"data_batch_{i}" for i in range(1, 6)]), read(["test_batch"])


# --------------------------------------------------------------------------- finding a copy


def _find_local(name, root):
    """Return ``(splits, description)`` from the first local copy under ``root``, else ``None``."""
    npz = root / f"{name}.npz"
    if npz.is_file():
        with np.load(npz) as f:
            return ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])), f"Keras-style {npz}"

    for folder in _IDX_DIRS.get(name, ()):
        paths = [_first_existing(root / folder / stem, (".gz", "")) for stem in _IDX_FILES]
        if all(paths):
            arrays = [read_idx(p) for p in paths]
            return ((arrays[0], arrays[1]), (arrays[2], arrays[3])), f"IDX files in {root / folder}"

    if name == "cifar10" and (root / "cifar-10-batches-py").is_dir():
        return read_cifar_batches(root / "cifar-10-batches-py"), f"{root / 'cifar-10-batches-py'}"

    for folder in _IMAGE_FOLDERS.get(name, ()):
        source = _first_existing(root / folder, ("", ".tar.gz", ".tgz", ".tar"))
        if source:
            return _read_image_folder_cached(name, source), f"image folder {source}"
    return None


def _first_existing(stem, suffixes):
    for suffix in suffixes:
        path = stem.with_name(stem.name + suffix)
        if path.exists():
            return path
    return None


def _read_image_folder_cached(name, source):
    """Decode an image folder once and keep the arrays in the cache folder, keyed by the source."""
    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{int(stat.st_mtime)}"
    cache = config.cache_dir() / f"{source.name.split('.')[0]}.npz"
    if cache.is_file():
        with np.load(cache) as f:
            if str(f["source"]) == key:
                return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    (x_train, y_train), (x_test, y_test), class_names = read_image_folder(source)
    if class_names != CLASS_NAMES[name]:
        raise ValueError(f"{source}: class folders {class_names} are not {name}'s classes "
                         f"{CLASS_NAMES[name]}.")
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npz")
    np.savez(tmp, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, source=key)
    tmp.replace(cache)
    return (x_train, y_train), (x_test, y_test)


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


def _as_nhwc_uint8(x, y):
    x = np.asarray(x, np.uint8)
    return (x[..., None] if x.ndim == 3 else x), np.asarray(y, np.uint8).reshape(-1)


def load_dataset(name, verbose=True):
    """Load ``mnist``, ``fashion_mnist`` or ``cifar10``: a local copy if any, else ``keras.datasets``.

    The local copy is searched for in ``helpers.config.data_dir()`` (``$VAE_DATA_DIR`` or ``data/``).

    Args:
        name: one of ``DATASETS``.
        verbose: print which source was used.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: images uint8 ``(N, H, W, C)``, labels uint8 ``(N,)``.

    Raises:
        ValueError: unknown ``name``.
        DatasetNotFoundError: no local copy and the download failed; the message says what to place
            where.
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}: choose one of {', '.join(DATASETS)}.")
    root = config.data_dir()
    found = _find_local(name, root) if root.is_dir() else None
    if found is None:
        try:
            splits = _download_with_keras(name)
        except Exception as error:  # any failure to download becomes one clear message
            raise DatasetNotFoundError(_missing_data_message(name, root, error)) from error
        source = f"keras.datasets.{name} (downloaded, or Keras' cache in ~/.keras/datasets)"
    else:
        splits, source = found
    (x_train, y_train), (x_test, y_test) = (_as_nhwc_uint8(*split) for split in splits)
    if verbose:
        print(f"{name}: {len(x_train)} train + {len(x_test)} test images of shape "
              f"{x_train.shape[1:]}, from {source}")
    return (x_train, y_train), (x_test, y_test)


def to_float(x):
    """uint8 images -> float32 in [0, 1], same shape."""
    return np.asarray(x, np.float32) / 255.0


def binarize(x, seed=0):
    """A fixed random binarization: pixel ``i`` becomes 1 with probability ``x_i / 255``.

    Args:
        x: uint8 images ``(N, H, W, C)``.

    Returns:
        float32 array of 0s and 1s, same shape; the same for the same ``seed``.
    """
    return (np.random.default_rng(seed).random(x.shape) < to_float(x)).astype(np.float32)


def image_dataset(inputs, targets=None, batch_size=128, shuffle=True, seed=0, binarize=False):
    """A ``tf.data.Dataset`` of ``(input, target)`` batches, for ``fit``, ``evaluate`` and ``predict``.

    Feeding ``fit`` from ``tf.data`` avoids the seconds that Keras spends converting a large numpy
    array on every ``fit`` call. uint8 arrays are scaled to float32 in [0, 1] batch by batch.

    Args:
        inputs: array ``(N, ...)``, uint8 (scaled to [0, 1]) or float.
        targets: array ``(N, ...)`` or ``None`` to use the inputs as targets (an autoencoder).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (with ``seed``); use ``False`` for evaluation.
        binarize: dynamic binarization of the inputs: every time an image is drawn, each pixel
            becomes 1 with probability equal to its value in [0, 1], else 0. With
            ``targets=None`` the target is the same binary image; other targets (e.g. one-hot
            labels for a conditional VAE) pass through unchanged.

    Returns:
        ``tf.data.Dataset`` yielding ``(x, y)`` float32 batches.
    """
    import tensorflow as tf

    autoencoder = targets is None
    targets = inputs if autoencoder else targets
    if len(inputs) != len(targets):
        raise ValueError(f"inputs and targets differ in length: {len(inputs)} vs {len(targets)}.")

    def scale(a):
        return tf.cast(a, tf.float32) / 255.0 if a.dtype == tf.uint8 else tf.cast(a, tf.float32)

    # A Generator keeps its state between epochs, so every epoch draws new binary images (a
    # stateful op inside map would restart from the same seed with each new iterator).
    generator = tf.random.Generator.from_seed(seed)

    def prepare(x, y):
        x, y = scale(x), scale(y)
        if binarize:
            x = tf.cast(generator.uniform(tf.shape(x)) < x, tf.float32)
            y = x if autoencoder else y
        return x, y

    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        ds = ds.shuffle(len(inputs), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
