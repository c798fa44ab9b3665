"""Models the notebooks share: a plain convolutional autoencoder and a variational autoencoder.

Both expect images with pixel values in [0, 1] (``helpers.data.image_dataset`` scales uint8 images).
``model(x)``, ``predict``, ``encode`` and ``decode`` refuse anything else with a clear error. Their
``fit`` and ``evaluate`` stop with one when a batch holds pixels outside [0, 1] (or a CVAE's labels
are not one-hot), the loss becomes NaN or infinite, or training runs away (``TrainingGuard``), with
or without XLA (``jit_compile``); a bad batch updates no weight (``GuardedModel.apply_if_sound``).
"""

import warnings

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import layers

from helpers import losses

tfd = tfp.distributions

if keras.backend.backend() != "tensorflow":
    raise ImportError(f"helpers needs Keras on the TensorFlow backend, but Keras was imported with the "
                      f"{keras.backend.backend()!r} backend. Restart the kernel and import helpers before "
                      f"keras (helpers sets KERAS_BACKEND=tensorflow), or set KERAS_BACKEND=tensorflow.")

LOG_VAR_RANGE = (-12.0, 8.0)  # sigma between 0.0025 and 55: keeps exp(log_var) finite early in training

# The MNIST networks of notebooks 03, 04 and 08: two stride-2 convolutions straight to a 16-D z (no
# dense hidden layer, as in TensorFlow's CVAE tutorial), 0.23 M parameters. A 512-unit dense layer
# (notebook 07 still has one) makes them 3.3 M, too big to ship as weights (helpers.pretrained),
# and after 3 epochs it is 3 nats worse (benchmarks/results/mnist_hidden_units.md).
MNIST_NET = dict(input_shape=(28, 28, 1), latent_dim=16, filters=(32, 64), hidden_units=0)


def check_architecture(shape, filters, latent_dim, hidden_units, what="input_shape"):
    """Raise a clear error unless the arguments describe a network that can be built.

    ``shape`` must be ``(height, width, channels)`` with height and width divisible by
    ``2**len(filters)``; ``filters`` a non-empty sequence of positive integers; ``latent_dim`` a
    positive integer; ``hidden_units`` an integer >= 0.
    """
    if np.ndim(filters) != 1 or len(filters) == 0 or any(int(f) < 1 for f in filters):
        raise ValueError(f"filters={filters!r}: expected a non-empty sequence of positive channel counts, "
                         f"e.g. (32, 64).")
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim={latent_dim!r}: expected a positive integer, e.g. 16.")
    if int(hidden_units) < 0:
        raise ValueError(f"hidden_units={hidden_units!r}: expected an integer >= 0 (0: no dense layer).")
    scale = 2 ** len(filters)
    if np.ndim(shape) != 1 or len(shape) != 3 or shape[0] % scale or shape[1] % scale or min(shape) < 1:
        raise ValueError(f"{what} {tuple(shape)}: expected (height, width, channels) with height and "
                         f"width divisible by 2**len(filters) = {scale}.")


def check_images(x, name, what="images"):
    """Raise a clear error unless the concrete batch ``x`` holds finite pixel values in [0, 1].

    The check of every inference entry point (``model(x)``, ``predict``'s batches, ``encode``):
    one min, one max and one finiteness test, a few microseconds for a batch. Symbolic tensors
    (inside a traced step) pass through: there ``record_pixel_range`` and ``TrainingGuard`` check.
    """
    if not tf.executing_eagerly() or isinstance(x, keras.KerasTensor):
        return
    x = tf.convert_to_tensor(x)
    if x.dtype == tf.bool:
        return
    values = tf.cast(x, tf.float32)
    if not bool(tf.reduce_all(tf.math.is_finite(values))):
        raise ValueError(f"{name} got NaN or infinite pixel values in its {what}; expected finite "
                         f"values in [0, 1]. Find them with np.isfinite(x).all() and fix the data.")
    if not int(tf.size(values)):
        return
    low, high = float(tf.reduce_min(values)), float(tf.reduce_max(values))
    if not (low >= 0 and high <= 1):
        raise ValueError(f"{name} got {what} with pixel values in [{low:.4g}, {high:.4g}] (dtype "
                         f"{x.dtype.name}); expected [0, 1]. Divide uint8 images by 255 "
                         f"(helpers.data.to_float(x), or pass helpers.data.image_dataset(x, "
                         f"shuffle=False)), map [-1, 1] images with (x + 1) / 2.")


