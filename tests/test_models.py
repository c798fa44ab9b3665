import numpy as np
import pytest

from helpers.config import import_tensorflow
from helpers.models import ConvAutoencoder

tf, keras = import_tensorflow()


@pytest.mark.parametrize("input_shape, output_shape", [
    ((32, 32, 3), None), ((32, 32, 3), (16, 16, 1)), ((28, 28, 1), (32, 32, 1)),
])
def test_output_shape_and_range(input_shape, output_shape):
    keras.utils.set_random_seed(0)
    model = ConvAutoencoder(input_shape, output_shape, latent_dim=8, filters=(4, 8) if input_shape[0] == 28 else (4, 8, 8))
    x = np.random.default_rng(0).random((3, *input_shape)).astype(np.float32)
    y = model(x).numpy()
    assert y.shape == (3, *(output_shape or input_shape))
    assert y.min() >= 0 and y.max() <= 1
    assert model.encoder(x).shape == (3, 8)


def test_rejects_shapes_it_cannot_build():
    with pytest.raises(ValueError, match="input_shape .* divisible by 2\\*\\*len\\(filters\\) = 8"):
        ConvAutoencoder((30, 30, 3), filters=(4, 8, 8))
    with pytest.raises(ValueError, match="output_shape"):
        ConvAutoencoder((32, 32, 3), output_shape=(20, 20, 1), filters=(4, 8, 8))


def test_save_and_load_give_identical_outputs(tmp_path):
    keras.utils.set_random_seed(0)
    model = ConvAutoencoder((16, 16, 1), latent_dim=4, filters=(4, 8))
    model.compile("adam", "mse")
    x = np.random.default_rng(1).random((4, 16, 16, 1)).astype(np.float32)
    model.fit(x, x, epochs=1, verbose=0)
    model.save(tmp_path / "ae.keras")
    loaded = keras.models.load_model(tmp_path / "ae.keras")
    assert isinstance(loaded, ConvAutoencoder) and loaded.latent_dim == 4
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_training_reduces_the_reconstruction_error():
    keras.utils.set_random_seed(0)
    x = np.zeros((64, 16, 16, 1), np.float32)
    x[:, 4:12, 4:12] = 1.0  # one bright square: easy to learn
    model = ConvAutoencoder((16, 16, 1), latent_dim=4, filters=(8, 8))
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    before = model.evaluate(x, x, verbose=0)
    model.fit(x, x, epochs=30, batch_size=16, verbose=0)
    after = model.evaluate(x, x, verbose=0)
    assert after < before / 5


def test_timed_fit_decays_the_learning_rate_over_all_steps_and_times_the_fit():
    from helpers.data import image_dataset
    from helpers.models import VAE, timed_fit

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1)).astype(np.uint8)
    data = image_dataset(images, batch_size=10)
    model = VAE(input_shape=(8, 8, 1), latent_dim=2, filters=(4,), hidden_units=8, seed=0)
    history, seconds = timed_fit(model, data, epochs=2, learning_rate=1e-2, alpha=0.1)
    assert len(history.history["loss"]) == 2 and seconds > 0
    # after all 8 steps the schedule has reached alpha * learning_rate
    assert int(model.optimizer.iterations) == 8
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3, rel=1e-4)
    with pytest.raises(ValueError, match="known, finite length"):
        timed_fit(model, data.repeat(), epochs=1)


@pytest.mark.parametrize("kind", ["autoencoder", "VAE"])
def test_fit_traces_the_training_step_once(kind):
    """The optimizer is built before fit traces its step; built inside the trace, its new variables
    make TensorFlow trace the step twice (seconds for every new model)."""
    from helpers.models import VAE

    keras.utils.set_random_seed(0)
    x = (np.random.default_rng(0).random((64, 16, 16, 1)) > 0.5).astype(np.float32)
    if kind == "VAE":
        model, data = VAE(input_shape=(16, 16, 1), latent_dim=2, filters=(4,), hidden_units=8, seed=0), (x,)
        model.compile(keras.optimizers.Adam(1e-3))
    else:
        model, data = ConvAutoencoder((16, 16, 1), latent_dim=2, filters=(4, 4)), (x, x)
        model.compile(keras.optimizers.Adam(1e-3), "mse")
    traced = []
    step = model.train_step
    model.train_step = lambda batch: traced.append(1) or step(batch)
    model.fit(*data, epochs=2, batch_size=16, verbose=0)  # 4 batches of the same shape per epoch
    assert len(traced) == 1 and model.optimizer.built
