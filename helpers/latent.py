"""Codes in a latent space, points to probe it with, and an independent judge's scores.

Notebook 04 asks whether a latent space *generates*: decode points that no image was encoded to
and ask a classifier trained on real images (the judge) whether the results look like data. These
are the pieces it uses for the autoencoder and the VAE alike. Plain numpy and scikit-learn, so
they also work without TensorFlow Probability.
"""
import numpy as np
from sklearn.mixture import GaussianMixture


def _is_vae(model):
    if hasattr(model, "encode") and hasattr(model, "decode"):
        return True
    if hasattr(model, "encoder") and hasattr(model, "decoder"):
        return False
    raise TypeError(f"Expected an autoencoder (with .encoder and .decoder) or a VAE (with .encode "
                    f"and .decode), got {type(model).__name__}.")


def latent_codes(model, images, batch_size=1000):
    """The code of each image: an autoencoder's ``encoder(x)``, a VAE's posterior mean ``mu(x)``.

    Args:
        model: a ``helpers.models.ConvAutoencoder`` or ``VAE`` (or any model with the same methods).
        images: ``(N, H, W, C)``, uint8 0-255 or float in [0, 1].
        batch_size: images encoded at once.

    Returns:
        ``(N, latent_dim)`` float32.
    """
    from helpers.data import image_dataset

    vae = _is_vae(model)
    batches = image_dataset(images, batch_size=batch_size, shuffle=False)
    codes = [model.encode(x)[0] if vae else model.encoder(x, training=False) for x, _ in batches]
    return np.concatenate([np.asarray(c) for c in codes]).astype(np.float32)