class TrainingGuard(keras.callbacks.Callback):
    """Stop ``fit``/``evaluate``/``predict`` with a clear error on bad input or runaway training.

    ``tf.debugging.check_numerics`` does not fire inside an XLA-compiled step (the default for
    Keras 3 on a GPU), so the checks happen here, after each batch, on what the step recorded:
    the logged loss and the model's ``pixel_range`` (min, max, all finite, of the images seen
    since the epoch began) and ``label_range``. The models below add this callback to every
    ``fit``, ``evaluate`` and ``predict`` call themselves. Their training steps skip the update of
    a batch with bad pixels or labels or a non-finite loss (``apply_if_sound``), so when the guard
    stops training the weights are still those learned from the good batches.

    Runaway training that stays finite is caught too: a running loss that rises above both
    ``DIVERGED`` times its lowest value so far and its first value (for losses that stay
    positive), and a ``ConvAutoencoder`` whose output was the same for every image of an epoch
    (a dead network).

    The check is ``async_safe``: Keras runs it in a worker thread while the next step proceeds, so
    it does not stall training at every batch; its error reaches ``fit`` a batch or so later.
    """

    async_safe = True
    epoch = 0
    DIVERGED = 10.0

    def on_train_begin(self, logs=None):
        self.model.reset_pixel_range()
        self.first_loss, self.lowest_loss = None, np.inf

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.model.reset_pixel_range()
        if getattr(self.model, "spread", None) is not None:  # not at on_test_begin: validation
            self.model.spread.assign([0.0, 0.0])  # runs before on_epoch_end reads it

    def on_test_begin(self, logs=None):
        self.model.reset_pixel_range()

    on_predict_begin = on_test_begin

    def on_train_batch_end(self, batch, logs=None):
        where = f"training, epoch {self.epoch + 1}, around batch {batch + 1}"
        self._check(logs, where)
        self._check_divergence(logs, where)

    def on_test_batch_end(self, batch, logs=None):
        self._check(logs, f"evaluation, around batch {batch + 1}")

    def on_predict_batch_end(self, batch, logs=None):
        self._check(None, f"predict, around batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        spread = getattr(self.model, "spread", None)
        if spread is None:
            return
        inputs, outputs = (float(v) for v in spread.numpy())
        if inputs > 0 and outputs <= 1e-6:
            raise FloatingPointError(
                f"{type(self.model).__name__} gave the same output for every image in epoch "
                f"{epoch + 1}: the network is dead (its units no longer respond to the input), "
                f"which a learning rate too high causes{self._learning_rate()}. Build a fresh "
                f"model and train it with a lower learning rate (the series uses 1e-3 with Adam).")

    def _learning_rate(self):
        try:
            return f" (this optimizer's is {float(self.model.optimizer.learning_rate):.3g})"
        except (AttributeError, TypeError, ValueError):
            return ""

    def _check(self, logs, where):
        name = type(self.model).__name__
        skipped = (" No update was made with such a batch, so the weights are those learned from "
                   "the good batches." if where.startswith("training") else "")
        low, high, finite = (float(v) for v in self.model.pixel_range.numpy())
        if not finite:
            raise ValueError(f"{name} got NaN or infinite pixel values ({where}); expected finite "
                             f"values in [0, 1]. Find them with np.isfinite(x).all() and fix the "
                             f"data.{skipped}")
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"{name} got pixel values in [{low:.4g}, {high:.4g}] ({where}); expected "
                             f"[0, 1]. Divide uint8 images by 255 (helpers.data.image_dataset does), "
                             f"and map [-1, 1] images with (x + 1) / 2.{skipped}")
        labels = getattr(self.model, "label_range", None)
        if labels is not None:
            low, high, off = (float(v) for v in labels.numpy())
            if not (low >= 0 and high <= 1 and off <= 1e-3):
                raise ValueError(
                    f"{name} got labels that are not one-hot ({where}): values in [{low:.3g}, "
                    f"{high:.3g}], row sums that differ from 1 by up to {off:.3g}; expected rows "
                    f"of values in [0, 1] that sum to 1. Use keras.utils.to_categorical(y, "
                    f"{self.model.condition_dim}) on integer labels.{skipped}")
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            raise FloatingPointError(f"{name} loss is NaN or infinite ({where}) although the pixels are "
                                     f"finite and in [0, 1]: lower the learning rate"
                                     f"{self._learning_rate()}.{skipped}")

    def _check_divergence(self, logs, where):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if self.first_loss is None:
            self.first_loss = loss
        self.lowest_loss = min(self.lowest_loss, loss)
        if self.lowest_loss > 0 and loss > max(self.DIVERGED * self.lowest_loss, self.first_loss):
            raise FloatingPointError(
                f"{type(self.model).__name__} training is diverging ({where}): the loss rose to "
                f"{loss:.4g}, more than {self.DIVERGED:g} times its lowest value so far "
                f"({self.lowest_loss:.4g}) and above where it started ({self.first_loss:.4g}). A "
                f"learning rate too high does this{self._learning_rate()}: build a fresh model and "
                f"train it with a learning rate 10 times lower.")


def _with_guard(callbacks):
    """The user's callbacks plus a ``TrainingGuard``."""
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks  # fit's own list, handed to evaluate for validation: the guard is in it
    return [*(callbacks or []), TrainingGuard()]


