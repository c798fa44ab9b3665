"""Notebook 03 writes its VAE out in full; helpers.models.VAE is the tested, extended version used
from notebook 04 on. These tests read the notebook's classes out of the committed notebook and
check that both compute the same loss, gradients and training step for the same weights and batch."""

import json

import numpy as np
import pytest

from helpers.config import import_tensorflow

tf, keras = import_tensorflow()

import tensorflow_probability as tfp  # noqa: E402
from keras import layers  # noqa: E402

from helpers import losses, models  # noqa: E402

from .conftest import REPO_ROOT  # noqa: E402

NOTEBOOK = REPO_ROOT / "notebooks" / "03_variational_autoencoder.ipynb"
DEFINITIONS = ("class Sampling(", "def make_encoder(", "class VAE(")


def notebook_source():
    """The code cells of notebook 03 that define Sampling, the two networks and the VAE."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    found = [next((c for c in cells if c.startswith(d)), None) for d in DEFINITIONS]
    missing = [d for d, c in zip(DEFINITIONS, found) if c is None]
    assert not missing, f"notebook 03 no longer has a code cell starting with {missing}"
    return "\n\n".join(found)


def notebook_classes(source):
    namespace = dict(keras=keras, tf=tf, tfd=tfp.distributions, layers=layers, models=models,
                     losses=losses)
    exec(compile(source, str(NOTEBOOK), "exec"), namespace)
    return namespace


def _pair(namespace, latent_dim=4):
    """The notebook's VAE and helpers' VAE with the same weights; their sampling layers have the
    same seed, so they draw the same noise call after call."""
    ours = namespace["VAE"](latent_dim=latent_dim, seed=0)
    theirs = models.VAE(input_shape=(28, 28, 1), latent_dim=latent_dim, filters=(32, 64),
                        hidden_units=0, seed=0)
    weights = theirs.encoder.get_weights()
    weights[-1][latent_dim:] = -11.0  # log-variances near the clamp's floor, so the clamp matters
    theirs.encoder.set_weights(weights)
    ours.encoder.set_weights(weights)
    ours.decoder.set_weights(theirs.decoder.get_weights())
    return ours, theirs


def _batch():
    return (np.random.default_rng(0).random((8, 28, 28, 1)) < 0.3).astype("float32")


def largest_differences(namespace):
    """Largest absolute differences between the two models: (loss terms, gradients, one step)."""
    ours, theirs = _pair(namespace)
    x = tf.constant(_batch())
    with tf.GradientTape(persistent=True) as tape:
        terms_ours = ours.loss_terms(x)
        terms_theirs = theirs._step_losses(x)
    loss_diff = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(terms_ours, terms_theirs))
    grads_ours = tape.gradient(terms_ours[0], ours.trainable_weights)
    grads_theirs = tape.gradient(terms_theirs[0], theirs.trainable_weights)
    assert len(grads_ours) == len(grads_theirs)
    grad_diff = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(grads_ours, grads_theirs))
    for model in (ours, theirs):
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        model.train_step((x, x))
    step_diff = max(float(np.max(np.abs(a - b))) for net in ("encoder", "decoder")
                    for a, b in zip(getattr(ours, net).get_weights(), getattr(theirs, net).get_weights()))
    return loss_diff, grad_diff, step_diff


def test_the_notebooks_vae_computes_what_helpers_vae_computes():
    loss_diff, grad_diff, step_diff = largest_differences(notebook_classes(notebook_source()))
    assert loss_diff < 1e-3  # nats: the losses are about 500, float32
    assert grad_diff < 1e-4
    assert step_diff < 1e-6


@pytest.mark.parametrize("change", [
    ("reconstruction + kl", "reconstruction + 0.5 * kl"),  # a beta the text does not mention
    ("-12.0, 8.0", "-10.0, 8.0"),                          # another log-variance clamp
    ("tf.exp(0.5 * log_var)", "tf.exp(log_var)"),          # sigma taken as the variance
])
def test_the_comparison_fails_when_the_notebook_drifts(change):
    source = notebook_source()
    assert change[0] in source
    loss_diff, grad_diff, _ = largest_differences(notebook_classes(source.replace(*change)))
    assert loss_diff > 1e-3 or grad_diff > 1e-4


def test_the_notebooks_sampling_layer_draws_what_helpers_draws():
    namespace = notebook_classes(notebook_source())
    mu, log_var = tf.fill((4, 3), 0.5), tf.fill((4, 3), -1.0)
    ours = namespace["Sampling"](seed=7)([mu, log_var])
    theirs = models.Sampling(seed=7)([mu, log_var])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