def decoded_images(model, z, batch_size=1000):
    """Images decoded from latent points: the autoencoder's output, the VAE's mean of ``p(x|z)``.

    Args:
        model: as in ``latent_codes``.
        z: ``(N, latent_dim)`` latent points.
        batch_size: points decoded at once.

    Returns:
        ``(N, H, W, C)`` float32 pixel values in [0, 1].
    """
    vae = _is_vae(model)
    z = np.asarray(z, dtype=np.float32)
    latent_dim = model.latent_dim
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"Expected latent points of shape (N, {latent_dim}), got {z.shape}.")
    if not np.isfinite(z).all():
        raise ValueError("Latent points contain NaN or infinite values; check how they were made.")
    decode = model.decode if vae else (lambda batch: model.decoder(batch, training=False))
    parts = [np.asarray(decode(z[i:i + batch_size])) for i in range(0, len(z), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def judge_scores(probabilities, threshold=0.9):
    """How sure a classifier is about images, and how its predicted classes spread.

    The first two numbers say whether images look like *some* class; the last two whether they
    cover the classes: a sampler that draws the same digit every time can be judged confident on
    every image, and only the class spread shows it.

    Args:
        probabilities: ``(N, K)`` class probabilities from the judge, rows summing to 1.
        threshold: an image counts as confident when its largest probability is >= this.

    Returns:
        ``(confident, entropy, spread, largest)``: the share of images with a class probability
        >= ``threshold`` (0 to 1); the mean entropy of the prediction in nats (0: sure, ``log K``:
        no idea); the entropy of the histogram of predicted classes (each image's most probable
        class) divided by ``log K`` (1: every class equally often, 0: a single class); and the
        share of images given the most frequent class (``1/K`` to 1).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0 or p.shape[1] < 2:
        raise ValueError(f"Expected class probabilities of shape (N, K) with K >= 2, got shape "
                         f"{p.shape}.")
    if not np.isfinite(p).all() or p.min() < 0 or not np.allclose(p.sum(axis=1), 1, atol=1e-3):
        raise ValueError("Expected rows of class probabilities (values in [0, 1] summing to 1): "
                         "end the judge with a softmax, or apply one to its logits.")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold!r}: expected a probability in (0, 1].")
    entropy = -np.sum(p * np.log(np.clip(p, 1e-12, 1)), axis=1)
    shares = np.bincount(p.argmax(axis=1), minlength=p.shape[1]) / len(p)
    seen = shares[shares > 0]
    spread = np.sum(seen * np.log(1 / seen)) / np.log(p.shape[1])  # 0.0, never -0.0, for one class
    return (float(np.mean(p.max(axis=1) >= threshold)), float(entropy.mean()), float(spread),
            float(shares.max()))


def unit_directions(n, dim, seed=0):
    """``n`` directions drawn uniformly on the unit sphere in ``dim`` dimensions, ``(n, dim)``."""
    u = np.random.default_rng(seed).standard_normal((n, dim))
    return (u / np.linalg.norm(u, axis=1, keepdims=True)).astype(np.float32)


def typical_neighbour_distance(codes, max_queries=5000):
    """The median Euclidean distance from a code to its nearest *other* code.

    A yardstick for "near" that suits each latent space: distances measured in these units can be
    compared between an autoencoder and a VAE whose codes have different scales.

    Args:
        codes: ``(N, latent_dim)`` codes of the training images, ``N >= 2``.
        max_queries: the median is taken over the first this many codes (each against all ``N``).

    Returns:
        The median distance, a float in the codes' units.
    """
    from sklearn.neighbors import NearestNeighbors

    codes = np.asarray(codes)
    if codes.ndim != 2 or len(codes) < 2:
        raise ValueError(f"Expected at least two codes of shape (N, latent_dim), got shape "
                         f"{codes.shape}.")
    distances, _ = NearestNeighbors(n_neighbors=2).fit(codes).kneighbors(codes[:max_queries])
    return float(np.median(distances[:, 1]))  # column 0 is the code itself


RADII = (0.5, 1, 2, 4)  # distances from a test code, in units of typical_neighbour_distance


def probe_points(codes_train, labels_train, codes_test, n=1000, seed=0):
    """Latent points that no image was encoded to, by how they were chosen.

    Args:
        codes_train: ``(N, d)`` codes of the training images; ``labels_train``: their classes
            ``(N,)``, 0-9; ``codes_test``: ``(M, d)`` codes of test images.
        n: points per way of choosing them (``class centroids`` gives 10).
        seed: seeds every random draw.

    Returns:
        ``dict`` name -> ``(n, d)`` float32: samples from ``N(0, I)``, from a Gaussian fitted to the
        training codes (diagonal or full covariance) and from a 10-component Gaussian mixture fitted
        to them (Ghosh et al. 2020); the 10 class centroids; points near the centre of the codes;
        midpoints of random pairs of test codes; and test codes moved ``r`` typical
        nearest-neighbour gaps in random directions, for each ``r`` in ``RADII``.
    """
    if len(codes_test) < n:
        raise ValueError(f"probe_points needs at least n={n} test codes to move, got "
                         f"{len(codes_test)}: encode more test images or lower n.")
    rng = np.random.default_rng(seed)
    d = codes_train.shape[1]
    mean, std = codes_train.mean(axis=0), codes_train.std(axis=0)
    full = rng.multivariate_normal(mean, np.cov(codes_train, rowvar=False), n)
    mixture = GaussianMixture(10, covariance_type="full", reg_covar=1e-4, random_state=seed)
    mixture.fit(codes_train[:10_000])
    k = rng.choice(10, n, p=mixture.weights_)  # a component for each point, then a draw from it
    chol = np.linalg.cholesky(mixture.covariances_)
    mixed = mixture.means_[k] + np.einsum("nij,nj->ni", chol[k], rng.standard_normal((n, d)))
    a, b = rng.choice(len(codes_test), (2, n))
    step = typical_neighbour_distance(codes_train)
    points = {
        "N(0, I)": rng.standard_normal((n, d)),
        "Gaussian fitted to codes, diagonal": mean + std * rng.standard_normal((n, d)),
        "Gaussian fitted to codes, full": full,
        "mixture of 10 Gaussians fitted to codes": mixed,
        "class centroids": np.stack([codes_train[labels_train == c].mean(0) for c in range(10)]),
        "near the centre": mean + 0.1 * (full - mean),
        "midpoints of two test codes": (codes_test[a] + codes_test[b]) / 2,
    }
    for r in RADII:  # z + r * step * u: a test code moved r typical gaps in a random direction
        points[f"test code + {r:g} gaps"] = codes_test[:n] + r * step * unit_directions(n, d, seed)
    return {name: z.astype(np.float32) for name, z in points.items()}


def battery(model, judge, codes_train, labels_train, codes_test, test_images, n=1000, seed=0,
            make_points=probe_points):
    """Decode every probe of ``make_points`` and score the images with ``judge``.

    Args:
        model: as in ``latent_codes``; ``judge``: a Keras classifier of the images that ends in a
            softmax; ``codes_*``, ``labels_train``, ``n``, ``seed``: as in ``probe_points``.
        test_images: the test images themselves, float in [0, 1], in ``codes_test``'s order.
        make_points: the function that chooses the latent points, called as
            ``make_points(codes_train, labels_train, codes_test, n, seed)`` and returning
            ``dict`` name -> ``(m, latent_dim)``; ``probe_points`` unless a notebook passes its own.

    Returns:
        ``(scores, images)``: ``dict`` name -> ``judge_scores`` and ``dict`` name -> decoded
        images ``(m, H, W, C)``, each beginning with two references: the real test images and
        their reconstructions (the decoded test codes).
    """
    images = {"real test images": np.asarray(test_images[:n], dtype=np.float32),
              "reconstructions of test images": decoded_images(model, codes_test[:n])}
    for name, z in make_points(codes_train, labels_train, codes_test, n, seed).items():
        images[name] = decoded_images(model, z)
    scores = {name: judge_scores(judge.predict(x, batch_size=1000, verbose=0))
              for name, x in images.items()}
    return scores, images


def _by_model(scores):
    """``{(model, seed): ...}`` -> the model names in order, and each one's seeds."""
    kinds = list(dict.fromkeys(kind for kind, _ in scores))
    return kinds, {kind: [seed for k, seed in scores if k == kind] for kind in kinds}


def _table(scores, sizes, note, columns):
    """One row per probe, one column per (measure, model): mean ± sd over that model's seeds."""
    from helpers.tables import Table, mean_sd

    kinds, seeds = _by_model(scores)
    rows = [[name, sizes[name]]
            + [mean_sd([scores[k, s][name][index] for s in seeds[k]], fmt)
               for index, _, fmt in columns for k in kinds]
            for name in scores[kinds[0], seeds[kinds[0]][0]]]
    header = ["probe", "images"] + [f"{k}: {title}" for _, title, _ in columns for k in kinds]
    return Table(header, rows, note)


def battery_table(scores, sizes, note=""):
    """The judge's scores of every probe, one row each, as mean ± sd over seeds for each model.

    Args:
        scores: ``{(model name, seed): scores}`` with ``scores`` as returned by ``battery``.
        sizes: ``{probe: number of images}``.
        note: a line under the table.

    Returns:
        A ``helpers.tables.Table``: confident share and entropy (nats) for each model.
    """
    return _table(scores, sizes, note, [(0, "confident", ".1%"), (1, "entropy (nats)", ".2f")])


def class_spread_table(scores, sizes, note=""):
    """How the judge's predicted classes spread over each probe's images, mean ± sd over seeds.

    The companion of ``battery_table``: "confident" says whether images look like some digit,
    this says whether they cover the digits (the real test images are the reference row).

    Args:
        scores, sizes, note: as in ``battery_table``.

    Returns:
        A ``helpers.tables.Table``: for each model, the entropy of the predicted-class histogram
        relative to a uniform one (1: all classes equally often, 0: one class), and the share of
        the most frequent class.
    """
    return _table(scores, sizes, note, [(2, "class spread", ".2f"), (3, "largest class", ".0%")])


def plot_judge_by_radius(scores, title=None):
    """Judge scores against the distance from test codes (``RADII``), mean ± sd over seeds.

    Distance 0 is the reconstructions of the test images; dotted lines mark each model's
    midpoints of test pairs, a gray line the real test images. ``scores`` as in ``battery_table``.

    Returns:
        The matplotlib ``Figure``, two panels: share judged confident, and entropy.
    """
    import matplotlib.pyplot as plt

    kinds, seeds = _by_model(scores)
    names = ["reconstructions of test images"] + [f"test code + {r:g} gaps" for r in RADII]
    radii = [0, *RADII]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    labels = ("share judged confident", "judge entropy (nats)")
    for index, (ax, label) in enumerate(zip(axes, labels)):
        for kind, colour in zip(kinds, ("C0", "C1", "C2", "C3")):
            values = np.array([[scores[kind, s][n][index] for n in names] for s in seeds[kind]])
            spread = values.std(axis=0, ddof=1) if len(values) > 1 else None
            ax.errorbar(radii, values.mean(axis=0), yerr=spread, marker="o", capsize=3,
                        color=colour, label=kind)
            midpoints = np.mean([scores[kind, s]["midpoints of two test codes"][index]
                                 for s in seeds[kind]])
            ax.axhline(midpoints, color=colour, ls=":", lw=1, label=f"{kind}: midpoints")
        real = np.mean([scores[key]["real test images"][index] for key in scores])
        ax.axhline(real, color="gray", lw=1, label="real test images")
        ax.set_xlabel("distance from a test code (typical gaps δ)")
        ax.set_ylabel(label)
        ax.set_xticks(radii)
        ax.grid(alpha=0.3)
    # one legend below both panels: inside either one it would cover the midpoint lines
    handles, legend_labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, legend_labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    n_seeds = sorted({len(s) for s in seeds.values()})
    fig.suptitle(title or f"Decoding near test codes: mean ± sd over {n_seeds[-1]} seeds",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    return fig
