"""Models the notebooks share."""

import math

import keras
from keras import layers


@keras.saving.register_keras_serializable(package="helpers")
class ConvAutoencoder(keras.Model):
    """A convolutional autoencoder ``x' = decoder(encoder(x))``, a plain (not variational) one.

    Encoder: ``len(filters)`` 3x3 convolutions with stride 2 (each halves height and width), then a
    dense layer to a code ``z`` of ``latent_dim`` numbers. Decoder: a dense layer back to a 4x4 grid,
    stride-2 transposed convolutions up to the output size, and a sigmoid so outputs lie in [0, 1].

    The output shape need not equal the input shape: notebook 01 maps 32x32x3 colour images to
    16x16x1 grayscale targets. Train it with ``compile(loss=...)`` and ``fit`` as any Keras model.

    Args:
        input_shape: ``(H, W, C)`` of the inputs; ``H`` and ``W`` divisible by ``2**len(filters)``.
        output_shape: ``(H, W, C)`` of the outputs; ``H`` and ``W`` equal to ``4 * 2**k``. Default:
            ``input_shape``.
        latent_dim: size of the code ``z``.
        filters: channels of the encoder's convolutions (the decoder uses them in reverse).
    """

    def __init__(self, input_shape=(32, 32, 3), output_shape=None, latent_dim=64,
                 filters=(32, 64, 128), **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(input_shape)
        self.target_shape = tuple(output_shape or input_shape)
        self.latent_dim = int(latent_dim)
        self.filters = tuple(filters)
        h, w, _ = self.image_shape
        out_h, out_w, out_c = self.target_shape
        steps = int(round(math.log2(out_h / 4))) if out_h >= 4 else -1
        if h % 2 ** len(self.filters) or w % 2 ** len(self.filters):
            raise ValueError(f"input_shape {self.image_shape}: height and width must be divisible by "
                             f"2**len(filters) = {2 ** len(self.filters)}.")
        if out_h != out_w or steps < 0 or 4 * 2 ** steps != out_h:
            raise ValueError(f"output_shape {self.target_shape}: height and width must be equal and "
                             f"of the form 4 * 2**k (4, 8, 16, 32, ...).")

        x = inputs = keras.Input(self.image_shape)
        for f in self.filters:
            x = layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")(x)
        z = layers.Dense(self.latent_dim, name="z")(layers.Flatten()(x))
        self.encoder = keras.Model(inputs, z, name="encoder")

        up_filters = [self.filters[-1 - min(i, len(self.filters) - 1)] for i in range(steps + 1)]
        x = z_in = keras.Input((self.latent_dim,))
        x = layers.Dense(4 * 4 * up_filters[0], activation="relu")(x)
        x = layers.Reshape((4, 4, up_filters[0]))(x)
        for f in up_filters[1:]:
            x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")(x)
        outputs = layers.Conv2D(out_c, 3, padding="same", activation="sigmoid")(x)
        self.decoder = keras.Model(z_in, outputs, name="decoder")
        self.build((None, *self.image_shape))

    def call(self, x):
        return self.decoder(self.encoder(x))

    def get_config(self):
        return {**super().get_config(), "input_shape": self.image_shape,
                "output_shape": self.target_shape, "latent_dim": self.latent_dim,
                "filters": self.filters}
