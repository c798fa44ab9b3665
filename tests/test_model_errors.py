"""Bad input to the models and the losses: a clear error that says what to do, never a silent result."""

import subprocess
import sys

import numpy as np
import pytest

from helpers.config import import_tensorflow

tf, keras = import_tensorflow()

from helpers import losses  # noqa: E402
from helpers.models import CVAE, VAE, ConvAutoencoder, LinearAnnealing, TrainingGuard  # noqa: E402

from .conftest import REPO_ROOT  # noqa: E402


def _images(n=16, seed=0):
    """Binary 8x8 images in [0, 1]."""
    return (np.random.default_rng(seed).random((n, 8, 8, 1)) < 0.3).astype(np.float32)


def _vae(**kwargs):
    keras.utils.set_random_seed(0)
    return VAE(input_shape=(8, 8, 1), latent_dim=2, filters=(8,), hidden_units=16, seed=0, **kwargs)


def _cvae():
    keras.utils.set_random_seed(0)
    return CVAE(num_classes=3, input_shape=(8, 8, 1), latent_dim=2, filters=(8,), hidden_units=16, seed=0)


def _autoencoder():
    keras.utils.set_random_seed(0)
    return ConvAutoencoder((8, 8, 1), latent_dim=2, filters=(4,), hidden_units=8)


def _one_hot(n, k=3):
    return np.eye(k, dtype=np.float32)[np.arange(n) % k]


# --------------------------------------------------------------------------- pixels outside [0, 1]


@pytest.mark.parametrize("scale, shift, expected, jit_compile", [
    (255.0, 0.0, r"\[0, 255\]", False), (2.0, -1.0, r"\[-1, 1\]", False), (255.0, 0.0, r"\[0, 255\]", True),
])
def test_vae_refuses_pixels_outside_0_1_in_fit_and_evaluate(scale, shift, expected, jit_compile):
    model = _vae()
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    x = _images() * scale + shift
    with pytest.raises(ValueError, match=rf"VAE got pixel values in {expected} .*expected \[0, 1\]"):
        model.fit(x, epochs=1, batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="Divide uint8 images by 255"):
        model.evaluate(x, batch_size=16, verbose=0)


def test_autoencoder_refuses_targets_outside_0_1():
    model = _autoencoder()
    model.compile("adam", "mse")
    x = _images()
    with pytest.raises(ValueError, match=r"ConvAutoencoder got pixel values in \[0, 255\]"):
        model.fit(x, x * 255, epochs=1, batch_size=16, verbose=0)


@pytest.mark.parametrize("evaluate", [
    lambda m, x: losses.negative_elbo(m, x),
    lambda m, x: losses.importance_weighted_nll(m, x, k=5),
    lambda m, x: losses.kl_per_dimension(m, x),
], ids=["negative_elbo", "importance_weighted_nll", "kl_per_dimension"])
def test_evaluation_refuses_pixels_outside_0_1(evaluate):
    model = _vae()
    for bad, message in [(_images() * 255, r"values in \[0, 255\]"), (_images() * 2 - 1, r"values in \[-1, 1\]"),
                         ((_images() * 255).astype(np.uint8), "dtype uint8"),
                         (np.full((2, 8, 8, 1), np.nan, np.float32), "NaN or inf")]:
        with pytest.raises(ValueError, match=message):
            evaluate(model, bad)


# --------------------------------------------------------------------------- NaN guard, XLA included


