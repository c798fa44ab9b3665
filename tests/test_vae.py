import numpy as np
import pytest

from helpers.config import import_tensorflow

tf, keras = import_tensorflow()

import tensorflow_probability as tfp  # noqa: E402

from helpers import losses  # noqa: E402
from helpers.data import binarize, image_dataset  # noqa: E402
from helpers.models import CVAE, VAE, LinearAnnealing, Sampling  # noqa: E402

tfd = tfp.distributions


def _binary_images(n=64, seed=0):
    """Small binary 8x8 images: a bright square at one of four places."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 8, 8, 1), np.float32)
    for i, (r, c) in enumerate(rng.integers(0, 2, (n, 2)) * 4):
        x[i, r:r + 4, c:c + 4] = 1
    return x


def _small_vae(**kwargs):
    keras.utils.set_random_seed(0)
    return VAE(input_shape=(8, 8, 1), latent_dim=2, filters=(8,), hidden_units=16, seed=0, **kwargs)


@pytest.fixture(scope="module")
def trained():
    model = _small_vae()
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(_binary_images(), epochs=40, batch_size=16, verbose=0)
    return model


def test_sampling_has_the_right_moments_and_passes_gradients():
    mu = tf.Variable(tf.fill((50_000, 1), 1.0))
    log_var = tf.Variable(tf.fill((50_000, 1), float(np.log(4.0))))
    with tf.GradientTape() as tape:
        z = Sampling(seed=1)([mu, log_var])
        objective = tf.reduce_sum(z ** 2)
    z = z.numpy()
    assert abs(z.mean() - 1.0) < 0.05 and abs(z.std() - 2.0) < 0.05
    grad_mu, grad_log_var = tape.gradient(objective, [mu, log_var])
    assert grad_mu is not None and grad_log_var is not None
    assert float(tf.reduce_sum(tf.abs(grad_log_var))) > 0


def test_closed_form_kl_matches_tfp_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4, 3)).astype(np.float32)
    log_var = rng.normal(scale=0.5, size=(4, 3)).astype(np.float32)
    closed = tf.reduce_sum(losses.gaussian_kl(mu, log_var), axis=-1).numpy()
    q = tfd.MultivariateNormalDiag(mu, tf.exp(0.5 * log_var))
    p = tfd.MultivariateNormalDiag(tf.zeros(3), tf.ones(3))
    np.testing.assert_allclose(closed, tfd.kl_divergence(q, p).numpy(), rtol=1e-5)
    z = q.sample(200_000, seed=0)
    monte_carlo = tf.reduce_mean(q.log_prob(z) - p.log_prob(z), axis=0).numpy()
    np.testing.assert_allclose(closed, monte_carlo, atol=0.03)


def test_reconstruction_term_is_the_summed_binary_cross_entropy():
    model = _small_vae()
    x = _binary_images(4)
    z = tf.random.normal((4, 2), seed=0)
    logits = model.decode_logits(z).numpy()
    p = 1 / (1 + np.exp(-logits))
    bce = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(-model.likelihood(z).log_prob(x).numpy(), bce, rtol=1e-4)


def test_shapes_and_clamped_log_variance():
    model = _small_vae()
    x = _binary_images(5)
    mu, log_var = model.encode(x)
    assert mu.shape == (5, 2) and log_var.shape == (5, 2)
    assert model(x).shape == (5, 8, 8, 1)
    model.encoder.layers[-1].bias.assign([0.0, 0.0, 1e4, -1e4])  # absurd log-variances
    _, log_var = model.encode(x)
    assert float(tf.reduce_max(log_var)) <= 8.0 and float(tf.reduce_min(log_var)) >= -12.0


def test_loss_is_reconstruction_plus_beta_times_kl():
    model = _small_vae(beta=3.0)
    model.compile(keras.optimizers.Adam(1e-3))
    logs = model.evaluate(_binary_images(32), batch_size=32, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "reconstruction", "kl"}
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 3.0 * logs["kl"], rel=1e-5)


def test_training_improves_the_elbo(trained):
    fresh = _small_vae()
    fresh.compile(keras.optimizers.Adam(1e-2))
    x = _binary_images(64, seed=1)
    before = fresh.evaluate(x, batch_size=64, return_dict=True, verbose=0)["loss"]
    after = trained.evaluate(x, batch_size=64, return_dict=True, verbose=0)["loss"]
    assert after < before / 2


def test_negative_elbo_per_image_matches_evaluate():
    model = _small_vae()  # untrained: single-sample estimates have little variance
    model.compile(keras.optimizers.Adam(1e-3))
    x = _binary_images(70, seed=3)
    per_image = losses.negative_elbo(model, x, samples=20, batch_size=32)  # batches of 32, 32, 6
    assert per_image.shape == (70,) and np.all(per_image > 0)
    loss = np.mean([model.evaluate(x, batch_size=70, return_dict=True, verbose=0)["loss"] for _ in range(20)])
    assert per_image.mean() == pytest.approx(loss, rel=1e-3)  # the KL alone is 0.3% of it


def test_importance_weighted_estimate_with_one_sample_is_the_elbo():
    model = _small_vae()  # untrained: single-sample estimates have little variance
    x = _binary_images(64, seed=2)
    nll_1 = np.mean([losses.importance_weighted_nll(model, x, k=1).mean() for _ in range(30)])
    assert nll_1 == pytest.approx(losses.negative_elbo(model, x, samples=30).mean(), rel=0.01)


def test_importance_weighted_bound_tightens_with_k(trained):
    x = _binary_images(64, seed=2)
    nll = {k: losses.importance_weighted_nll(trained, x, k=k).mean() for k in (10, 200)}
    assert nll[200] < nll[10] < losses.negative_elbo(trained, x, samples=30).mean()


def test_nan_input_stops_training_with_a_clear_message():
    model = _small_vae()
    model.compile(keras.optimizers.Adam(1e-3))
    x = _binary_images(8)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="VAE got NaN or infinite pixel values"):
        model.fit(x, epochs=1, batch_size=8, verbose=0)


def test_save_and_load_round_trip(trained, tmp_path):
    path = tmp_path / "vae.keras"
    trained.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, VAE) and loaded.latent_dim == 2
    assert float(loaded.beta.numpy()) == float(trained.beta.numpy())
    x = _binary_images(6)
    np.testing.assert_array_equal(loaded(x).numpy(), trained(x).numpy())
    np.testing.assert_array_equal(loaded.encode(x)[1].numpy(), trained.encode(x)[1].numpy())


def test_fixed_and_dynamic_binarization():
    x = np.full((200, 4, 4, 1), 64, np.uint8)  # probability 0.25 of a 1
    fixed = binarize(x, seed=3)
    assert set(np.unique(fixed)) <= {0.0, 1.0} and abs(fixed.mean() - 64 / 255) < 0.02
    np.testing.assert_array_equal(fixed, binarize(x, seed=3))
    ds = image_dataset(x, batch_size=200, shuffle=False, binarize=True)
    (a, a_target), (b, _) = next(iter(ds)), next(iter(ds))
    np.testing.assert_array_equal(a.numpy(), a_target.numpy())
    assert set(np.unique(a.numpy())) <= {0.0, 1.0}
    assert not np.array_equal(a.numpy(), b.numpy())  # a fresh draw every pass
    labels = np.eye(3, dtype=np.float32)[np.arange(200) % 3]
    xb, yb = next(iter(image_dataset(x, labels, batch_size=200, shuffle=False, binarize=True)))
    np.testing.assert_array_equal(yb.numpy(), labels)  # other targets pass through unchanged


def test_capacity_objective_and_annealing():
    model = _small_vae(gamma=10.0, capacity=2.0)
    model.compile(keras.optimizers.Adam(1e-3))
    logs = model.evaluate(_binary_images(32), batch_size=32, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 10.0 * abs(logs["kl"] - 2.0), rel=1e-5)
    history = {}

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            history[epoch] = float(self.model.capacity.numpy())

    model.fit(_binary_images(16), epochs=5, batch_size=16, verbose=0,
              callbacks=[LinearAnnealing("capacity", 0.0, 8.0, epochs=4), Record()])
    assert history == {0: 0.0, 1: 2.0, 2: 4.0, 3: 6.0, 4: 8.0}
    with pytest.raises(ValueError, match="'beta' or 'capacity'"):
        LinearAnnealing("gamma", 0, 1, 3)


def _small_cvae():
    keras.utils.set_random_seed(0)
    return CVAE(num_classes=3, input_shape=(8, 8, 1), latent_dim=2, filters=(8,), hidden_units=16, seed=0)


def test_cvae_trains_on_labelled_pairs_and_the_label_changes_the_output(tmp_path):
    x = _binary_images(48)
    labels = np.eye(3, dtype=np.float32)[np.arange(48) % 3]
    model = _small_cvae()
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(image_dataset(x, labels, batch_size=16, binarize=True), epochs=3, verbose=0)
    assert set(history.history) == {"loss", "reconstruction", "kl"}
    z = np.zeros((3, 2), np.float32)
    images = model.decode(z, np.eye(3, dtype=np.float32)).numpy()
    assert images.shape == (3, 8, 8, 1) and not np.allclose(images[0], images[1])
    model.save(tmp_path / "cvae.keras")
    loaded = keras.models.load_model(tmp_path / "cvae.keras")
    assert isinstance(loaded, CVAE) and loaded.condition_dim == 3
    np.testing.assert_array_equal(loaded([x[:5], labels[:5]]).numpy(), model([x[:5], labels[:5]]).numpy())


def test_kl_per_dimension_is_the_closed_form_kl_averaged_over_images():
    model = _small_vae()
    x = _binary_images(70, seed=4)
    per_dim = losses.kl_per_dimension(model, x, batch_size=32)  # batches of 32, 32, 6
    mu, log_var = model.encode(x)
    assert per_dim.shape == (2,)
    np.testing.assert_allclose(per_dim, losses.gaussian_kl(mu, log_var).numpy().mean(axis=0), rtol=1e-5)
    # its sum is the KL term of the ELBO, as TFP computes it
    kl = tfd.kl_divergence(model.posterior(x), model.prior()).numpy().mean()
    assert per_dim.sum() == pytest.approx(kl, rel=1e-4)


def test_conditional_evaluation_uses_the_labels():
    model = _small_cvae()
    x = _binary_images(30, seed=5)
    labels = np.eye(3, dtype=np.float32)[np.arange(30) % 3]
    other = np.roll(labels, 1, axis=0)
    mu, log_var = model.encode(x, labels)
    per_dim = losses.kl_per_dimension(model, x, labels, batch_size=8)
    np.testing.assert_allclose(per_dim, losses.gaussian_kl(mu, log_var).numpy().mean(axis=0), rtol=1e-5)
    assert not np.allclose(per_dim, losses.kl_per_dimension(model, x, other))
    elbo = losses.negative_elbo(model, x, labels, samples=30, batch_size=8)
    assert elbo.shape == (30,) and not np.allclose(elbo, losses.negative_elbo(model, x, other, samples=30))
    keras.utils.set_random_seed(1)
    iw = losses.importance_weighted_nll(model, x, k=50, condition=labels, batch_size=8)
    assert iw.shape == (30,) and iw.mean() < elbo.mean()  # the tighter bound, for -log p(x|y)
    with pytest.raises(ValueError, match="one label each"):
        losses.importance_weighted_nll(model, x, k=5, condition=labels[:10])
