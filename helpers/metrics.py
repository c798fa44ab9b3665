"""Measures the notebooks report: PSNR, ROC AUC with a bootstrap interval, and the Mutual
Information Gap (Chen et al. 2018) for disentanglement."""

import numpy as np
from scipy.stats import mannwhitneyu
from sklearn.metrics import mutual_info_score, roc_auc_score


def psnr(images, references):
    """Peak signal-to-noise ratio of each image against its reference, in dB.

    ``PSNR_i = 10 log10(1 / MSE_i)``, where ``MSE_i`` is the mean squared error over the pixels of
    image ``i`` and pixels lie in [0, 1] (peak 1). The series always reports the **mean of these
    per-image values**. It is not ``10 log10(1 / mean MSE)``, the PSNR of the average error, which
    is lower because the logarithm is concave. An exact copy has infinite PSNR.

    Args:
        images, references: ``(N, H, W, C)`` (or any ``(N, ...)``) pixel values in [0, 1].

    Returns:
        numpy array ``(N,)``, dB.
    """
    images, references = np.asarray(images, np.float64), np.asarray(references, np.float64)
    if images.shape != references.shape or images.ndim < 2 or len(images) == 0:
        raise ValueError(f"Expected two non-empty batches of images of the same shape (N, ...), "
                         f"got {images.shape} and {references.shape}.")
    if not (np.isfinite(images).all() and np.isfinite(references).all()):
        raise ValueError("The images hold NaN or inf values; expected pixel values in [0, 1].")
    if min(images.min(), references.min()) < 0 or max(images.max(), references.max()) > 1:
        raise ValueError("Expected pixel values in [0, 1] (PSNR with peak 1); divide uint8 images "
                         "by 255 (helpers.data.to_float).")
    mse = np.mean((images - references) ** 2, axis=tuple(range(1, images.ndim)))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(1.0 / mse)


