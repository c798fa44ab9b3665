"""Training throughput of helpers.models.VAE against the keras.io VAE example's training step.

The keras.io example (fchollet's vae.py) writes its loss by hand: binary cross-entropy summed over
pixels plus the closed-form KL. Ours builds the same loss from TFP distributions, clamps the
log-variance, tracks three metrics and checks every batch for bad pixels and NaN losses. Both run
here on the same encoder and decoder networks (built by the same helper functions), the same data
and the same optimizer. After one warm-up epoch each (it traces the step), the two models train in
turns, epoch by epoch, so that a slow spell of the machine hits both; the result is the median over
the pairs of epochs of (their epoch time / our epoch time): above 1, ours is faster.

Run from the repository root (about a minute on a 2-core CPU):

    VAE_DATA_DIR=../shared/data python benchmarks/vae_step_throughput.py

It prints a Markdown report and writes it to benchmarks/results/vae_step_throughput.md.

To see what a change to helpers/models.py costs, race this checkout's VAE against the VAE of an
earlier version of that file instead of the keras.io step (nothing is written to results/):

    git show HEAD:helpers/models.py > /tmp/models_before.py
    VAE_DATA_DIR=../shared/data python benchmarks/vae_step_throughput.py \\
        --against /tmp/models_before.py

Each epoch's CPU time (all threads) is reported beside its wall time: on a machine shared with
other work the CPU time moves less.
"""

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import config  # noqa: E402

tf, keras = config.import_tensorflow()

from helpers.data import image_dataset, load_dataset  # noqa: E402
from helpers.models import VAE, Sampling, conv_decoder, conv_encoder  # noqa: E402

LATENT, FILTERS, HIDDEN = 16, (32, 64), 512
N_IMAGES, PAIRS = 10_000, 5
RESULT = Path(__file__).resolve().parent / "results" / "vae_step_throughput.md"


class KerasIoStyleVAE(keras.Model):
    """The keras.io VAE example's training step (hand-written BCE + closed-form KL) on our networks."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder = conv_encoder((28, 28, 1), FILTERS, HIDDEN, 2 * LATENT)
        self.decoder = conv_decoder((28, 28, 1), FILTERS, HIDDEN, LATENT, activation="sigmoid")
        self.sampler = Sampling(seed=0)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def train_step(self, data):
        x = data[0]
        with tf.GradientTape() as tape:
            z_mean, z_log_var = tf.split(self.encoder(x), 2, axis=-1)
            reconstruction = self.decoder(self.sampler([z_mean, z_log_var]))
            bce = tf.reduce_sum(keras.losses.binary_crossentropy(x, reconstruction), axis=(1, 2))
            kl = tf.reduce_sum(-0.5 * (1 + z_log_var - z_mean ** 2 - tf.exp(z_log_var)), axis=1)
            loss = tf.reduce_mean(bce + kl)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}


def epoch_seconds(model, dataset):
    """``(wall, cpu)`` seconds of one epoch of ``fit``."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset, epochs=1, verbose=0)
    return time.perf_counter() - wall, time.process_time() - cpu


def earlier_vae(path):
    """The ``VAE`` class of an earlier ``helpers/models.py``, loaded under another module name."""
    spec = importlib.util.spec_from_file_location("models_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.VAE


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", metavar="MODELS_PY",
                        help="an earlier helpers/models.py, whose VAE races ours instead of the "
                             "keras.io step")
    parser.add_argument("--pairs", type=int, default=PAIRS, help="pairs of epochs (default 5)")
    args = parser.parse_args()
    start = time.perf_counter()
    (x_train, _), _ = load_dataset("mnist", verbose=False)
    dataset = image_dataset(x_train[:N_IMAGES], batch_size=128, shuffle=True, binarize=True)
    net = dict(latent_dim=LATENT, filters=FILTERS, hidden_units=HIDDEN, seed=0)
    other = f"VAE of {args.against}" if args.against else "keras.io-style step"
    contenders = {"ours (helpers.models.VAE)": VAE(**net),
                  other: earlier_vae(args.against)(**net) if args.against else KerasIoStyleVAE()}
    for model in contenders.values():
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        epoch_seconds(model, dataset)  # warm-up: the first epoch traces the training step
    seconds = {name: [] for name in contenders}
    for i in range(args.pairs):  # in turns, each going first in every other pair
        for name in list(contenders)[::1 if i % 2 == 0 else -1]:
            seconds[name].append(epoch_seconds(contenders[name], dataset))
    ours, theirs = (np.array(seconds[name]) for name in contenders)
    ratio, cpu_ratio = (np.median(theirs[:, k] / ours[:, k]) for k in (0, 1))
    lines = [f"| training step | images/s (median of {args.pairs} epochs) | epoch times (s) | "
             f"epoch CPU times (s) |", "|---|---|---|---|"]
    lines += [f"| {name} | {N_IMAGES / np.median(np.array(s)[:, 0]):,.0f} | "
              f"{', '.join(f'{t:.2f}' for t, _ in s)} | {', '.join(f'{c:.2f}' for _, c in s)} |"
              for name, s in seconds.items()]
    report = "\n".join([
        f"# Training throughput: helpers.models.VAE against the {other}", "",
        f"{N_IMAGES:,} dynamically binarized MNIST images per epoch, batches of 128, {LATENT}-D "
        f"latent, networks conv {FILTERS} + dense {HIDDEN}; {args.pairs} pairs of epochs after one "
        f"warm-up epoch each, taken in turns.", "", *lines, "",
        f"Median over the {args.pairs} pairs of ({other} epoch time / our epoch time): "
        f"**{ratio:.3f}** in wall time, {cpu_ratio:.3f} in CPU time (above 1: ours is faster).", "",
        f"Measured on {config.describe_runtime()}; the whole benchmark took "
        f"{time.perf_counter() - start:.0f} s.", ""])
    print(report)
    if not args.against:
        RESULT.parent.mkdir(exist_ok=True)
        RESULT.write_text(report)


if __name__ == "__main__":
    main()
