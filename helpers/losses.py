"""The VAE's objective and its evaluation, in nats per image.

Conventions: sums over pixels and over latent dimensions, one number per image; the training loss
takes the mean over the batch. ``log`` is the natural logarithm, so the units are nats.
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def gaussian_kl(mu, log_var):
    """Closed-form ``KL(N(mu, diag exp(log_var)) || N(0, I))`` per latent dimension.

    ``KL = 0.5 * (exp(log_var) + mu**2 - 1 - log_var)`` for each dimension.

    Args:
        mu, log_var: ``(batch, latent_dim)``.

    Returns:
        ``(batch, latent_dim)``, nats; sum over the last axis for the KL of each image.
    """
    return 0.5 * (tf.exp(log_var) + tf.square(mu) - 1.0 - log_var)


def kl_per_dimension(model, x, condition=None, batch_size=1000):
    """Average KL of each latent dimension over the images ``x``: ``(latent_dim,)``, nats.

    A dimension whose KL is near 0 for every image carries no information about ``x``: its
    posterior equals the prior. Many such dimensions is what posterior collapse looks like.
    """
    total = 0.0
    for start in range(0, len(x), batch_size):
        c = None if condition is None else condition[start:start + batch_size]
        mu, log_var = model.encode(tf.convert_to_tensor(x[start:start + batch_size], tf.float32), c)
        total += tf.reduce_sum(gaussian_kl(mu, log_var), axis=0).numpy()
    return total / len(x)


def elbo_terms(model, x, condition=None):
    """One-sample estimate of the two terms of the negative ELBO, per image.

    ``-ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z))``, with ``z`` drawn by the reparameterization
    trick (``model.sampler``) so that gradients reach the encoder.

    Args:
        model: a ``helpers.models.VAE`` (or subclass).
        x: ``(batch, H, W, C)`` pixel values in [0, 1].
        condition: the label input of a conditional VAE, else ``None``.

    Returns:
        ``(reconstruction, kl)``, each ``(batch,)`` in nats.
    """
    mu, log_var = model.encode(x, condition)
    z = model.sampler([mu, log_var])
    reconstruction = -model.likelihood(z, condition).log_prob(x)
    kl = tfd.kl_divergence(model.posterior(x, condition), model.prior())
    return reconstruction, kl


def negative_elbo(model, x, condition=None, samples=1, batch_size=1000):
    """The negative ELBO of each image, ``reconstruction + kl`` from ``elbo_terms``, in nats.

    Each single-sample estimate is noisy (one draw of ``z``); ``samples`` draws are averaged.

    Args:
        model: a ``helpers.models.VAE`` (or subclass).
        x: ``(N, H, W, C)`` pixel values in [0, 1].
        condition: ``(N, condition_dim)`` labels of a conditional VAE, else ``None``.
        samples: draws of ``z`` per image to average.
        batch_size: images per pass.

    Returns:
        numpy array ``(N,)``, nats; its mean is the test loss that ``evaluate`` reports.
    """
    total = np.zeros(len(x))
    for _ in range(samples):
        for start in range(0, len(x), batch_size):
            xb = tf.convert_to_tensor(x[start:start + batch_size], tf.float32)
            cb = None if condition is None else condition[start:start + batch_size]
            reconstruction, kl = elbo_terms(model, xb, cb)
            total[start:start + len(xb)] += (reconstruction + kl).numpy()
    return total / samples


def importance_weighted_nll(model, x, k=1000, condition=None, batch_size=None):
    """Importance-weighted estimate of ``-log p(x)`` (Burda et al. 2015), in nats per image.

    ``log p(x) ≈ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``. With ``k = 1`` its
    expectation is the ELBO; it is never looser on average, and tightens toward ``log p(x)`` as
    ``k`` grows.

    Args:
        model: a ``helpers.models.VAE``.
        x: ``(N, H, W, C)`` pixel values in [0, 1] (binary for a Bernoulli likelihood).
        k: importance samples per image.
        condition: ``(N, condition_dim)`` labels of a conditional VAE, else ``None``.
        batch_size: images per pass; by default about 5,000 decoded images per pass (k per image).

    Returns:
        numpy array ``(N,)``: the estimate of ``-log p(x)`` for each image, nats.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    batch_size = batch_size or max(1, 5_000 // k)
    prior = model.prior()
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        cb = None if condition is None else tf.convert_to_tensor(condition[start:start + batch_size], tf.float32)
        out.append(_iw_nll_batch(model, xb, cb, k, prior))
    return np.concatenate(out)


def _iw_nll_batch(model, x, condition, k, prior):
    q = model.posterior(x, condition)
    z = q.sample(k)  # (k, batch, latent_dim)
    n = tf.shape(x)[0]
    flat_z = tf.reshape(z, (-1, model.latent_dim))
    tiled_x = tf.reshape(tf.tile(x[None], [k, 1, 1, 1, 1]), (-1, *x.shape[1:]))
    tiled_c = None if condition is None else tf.reshape(tf.tile(condition[None], [k, 1, 1]), (-1, condition.shape[-1]))
    log_px_z = tf.reshape(model.likelihood(flat_z, tiled_c).log_prob(tiled_x), (k, n))
    log_w = log_px_z + prior.log_prob(z) - q.log_prob(z)
    return -(tf.reduce_logsumexp(log_w, axis=0) - math.log(k)).numpy()