@pytest.mark.parametrize("jit_compile", [False, True])
def test_nan_input_stops_the_autoencoder_with_a_clear_message(jit_compile):
    model = _autoencoder()
    model.compile("adam", "mse", jit_compile=jit_compile)
    x = _images()
    x[3, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite pixel values .*np.isfinite"):
        model.fit(x, x, epochs=1, batch_size=16, verbose=0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_diverging_loss_stops_training_also_under_xla(jit_compile):
    """A learning rate of 1e4 turns the weights to NaN; the guard must fire with or without XLA."""
    model = _vae()
    model.compile(keras.optimizers.SGD(1e4), jit_compile=jit_compile)
    with pytest.raises(FloatingPointError, match="loss is NaN or infinite .*lower the learning rate"):
        model.fit(_images(64), epochs=20, batch_size=16, verbose=0)


def test_the_guard_runs_beside_the_users_own_callbacks():
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    model = _vae()
    model.compile(keras.optimizers.Adam(1e-3))
    model.fit(_images(), epochs=1, batch_size=8, verbose=0, callbacks=[Record()], validation_data=(_images(),))
    assert seen == [0, 1]
    with pytest.raises(ValueError, match="pixel values"):
        model.fit(_images() * 255, epochs=1, batch_size=8, verbose=0, callbacks=[Record()])
    with pytest.raises(ValueError, match=r"pixel values in \[0, 255\] \(evaluation"):  # validation is checked
        model.fit(_images(), epochs=1, batch_size=8, verbose=0, validation_data=(_images() * 255,))
    assert isinstance(TrainingGuard(), keras.callbacks.Callback)


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("kwargs, message", [
    ({"beta": -1.0}, "beta=-1.0: expected a number >= 0"),
    ({"beta": float("nan")}, "beta=nan"),
    ({"gamma": -2.0}, "gamma=-2.0"),
    ({"capacity": -0.5}, "capacity=-0.5"),
    ({"latent_dim": 0}, "latent_dim=0: expected a positive integer"),
    ({"filters": ()}, r"filters=\(\): expected a non-empty sequence"),
    ({"filters": 8}, "filters=8: expected a non-empty sequence"),
    ({"filters": (8, 0)}, "positive channel counts"),
    ({"hidden_units": -1}, "hidden_units=-1"),
])
def test_vae_refuses_arguments_it_cannot_use(kwargs, message):
    arguments = {"input_shape": (8, 8, 1), "latent_dim": 2, "filters": (8,), "hidden_units": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        VAE(**arguments)


@pytest.mark.parametrize("kwargs, message", [
    ({"latent_dim": -3}, "latent_dim=-3"), ({"filters": []}, "filters=\\[\\]"),
    ({"input_shape": (8, 8)}, r"input_shape \(8, 8\): expected \(height, width, channels\)"),
])
def test_autoencoder_refuses_arguments_it_cannot_use(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvAutoencoder(**{"input_shape": (8, 8, 1), "latent_dim": 2, "filters": (4,), **kwargs})


@pytest.mark.parametrize("start, stop, epochs, message", [
    (0.0, -1.0, 3, "must stay >= 0"), (-1.0, 1.0, 3, "must stay >= 0"), (0.0, 1.0, 0, "epochs=0"),
])
def test_annealing_refuses_negative_weights(start, stop, epochs, message):
    with pytest.raises(ValueError, match=message):
        LinearAnnealing("beta", start, stop, epochs)


@pytest.mark.parametrize("k", [0, -5, 2.5, True, "10"])
def test_importance_weighted_nll_refuses_a_bad_k(k):
    with pytest.raises(ValueError, match="k=.*expected a positive integer"):
        losses.importance_weighted_nll(_vae(), _images(2), k=k)


def test_importance_weighted_nll_decodes_a_bounded_number_of_images_for_any_k():
    model = _vae()
    sizes = []
    likelihood = model.likelihood

    def spy(z, condition=None):
        sizes.append(int(z.shape[0]))
        return likelihood(z, condition)

    model.likelihood = spy
    x = _images(3)
    nll = losses.importance_weighted_nll(model, x, k=20_000, decode_budget=4_000)
    assert nll.shape == (3,) and np.all(np.isfinite(nll))
    assert max(sizes) <= 4_000 and sum(sizes) == 3 * 20_000
    # chunking changes only the order of the sums: the estimate agrees with a one-chunk run
    model.likelihood = likelihood
    one_chunk = losses.importance_weighted_nll(model, x, k=20_000, decode_budget=60_000)
    np.testing.assert_allclose(nll, one_chunk, atol=0.05)


# --------------------------------------------------------------------------- conditions


def test_an_unconditional_vae_refuses_a_condition():
    model, x = _vae(), _images(4)
    with pytest.raises(ValueError, match="unconditional .* was given a condition"):
        model.encode(x, _one_hot(4))
    with pytest.raises(ValueError, match="unconditional"):
        losses.negative_elbo(model, x, condition=_one_hot(4))
    with pytest.raises(ValueError, match="unconditional"):
        losses.importance_weighted_nll(model, x, k=2, condition=_one_hot(4))
    model.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"targets must have the images' shape \(8, 8, 1\), got \(3,\)"):
        model.fit(x, _one_hot(4), epochs=1, verbose=0)


def test_an_unconditional_vae_reconstructs_the_target_it_is_given():
    model, x = _vae(), _images(16)
    model.compile(keras.optimizers.Adam(1e-3))
    same = model.evaluate(x, x, batch_size=16, return_dict=True, verbose=0)["reconstruction"]
    other = model.evaluate(x, 1 - x, batch_size=16, return_dict=True, verbose=0)["reconstruction"]
    assert same != pytest.approx(other, rel=1e-3)


@pytest.mark.parametrize("labels, message", [
    (None, r"conditional: pass one-hot labels of shape \(batch, 3\)"),
    (np.arange(4) % 3, r"got shape \(4,\).*to_categorical\(y, 3\)"),
    (_one_hot(4, 5), r"got shape \(4, 5\)"),
    (_one_hot(3), r"shape \(4, 3\), got shape \(3, 3\)"),
    (_one_hot(4) * 7, "must be one-hot"),
])
def test_a_cvae_refuses_missing_or_malformed_labels(labels, message):
    model = _cvae()
    with pytest.raises(ValueError, match=message):
        model.encode(_images(4), labels)


def test_a_cvae_refuses_batches_without_labels():
    model = _cvae()
    model.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"trains on \(image, one-hot label\) batches"):
        model.fit(_images(8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="conditional"):
        losses.negative_elbo(model, _images(4))
    with pytest.raises(ValueError, match="2 rows for 4 images"):
        losses.importance_weighted_nll(model, _images(4), k=2, condition=_one_hot(2))


# --------------------------------------------------------------------------- weights files


def test_loading_weights_of_another_architecture_says_so(tmp_path):
    path = tmp_path / "small.weights.h5"
    _vae().save_weights(path)
    other = VAE(input_shape=(8, 8, 1), latent_dim=3, filters=(8,), hidden_units=16)
    with pytest.raises(ValueError, match=r"does not fit this VAE .*'latent_dim': 3.*arguments it was saved with"):
        other.load_weights(path)
    same = _vae()
    same.load_weights(path)  # the same architecture loads as before
    x = _images(4)
    np.testing.assert_array_equal(same(x).numpy(), _vae()(x).numpy())


# --------------------------------------------------------------------------- backends and precision


def test_mixed_precision_training_step(tmp_path):
    """Under a mixed policy the heads stay float32 and a training step gives a finite loss."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _vae()
        model.compile(keras.optimizers.Adam(1e-3))
        before = [w.numpy().copy() for w in model.trainable_weights]
        history = model.fit(_images(16), epochs=1, batch_size=16, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert model.encoder.layers[-1].compute_dtype == "float32"
        assert model.decoder.layers[-1].compute_dtype == "float32"
        assert model.encoder.layers[1].compute_dtype == "bfloat16"
        assert any(not np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
        mu, log_var = model.encode(_images(2))
        assert mu.dtype == tf.float32 and log_var.dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_helpers_choose_the_tensorflow_backend_whatever_the_environment_says():
    script = "import helpers.models, keras; print(keras.backend.backend())"
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"},
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("tensorflow")
