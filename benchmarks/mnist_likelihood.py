"""Test log-likelihood of a longer-trained VAE on binarized MNIST, measured like Burda et al. (2015).

Notebook 03 trains a small VAE (two stride-2 convolutions straight to a 16-D latent) for 12 epochs
and reports about 92 nats. This script trains helpers.models.VAE with larger networks of the same
kind (the same convolutions plus a 512-unit dense layer each way) and a 32-D latent, for many more
epochs, then estimates -log p(x)
the way the published figure was: on all 10,000 test images, with importance weighting
(``helpers.losses.importance_weighted_nll``). The reference, Burda et al.'s one-layer VAE, is
86.76 nats at k = 5,000; k = 1,000 is what fits here (the estimate falls as k grows, so ours errs on
the high side).

Binarization as in notebook 03: training images are binarized anew every epoch (dynamic), the test
images once, with ``binarize(x_test, seed=0)``.

Run from the repository root (about 80 minutes on a 2-core CPU):

    VAE_DATA_DIR=../shared/data python benchmarks/mnist_likelihood.py

It prints a Markdown report and writes it to benchmarks/results/mnist_likelihood.md, and the
trained weights to benchmarks/results/mnist_likelihood.weights.h5 (not committed: about 40 MB
with the optimizer's state).
With VAE_QUICK=1 it runs a smoke test of under a minute on subsets and writes nothing.
"""

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers import config  # noqa: E402

tf, keras = config.import_tensorflow()

from helpers import losses  # noqa: E402
from helpers.data import binarize, image_dataset, load_dataset  # noqa: E402
from helpers.models import VAE, timed_fit  # noqa: E402
from helpers.tables import Table  # noqa: E402

QUICK = config.quick_mode()
NET = dict(input_shape=(28, 28, 1), latent_dim=32, filters=(32, 64), hidden_units=512)
EPOCHS, LEARNING_RATE, BATCH, SEED = (1 if QUICK else 100), 1e-3, 128, 0
KS = (1, 10) if QUICK else (1, 100, 1000)
BURDA = 86.76  # Burda et al. 2015, Table 1: VAE, one stochastic layer, k = 5,000, 10,000 test images
RESULTS = Path(__file__).resolve().parent / "results"


def main():
    start = time.perf_counter()
    (x_train, _), (x_test, _) = load_dataset("mnist", verbose=False)
    if QUICK:
        x_train, x_test = x_train[:2000], x_test[:200]
    x_test_bin = binarize(x_test, seed=0)
    keras.utils.set_random_seed(SEED)
    vae = VAE(**NET, seed=SEED)
    train_ds = image_dataset(x_train, batch_size=BATCH, shuffle=True, seed=SEED, binarize=True)
    history, train_seconds = timed_fit(vae, train_ds, EPOCHS, learning_rate=LEARNING_RATE)
    losses_by_epoch = history.history["loss"]

    t0 = time.perf_counter()
    neg_elbo = losses.negative_elbo(vae, x_test_bin)
    nll = {k: losses.importance_weighted_nll(vae, x_test_bin, k=k) for k in KS}
    eval_seconds = time.perf_counter() - t0
    kl = losses.kl_per_dimension(vae, x_test_bin)
    if not nll[KS[-1]].mean() <= neg_elbo.mean():
        raise AssertionError("the importance-weighted estimate is above the negative ELBO: a bug")

    n = len(x_test_bin)

    def sem(v):  # standard error of a mean over test images
        return v.std(ddof=1) / np.sqrt(len(v))

    rows = [(f"negative ELBO (1 sample per image), {n:,} test images", f"{neg_elbo.mean():.2f}",
             f"{sem(neg_elbo):.2f}")]
    rows += [(f"importance-weighted NLL, k = {k:,}, {n:,} test images", f"{v.mean():.2f}", f"{sem(v):.2f}")
             for k, v in nll.items()]
    rows.append(("Burda et al. 2015, Table 1: VAE, 1 stochastic layer, k = 5,000, 10,000 test images",
                 f"{BURDA:.2f}", ""))
    table = Table(["estimate of −log p(x) on binarized MNIST", "nats", "± s.e. over images"], rows)
    shown = sorted({0, len(losses_by_epoch) // 4, len(losses_by_epoch) // 2, len(losses_by_epoch) - 1})
    curve = ", ".join(f"epoch {i + 1}: {losses_by_epoch[i]:.2f}" for i in shown)
    report = "\n".join([
        "# Test log-likelihood of a VAE on binarized MNIST", "",
        f"`helpers.models.VAE({', '.join(f'{k}={v}' for k, v in NET.items())})`, "
        f"{vae.count_params():,} parameters; Bernoulli decoder, N(0, I) prior. Trained on all "
        f"{len(x_train):,} training images, dynamically binarized, batches of {BATCH}, for {EPOCHS} "
        f"epochs with Adam ({LEARNING_RATE:g}, cosine decay to 5%; `helpers.models.timed_fit`), seed "
        f"{SEED}, one run. Test images binarized once with `binarize(x_test, seed=0)`, as in notebook 03.",
        "", table._repr_markdown_(), "",
        f"Training loss (negative ELBO, nats): {curve}. Active dimensions (mean KL > 0.1 nats): "
        f"{int(np.sum(kl > 0.1))} of {NET['latent_dim']}.", "",
        f"Training took {train_seconds / 60:.1f} min, evaluation {eval_seconds / 60:.1f} min, the whole "
        f"script {(time.perf_counter() - start) / 60:.1f} min, on {config.describe_runtime()}.", ""])
    print(report)
    if QUICK:
        print("(quick mode: nothing written)")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mnist_likelihood.md").write_text(report)
    vae.save_weights(RESULTS / "mnist_likelihood.weights.h5")


if __name__ == "__main__":
    main()
