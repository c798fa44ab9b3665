import gzip
import pickle
import subprocess
import sys
import tarfile
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from helpers import config
from helpers.data import (DatasetNotFoundError, image_dataset, load_dataset, read_cifar_batches,
                          read_idx, read_image_folder)

from .conftest import REPO_ROOT


# --------------------------------------------------------------------------- the real files


@pytest.fixture
def real_data(shared_data_dir, monkeypatch):
    monkeypatch.setenv("VAE_DATA_DIR", str(shared_data_dir))


def test_mnist_from_the_original_idx_files(real_data, capsys):
    (x_train, y_train), (x_test, y_test) = load_dataset("mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (60000,)
    # class counts of the original training set (../shared/data/SOURCES.md)
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert x_train.max() == 255 and x_train.min() == 0
    assert "IDX files" in capsys.readouterr().out


def test_fashion_mnist_from_the_keras_layout(real_data):
    (x_train, y_train), (x_test, y_test) = load_dataset("fashion_mnist")
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:3].tolist() == [9, 0, 0]


def test_cifar10_from_the_jpeg_archive(real_data, capsys):
    (x_train, y_train), (x_test, y_test) = load_dataset("cifar10")
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert "cifar10-jpeg.tar.gz" in capsys.readouterr().out
    # shuffled, so that a small prefix (quick mode) holds every class
    assert len(set(y_train[:100].tolist())) == 10


# --------------------------------------------------------------------------- file formats


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


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


def _make_image_folder(root, classes=("cat", "dog"), per_class=3):
    """PNG tree with one solid colour per image; returns {colour: class index}."""
    colours = {}
    for split in ("train", "test"):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(per_class):
                colour = (10 * label + i, 100 + (split == "test"), 200)
                Image.new("RGB", (4, 4), colour).save(root / split / name / f"{i:04d}.png")
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


# --------------------------------------------------------------------------- load_dataset


def test_keras_npz_layout_gets_a_channel_axis(data_dir):
    np.savez(data_dir / "mnist.npz", x_train=np.zeros((5, 28, 28), np.uint8), y_train=np.arange(5),
             x_test=np.ones((2, 28, 28), np.uint8), y_test=np.arange(2))
    (x_train, y_train), (x_test, _) = load_dataset("mnist", verbose=False)
    assert x_train.shape == (5, 28, 28, 1) and x_test.shape == (2, 28, 28, 1)
    assert y_train.dtype == np.uint8


def test_image_folder_is_decoded_once_then_read_from_the_cache(data_dir, tmp_path, monkeypatch):
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    _make_image_folder(data_dir / "cifar10", classes=classes, per_class=1)
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
