"""Does the MNIST VAE need a 512-unit dense layer? helpers.models.MNIST_NET against the same networks
with one.

``MNIST_NET`` (notebooks 03 and 04) goes from the two stride-2 convolutions straight to the latent
code, 0.23 M parameters. With a 512-unit dense layer in the encoder and the decoder, as notebooks
03 and 04 had before, it is 3.3 M parameters: 13 MB of float16 weights per model, too many to ship
(``helpers.pretrained``). This script trains helpers.models.VAE both ways, for notebook 04's
3 epochs (Adam 1e-3, cosine decay; ``timed_fit``), with three seeds each, and reports the negative
ELBO on all 10,000 test images, binarized once with ``binarize(x_test, seed=0)`` as in notebook 03.

Run from the repository root (about 20 minutes on a 2-core CPU):

    VAE_DATA_DIR=../shared/data python benchmarks/mnist_hidden_units.py

It prints a Markdown report and writes it to benchmarks/results/mnist_hidden_units.md.
With VAE_QUICK=1 it runs a smoke test on subsets and writes nothing.
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
from helpers.models import MNIST_NET, VAE, timed_fit  # noqa: E402
from helpers.tables import Table, mean_sd  # noqa: E402

QUICK = config.quick_mode()
HIDDEN_UNITS = (0, 512)  # 0 is MNIST_NET's
EPOCHS, SEEDS = (1, (0, 1)) if QUICK else (3, (0, 1, 2))
RESULTS = Path(__file__).resolve().parent / "results"


def main():
    start = time.perf_counter()
    (x_train, _), (x_test, _) = load_dataset("mnist", verbose=False)
    if QUICK:
        x_train, x_test = x_train[:2000], x_test[:500]
    x_test_bin = binarize(x_test, seed=0)
    runs = {units: [] for units in HIDDEN_UNITS}
    for seed in SEEDS:
        for units in HIDDEN_UNITS:
            keras.utils.set_random_seed(seed)
            vae = VAE(**(MNIST_NET | dict(hidden_units=units)), seed=seed)
            data = image_dataset(x_train, batch_size=128, shuffle=True, seed=seed, binarize=True)
            _, seconds = timed_fit(vae, data, EPOCHS)
            runs[units].append(dict(neg_elbo=losses.negative_elbo(vae, x_test_bin).mean(),
                                    parameters=vae.count_params()))
            print(f"hidden units {units}, seed {seed}: {runs[units][-1]['neg_elbo']:.2f} nats "
                  f"({seconds:.0f} s)", flush=True)
    # no training times: this machine's runs share the CPU with other work, so they would mislead
    table = Table(["dense hidden layer", "parameters", "negative ELBO (nats)"],
                  [("none (MNIST_NET)" if units == 0 else f"{units} units", f"{r[0]['parameters']:,}",
                    mean_sd([run["neg_elbo"] for run in r]))
                   for units, r in runs.items()],
                  note=f"Mean ± sd over seeds {', '.join(map(str, SEEDS))}; {EPOCHS} epochs on "
                       f"{len(x_train):,} training images; negative ELBO with one sample per image on "
                       f"{len(x_test):,} test images.")
    report = "\n".join([
        "# The MNIST VAE with and without a 512-unit dense layer", "",
        f"`helpers.models.VAE(**MNIST_NET)`, `MNIST_NET = {MNIST_NET}`, against the same with "
        f"`hidden_units=512`.", "", table._repr_markdown_(), "",
        f"The whole script took {(time.perf_counter() - start) / 60:.1f} min on "
        f"{config.describe_runtime()}.", ""])
    print(report)
    if QUICK:
        print("(quick mode: nothing written)")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mnist_hidden_units.md").write_text(report)


if __name__ == "__main__":
    main()
