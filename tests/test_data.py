import ast
import gzip
import importlib.metadata
import io
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.data import (CLASS_NAMES, DatasetNotFoundError, binarize, image_dataset,
                          load_dataset, read_cifar_batches, read_idx, read_image_folder, to_float)

from .conftest import REPO_ROOT


# --------------------------------------------------------------------------- the real files


@pytest.fixture
def real_data(shared_data_dir, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(shared_data_dir))


def test_mnist_from_the_original_idx_files(real_data, shared_data_dir, capsys):
    (x_train, y_train), (x_test, y_test) = load_dataset("mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (60000,)
    # class counts of the original training set (../shared/data/SOURCES.md)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert x_train.max() == 255 and x_train.min() == 0
    out = capsys.readouterr().out
    assert "IDX files in $VAE_DATA_DIR/mnist" in out
    assert str(shared_data_dir) not in out  # no machine path in what notebooks print


def test_fashion_mnist_from_the_keras_layout(real_data):
    (x_train, y_train), (x_test, y_test) = load_dataset("fashion_mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:3].tolist() == [9, 0, 0]


def test_cifar10_from_the_jpeg_archive(real_data, shared_data_dir, capsys):
    (x_train, y_train), (x_test, y_test) = load_dataset("cifar10")
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    out = capsys.readouterr().out
    assert "image folder $VAE_DATA_DIR/cifar10-jpeg.tar.gz" in out and str(shared_data_dir) not in out
    # shuffled, so that a small prefix (quick mode) holds every class
    assert len(set(y_train[:100].tolist())) == 10


# --------------------------------------------------------------------------- file formats


def _write_idx(path, array, type_code=0x08):
    array = np.asarray(array)
    header = bytes([0, 0, type_code, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype({0x08: np.uint8, 0x0D: ">f4"}[type_code]).tobytes())


@pytest.mark.parametrize("name", ["images.idx", "images.idx.gz"])
def test_read_idx_plain_and_gzip(tmp_path, name):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(np.uint8)
    _write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)


def test_read_idx_rejects_a_file_of_another_format(tmp_path):
    (tmp_path / "bad").write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_read_idx_rejects_a_truncated_file(tmp_path):
    _write_idx(tmp_path / "x.idx", np.zeros((10, 4, 4), np.uint8))
    (tmp_path / "x.idx").write_bytes((tmp_path / "x.idx").read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "x.idx")


def _make_image_folder(root, classes=("cat", "dog"), per_class=3, shade=0, size=4):
    """PNG tree of solid ``size`` x ``size`` images, one colour each (``shade`` shifts them).

    Returns:
        ``{colour: class index}``.
    """
    colours = {}
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                colour = (10 * label + i + shade, 100 + (split == "test"), 200)
                Image.new("RGB", (size, size), colour).save(root / split / name / f"{i:04d}.png")
                colours[colour] = label
    return colours


@pytest.mark.parametrize("packed", [False, True])
def test_read_image_folder_as_folder_and_as_tar_gz(tmp_path, packed):
    colours = _make_image_folder(tmp_path / "imgs")
    source = tmp_path / "imgs"
    if packed:
        source = tmp_path / "imgs.tar.gz"
        with tarfile.open(source, "w:gz") as archive:
            archive.add(tmp_path / "imgs", arcname="imgs")
    (x_train, y_train), (x_test, y_test), class_names = read_image_folder(source)
    assert class_names == ["cat", "dog"]
    assert x_train.shape == (6, 4, 4, 3) and x_train.dtype == np.uint8 and y_test.shape == (6,)
    for x, y in [(x_train, y_train), (x_test, y_test)]:
        for image, label in zip(x, y):  # every image keeps its own label through the shuffle
            assert colours[tuple(int(v) for v in image[0, 0])] == label


def test_read_image_folder_needs_both_splits(tmp_path):
    (tmp_path / "train" / "cat").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "train" / "cat" / "0.png")
    with pytest.raises(ValueError, match="test/<class>"):
        read_image_folder(tmp_path)


def test_read_cifar_batches_puts_channels_last(tmp_path):
    rng = np.random.default_rng(0)
    images = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (2, 3072), dtype=np.uint8)  # rows: 1024 R, 1024 G, 1024 B
        images[name] = data
        with open(tmp_path / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": [1, 2]}, f)
    (x_train, y_train), (x_test, y_test) = read_cifar_batches(tmp_path)
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    row = images["test_batch"][0]
    assert x_test[0, 0, 1].tolist() == [row[1], row[1024 + 1], row[2048 + 1]]  # pixel (0, 1)
    assert y_train.tolist() == [1, 2] * 5


# --------------------------------------------------------------------------- damaged or unsafe files


def test_read_idx_names_a_gz_file_that_is_not_gzip(tmp_path):
    _write_idx(tmp_path / "x.idx", np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "x.idx.gz").write_bytes((tmp_path / "x.idx").read_bytes())  # plain IDX, named .gz
    with pytest.raises(ValueError, match=r"x\.idx\.gz is not a complete gzip file \(BadGzipFile.*"
                                         r"download it again.*remove the \.gz"):
        read_idx(tmp_path / "x.idx.gz")


def test_read_idx_names_a_gzip_file_that_was_cut_short(tmp_path):
    path = tmp_path / "x.idx.gz"
    _write_idx(path, np.random.default_rng(0).integers(0, 256, (50, 28, 28)))
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(ValueError, match=r"x\.idx\.gz is not a complete gzip file \(EOFError"):
        read_idx(path)


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_read_idx_names_an_empty_file(tmp_path, name):
    path = tmp_path / name
    with (gzip.open if name.endswith(".gz") else open)(path, "wb"):
        pass
    with pytest.raises(ValueError, match=rf"{re.escape(name)} is empty: expected an IDX file"):
        read_idx(path)


def test_read_idx_names_a_file_that_ends_inside_its_header(tmp_path):
    (tmp_path / "x.idx").write_bytes(bytes([0, 0, 0x08, 3]) + b"\0\0\0\x02")
    with pytest.raises(ValueError, match=r"x\.idx: the header announces 3 dimensions.*truncated"):
        read_idx(tmp_path / "x.idx")


def _pack(folder, archive, compresslevel=9):
    with tarfile.open(archive, "w:gz", compresslevel=compresslevel) as packed:
        packed.add(folder, arcname=folder.name)
    return archive


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("damage", ["not an image", "cut short"])
def test_read_image_folder_names_a_damaged_image(tmp_path, packed, damage):
    _make_image_folder(tmp_path / "imgs")
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4), (1, 2, 3)).save(jpeg, "JPEG")
    bad = b"\xff\xd8 not a JPEG" if damage == "not an image" else jpeg.getvalue()[:-40]
    (tmp_path / "imgs" / "train" / "dog" / "0003.jpg").write_bytes(bad)
    source = _pack(tmp_path / "imgs", tmp_path / "imgs.tar.gz") if packed else tmp_path / "imgs"
    with pytest.raises(ValueError, match=r"train/dog/0003\.jpg in .*imgs(\.tar\.gz)? is not a readable "
                                         r"image \(\w+Error.*Fix: replace or remove that file"):
        read_image_folder(source)


