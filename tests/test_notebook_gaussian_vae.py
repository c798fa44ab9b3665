"""Notebook 05 defines its Gaussian VAE in a code cell (a subclass of helpers.models.VAE). These
tests read that class out of the committed notebook and check its likelihood against the formula
the notebook states, and that sigma is learned."""

import json

import numpy as np
import pytest

from helpers.config import import_tensorflow

tf, keras = import_tensorflow()

import tensorflow_probability as tfp  # noqa: E402

from helpers.models import VAE  # noqa: E402

from .conftest import REPO_ROOT  # noqa: E402

NOTEBOOK = REPO_ROOT / "notebooks" / "05_autoencoder_vs_vae_on_cifar10.ipynb"


def notebook_gaussian_vae():
    """The class ``GaussianVAE`` as notebook 05 defines it."""
    cells = ["".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"]
             if c["cell_type"] == "code"]
    defining = [c for c in cells if c.startswith("class GaussianVAE(")]
    assert len(defining) == 1, "notebook 05 should define GaussianVAE in one code cell"
    namespace = dict(keras=keras, tf=tf, tfd=tfp.distributions, np=np, VAE=VAE)
    exec(compile(defining[0], str(NOTEBOOK), "exec"), namespace)
    return namespace["GaussianVAE"]


@pytest.fixture(scope="module")
def GaussianVAE():
    return notebook_gaussian_vae()


def _model(GaussianVAE):
    return GaussianVAE(input_shape=(8, 8, 3), latent_dim=2, filters=(4,), hidden_units=0, seed=0)


def test_the_likelihood_is_the_squared_error_formula_of_the_notebook(GaussianVAE):
    model = _model(GaussianVAE)
    rng = np.random.default_rng(0)
    x = rng.random((5, 8, 8, 3)).astype("float32")
    z = rng.normal(size=(5, 2)).astype("float32")
    x_hat = model.decode(z).numpy()
    sigma, d = 0.1, 8 * 8 * 3
    expected = ((x - x_hat) ** 2).sum(axis=(1, 2, 3)) / (2 * sigma ** 2) + d * np.log(sigma) \
        + d / 2 * np.log(2 * np.pi)
    np.testing.assert_allclose(-model.likelihood(z).log_prob(x).numpy(), expected, rtol=1e-4)
    assert model.likelihood(z).event_shape == (8, 8, 3)


def test_sigma_is_a_trained_weight_that_moves_towards_the_error(GaussianVAE):
    model = _model(GaussianVAE)
    assert any(w is model.log_sigma for w in model.trainable_weights)
    x = np.random.default_rng(1).random((64, 8, 8, 3)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, epochs=20, batch_size=64, verbose=0)
    # uniform noise images are far from any reconstruction: the error is large, sigma grows from 0.1
    assert float(np.exp(model.log_sigma.numpy())) > 0.15
