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
    """A learning rate of 1e4 makes the loss explode; the guard must fire with or without XLA."""
    model = _vae()
    model.compile(keras.optimizers.SGD(1e4), jit_compile=jit_compile)
    with pytest.raises(FloatingPointError, match=r"training is diverging .*learning rate too high does this \(this "
                                                 r"optimizer's is 1e\+04\)"):
        model.fit(_images(64), epochs=20, batch_size=16, verbose=0)


def test_a_nan_loss_stops_training_and_updates_nothing():
    """(XLA takes the same path: see the diverging-loss and CVAE label tests.)"""
    model = _vae()
    model.compile(keras.optimizers.Adam(1e-3))
    model.beta.assign(np.inf)  # an infinite loss from the first batch, with finite weights
    before = [w.numpy().copy() for w in model.trainable_weights]
    with pytest.raises(FloatingPointError, match="loss is NaN or infinite .*lower the learning rate"):
        model.fit(_images(64), epochs=2, batch_size=16, verbose=0)
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))


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


# --------------------------------------------------------------------------- inference entry points


@pytest.mark.parametrize("bad, message", [
    ((_images(4) * 255).astype(np.uint8), r"pixel values in \[0, 255\]"),
    (_images(4) * 2 - 1, r"pixel values in \[-1, 1\]"),
    (np.where(_images(4) > 0, np.nan, 0).astype(np.float32), "NaN or infinite"),
], ids=["uint8", "minus_one_to_one", "nan"])
def test_every_inference_entry_point_refuses_pixels_outside_0_1(bad, message):
    vae, cvae, autoencoder = _vae(), _cvae(), _autoencoder()
    labels = _one_hot(4)
    calls = {"VAE(x)": lambda: vae(bad), "VAE.encode": lambda: vae.encode(bad),
             "VAE.posterior": lambda: vae.posterior(bad),
             "VAE.predict": lambda: vae.predict(bad, verbose=0),
             "CVAE([x, y])": lambda: cvae([bad, labels]), "CVAE.encode": lambda: cvae.encode(bad, labels),
             "CVAE.predict": lambda: cvae.predict([bad, labels], verbose=0),
             "ConvAutoencoder(x)": lambda: autoencoder(bad),
             "ConvAutoencoder.predict": lambda: autoencoder.predict(bad, verbose=0)}
    for name, call in calls.items():
        with pytest.raises(ValueError, match=message):
            call()
            pytest.fail(f"{name} accepted the bad pixels")
    good = _images(4)
    assert vae.predict(good, verbose=0).shape == autoencoder.predict(good, verbose=0).shape == (4, 8, 8, 1)


def test_decode_refuses_images_and_nan_codes():
    model = _vae()
    with pytest.raises(ValueError, match=r"decode takes latent points of shape \(batch, 2\), got shape "
                                         r"\(4, 8, 8, 1\) \(images: encode them first"):
        model.decode(_images(4))
    with pytest.raises(ValueError, match="latent points with NaN or inf"):
        model.decode(np.array([[0.0, np.nan]], np.float32))
    assert model.decode(np.zeros((3, 2), np.float32)).shape == (3, 8, 8, 1)


def test_a_cvae_called_without_labels_says_how_to_call_it():
    model = _cvae()
    for call in (lambda: model(_images(2)), lambda: model.predict(_images(4), verbose=0)):
        with pytest.raises(ValueError, match=r"conditional: call it on \[images, one-hot labels\].*"
                                             r"given one array of shape \(\d, 8, 8, 1\)"):
            call()