@pytest.mark.parametrize("odd_one, found", [(Image.new("RGB", (3, 4)), r"\(4, 3, 3\)"),  # 3 wide
                                            (Image.new("L", (4, 4)), r"\(4, 4\)")])  # grayscale
def test_read_image_folder_names_an_image_of_another_size_or_mode(tmp_path, odd_one, found):
    _make_image_folder(tmp_path)
    odd_one.save(tmp_path / "test" / "dog" / "0001.png")
    with pytest.raises(ValueError, match=rf"test/dog/0001\.png in .* of shape {found} .*but "
                                         r"train/cat/0000\.png is \(4, 4, 3\): every image must have the "
                                         r"same size and colour mode"):
        read_image_folder(tmp_path)


@pytest.mark.parametrize("damage", ["garbage", "cut short"])
def test_read_image_folder_names_a_damaged_archive(tmp_path, damage):
    _make_image_folder(tmp_path / "imgs")
    archive = _pack(tmp_path / "imgs", tmp_path / "imgs.tar.gz")
    content = archive.read_bytes()
    archive.write_bytes(os.urandom(len(content)) if damage == "garbage" else content[:len(content) // 2])
    with pytest.raises(ValueError, match=r"(?s)imgs\.tar\.gz is not a readable tar archive.*download it"):
        read_image_folder(archive)


_CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _cifar_batch(n=2, **entries):
    """A CIFAR-10 batch as the official files hold it; ``entries`` (named without the b) replace its parts."""
    batch = {b"batch_label": b"testing batch 1 of 1", b"labels": list(range(n)),
             b"data": np.random.default_rng(n).integers(0, 256, (n, 3072), dtype=np.uint8),
             b"filenames": [f"image_{i}.png".encode() for i in range(n)]}
    batch.update({key.encode(): value for key, value in entries.items()})
    return batch


def _write_cifar_batches(folder, test_batch=None, protocol=pickle.DEFAULT_PROTOCOL):
    """Six batches of two images; ``test_batch`` (an object to pickle, or bytes) replaces the last."""
    for name in _CIFAR_FILES:
        content = _cifar_batch() if test_batch is None or name != "test_batch" else test_batch
        data = content if isinstance(content, bytes) else pickle.dumps(content, protocol)
        (folder / name).write_bytes(data)


class _RunsCode:
    """Unpickling this object runs a shell command that creates the file ``marker``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_read_cifar_batches_refuses_a_pickle_that_would_run_code(tmp_path, protocol):
    marker = tmp_path / "code-ran"
    _write_cifar_batches(tmp_path, _cifar_batch(data=_RunsCode(marker)), protocol)
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch asks to load (os|posix)\.system, which a "
                                                     r"CIFAR-10 batch never needs.*cifar-10-python\.tar\.gz"):
        read_cifar_batches(tmp_path)
    assert not marker.exists()
    pickle.loads((tmp_path / "test_batch").read_bytes())  # what pickle.load would have done
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_read_cifar_batches_reads_every_pickle_protocol(tmp_path, protocol):
    _write_cifar_batches(tmp_path, protocol=protocol)
    (x_train, y_train), (x_test, y_test) = read_cifar_batches(tmp_path)
    assert x_train.shape == (10, 32, 32, 3) and x_test.dtype == np.uint8
    np.testing.assert_array_equal(x_test.transpose(0, 3, 1, 2).reshape(2, 3072), _cifar_batch()[b"data"])
    assert y_train.tolist() == [0, 1] * 5 and y_test.dtype == np.uint8


def test_read_cifar_batches_reads_pickles_written_by_numpy_1(tmp_path):
    written = pickle.dumps(_cifar_batch(), protocol=2).replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray\n_reconstruct" in written
    _write_cifar_batches(tmp_path, written)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy 2 warns when numpy.core is imported
        _, (x_test, _) = read_cifar_batches(tmp_path)
    np.testing.assert_array_equal(x_test.transpose(0, 3, 1, 2).reshape(2, 3072), _cifar_batch()[b"data"])


@pytest.mark.parametrize("test_batch, error, message", [
    ("missing", DatasetNotFoundError, r"test_batch is missing: cifar-10-batches-py/ must hold data_batch_1"),
    (_cifar_batch(data=np.zeros((2, 1024), np.uint8)), ValueError,
     r"test_batch: b'data' should be a uint8 array of shape \(N, 3072\).*got a uint8 array of shape "
     r"\(2, 1024\)"),
    (_cifar_batch(data=np.zeros((2, 3072), np.float32)), ValueError,
     r"got a float32 array of shape \(2, 3072\)"),
    (_cifar_batch(data=[[0] * 3072] * 2), ValueError, r"b'data' should be a uint8 array.*got a list"),
    (_cifar_batch(labels=[0, 1, 2]), ValueError,
     r"test_batch \(b'labels'\): expected 2 labels.*got shape \(3,\)"),
    (_cifar_batch(labels=[3, 10]), ValueError, r"test_batch \(b'labels'\): labels range from 3 to 10"),
    (_cifar_batch(labels=[b"cat", b"dog"]), ValueError, r"labels of dtype \|S3; expected integer"),
    ([1, 2, 3], ValueError, r"test_batch is not a CIFAR-10 batch: expected a dict.*got list"),
    ({"data": 1, "labels": 2}, ValueError,
     r"test_batch is not a CIFAR-10 batch.*got a dict with keys \['data'"),
    (pickle.dumps(_cifar_batch())[:-200], ValueError, r"test_batch could not be read as a CIFAR-10 batch "
                                                      r"\(UnpicklingError.*damaged or cut short"),
    (b"", ValueError, r"test_batch could not be read as a CIFAR-10 batch \(EOFError"),
], ids=["missing", "data-1024", "data-float", "data-list", "3-labels", "label-10", "text-labels", "list",
        "str-keys", "cut-short", "empty"])
def test_read_cifar_batches_names_a_bad_batch(tmp_path, test_batch, error, message):
    _write_cifar_batches(tmp_path, None if test_batch == "missing" else test_batch)
    if test_batch == "missing":
        (tmp_path / "test_batch").unlink()
    with pytest.raises(error, match=message):
        read_cifar_batches(tmp_path)


# --------------------------------------------------------------------------- load_dataset


def test_keras_npz_layout_gets_a_channel_axis(data_dir):
    np.savez(data_dir / "mnist.npz", x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.arange(5),
             x_test=np.ones((2, 28, 28), np.uint8), y_test=np.arange(2))
    (x_train, y_train), (x_test, _) = load_dataset("mnist", verbose=False)
    assert x_train.shape == (5, 28, 28, 1) and x_test.shape == (2, 28, 28, 1)
    assert y_train.dtype == np.uint8


def test_image_folder_is_decoded_once_then_read_from_the_cache(data_dir, tmp_path, monkeypatch):
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    _make_image_folder(data_dir / "cifar10", classes=classes, per_class=1, size=32)
    first = load_dataset("cifar10", verbose=False)
    assert (tmp_path / "cache" / "cifar10.npz").is_file()

    def no_decoding(root):
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr("helpers.data.read_image_folder", no_decoding)
    second = load_dataset("cifar10", verbose=False)
    np.testing.assert_array_equal(first[0][0], second[0][0])
    np.testing.assert_array_equal(first[1][1], second[1][1])


def test_image_folder_with_other_classes_is_refused(data_dir):
    _make_image_folder(data_dir / "cifar10", classes=("cat", "dog"))
    with pytest.raises(ValueError, match="not cifar10's classes"):
        load_dataset("cifar10", verbose=False)


def test_unknown_dataset_name_lists_the_choices():
    with pytest.raises(ValueError, match="mnist, fashion_mnist, cifar10"):
        load_dataset("cifar100")


def test_no_local_copy_and_no_network_fails_fast_with_instructions(tmp_path):
    """End to end in a fresh process whose sockets all fail, as on a machine with no network."""
    script = textwrap.dedent("""
        import socket
        def unreachable(*args, **kwargs):
            raise OSError("network is unreachable (simulated by the test)")
        socket.getaddrinfo = socket.create_connection = unreachable
        socket.socket.connect = unreachable
        from helpers.data import load_dataset
        load_dataset("cifar10")
    """)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KERAS_HOME": str(tmp_path / "keras"),
           "VAE_DATA_DIR": str(tmp_path / "empty"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    (tmp_path / "empty").mkdir()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - start
    assert result.returncode != 0
    assert "DatasetNotFoundError" in result.stderr
    assert "cifar-10-batches-py" in result.stderr and "cifar10-jpeg.tar.gz" in result.stderr
    assert "VAE_DATA_DIR" in result.stderr and "simulated by the test" in result.stderr
    assert elapsed < 30, f"the loader took {elapsed:.0f} s to give up"


def test_error_type_is_a_file_not_found_error():
    assert issubclass(DatasetNotFoundError, FileNotFoundError)


def _save_npz(path, **changes):
    """A small MNIST-like Keras .npz; ``changes`` replace some of its four arrays."""
    arrays = dict(x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.arange(3),
                  x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2))
    arrays.update(changes)
    np.savez(path, **arrays)


def test_npz_float_images_are_converted_to_0_255(data_dir):
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    _save_npz(data_dir / "mnist.npz", x_train=x / 255.0, y_train=np.arange(3).reshape(3, 1),
              x_test=x[:2].astype(np.float32))  # floats in [0, 1], and whole-number floats 0-255
    (x_train, y_train), (x_test, _) = load_dataset("mnist", verbose=False)
    np.testing.assert_array_equal(x_train[..., 0], x)
    np.testing.assert_array_equal(x_test[..., 0], x[:2])
    assert x_train.dtype == np.uint8 and y_train.tolist() == [0, 1, 2]


@pytest.mark.parametrize("changes, message", [
    ({"x_train": np.zeros((3, 784), np.uint8)}, r"\(array x_train\): expected mnist images of shape "
     r"\(N, 28, 28, 1\) or \(N, 28, 28\) with N > 0, got shape \(3, 784\), flattened: reshape them"),
    ({"x_train": np.zeros((3, 32, 32, 3), np.uint8)},
     r"\(array x_train\): expected mnist images.*\(3, 32, 32, 3\)"),
    ({"x_test": np.zeros((0, 28, 28), np.uint8), "y_test": np.zeros(0, int)}, r"x_test\).*with N > 0"),
    ({"x_test": np.full((2, 28, 28), -1.0)},
     r"\(array x_test\): float64 images with values in \[-1.0, -1.0\]; expected uint8 0-255, whole numbers "
     r"0-255, or floats in \[0, 1\]"),
    ({"x_test": np.full((2, 28, 28), 256.0)}, r"values in \[256.0, 256.0\]"),
    ({"x_test": np.full((2, 28, 28), 100.5)}, r"values in \[100.5, 100.5\]"),
    ({"x_test": np.full((2, 28, 28), np.nan)}, r"values in \[nan, nan\] \(NaN or inf present\)"),
    ({"x_test": np.full((2, 28, 28), 300, np.int32)},
     r"\(array x_test\): int32 images with values in \[300, 300\]"),
    ({"x_test": np.zeros((2, 28, 28), bool)}, r"\(array x_test\): images of dtype bool"),
    ({"y_train": np.array([0, 1, 10])},
     r"\(array y_train\): labels range from 0 to 10; expected class indices 0-9"),
    ({"y_train": np.array([0, 1])}, r"\(array y_train\): expected 3 labels, one per image.*got shape \(2,\)"),
    ({"y_train": np.eye(3, dtype=int)}, r"\(array y_train\): expected 3 labels.*got shape \(3, 3\)"),
    ({"y_test": np.array([0.0, 1.0])}, r"\(array y_test\): labels of dtype float64; expected integer"),
], ids=["flattened", "cifar-shape", "empty", "negative", "over-255", "fraction", "nan", "int-300", "bool",
        "label-10", "2-labels", "one-hot", "float-labels"])
def test_npz_with_bad_arrays_is_refused_naming_the_file_and_the_array(data_dir, changes, message):
    _save_npz(data_dir / "mnist.npz", **changes)
    with pytest.raises(ValueError, match=message) as error:
        load_dataset("mnist", verbose=False)
    assert str(error.value).startswith(f"{data_dir / 'mnist.npz'} (array ")


@pytest.mark.parametrize("content, message", [
    ("three arrays", r"it has no y_test \(it holds x_train, y_train, x_test\)"),
    ("one array", r"it holds a single array"),
    ("garbage", r"File is not a zip file"),
])
def test_npz_that_is_not_the_four_arrays_is_refused_naming_it(data_dir, content, message):
    path = data_dir / "mnist.npz"
    if content == "three arrays":
        np.savez(path, x_train=np.zeros((3, 28, 28), np.uint8), y_train=np.arange(3),
                 x_test=np.zeros((2, 28, 28)))
    elif content == "one array":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(b"PK\x03\x04 not really a zip file")
    with pytest.raises(ValueError, match=r"mnist\.npz is not a readable \.npz file with the arrays x_train, "
                                         r"y_train, x_test, y_test: " + message):
        load_dataset("mnist", verbose=False)


def _write_mnist_idx(folder, x_train, y_train, x_test, y_test, image_type=0x08):
    folder.mkdir()
    for stem, array in zip(["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"], [x_train, y_train, x_test, y_test]):
        _write_idx(folder / f"{stem}.gz", array, image_type if "images" in stem else 0x08)


def test_idx_float_images_are_converted_to_0_255(data_dir):
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    _write_mnist_idx(data_dir / "mnist", x / 255, np.arange(3), x[:2] / 255, np.arange(2), image_type=0x0D)
    (x_train, _), (x_test, _) = load_dataset("mnist", verbose=False)
    np.testing.assert_array_equal(x_train[..., 0], x)
    np.testing.assert_array_equal(x_test[..., 0], x[:2])


def test_idx_file_with_other_dimensions_is_refused_naming_it(data_dir):
    _write_mnist_idx(data_dir / "fashion-mnist", np.zeros((3, 784)), np.arange(3), np.zeros((2, 28, 28)),
                     np.arange(2))
    with pytest.raises(ValueError, match=r"fashion-mnist/train-images-idx3-ubyte\.gz: expected fashion_mnist "
                                         r"images of shape \(N, 28, 28, 1\).*got shape \(3, 784\)"):
        load_dataset("fashion_mnist", verbose=False)


def test_idx_labels_that_do_not_match_the_images_are_refused_naming_the_file(data_dir):
    _write_mnist_idx(data_dir / "mnist", np.zeros((3, 28, 28)), np.arange(3), np.zeros((2, 28, 28)),
                     np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"mnist/t10k-labels-idx1-ubyte\.gz: expected 2 labels"):
        load_dataset("mnist", verbose=False)


@pytest.mark.parametrize("from_environment", [True, False])
def test_printed_source_is_relative_to_the_data_folder(data_dir, monkeypatch, capsys, from_environment):
    _save_npz(data_dir / "mnist.npz")
    if not from_environment:  # the repository's data/ folder, stood in for by data_dir
        monkeypatch.delenv("VAE_DATA_DIR")
        monkeypatch.setattr("helpers.config.data_dir", lambda: data_dir)
    load_dataset("mnist")
    out = capsys.readouterr().out
    assert f"from Keras-style {'$VAE_DATA_DIR' if from_environment else 'data'}/mnist.npz" in out
    assert str(data_dir) not in out


_CIFAR_CLASSES = tuple(CLASS_NAMES["cifar10"])


def test_cache_follows_the_archive_content_not_its_size_and_time(data_dir, tmp_path):
    archive = data_dir / "cifar10-jpeg.tar.gz"
    _make_image_folder(tmp_path / "a" / "cifar10-jpeg", classes=_CIFAR_CLASSES, per_class=1, size=32)
    _pack(tmp_path / "a" / "cifar10-jpeg", archive, compresslevel=0)  # stored: the size follows the tar's
    before = archive.stat()
    first = load_dataset("cifar10", verbose=False)

    _make_image_folder(tmp_path / "b" / "cifar10-jpeg", classes=_CIFAR_CLASSES, per_class=1, shade=5, size=32)
    _pack(tmp_path / "b" / "cifar10-jpeg", archive, compresslevel=0)
    os.utime(archive, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert archive.stat().st_size == before.st_size and archive.stat().st_mtime_ns == before.st_mtime_ns
    second = load_dataset("cifar10", verbose=False)
    assert not np.array_equal(first[0][0], second[0][0])
    np.testing.assert_array_equal(second[0][0], read_image_folder(archive)[0][0])


def test_cache_follows_a_changed_file_in_an_image_folder(data_dir):
    _make_image_folder(data_dir / "cifar10", classes=_CIFAR_CLASSES, per_class=1, size=32)
    first = load_dataset("cifar10", verbose=False)
    changed = data_dir / "cifar10" / "train" / "cat" / "0000.png"
    before = changed.stat()
    Image.new("RGB", (32, 32), (250, 1, 2)).save(changed)
    # a later modification time, whatever the resolution of the file system's clock
    os.utime(changed, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    second = load_dataset("cifar10", verbose=False)
    assert not np.array_equal(first[0][0], second[0][0])
    assert [250, 1, 2] in second[0][0][:, 0, 0].tolist()


@pytest.mark.parametrize("damage", ["not a zip file", "other arrays", "cut short"])
def test_damaged_cache_file_is_decoded_again(data_dir, tmp_path, damage):
    _make_image_folder(data_dir / "cifar10", classes=_CIFAR_CLASSES, per_class=1, size=32)
    expected = load_dataset("cifar10", verbose=False)
    cache = tmp_path / "cache" / "cifar10.npz"
    if damage == "not a zip file":
        cache.write_bytes(b"garbage")
    elif damage == "other arrays":
        np.savez(cache, x_train=np.zeros(3))
    else:
        cache.write_bytes(cache.read_bytes()[:1000])
    again = load_dataset("cifar10", verbose=False)
    np.testing.assert_array_equal(again[0][0], expected[0][0])
    np.testing.assert_array_equal(again[1][1], expected[1][1])
    with np.load(cache) as f:  # rewritten
        np.testing.assert_array_equal(f["x_train"], expected[0][0])


@pytest.mark.parametrize("failure", ["cache folder under a file", "rename refused"])
def test_unwritable_cache_warns_and_returns_the_arrays(data_dir, tmp_path, monkeypatch, failure):
    # Tests may run as root, for whom a read-only folder is writable: the failures are made otherwise.
    _make_image_folder(data_dir / "cifar10", classes=_CIFAR_CLASSES, per_class=1, size=32)
    (x_train, y_train), (x_test, y_test), _ = read_image_folder(data_dir / "cifar10")
    if failure == "cache folder under a file":
        (tmp_path / "a-file").write_text("")
        monkeypatch.setattr("helpers.config.cache_dir", lambda: tmp_path / "a-file" / "cache")
    else:
        def refuse(source, target):
            raise PermissionError(13, "Permission denied (simulated by the test)", str(target))
        monkeypatch.setattr("helpers.data.os.replace", refuse)
    with pytest.warns(UserWarning, match=r"Could not write the decoded images to the cache .*cifar10\.npz "
                                         r"\(\w+Error.*decoded again next time"):
        loaded = load_dataset("cifar10", verbose=False)
    for got, want in zip([*loaded[0], *loaded[1]], [x_train, y_train, x_test, y_test]):
        np.testing.assert_array_equal(got, want)
    if failure == "rename refused":
        assert list((tmp_path / "cache").iterdir()) == []  # no temporary file left behind


def test_loads_at_the_same_time_share_the_cache_without_crashing(data_dir, tmp_path):
    _make_image_folder(data_dir / "cifar10", classes=_CIFAR_CLASSES, per_class=2, size=32)
    results, errors = [], []

    def load():
        try:
            results.append(load_dataset("cifar10", verbose=False))
        except Exception as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 4
    for (x_train, _), (_, y_test) in results[1:]:
        np.testing.assert_array_equal(x_train, results[0][0][0])
        np.testing.assert_array_equal(y_test, results[0][1][1])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["cifar10.npz"]


# --------------------------------------------------------------------------- switches


@pytest.mark.parametrize("env, expected", [
    ({}, False), ({"CI": "true"}, True), ({"VAE_QUICK": "1"}, True),
    ({"VAE_QUICK": "0", "CI": "true"}, False), ({"VAE_QUICK": "yes"}, True),
])
def test_quick_mode_switch(monkeypatch, env, expected):
    monkeypatch.delenv("VAE_QUICK", raising=False)
    monkeypatch.delenv("CI", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert config.quick_mode() is expected


def test_quick_mode_rejects_an_unclear_value(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "maybe")
    with pytest.raises(ValueError, match="VAE_QUICK"):
        config.quick_mode()


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_DATA_DIR", str(tmp_path))
    assert config.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("VAE_DATA_DIR")
    assert config.data_dir() == REPO_ROOT / "data"


# --------------------------------------------------------------------------- tf.data


def test_image_dataset_scales_uint8_and_pairs_targets():
    x = np.full((10, 4, 4, 3), 255, np.uint8)
    t = np.zeros((10, 2, 2, 1), np.float32)
    batches = list(image_dataset(x, t, batch_size=4, shuffle=True))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    xb, tb = batches[0]
    assert xb.dtype.name == "float32" and float(xb.numpy().max()) == 1.0
    assert tb.shape == (4, 2, 2, 1)


def test_image_dataset_without_targets_is_an_autoencoder_pair():
    x = np.arange(6 * 2 * 2 * 1, dtype=np.uint8).reshape(6, 2, 2, 1)
    xb, yb = next(iter(image_dataset(x, batch_size=6, shuffle=False)))
    np.testing.assert_array_equal(xb.numpy(), yb.numpy())
    np.testing.assert_allclose(xb.numpy(), x / 255.0, rtol=1e-6)


def test_image_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        image_dataset(np.zeros((3, 2)), np.zeros((4, 2)))


def test_image_dataset_keeps_uint8_labels_as_class_indices():
    x = np.zeros((6, 2, 2, 1), np.uint8)
    _, yb = next(iter(image_dataset(x, np.arange(6, dtype=np.uint8), batch_size=6, shuffle=False)))
    assert yb.dtype.name == "float32" and yb.numpy().tolist() == [0, 1, 2, 3, 4, 5]


def test_image_dataset_keeps_the_values_of_every_call_the_notebooks_make():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 4, 4, 1), dtype=np.uint8)
    y_images = rng.integers(0, 256, (6, 2, 2, 3), dtype=np.uint8)
    labels = (np.arange(6) % 3).astype(np.uint8)
    onehot = np.eye(3, dtype=np.float32)[labels]
    x_binary = (x > 127).astype(np.float32)
    calls = [((x,), to_float(x), to_float(x)),
             ((x, y_images), to_float(x), to_float(y_images)),
             ((x, labels.astype("float32")), to_float(x), labels.astype(np.float32)),
             ((to_float(x), to_float(x)), to_float(x), to_float(x)),
             ((x_binary, onehot), x_binary, onehot)]
    for args, want_x, want_y in calls:
        xb, yb = next(iter(image_dataset(*args, batch_size=6, shuffle=False)))
        np.testing.assert_allclose(xb.numpy(), want_x, rtol=1e-6)
        np.testing.assert_allclose(yb.numpy(), want_y, rtol=1e-6)
    xb, yb = next(iter(image_dataset(x, onehot, batch_size=6, shuffle=False, binarize=True)))
    assert set(np.unique(xb.numpy())) <= {0.0, 1.0}
    np.testing.assert_array_equal(yb.numpy(), onehot)


@pytest.mark.parametrize("inputs, message", [
    (np.zeros((4, 784), np.uint8), r"inputs should be images of shape \(N, H, W, C\), e\.g\. \(N, 28, 28, "
                                   r"1\); got shape \(4, 784\)\. Fix: reshape .*x\.reshape\(-1, 28, 28, 1\)"),
    (np.zeros((4, 28, 28), np.uint8), r"got shape \(4, 28, 28\)\. Fix: add a channel axis"),
    (np.full((4, 2, 2, 1), 255.0, np.float32),
     r"inputs: float images with values in \[255, 255\]; expected floats in \[0, 1\] or uint8 0-255\. "
     r"Fix: divide 0-255 values by 255.*helpers\.data\.to_float"),
    (np.full((4, 2, 2, 1), -0.5), r"values in \[-0\.5, -0\.5\]"),
    (np.full((4, 2, 2, 1), np.nan, np.float32), r"values in \[nan, nan\] \(NaN or inf present\)"),
    (np.where(np.arange(16).reshape(4, 2, 2, 1) == 5, np.inf, 0.5), r"values in \[0\.5, inf\] \(NaN or inf"),
    (np.zeros((4, 2, 2, 1), np.int64), r"inputs: images of dtype int64; expected uint8 0-255 or float in "
                                       r"\[0, 1\]\. Fix: cast 0-255 integers with x\.astype\('uint8'\)"),
], ids=["flattened", "no-channel-axis", "float-0-255", "negative", "nan", "inf", "int64"])
def test_image_dataset_refuses_inputs_that_are_not_images_in_range(inputs, message):
    with pytest.raises(ValueError, match=message):
        image_dataset(inputs)


@pytest.mark.parametrize("targets, message", [
    (np.full((4, 2, 2, 1), 255.0), r"targets: float images with values in \[255, 255\]"),
    (np.zeros((4, 2, 2, 1), np.int32), r"targets: images of dtype int32"),
    (np.zeros((4, 2, 2), np.uint8),
     r"targets of shape \(4, 2, 2\): expected images \(N, H, W, C\), labels \(N,\)"),
])
def test_image_dataset_refuses_targets_of_another_rank_or_range(targets, message):
    with pytest.raises(ValueError, match=message):
        image_dataset(np.zeros((4, 2, 2, 1), np.uint8), targets)


_BINARIZED_EPOCHS = textwrap.dedent("""
    import hashlib
    import json

    import numpy as np
    import tensorflow as tf

    from helpers.data import image_dataset


    def binarized_epochs(seed, global_seed=None):
        '''sha256 of the batches of each of two epochs of dynamic binarization.'''
        if global_seed is not None:
            tf.random.set_seed(global_seed)
        x = (np.arange(40 * 16) * 37 % 256).astype(np.uint8).reshape(40, 4, 4, 1)
        digests = []
        ds = image_dataset(x, batch_size=4, shuffle=True, seed=seed, binarize=True)
        for epoch in range(2):
            digest = hashlib.sha256()
            for xb, yb in ds:
                assert set(np.unique(xb.numpy())) <= {0.0, 1.0}
                assert np.array_equal(xb.numpy(), yb.numpy()), "the target is not the binary input"
                digest.update(xb.numpy().tobytes())
            digests.append(digest.hexdigest())
        return digests
""")


def test_dynamic_binarization_is_the_same_in_every_run_and_new_every_epoch():
    import tensorflow as tf

    script = _BINARIZED_EPOCHS + textwrap.dedent("""
        print(json.dumps([binarized_epochs(3), binarized_epochs(4), binarized_epochs(3, global_seed=7)]))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = [subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    outputs = []
    for run in runs:  # two fresh processes, run side by side
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
    (seed_3, seed_4, seed_3_global_7) = outputs[0]
    assert seed_3[0] != seed_3[1]  # every epoch draws new binary images
    assert not set(seed_3) & set(seed_4)  # another seed draws others
    # Here, after other tests have drawn random numbers, a notebook's global seed gives the same batches.
    namespace = {}
    exec(_BINARIZED_EPOCHS, namespace)
    try:
        assert namespace["binarized_epochs"](3, global_seed=7) == seed_3_global_7
    finally:
        tf.random.set_seed(None)


# --------------------------------------------------------------------------- CI and requirements


def test_ci_script_stops_with_a_clear_message_when_the_data_is_missing(tmp_path):
    checkout = tmp_path / "checkout"
    (checkout / ".ci").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".ci" / "run", checkout / ".ci" / "run")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    # python3 stands in for the first step after the data: it shows VAE_DATA_DIR and stops the script
    (stubs / "python3").write_text('#!/bin/sh\necho "python3 ran with VAE_DATA_DIR=$VAE_DATA_DIR"\nexit 3\n')
    (stubs / "python3").chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "TMPDIR": str(tmp_path), "HOME": str(tmp_path)}

    def ci():
        return subprocess.run(["bash", str(checkout / ".ci" / "run")], env=env, capture_output=True,
                              text=True, timeout=60)

    missing = ci()
    assert missing.returncode == 1, missing.stdout + missing.stderr
    assert "expected the data sets in ../shared/data beside the checkout" in missing.stderr
    assert "python3 ran" not in missing.stdout
    (tmp_path / "shared" / "data").mkdir(parents=True)
    found = ci()
    assert found.returncode == 3, found.stdout + found.stderr
    assert f"python3 ran with VAE_DATA_DIR={(tmp_path / 'shared' / 'data').resolve()}\n" in found.stdout


def as_python(cell_source):
    """A notebook cell's source as the Python that IPython runs (``!cmd`` -> ``get_ipython()...``)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _imported_modules(source):
    """Top-level names of the modules that Python ``source`` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-colab.txt"])
def test_requirements_pin_every_package_that_helpers_and_notebooks_import(requirements):
    imported = set()
    for path in (REPO_ROOT / "helpers").glob("*.py"):
        imported |= _imported_modules(path.read_text())
    for path in (REPO_ROOT / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                imported |= _imported_modules(as_python(code))  # !shell and %magic lines
    # IPython comes with jupyter, which requirements.txt pins; the notebooks run only under it.
    third_party = imported - set(sys.stdlib_module_names) - {"helpers", "IPython"}

    def normalized(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    lines = (REPO_ROOT / requirements).read_text().splitlines()
    pinned = {normalized(line.split("==")[0]) for line in lines if "==" in line and not line.startswith("#")}
    providers = importlib.metadata.packages_distributions()
    unpinned = {module: providers.get(module, [module]) for module in sorted(third_party)
                if not {normalized(d) for d in providers.get(module, [module])} & pinned}
    assert unpinned == {}, f"imported but not pinned in {requirements}"


# --------------------------------------------------------------------------- files in the wrong place


def test_fashion_mnist_files_in_the_mnist_folder_are_refused(shared_data_dir, data_dir):
    (data_dir / "mnist").symlink_to(shared_data_dir / "fashion-mnist", target_is_directory=True)
    with pytest.raises(ValueError, match=r"mnist/train-images-idx3-ubyte\.gz: these images look like "
                                         r"fashion_mnist, not mnist: their mean pixel is 7\d\.\d.*"
                                         r"Fix: move the files to the data folder's fashion-mnist/"):
        load_dataset("mnist", verbose=False)


@pytest.mark.parametrize("name, mean, other", [("mnist", 73, "fashion_mnist"), ("fashion_mnist", 33, "mnist")])
def test_images_of_the_other_28x28_data_set_are_refused(data_dir, name, mean, other):
    rng = np.random.default_rng(0)
    x = np.where(rng.random((20, 28, 28)) < mean / 255, 255, 0).astype(np.uint8)
    _save_npz(data_dir / f"{name}.npz", x_train=x, y_train=np.arange(20) % 10, x_test=x[:2])
    with pytest.raises(ValueError, match=rf"{name}\.npz \(array x_train\): these images look like {other}, "
                                         rf"not {name}"):
        load_dataset(name, verbose=False)


def test_a_relative_data_dir_is_found_from_the_repository_root_too(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # as Jupyter runs a notebook from notebooks/
    monkeypatch.setenv("VAE_DATA_DIR", "data")  # written from the repository's root
    assert config.data_dir() == (REPO_ROOT / "data").resolve()
    (tmp_path / "data").mkdir()  # a folder of that name where we are comes first
    assert config.data_dir() == (tmp_path / "data").resolve()


def test_a_data_dir_that_names_no_folder_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAE_DATA_DIR", "../nowhere/data")
    searched = rf"{re.escape(str((tmp_path / '../nowhere/data').resolve()))} and " \
               rf"{re.escape(str((REPO_ROOT / '../nowhere/data').resolve()))}"
    with pytest.raises(FileNotFoundError, match=rf"VAE_DATA_DIR='../nowhere/data' names no folder: looked "
                                                rf"for {searched}\. Fix"):
        load_dataset("mnist", verbose=False)


@pytest.mark.parametrize("inputs, batch_size, message", [
    (np.zeros((0, 4, 4, 1), np.uint8), 8, r"inputs hold no images \(shape \(0, 4, 4, 1\)\)"),
    (np.zeros((3, 4, 4, 1), np.uint8), 0, "batch_size=0: expected a positive integer"),
    (np.zeros((3, 4, 4, 1), np.uint8), 2.5, "batch_size=2.5: expected a positive integer"),
])
def test_image_dataset_refuses_empty_inputs_and_bad_batch_sizes(inputs, batch_size, message):
    with pytest.raises(ValueError, match=message):
        image_dataset(inputs, batch_size=batch_size)


@pytest.mark.parametrize("convert", [to_float, lambda x: binarize(x, seed=0)], ids=["to_float", "binarize"])
def test_images_already_in_0_1_are_not_divided_by_255_again(convert):
    x = np.random.default_rng(0).integers(0, 256, (4, 6, 6, 1)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"already float in \[0, 1\].*nearly black.*uint8 images"):
        convert(to_float(x))
    assert convert(x).shape == x.shape
    assert convert(x.astype(np.float32)).shape == x.shape  # whole-number floats 0-255 are fine