class GuardedModel(keras.Model):
    """A ``keras.Model`` whose ``fit``, ``evaluate`` and ``predict`` run ``TrainingGuard``, and
    whose ``load_weights`` says clearly when a weights file belongs to another architecture or
    training setting.

    Subclasses record each batch's pixel range with ``record_pixel_range`` inside their steps and
    update the weights with ``apply_if_sound``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # plain tf.Variables: not model weights, so saved files do not change
        self.pixel_range = tf.Variable([np.inf, -np.inf, 1.0], trainable=False, name="pixel_range")

    def reset_pixel_range(self):
        """Forget the images seen so far (``TrainingGuard`` calls it as each epoch begins)."""
        self.pixel_range.assign([np.inf, -np.inf, 1.0])

    def record_pixel_range(self, *images):
        """Fold the batch's images into ``[min, max, 1.0 if all finite else 0.0]`` for the guard.

        Returns:
            A boolean tensor: whether this batch's pixels are all finite and in [0, 1].
        """
        images = [tf.cast(x, tf.float32) for x in images]
        low = tf.reduce_min([tf.reduce_min(x) for x in images])
        high = tf.reduce_max([tf.reduce_max(x) for x in images])
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(x)) for x in images])
        seen = self.pixel_range
        self.pixel_range.assign(tf.stack([tf.minimum(seen[0], low), tf.maximum(seen[1], high),
                                          seen[2] * tf.cast(finite, tf.float32)]))
        return finite & (low >= 0) & (high <= 1)

    def apply_if_sound(self, sound, loss, gradients):
        """Apply the optimizer's update unless the batch was unsound or the loss is not finite.

        A bad batch is then never learned from, so the weights stay as the good batches left
        them when ``TrainingGuard`` stops training a batch or so later.
        """
        def update():
            self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))

        tf.cond(sound & tf.math.is_finite(loss), update, lambda: None)

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.record_pixel_range(x[0] if isinstance(x, (list, tuple)) else x)
        return super().predict_step(data)

    def fit(self, *args, callbacks=None, **kwargs):
        optimizer = getattr(self, "optimizer", None)
        if self.built and optimizer is not None and not optimizer.built:
            # built here, not inside the first trace of the training step: a tf.function that
            # creates variables is traced twice, which costs seconds for every new model
            optimizer.build(self.trainable_variables)
        return super().fit(*args, callbacks=_with_guard(callbacks), **kwargs)

    def evaluate(self, *args, callbacks=None, **kwargs):
        return super().evaluate(*args, callbacks=_with_guard(callbacks), **kwargs)

    def predict(self, *args, callbacks=None, **kwargs):
        return super().predict(*args, callbacks=_with_guard(callbacks), **kwargs)

    def architecture(self):
        """The constructor arguments that decide the weights' shapes."""
        config = self.get_config()
        keys = ("input_shape", "output_shape", "latent_dim", "filters", "hidden_units", "num_classes",
                "condition_dim")
        return {key: config[key] for key in keys if key in config}

    def settings(self):
        """Training settings a weights file must agree with (none here; a ``VAE``: beta, gamma)."""
        return {}

    def load_weights(self, filepath, *args, **kwargs):
        before, settings = self.get_weights(), self.settings()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = super().load_weights(filepath, *args, **kwargs)
            except ValueError as error:
                self._put_back(before)
                raise ValueError(
                    f"{filepath} does not fit this {type(self).__name__} {self.architecture()}: it was "
                    f"saved from a model built with other arguments. Build the model with the "
                    f"arguments it was saved with, then load the weights.") from error
        loaded = self.settings()
        differ = {key: (settings[key], loaded[key]) for key in settings
                  if not np.isclose(settings[key], loaded[key], rtol=1e-3)}
        if differ:
            self._put_back(before)
            self._restore_settings(settings)
            built = ", ".join(f"{key}={old:g}" for key, (old, _) in differ.items())
            saved = ", ".join(f"{key}={new:g}" for key, (_, new) in differ.items())
            raise ValueError(
                f"{filepath} was trained with {saved}, but this {type(self).__name__} was built "
                f"with {built}; nothing was loaded. Build the model with {saved} to use these "
                f"weights as they were trained (to train them on with other settings, load them "
                f"into such a model, then set the new values: model.beta.assign(...), "
                f"model.gamma = ...).")
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return result

    def _put_back(self, weights):
        """Restore the weights held before a refused load (a partial load may have changed some)."""
        if len(weights) == len(self.weights):
            self.set_weights(weights)

    def _restore_settings(self, settings):
        """Put back settings that are not weights (a ``VAE``'s gamma) after a refused load."""


def _described(value):
    """A short description of a model's input for error messages."""
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    shape = getattr(value, "shape", None)
    if shape is None:
        return f"a {type(value).__name__}"
    return f"one array of shape {tuple(shape)}"


def conv_encoder(input_shape, filters, hidden_units, output_dim, condition_dim=0, name="encoder"):
    """Stride-2 3x3 convolutions, flatten, an optional dense layer, then ``output_dim`` numbers.

    With ``condition_dim > 0`` the model takes a second input (e.g. a one-hot label) that is
    concatenated to the flattened features.
    """
    x = image = keras.Input(input_shape)
    for f in filters:
        x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    inputs = [image]
    if condition_dim:
        inputs.append(keras.Input((condition_dim,)))
        x = layers.Concatenate()([x, inputs[1]])
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu")(x)
    # float32 output under a mixed-precision policy: the distribution's parameters need the precision
    outputs = layers.Dense(output_dim, dtype="float32")(x)
    return keras.Model(inputs if condition_dim else image, outputs, name=name)


