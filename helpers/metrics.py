"""Disentanglement measured: the Mutual Information Gap (Chen et al. 2018)."""

import numpy as np
from sklearn.metrics import mutual_info_score


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


def mutual_information_gap(latents, factors, n_bins=20):
    """MIG: for each factor, the gap between the two latents that know most about it.

    ``MIG = mean over factors k of (I(z_a; v_k) - I(z_b; v_k)) / H(v_k)``, where ``z_a`` and ``z_b``
    are the latent dimensions with the largest and second largest mutual information with factor
    ``v_k``. Latents are discretised into ``n_bins`` bins; mutual information and entropy come from
    ``sklearn.metrics.mutual_info_score`` (nats, which cancel in the ratio).

    Args:
        latents: ``(N, D)`` codes, e.g. the posterior means, ``D >= 2``.
        factors: ``(N, K)`` integer ground-truth factor values.

    Returns:
        ``(mig, per_factor)``: the mean, a float in [0, 1], and the ``(K,)`` gaps per factor.
    """
    latents, factors = np.asarray(latents), np.asarray(factors)
    if latents.ndim != 2 or latents.shape[1] < 2:
        raise ValueError(f"latents must be (N, D) with D >= 2, got shape {latents.shape}.")
    if factors.ndim != 2 or len(factors) != len(latents):
        raise ValueError(f"factors must be (N, K) with N = {len(latents)}, got shape {factors.shape}.")
    codes = discretize(latents, n_bins)
    gaps = []
    for k in range(factors.shape[1]):
        entropy = mutual_info_score(factors[:, k], factors[:, k])
        mi = np.sort([mutual_info_score(factors[:, k], codes[:, j]) for j in range(codes.shape[1])])[::-1]
        gaps.append((mi[0] - mi[1]) / entropy if entropy > 0 else 0.0)
    gaps = np.asarray(gaps)
    return float(gaps.mean()), gaps
