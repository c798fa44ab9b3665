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


def notebook_functions(*names):
    """The functions ``names`` as notebook 05 defines them in its code cells (other statements of
    those cells, which need trained models, are left out)."""
    import ast

    found = {}
    for cell in json.loads(NOTEBOOK.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith(("!", "%")) or "!test" in source:
            continue  # the first cell's shell lines are IPython, not Python
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef) and node.name in names:
                found[node.name] = ast.get_source_segment(source, node)
    assert set(found) == set(names), f"notebook 05 should define {names}, found {sorted(found)}"
    namespace = {"np": np}
    for code in found.values():
        exec(compile(code, str(NOTEBOOK), "exec"), namespace)
    return [namespace[name] for name in names]


def test_the_sharpness_measure_falls_when_images_are_blurred():
    (gradient_energy,) = notebook_functions("gradient_energy")
    x = np.random.default_rng(0).random((4, 16, 16, 3))
    blurred = (x + np.roll(x, 1, axis=1) + np.roll(x, 1, axis=2) + np.roll(x, (1, 1), axis=(1, 2))) / 4
    assert gradient_energy(x).shape == (4,)
    assert np.all(gradient_energy(blurred) < 0.6 * gradient_energy(x))
    assert np.all(gradient_energy(np.full((2, 8, 8, 3), 0.3)) == 0)


def test_the_code_correlation_is_near_zero_for_independent_codes_and_large_for_correlated():
    (code_correlation,) = notebook_functions("code_correlation")
    rng = np.random.default_rng(0)
    n, d = 10_000, 16
    independent = rng.standard_normal((n, d)) * rng.uniform(0.5, 3, d)  # scales do not matter
    nats, ratio = code_correlation(independent)
    assert nats < 2 * d ** 2 / (4 * n) + 0.01  # sampling noise only, about d^2 / 4N nats
    assert ratio == pytest.approx(d, rel=0.05)
    shared = rng.standard_normal((n, 1))
    correlated = shared + 0.1 * rng.standard_normal((n, d))  # every dimension mostly one signal
    nats, ratio = code_correlation(correlated)
    # the Gaussian total correlation of this construction: -1/2 log det of its correlation matrix
    rho = 1 / 1.01
    expected = -0.5 * ((d - 1) * np.log(1 - rho) + np.log(1 + (d - 1) * rho))
    assert nats == pytest.approx(expected, rel=0.05)
    assert ratio < 1.2