def conv_decoder(output_shape, filters, hidden_units, latent_dim, condition_dim=0, activation=None,
                 name="decoder"):
    """The mirror of ``conv_encoder``: dense layers, a small grid, stride-2 transposed convolutions.

    The grid is ``output_shape`` divided by ``2**len(filters)``. Returns ``(batch, *output_shape)``:
    logits with ``activation=None``, else the activation of them.
    """
    h, w, c = output_shape
    scale = 2 ** len(filters)
    x = z = keras.Input((latent_dim,))
    inputs = [z]
    if condition_dim:
        inputs.append(keras.Input((condition_dim,)))
        x = layers.Concatenate()(inputs)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu")(x)
    x = layers.Dense((h // scale) * (w // scale) * filters[-1], activation="relu")(x)
    x = layers.Reshape((h // scale, w // scale, filters[-1]))(x)
    for f in reversed(filters):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
    outputs = layers.Conv2DTranspose(c, 3, padding="same", activation=activation, dtype="float32")(x)
    return keras.Model(inputs if condition_dim else z, outputs, name=name)


@keras.saving.register_keras_serializable(package="helpers")
class ConvAutoencoder(GuardedModel):
    """A convolutional autoencoder ``x' = decoder(encoder(x))``, a plain (not variational) one.

    Encoder (``conv_encoder``): ``len(filters)`` 3x3 convolutions with stride 2 (each halves height
    and width), then a dense layer to a code ``z`` of ``latent_dim`` numbers. Decoder
    (``conv_decoder``): a dense layer to a small grid, stride-2 transposed convolutions up to the
    output size, and a sigmoid so outputs lie in [0, 1]. Inputs and targets are pixels in [0, 1].

    The output shape need not equal the input shape: notebook 01 maps 32x32x3 colour images to
    16x16x1 grayscale targets. Train it with ``compile(loss=...)`` and ``fit`` as any Keras model.

    Args:
        input_shape: ``(H, W, C)`` of the inputs; ``H`` and ``W`` divisible by ``2**len(filters)``.
        output_shape: ``(H, W, C)`` of the outputs, the same rule. Default: ``input_shape``.
        latent_dim: size of the code ``z``.
        filters: channels of the encoder's convolutions (the decoder uses them in reverse).
        hidden_units: width of a dense layer between the convolutions and ``z`` (0: none), as in
            ``VAE``, so that the two can share an architecture.
    """

    def __init__(self, input_shape=(32, 32, 3), output_shape=None, latent_dim=64,
                 filters=(32, 64, 128), hidden_units=0, **kwargs):
        check_architecture(input_shape, filters, latent_dim, hidden_units)
        check_architecture(output_shape or input_shape, filters, latent_dim, hidden_units, "output_shape")
        super().__init__(**kwargs)
        self.image_shape = tuple(input_shape)
        self.target_shape = tuple(output_shape or input_shape)
        self.latent_dim = int(latent_dim)
        self.filters = tuple(filters)
        self.hidden_units = int(hidden_units)
        self.encoder = conv_encoder(self.image_shape, self.filters, self.hidden_units, self.latent_dim)
        self.decoder = conv_decoder(self.target_shape, self.filters, self.hidden_units, self.latent_dim,
                                    activation="sigmoid")
        # the largest spread over a batch (max - min over its images, largest over the pixels) of
        # the inputs and of the outputs since the epoch began: equal outputs mean a dead network
        self.spread = tf.Variable([0.0, 0.0], trainable=False, name="spread")
        self.build((None, *self.image_shape))

    def __call__(self, x, *args, **kwargs):
        check_images(x, type(self).__name__)  # here, not in call: Keras would wrap the error
        return super().__call__(x, *args, **kwargs)

    def call(self, x):
        return self.decoder(self.encoder(x))

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if not training:  # train_step records its batches itself
            self.record_pixel_range(x, y)
        # the loss the user compiled with
        return super().compute_loss(x, y, y_pred, sample_weight, training=training)

    def train_step(self, data):
        """Keras's own training step, except that a bad batch updates nothing (``apply_if_sound``)
        and the spread of inputs and outputs is recorded for ``TrainingGuard``."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sound = self.record_pixel_range(x, y)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        self.apply_if_sound(sound, loss, tape.gradient(scaled_loss, self.trainable_weights))
        spread = [tf.reduce_max(tf.reduce_max(a, axis=0) - tf.reduce_min(a, axis=0))
                  for a in (tf.cast(x, tf.float32), tf.cast(y_pred, tf.float32))]
        self.spread.assign(tf.maximum(self.spread, tf.stack(spread)))
        for metric in self.metrics:
            if metric.name == "loss":  # weighted by the batch size, as Keras's own step does
                metric.update_state(loss, sample_weight=tf.shape(x)[0])
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        return {**super().get_config(), "input_shape": self.image_shape,
                "output_shape": self.target_shape, "latent_dim": self.latent_dim,
                "filters": self.filters, "hidden_units": self.hidden_units}


@keras.saving.register_keras_serializable(package="helpers")
class Sampling(layers.Layer):
    """The reparameterization trick: ``z = mu + sigma * eps`` with ``eps ~ N(0, I)``.

    The randomness sits in ``eps``, which does not depend on the weights, so gradients flow from
    ``z`` back to ``mu`` and ``log_var``.

    Call with ``[mu, log_var]``, each ``(batch, latent_dim)``; returns ``z``, ``(batch, latent_dim)``.
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        mu, log_var = inputs
        eps = keras.random.normal(keras.ops.shape(mu), seed=self.seed_generator)
        return mu + keras.ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="helpers")
class VAE(GuardedModel):
    """A variational autoencoder for images with pixels in [0, 1] and a Bernoulli likelihood.

    - encoder ``q(z|x) = N(mu(x), diag(exp(log_var(x))))``, log-variance clamped to ``LOG_VAR_RANGE``;
    - prior ``p(z) = N(0, I)``;
    - decoder ``p(x|z) = prod_i Bernoulli(x_i; sigmoid(logits_i(z)))``.

    Training minimises the negative ELBO (``losses.elbo_terms``), in nats per image:
    ``loss = mean over the batch of [reconstruction + beta * kl]``, where ``reconstruction`` is
    ``-log p(x|z)`` summed over pixels and ``kl`` is ``KL(q(z|x) || p(z))`` summed over latent
    dimensions. With ``gamma > 0`` the capacity objective of Burgess et al. (2018) replaces it:
    ``mean(reconstruction) + gamma * |mean(kl) - capacity|``. ``beta`` and ``capacity`` are
    non-trainable weights, so a callback (``LinearAnnealing``) may change them during training.

    ``fit`` takes batches of images ``x``, or ``(x, target)`` pairs of the same shape (then the
    target is reconstructed: ``-log p(target|z)``, ``z ~ q(z|x)``; ``image_dataset(x)`` yields
    ``(x, x)``). ``model(x)`` returns the decoded pixel probabilities at the posterior mean,
    ``(batch, H, W, C)``.

    Args:
        input_shape: ``(H, W, C)``, ``H`` and ``W`` divisible by ``2**len(filters)``.
        latent_dim: size of ``z``.
        filters: channels of the encoder's stride-2 convolutions (reversed in the decoder).
        hidden_units: width of a dense layer between the convolutions and ``z`` (0: none).
        beta: weight of the KL term, >= 0 (1: the ELBO; > 1: a beta-VAE).
        gamma: weight of ``|KL - capacity|`` in the capacity objective, >= 0; 0 (default) uses beta.
        capacity: the target KL in nats for the capacity objective, >= 0 (usually annealed upwards).
        seed: seed of the sampling layer.
        condition_dim: size of a label fed to encoder and decoder (0: none); see ``CVAE``.
    """

    def __init__(self, input_shape=(28, 28, 1), latent_dim=16, filters=(32, 64), hidden_units=256,
                 beta=1.0, gamma=0.0, capacity=0.0, seed=None, condition_dim=0, **kwargs):
        check_architecture(input_shape, filters, latent_dim, hidden_units)
        for name, value in (("beta", beta), ("gamma", gamma), ("capacity", capacity)):
            if not float(value) >= 0:  # also refuses NaN
                raise ValueError(f"{name}={value!r}: expected a number >= 0 (a negative weight would "
                                 f"reward the KL term, or the capacity, without bound).")
        super().__init__(**kwargs)
        self.condition_dim = int(condition_dim)
        self.image_shape = tuple(input_shape)
        self.latent_dim = int(latent_dim)
        self.filters = tuple(filters)
        self.hidden_units = int(hidden_units)
        self.seed = seed
        self.gamma = float(gamma)
        self.encoder = conv_encoder(self.image_shape, self.filters, self.hidden_units, 2 * self.latent_dim,
                                    condition_dim=self.condition_dim)
        self.decoder = conv_decoder(self.image_shape, self.filters, self.hidden_units, self.latent_dim,
                                    condition_dim=self.condition_dim)
        self.sampler = Sampling(seed=seed, dtype="float32")
        self.beta = self.add_weight(shape=(), initializer=keras.initializers.Constant(beta),
                                    trainable=False, name="beta")
        self.capacity = self.add_weight(shape=(), initializer=keras.initializers.Constant(capacity),
                                        trainable=False, name="capacity")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "reconstruction", "kl")}
        self.label_range = (tf.Variable([np.inf, -np.inf, 0.0], trainable=False, name="label_range")
                            if self.condition_dim else None)
        self.sampler.build((None, self.latent_dim))
        image = (None, *self.image_shape)
        self.build([image, (None, self.condition_dim)] if self.condition_dim else image)

    # ---- the three distributions
    def encode(self, x, condition=None):
        """``x`` ``(batch, H, W, C)`` -> ``(mu, log_var)``, each ``(batch, latent_dim)``."""
        check_images(x, type(self).__name__)
        mu, log_var = keras.ops.split(self.encoder(self._with_condition(x, condition)), 2, axis=-1)
        return mu, keras.ops.clip(log_var, *LOG_VAR_RANGE)

    def decode_logits(self, z, condition=None):
        """``z`` ``(batch, latent_dim)`` -> Bernoulli logits ``(batch, H, W, C)``."""
        self._check_codes(z)
        return self.decoder(self._with_condition(z, condition))

    def _check_codes(self, z):
        """Raise a clear error unless a concrete ``z`` is finite points ``(batch, latent_dim)``."""
        if not tf.executing_eagerly() or isinstance(z, keras.KerasTensor):
            return
        shape = tuple(keras.ops.shape(z))
        if len(shape) != 2 or shape[1] != self.latent_dim:
            images = (" (images: encode them first, or call the model on them)"
                      if len(shape) == 4 else "")
            raise ValueError(f"{type(self).__name__}.decode takes latent points of shape (batch, "
                             f"{self.latent_dim}), got shape {shape}{images}.")
        if not bool(tf.reduce_all(tf.math.is_finite(tf.cast(z, tf.float32)))):
            raise ValueError(f"{type(self).__name__}.decode got latent points with NaN or inf "
                             f"values; check how they were made (np.isfinite(z).all()).")

    def _with_condition(self, inputs, condition):
        """The networks' input: ``inputs`` alone, or ``[inputs, condition]`` as float32 tensors."""
        if not self.condition_dim:
            if condition is not None:
                raise ValueError(f"This {type(self).__name__} is unconditional (condition_dim=0) but was "
                                 f"given a condition: drop it, or build a CVAE to condition on labels.")
            return inputs
        inputs = keras.ops.convert_to_tensor(inputs, "float32")
        if condition is None:
            raise ValueError(f"This {type(self).__name__} is conditional: pass one-hot labels of shape "
                             f"(batch, {self.condition_dim}) with the images or codes.")
        condition = keras.ops.convert_to_tensor(condition, "float32")
        shape, batch = tuple(condition.shape), inputs.shape[0]
        if (len(shape) != 2 or shape[1] != self.condition_dim
                or (None not in (shape[0], batch) and shape[0] != batch)):
            raise ValueError(
                f"Expected one-hot labels of shape ({batch}, {self.condition_dim}), got shape {shape}. "
                f"One-hot encode integer labels with keras.utils.to_categorical(y, {self.condition_dim}).")
        if tf.executing_eagerly():
            values = condition.numpy()
            if values.min() < 0 or values.max() > 1 or not np.allclose(values.sum(axis=1), 1, atol=1e-3):
                raise ValueError(f"Labels must be one-hot (or class probabilities): rows of values in "
                                 f"[0, 1] that sum to 1; got values in [{values.min():.3g}, "
                                 f"{values.max():.3g}]. Use keras.utils.to_categorical(y, "
                                 f"{self.condition_dim}).")
        return [inputs, condition]

    def decode(self, z, condition=None):
        """``z`` -> pixel probabilities in [0, 1], the mean of ``p(x|z)``."""
        return keras.ops.sigmoid(self.decode_logits(z, condition))

    def posterior(self, x, condition=None):
        """``q(z|x)`` as a TFP distribution with batch shape ``(batch,)``, event ``(latent_dim,)``."""
        return losses.posterior_from(*self.encode(x, condition))

    def prior(self):
        """``p(z) = N(0, I)``, event shape ``(latent_dim,)``."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros(self.latent_dim), scale_diag=tf.ones(self.latent_dim))

    def likelihood(self, z, condition=None):
        """``p(x|z)``: independent Bernoulli pixels, event shape ``(H, W, C)``."""
        return tfd.Independent(tfd.Bernoulli(logits=self.decode_logits(z, condition)), reinterpreted_batch_ndims=3)

    def __call__(self, inputs, *args, **kwargs):
        # checked here, not in call, so that Keras does not wrap the error in its own message
        if self.condition_dim and not (isinstance(inputs, (list, tuple)) and len(inputs) == 2):
            raise ValueError(f"This {type(self).__name__} is conditional: call it on [images, "
                             f"one-hot labels], e.g. model([x, keras.utils.to_categorical(y, "
                             f"{self.condition_dim})]); it was given {_described(inputs)}.")
        check_images(inputs[0] if self.condition_dim else inputs, type(self).__name__)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        """Pixel probabilities decoded at the posterior mean: ``x`` or, conditional, ``[x, y]``."""
        x, condition = inputs if self.condition_dim else (inputs, None)
        mu, _ = self.encode(x, condition)
        return self.decode(mu, condition)

    # ---- training
    @property
    def metrics(self):
        return list(self.trackers.values())

    def _unpack(self, data):
        """A batch from ``fit`` -> ``(x, target, condition)``.

        Unconditional: ``x`` alone or ``(x, target)`` with ``target`` of ``x``'s shape.
        Conditional: ``(x, one-hot label)``; the target is ``x``.
        """
        if self.condition_dim:
            if not isinstance(data, (tuple, list)) or len(data) < 2:
                raise ValueError(f"A {type(self).__name__} trains on (image, one-hot label) batches, e.g. "
                                 f"image_dataset(x, keras.utils.to_categorical(y, {self.condition_dim})).")
            return data[0], data[0], data[1]
        if not isinstance(data, (tuple, list)):
            return data, data, None
        x, target = data[0], data[1]
        if tuple(target.shape[1:]) != tuple(x.shape[1:]):
            raise ValueError(f"An unconditional {type(self).__name__} reconstructs images: its targets must "
                             f"have the images' shape {tuple(x.shape[1:])}, got {tuple(target.shape[1:])}. "
                             f"Pass image_dataset(x) (no targets), or use a CVAE to condition on labels.")
        return x, target, None

    def _step_losses(self, data):
        """The batch's loss and its terms, and whether its pixels (and labels) were sound."""
        x, target, condition = self._unpack(data)
        sound = self.record_pixel_range(x, target)
        if condition is not None:
            sound &= self.record_label_range(condition)
        reconstruction, kl = losses.elbo_terms(self, x, condition, target=target)  # (batch,) each, nats
        if self.gamma > 0:  # the capacity objective: hold the mean KL near the target C
            loss = tf.reduce_mean(reconstruction) + self.gamma * tf.abs(tf.reduce_mean(kl) - self.capacity)
        else:  # the beta-VAE; beta = 1 is the negative ELBO
            loss = tf.reduce_mean(reconstruction + self.beta * kl)
        return loss, reconstruction, kl, sound

    def reset_pixel_range(self):
        super().reset_pixel_range()
        if self.label_range is not None:
            self.label_range.assign([np.inf, -np.inf, 0.0])

    def record_label_range(self, condition):
        """Fold a batch's labels into ``[min, max, largest |row sum - 1|]`` for the guard.

        Returns:
            A boolean tensor: whether every row is one-hot (or class probabilities).
        """
        condition = tf.cast(condition, tf.float32)
        low, high = tf.reduce_min(condition), tf.reduce_max(condition)
        off = tf.reduce_max(tf.abs(tf.reduce_sum(condition, axis=-1) - 1.0))
        off = tf.where(tf.math.is_finite(off), off, np.inf)
        seen = self.label_range
        self.label_range.assign(tf.stack([tf.minimum(seen[0], low), tf.maximum(seen[1], high),
                                          tf.maximum(seen[2], off)]))
        return (low >= 0) & (high <= 1) & (off <= 1e-3)

    def _update_trackers(self, loss, reconstruction, kl):
        self.trackers["loss"].update_state(loss)
        self.trackers["reconstruction"].update_state(tf.reduce_mean(reconstruction))
        self.trackers["kl"].update_state(tf.reduce_mean(kl))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, reconstruction, kl, sound = self._step_losses(data)
            scaled_loss = self.optimizer.scale_loss(loss)  # loss scaling under mixed_float16, else loss
        self.apply_if_sound(sound, loss, tape.gradient(scaled_loss, self.trainable_weights))
        return self._update_trackers(loss, reconstruction, kl)

    def test_step(self, data):
        return self._update_trackers(*self._step_losses(data)[:3])

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self.condition_dim and isinstance(x, (list, tuple)) and len(x) == 2:
            self.record_label_range(x[1])
        return super().predict_step(data)

    # ---- settings that weights files carry
    def settings(self):
        """``beta`` and ``gamma``: ``load_weights`` refuses a file trained with others."""
        return {"beta": float(keras.ops.convert_to_numpy(self.beta)), "gamma": self.gamma}

    def _restore_settings(self, settings):
        self.gamma = settings["gamma"]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["gamma"] = np.float32(self.gamma)  # not a weight, so that older files still load

    def load_own_variables(self, store):
        variables = {key: store[key] for key in store.keys()}
        if "gamma" in variables:  # absent from files written before gamma was saved
            self.gamma = float(np.asarray(variables.pop("gamma")))
        super().load_own_variables(variables)

    def get_config(self):
        return {**super().get_config(), "input_shape": self.image_shape, "latent_dim": self.latent_dim,
                "filters": self.filters, "hidden_units": self.hidden_units,
                "beta": float(keras.ops.convert_to_numpy(self.beta)), "gamma": self.gamma,
                "capacity": float(keras.ops.convert_to_numpy(self.capacity)), "seed": self.seed,
                "condition_dim": self.condition_dim}


@keras.saving.register_keras_serializable(package="helpers")
class CVAE(VAE):
    """A conditional VAE (Sohn et al. 2015): ``q(z|x, y)``, ``p(x|z, y)``, prior ``N(0, I)``.

    The label ``y``, one-hot ``(batch, num_classes)``, is concatenated to the encoder's features
    and to the decoder's input, so ``z`` is free to hold what the label does not say (the style).
    Train on ``(image, one-hot label)`` pairs, e.g.
    ``image_dataset(x, keras.utils.to_categorical(y), binarize=True)``. ``model([x, y])`` decodes
    the posterior mean; ``model.decode(z, y)`` generates. Other arguments as ``VAE``.
    """

    def __init__(self, num_classes=10, **kwargs):
        kwargs.pop("condition_dim", None)
        if int(num_classes) < 1:
            raise ValueError(f"num_classes={num_classes!r}: expected a positive integer, e.g. 10.")
        super().__init__(condition_dim=num_classes, **kwargs)

    def get_config(self):
        config = super().get_config()
        config["num_classes"] = config.pop("condition_dim")
        return config


def timed_fit(model, data, epochs, learning_rate=1e-3, alpha=0.05, validation_data=None, **compile_args):
    """Compile ``model`` with Adam on a cosine-decay schedule, fit it, and time the fit.

    The learning rate falls from ``learning_rate`` to ``alpha * learning_rate`` over all the steps
    of the ``epochs`` passes over ``data`` (a ``tf.data.Dataset`` of known length, e.g. from
    ``helpers.data.image_dataset``). ``compile_args`` go to ``compile`` (e.g. ``loss="mse"`` for an
    autoencoder; a VAE brings its own loss).

    Returns:
        ``(history, seconds)``: the Keras ``History`` and the wall-clock seconds ``fit`` took.
    """
    import time

    if not isinstance(data, tf.data.Dataset):
        raise ValueError(f"timed_fit takes a tf.data.Dataset, got {_described(data)}. Wrap arrays "
                         f"with helpers.data.image_dataset(x) (or image_dataset(x, y)).")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: expected a positive integer.")
    if not (np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate={learning_rate!r}: expected a positive number, e.g. 1e-3.")
    steps_per_epoch = int(data.cardinality())
    if steps_per_epoch <= 0:
        raise ValueError("timed_fit needs a dataset of known, finite length (e.g. from "
                         "helpers.data.image_dataset), to spread the schedule over its steps.")
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch, alpha=alpha)
    model.compile(optimizer=keras.optimizers.Adam(schedule), **compile_args)
    start = time.perf_counter()
    history = model.fit(data, epochs=epochs, validation_data=validation_data, verbose=0)
    return history, time.perf_counter() - start


class LinearAnnealing(keras.callbacks.Callback):
    """Move a VAE's non-trainable weight (``"beta"`` or ``"capacity"``) linearly from ``start`` to
    ``stop`` over the first ``epochs`` epochs, then hold it at ``stop``.

    - KL warm-up: ``LinearAnnealing("beta", 0.0, 1.0, epochs)``. Early in training the KL term can
      win before the decoder has learned to use ``z``, pushing latent dimensions to the prior for
      good (posterior collapse); a small weight at first lets the reconstruction recruit them.
    - Capacity annealing (Burgess et al. 2018): ``LinearAnnealing("capacity", 0.0, C, epochs)``
      on a VAE built with ``gamma > 0``.
    """

    def __init__(self, attribute, start, stop, epochs):
        super().__init__()
        if attribute not in ("beta", "capacity"):
            raise ValueError(f"attribute must be 'beta' or 'capacity', got {attribute!r}.")
        if not (float(start) >= 0 and float(stop) >= 0):
            raise ValueError(f"{attribute} must stay >= 0, got start={start!r}, stop={stop!r}.")
        if int(epochs) < 1:
            raise ValueError(f"epochs={epochs!r}: expected the number of epochs to anneal over, >= 1.")
        self.attribute, self.start, self.stop, self.epochs = attribute, float(start), float(stop), int(epochs)

    def on_train_begin(self, logs=None):
        name = type(self.model).__name__
        if not isinstance(getattr(self.model, self.attribute, None), keras.Variable):
            raise ValueError(f"LinearAnnealing({self.attribute!r}) needs a VAE, whose "
                             f"{self.attribute} it moves; a {name} has no {self.attribute}. Drop "
                             f"the callback, or train a helpers.models.VAE.")
        gamma = getattr(self.model, "gamma", 0.0)
        if self.attribute == "capacity" and gamma <= 0:
            raise ValueError(f"LinearAnnealing('capacity') would change nothing: this {name} has "
                             f"gamma=0, so it trains on the beta objective, which has no capacity. "
                             f"Build it with gamma > 0 (e.g. VAE(..., gamma=20.0)).")
        if self.attribute == "beta" and gamma > 0:
            raise ValueError(f"LinearAnnealing('beta') would change nothing: this {name} has "
                             f"gamma={gamma:g}, so it trains on the capacity objective, which has "
                             f"no beta. Anneal 'capacity' instead, or build it with gamma=0.")

    def on_epoch_begin(self, epoch, logs=None):
        fraction = min(1.0, epoch / self.epochs)
        getattr(self.model, self.attribute).assign(self.start + fraction * (self.stop - self.start))