@pytest.mark.parametrize("labels, jit_compile", [
    (_one_hot(32) * 255, False), (_one_hot(32) * 255, True),
    (np.clip(_one_hot(32) + _one_hot(32)[::-1], 0, 1), False), (_one_hot(32) - 0.5, False),
], ids=["times_255", "times_255_xla", "two_ones", "shifted"])
def test_cvae_fit_refuses_labels_that_are_not_one_hot_and_learns_nothing_from_them(labels, jit_compile):
    model = _cvae()
    model.compile(keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    before = [w.numpy().copy() for w in model.trainable_weights]
    with pytest.raises(ValueError, match=r"CVAE got labels that are not one-hot \(training.*"
                                         r"to_categorical\(y, 3\).*No update was made"):
        model.fit(_images(32), labels, epochs=1, batch_size=16, verbose=0)
    assert all(np.array_equal(b, w.numpy()) for b, w in zip(before, model.trainable_weights))
    with pytest.raises(ValueError, match=r"labels that are not one-hot \(predict"):
        model.predict([_images(32), labels], verbose=0)


# --------------------------------------------------------------------------- a bad batch updates nothing


@pytest.mark.parametrize("make, bad", [(_vae, np.nan), (_autoencoder, 255.0)],
                         ids=["VAE_nan", "ConvAutoencoder_255"])
def test_a_bad_batch_stops_fit_before_its_update_is_applied(make, bad):
    """The weights after the error are those trained on the good batch before the bad one."""
    x = _images(32)
    x[20, 3, 3, 0] = bad  # in the second batch of 16
    loss = None if make is _vae else "mse"
    model, reference = make(), make()
    for m in (model, reference):
        m.compile(keras.optimizers.Adam(1e-2), loss=loss)
    with pytest.raises(ValueError, match="No update was made with such a batch"):
        model.fit(x, x, epochs=3, batch_size=16, shuffle=False, verbose=0)
    reference.fit(x[:16], x[:16], epochs=1, batch_size=16, shuffle=False, verbose=0)
    for trained, expected in zip(model.trainable_weights, reference.trainable_weights):
        np.testing.assert_allclose(trained.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    assert int(model.optimizer.iterations) == 1


# --------------------------------------------------------------------------- runaway training without NaN


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_dead_autoencoder_is_reported_with_its_cause(jit_compile):
    """At a learning rate of 100 the network stops responding: the same output for every image."""
    model = _autoencoder()
    model.compile(keras.optimizers.Adam(100.0), "mse", jit_compile=jit_compile)
    with pytest.raises(FloatingPointError, match=r"same output for every image in epoch \d.*dead.*"
                                                 r"learning rate too high.*is 100\)"):
        model.fit(_images(64), _images(64), epochs=3, batch_size=16, verbose=0,
                  validation_data=(_images(16, seed=1), _images(16, seed=1)))


def test_ordinary_training_is_not_taken_for_divergence():
    model, autoencoder = _vae(), _autoencoder()
    model.compile(keras.optimizers.Adam(1e-2))
    autoencoder.compile(keras.optimizers.Adam(1e-2), "mse")
    x = _images(64)
    model.fit(x, epochs=4, batch_size=16, verbose=0, callbacks=[LinearAnnealing("beta", 0.0, 1.0, 3)])
    autoencoder.fit(np.zeros_like(x), np.zeros_like(x), epochs=2, batch_size=16, verbose=0)  # same inputs
    autoencoder.fit(x, x, epochs=2, batch_size=16, verbose=0)


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("make", [lambda: ConvAutoencoder((8, 8, 1), latent_dim=2, filters=(4,)),
                                  lambda: _vae(), lambda: _vae(gamma=5.0)],
                         ids=["autoencoder_capacity", "gamma0_capacity", "gamma5_beta"])
def test_annealing_refuses_a_model_it_would_not_change(make):
    model = make()
    attribute = "beta" if getattr(model, "gamma", 0) else "capacity"
    model.compile(keras.optimizers.Adam(1e-3), loss="mse" if isinstance(model, ConvAutoencoder) else None)
    x = _images(16)
    with pytest.raises(ValueError, match=rf"LinearAnnealing\('{attribute}'\) (needs a VAE|would change "
                                         rf"nothing)"):
        model.fit(x, x, epochs=1, verbose=0, callbacks=[LinearAnnealing(attribute, 0.0, 5.0, 2)])


@pytest.mark.parametrize("saved, built, message", [
    ({"beta": 1.0}, {"beta": 4.0}, "trained with beta=1, but this VAE was built with beta=4"),
    ({"gamma": 20.0}, {}, "trained with gamma=20, but this VAE was built with gamma=0"),
    ({}, {"gamma": 20.0}, "trained with gamma=0, but this VAE was built with gamma=20"),
])
def test_weights_trained_with_other_settings_are_refused_and_nothing_is_loaded(tmp_path, saved, built,
                                                                                 message):
    path = tmp_path / "small.weights.h5"
    _vae(**saved).save_weights(path)
    model = _vae(**built)
    keras.utils.set_random_seed(1)
    expected = VAE(input_shape=(8, 8, 1), latent_dim=2, filters=(8,), hidden_units=16, seed=0, **built)
    model.set_weights(expected.get_weights())
    with pytest.raises(ValueError, match=message + ".*nothing was loaded"):
        model.load_weights(path)
    assert model.settings() == expected.settings()
    x = _images(4)
    np.testing.assert_array_equal(model(x).numpy(), expected(x).numpy())


def test_a_file_with_the_models_settings_loads_with_its_annealed_capacity(tmp_path):
    path = tmp_path / "capacity.weights.h5"
    _vae(gamma=20.0, capacity=3.0).save_weights(path)
    model = _vae(gamma=20.0)
    model.load_weights(path)
    assert model.gamma == 20.0 and float(model.capacity.numpy()) == 3.0  # annealed state comes along


# --------------------------------------------------------------------------- empty and grey inputs


@pytest.mark.parametrize("evaluate", [
    lambda m, x: losses.negative_elbo(m, x),
    lambda m, x: losses.importance_weighted_nll(m, x, k=5),
    lambda m, x: losses.kl_per_dimension(m, x),
], ids=["negative_elbo", "importance_weighted_nll", "kl_per_dimension"])
@pytest.mark.parametrize("empty", [np.zeros((0, 8, 8, 1), np.float32), np.zeros((8, 8), np.float32)],
                         ids=["no_images", "one_image_without_axes"])
def test_evaluation_refuses_empty_or_shapeless_inputs(evaluate, empty):
    with pytest.raises(ValueError, match=r"expected a non-empty batch of images \(N, H, W, C\)"):
        evaluate(_vae(), empty)


def test_importance_weighted_nll_refuses_grey_images_under_a_bernoulli_likelihood():
    model = _vae()
    grey = np.random.default_rng(0).random((4, 8, 8, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"grey levels \(100\.0% .*Bernoulli.*helpers\.data\.binarize"):
        losses.importance_weighted_nll(model, grey, k=3)
    assert np.isfinite(losses.importance_weighted_nll(model, _images(4), k=3)).all()


@pytest.mark.parametrize("arguments, message", [
    ({"data": _images(8)}, r"timed_fit takes a tf\.data\.Dataset, got one array of shape \(8, 8, 8, 1\)"),
    ({"epochs": 0}, "epochs=0: expected a positive integer"),
    ({"learning_rate": -1e-3}, "learning_rate=-0.001: expected a positive number"),
])
def test_timed_fit_refuses_what_it_cannot_schedule(arguments, message):
    from helpers.data import image_dataset
    from helpers.models import timed_fit

    arguments = {"data": image_dataset(_images(8), batch_size=4), "epochs": 1} | arguments
    with pytest.raises(ValueError, match=message):
        timed_fit(_vae(), **arguments)