def roc_auc_with_interval(labels, scores, n_boot=1000, level=0.95, seed=0):
    """ROC AUC of ``scores`` for telling ``labels == 1`` from ``labels == 0``, with a bootstrap
    percentile interval.

    Each bootstrap replicate resamples the positives and the negatives separately, with
    replacement, so that every replicate keeps both classes in their original numbers.

    Args:
        labels: ``(N,)`` 0 or 1 (1: the class that should score higher, e.g. "anomalous").
        scores: ``(N,)`` real numbers, higher meaning more likely 1.
        n_boot: bootstrap replicates.
        level: coverage of the interval.

    Returns:
        ``(auc, low, high)``: the AUC on all the data and the ``level`` percentile interval.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(f"Expected labels and scores of the same shape (N,), got {labels.shape} "
                         f"and {scores.shape}.")
    if not set(np.unique(labels)) == {0, 1}:
        raise ValueError(f"labels must hold both 0 and 1 and nothing else, got {np.unique(labels)}.")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or inf values.")
    if not 0 < level < 1 or int(n_boot) < 1:
        raise ValueError(f"Expected 0 < level < 1 and n_boot >= 1, got level={level}, n_boot={n_boot}.")
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    rng = np.random.default_rng(seed)
    picks = np.stack([np.concatenate([rng.choice(positive, len(positive)),
                                      rng.choice(negative, len(negative))])
                      for _ in range(int(n_boot))])  # (n_boot, N): each row's positives first
    resampled = scores[picks]
    # the Mann-Whitney U of the positives over the negatives, divided by the number of pairs, is
    # the ROC AUC (ties counted as half), computed here for all replicates at once
    u = mannwhitneyu(resampled[:, :len(positive)], resampled[:, len(positive):], axis=1,
                     method="asymptotic").statistic
    replicates = u / (len(positive) * len(negative))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return float(roc_auc_score(labels, scores)), float(low), float(high)


def discretize(latents, n_bins=20):
    """Each column of ``latents`` ``(N, D)`` cut into ``n_bins`` equal-width bins: int ``(N, D)``.

    The same rule as disentanglement_lib's histogram discretisation.
    """
    latents = np.asarray(latents)
    out = np.zeros(latents.shape, np.int64)
    for j in range(latents.shape[1]):
        edges = np.histogram(latents[:, j], n_bins)[1][:-1]
        out[:, j] = np.digitize(latents[:, j], edges)
    return out


def _checked_latents_and_factors(latents, factors):
    """Finite ``latents`` ``(N, D)`` and whole-number ``factors`` ``(N, K)``, or a ValueError."""
    latents, factors = np.asarray(latents), np.asarray(factors)
    if latents.ndim != 2 or len(latents) < 2:
        raise ValueError(f"latents must be (N, D) with N >= 2, got shape {latents.shape}.")
    if factors.ndim != 2 or len(factors) != len(latents):
        raise ValueError(f"factors must be (N, K) with N = {len(latents)}, got shape "
                         f"{factors.shape}.")
    if not np.issubdtype(latents.dtype, np.number) or not np.isfinite(latents).all():
        raise ValueError(f"latents hold NaN or infinite values ({np.sum(~np.isfinite(latents))} of "
                         f"them); expected finite codes. A model whose weights are NaN encodes to "
                         f"NaN: check its weights and its inputs.")
    if (not np.issubdtype(factors.dtype, np.number)
            or not np.array_equal(factors, np.round(factors))):
        raise ValueError("factors must be discrete: whole numbers, such as the index of each "
                         "factor's value (helpers.shapes.make_shapes gives them). Bin a continuous "
                         "factor first, e.g. with helpers.metrics.discretize(values[:, None], 20).")
    return latents, factors


def mutual_information_matrix(latents, factors, n_bins=20):
    """Mutual information between each latent dimension and each factor, in nats.

    Latents are discretised into ``n_bins`` equal-width bins (``discretize``); the mutual
    information comes from ``sklearn.metrics.mutual_info_score``.

    Args:
        latents: ``(N, D)`` codes, e.g. the posterior means.
        factors: ``(N, K)`` integer ground-truth factor values.

    Returns:
        ``(D, K)`` array: entry ``[j, k]`` is ``I(z_j; v_k)``.
    """
    latents, factors = _checked_latents_and_factors(latents, factors)
    codes = discretize(latents, n_bins)
    return np.array([[mutual_info_score(factors[:, k], codes[:, j]) for k in range(factors.shape[1])]
                     for j in range(codes.shape[1])])


def mutual_information_gap(latents, factors, n_bins=20):
    """MIG: for each factor, the gap between the two latents that know most about it.

    ``MIG = mean over factors k of (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)``, where ``z_a`` and ``z_b``
    are the latent dimensions with the largest and second largest mutual information with factor
    ``v_k`` (``mutual_information_matrix``; nats, which cancel in the ratio).

    Args:
        latents: ``(N, D)`` codes, e.g. the posterior means, ``D >= 2``.
        factors: ``(N, K)`` integer ground-truth factor values.

    Returns:
        ``(mig, per_factor)``: the mean, a float in [0, 1], and the ``(K,)`` gaps per factor.
    """
    latents, factors = _checked_latents_and_factors(latents, factors)
    if latents.shape[1] < 2:
        raise ValueError(f"latents must be (N, D) with D >= 2, got shape {latents.shape}.")
    constant = [k for k in range(factors.shape[1]) if np.all(factors[:, k] == factors[0, k])]
    if constant:
        raise ValueError(f"factor column(s) {constant} take a single value in these "
                         f"{len(factors)} samples: a factor that never varies has no entropy, so "
                         f"its gap is 0/0. Drop the column(s), or sample images where it varies.")
    distinct = [len(np.unique(f)) for f in factors.T]
    continuous = [k for k, n in enumerate(distinct) if n > len(factors) / 2]
    if continuous:
        counts = [distinct[k] for k in continuous]
        raise ValueError(f"factor column(s) {continuous} take {counts} distinct values in "
                         f"{len(factors)} samples: a continuous factor, whose every value is its "
                         f"own class, makes the mutual information meaningless. Give each factor's "
                         f"value index (a few to a few dozen values), or bin it first with "
                         f"helpers.metrics.discretize(values[:, None], n_bins=20).")
    mi = np.sort(mutual_information_matrix(latents, factors, n_bins), axis=0)[::-1]  # (D, K)
    entropy = np.array([mutual_info_score(f, f) for f in factors.T])
    gaps = (mi[0] - mi[1]) / entropy
    return float(gaps.mean()), gaps
