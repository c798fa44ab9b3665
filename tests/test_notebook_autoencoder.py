"""Notebooks 01 and 02 write their autoencoder out in cells (the two networks, the loss and the
training step); helpers.models.ConvAutoencoder is the tested, general version that notebooks 04,
05 and 08 import. These tests read the cells out of the committed notebooks and check that, with
the same weights, both compute the same outputs, loss, gradients and training step."""

import json

import numpy as np
import pytest

from helpers.config import import_tensorflow

tf, keras = import_tensorflow()

from keras import layers  # noqa: E402

from helpers import models  # noqa: E402

from .conftest import REPO_ROOT  # noqa: E402

DEFINITIONS = ("def make_encoder(", "class Autoencoder(")
# notebook -> the ConvAutoencoder arguments its cells must match
NOTEBOOKS = {
    "01_autoencoder_learns_a_transform.ipynb": dict(input_shape=(32, 32, 3), output_shape=(16, 16, 1)),
    "02_autoencoder_on_cifar10.ipynb": dict(input_shape=(32, 32, 3)),
}
LATENT_DIM = 8


def notebook_source(name):
    """The code cells of notebook ``name`` that define the networks and the model."""
    cells = ["".join(c["source"]) for c in json.loads((REPO_ROOT / "notebooks" / name).read_text())["cells"]
             if c["cell_type"] == "code"]
    found = [next((c for c in cells if c.startswith(d)), None) for d in DEFINITIONS]
    missing = [d for d, c in zip(DEFINITIONS, found) if c is None]
    assert not missing, f"{name} no longer has a code cell starting with {missing}"
    return "\n\n".join(found)


def notebook_autoencoder(name, source=None):
    """The class ``Autoencoder`` that notebook ``name`` defines (from ``source`` if given)."""
    namespace = dict(keras=keras, tf=tf, layers=layers, models=models, np=np)
    exec(compile(source or notebook_source(name), name, "exec"), namespace)
    return namespace["Autoencoder"]


def _pair(name, source=None):
    """The notebook's autoencoder and helpers' ConvAutoencoder with the same (random) weights."""
    ours = notebook_autoencoder(name, source)(LATENT_DIM)
    theirs = models.ConvAutoencoder(latent_dim=LATENT_DIM, **NOTEBOOKS[name])
    for net in ("encoder", "decoder"):
        weights = getattr(theirs, net).get_weights()
        assert [w.shape for w in getattr(ours, net).get_weights()] == [w.shape for w in weights], net
        getattr(ours, net).set_weights(weights)
    return ours, theirs


def _batch(name):
    rng = np.random.default_rng(0)
    shapes = NOTEBOOKS[name]
    x = rng.random((8, *shapes["input_shape"]), dtype=np.float32)
    target = rng.random((8, *shapes.get("output_shape", shapes["input_shape"])), dtype=np.float32)
    return tf.constant(x), tf.constant(target)


def largest_differences(name, source=None):
    """Largest differences between the two models: absolute for the outputs, the loss and the
    gradients; for one SGD step, relative to the largest change helpers' step makes."""
    ours, theirs = _pair(name, source)
    x, target = _batch(name)
    output_diff = float(tf.reduce_max(tf.abs(ours(x) - theirs(x))))
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=keras.optimizers.SGD(0.1))
    with tf.GradientTape(persistent=True) as tape:
        loss_ours = tf.reduce_mean(ours.loss_per_image(x, target))
        loss_theirs = theirs.compute_loss(x, target, theirs(x))
    loss_diff = abs(float(loss_ours - loss_theirs))
    grads_ours = tape.gradient(loss_ours, ours.trainable_weights)
    grads_theirs = tape.gradient(loss_theirs, theirs.trainable_weights)
    assert len(grads_ours) == len(grads_theirs)
    grad_diff = max(float(tf.reduce_max(tf.abs(a - b))) for a, b in zip(grads_ours, grads_theirs))
    before = theirs.get_weights()
    assert len(before) == len(ours.get_weights())
    for model in (ours, theirs):
        model.train_step((x, target))
    steps = [(a - w, b - w) for w, a, b in zip(before, ours.get_weights(), theirs.get_weights())]
    step_diff = max(float(np.max(np.abs(a - b))) for a, b in steps)
    step_diff /= max(float(np.max(np.abs(b))) for _, b in steps)  # relative to helpers' step
    return output_diff, loss_diff, grad_diff, step_diff


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebooks_autoencoder_computes_what_helpers_computes(name):
    output_diff, loss_diff, grad_diff, step_diff = largest_differences(name)
    assert output_diff < 1e-6  # pixels in [0, 1]
    assert loss_diff < 1e-7    # the loss is about 0.1 per pixel here
    assert grad_diff < 1e-6
    assert step_diff < 1e-4


@pytest.mark.parametrize("name", NOTEBOOKS)
@pytest.mark.parametrize("change", [
    ('activation="sigmoid"', 'activation="relu"'),  # outputs no longer squashed into [0, 1]
    ("tf.square(", "tf.abs("),                      # mean absolute error instead of squared
    ("loss = tf.reduce_mean(losses)", "loss = tf.reduce_sum(losses)"),  # summed over the batch
])
def test_the_comparison_fails_when_the_notebook_drifts(name, change):
    source = notebook_source(name)
    assert change[0] in source
    output_diff, loss_diff, grad_diff, step_diff = largest_differences(name, source.replace(*change))
    assert output_diff > 1e-4 or loss_diff > 1e-4 or grad_diff > 1e-4 or step_diff > 1e-2


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_the_notebooks_autoencoder_trains_and_validates_on_image_pairs(name):
    """``fit`` with validation data logs the mean loss over the images: the step's loss."""
    ours, _ = _pair(name)
    x, target = _batch(name)
    ours.compile(optimizer=keras.optimizers.SGD(0.0))  # no update: both logs see the same weights
    data = tf.data.Dataset.from_tensor_slices((x, target)).batch(3)  # batches of 3, 3 and 2
    logs = ours.fit(data, validation_data=data, epochs=1, verbose=0).history
    expected = float(tf.reduce_mean(ours.loss_per_image(x, target)))
    assert logs["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert logs["val_loss"][0] == pytest.approx(expected, rel=1e-5)
