"""The VAE's objective and its evaluation, in nats per image.

Conventions: sums over pixels and over latent dimensions, one number per image; the training loss
takes the mean over the batch. ``log`` is the natural logarithm, so the units are nats.
"""

import math
import numbers

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def check_pixels(x, name="x"):
    """Raise a clear error unless ``x`` is a non-empty batch of images ``(N, H, W, C)`` with finite
    pixel values in [0, 1]; return it as float32."""
    x = np.asarray(x)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"{name} has shape {x.shape}; expected a non-empty batch of images "
                         f"(N, H, W, C), e.g. (N, 28, 28, 1). Add a channel axis with "
                         f"x[..., None], a batch axis with x[None], and check the slice that made "
                         f"it when N is 0.")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} has dtype {x.dtype}; expected float pixel values in [0, 1]. Scale uint8 "
                         f"images with helpers.data.to_float (or binarize them with helpers.data.binarize).")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or inf values; expected finite pixel values in [0, 1]. Find "
                         f"them with np.isfinite({name}).all() and fix the data.")
    if x.size and not (x.min() >= 0 and x.max() <= 1):
        raise ValueError(f"{name} holds values in [{x.min():.4g}, {x.max():.4g}]; expected pixel values in "
                         f"[0, 1]. Divide 0-255 images by 255, map [-1, 1] images with (x + 1) / 2.")
    return x.astype(np.float32, copy=False)


def _given(method, inputs, condition):
    """``method(inputs)``, or ``method(inputs, condition)`` for a conditional model.

    So the functions below also work for a model whose methods take no condition at all, such as
    the VAE that notebook 03 writes out in full: any model with ``encode``, ``sampler``,
    ``posterior``, ``prior``, ``likelihood`` and ``latent_dim`` as in ``helpers.models.VAE``.
    """
    return method(inputs) if condition is None else method(inputs, condition)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r}: expected a positive integer.")
    return int(value)


def gaussian_kl(mu, log_var):
    """Closed-form ``KL(N(mu, diag exp(log_var)) || N(0, I))`` per latent dimension.

    ``KL = 0.5 * (exp(log_var) + mu**2 - 1 - log_var)`` for each dimension.

    Args:
        mu, log_var: ``(batch, latent_dim)``.

    Returns:
        ``(batch, latent_dim)``, nats; sum over the last axis for the KL of each image.
    """
    return 0.5 * (tf.exp(log_var) + tf.square(mu) - 1.0 - log_var)


def posterior_from(mu, log_var):
    """``N(mu, diag(exp(log_var)))`` as a TFP distribution: batch shape ``(batch,)``, event ``(D,)``."""
    return tfd.MultivariateNormalDiag(loc=mu, scale_diag=tf.exp(0.5 * log_var))


def kl_per_dimension(model, x, condition=None, batch_size=1000):
    """Average KL of each latent dimension over the images ``x``: ``(latent_dim,)``, nats.

    A dimension whose KL is near 0 for every image carries no information about ``x``: its
    posterior equals the prior. Many such dimensions is what posterior collapse looks like.
    """
    x = check_pixels(x)
    batch_size = _positive_int(batch_size, "batch_size")
    total = 0.0
    for start in range(0, len(x), batch_size):
        c = None if condition is None else condition[start:start + batch_size]
        mu, log_var = _given(model.encode, tf.convert_to_tensor(x[start:start + batch_size], tf.float32), c)
        total += tf.reduce_sum(gaussian_kl(mu, log_var), axis=0).numpy()
    return total / len(x)


def elbo_terms(model, x, condition=None, target=None):
    """One-sample estimate of the two terms of the negative ELBO, per image.

    ``-ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z))``, with ``z`` drawn by the reparameterization
    trick (``model.sampler``) so that gradients reach the encoder. ``x`` is encoded once.

    Args:
        model: a ``helpers.models.VAE`` (or subclass).
        x: ``(batch, H, W, C)`` pixel values in [0, 1].
        condition: the label input of a conditional VAE, else ``None``.
        target: the images to reconstruct, ``x``'s shape; default ``x`` itself.

    Returns:
        ``(reconstruction, kl)``, each ``(batch,)`` in nats.
    """
    mu, log_var = _given(model.encode, x, condition)
    z = model.sampler([mu, log_var])
    reconstruction = -_given(model.likelihood, z, condition).log_prob(x if target is None else target)
    kl = tfd.kl_divergence(posterior_from(mu, log_var), model.prior())
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
    x = check_pixels(x)
    samples, batch_size = _positive_int(samples, "samples"), _positive_int(batch_size, "batch_size")
    total = np.zeros(len(x))
    for _ in range(samples):
        for start in range(0, len(x), batch_size):
            xb = tf.convert_to_tensor(x[start:start + batch_size], tf.float32)
            cb = None if condition is None else condition[start:start + batch_size]
            reconstruction, kl = elbo_terms(model, xb, cb)
            total[start:start + len(xb)] += (reconstruction + kl).numpy()
    return total / samples


def importance_weighted_nll(model, x, k=1000, condition=None, batch_size=None, decode_budget=5_000):
    """Importance-weighted estimate of ``-log p(x)`` (Burda et al. 2015), in nats per image.

    ``log p(x) ≈ log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)``, ``z_i ~ q(z|x)``. With ``k = 1`` its
    expectation is the ELBO; it is never looser on average, and tightens toward ``log p(x)`` as
    ``k`` grows.

    Args:
        model: a ``helpers.models.VAE``.
        x: ``(N, H, W, C)`` pixel values in [0, 1] (binary for a Bernoulli likelihood).
        k: importance samples per image, a positive integer.
        condition: ``(N, condition_dim)`` labels of a conditional VAE, else ``None``.
        batch_size: images per pass; by default about ``decode_budget / k`` (at least 1).
        decode_budget: at most this many images are decoded at once: the ``k`` samples of an image
            are taken in chunks, so memory stays bounded for any ``k``.

    Returns:
        numpy array ``(N,)``: the estimate of ``-log p(x)`` for each image, nats.
    """
    k = _positive_int(k, "k")
    decode_budget = _positive_int(decode_budget, "decode_budget")
    batch_size = _positive_int(batch_size or max(1, decode_budget // k), "batch_size")
    x = tf.convert_to_tensor(check_pixels(x))
    if condition is not None and len(condition) != len(x):
        raise ValueError(f"condition has {len(condition)} rows for {len(x)} images; expected one label each.")
    _check_binary_for_bernoulli(model, x, condition)
    prior = model.prior()
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        cb = None if condition is None else tf.convert_to_tensor(condition[start:start + batch_size], tf.float32)
        q = _given(model.posterior, xb, cb)
        chunk = max(1, decode_budget // len(xb))
        # log-sum-exp over all k samples, accumulated chunk by chunk
        log_sums = [_log_weights_sum(model, xb, cb, q, prior, min(chunk, k - done))
                    for done in range(0, k, chunk)]
        out.append(-(tf.reduce_logsumexp(tf.stack(log_sums), axis=0) - math.log(k)).numpy())
    return np.concatenate(out)


def _check_binary_for_bernoulli(model, x, condition):
    """Raise a ValueError when ``model``'s likelihood is Bernoulli and ``x`` is not binary.

    ``-log p(x)`` under independent Bernoulli pixels is a likelihood only for 0/1 pixels; on grey
    levels TFP still returns a number (the cross-entropy), which is not a log-probability.
    """
    values = x.numpy()
    if np.all((values == 0) | (values == 1)):
        return
    z = tf.zeros((1, model.latent_dim))
    c = None if condition is None else tf.convert_to_tensor(condition[:1], tf.float32)
    likelihood = _given(model.likelihood, z, c)
    while isinstance(likelihood, tfd.Independent):
        likelihood = likelihood.distribution
    if isinstance(likelihood, tfd.Bernoulli):
        grey = np.mean((values != 0) & (values != 1))
        raise ValueError(f"x holds grey levels ({grey:.1%} of its pixels are neither 0 nor 1), "
                         f"but this model's likelihood is Bernoulli, which gives probabilities to "
                         f"binary images only: the estimate would not be -log p(x). Binarize the "
                         f"images first (helpers.data.binarize(x_uint8)), as for training.")


def _log_weights_sum(model, x, condition, q, prior, k):
    """``log sum_i p(x|z_i) p(z_i) / q(z_i|x)`` over ``k`` draws ``z_i ~ q``: ``(batch,)``."""
    z = q.sample(k)  # (k, batch, latent_dim)
    n = tf.shape(x)[0]
    flat_z = tf.reshape(z, (-1, model.latent_dim))
    tiled_x = tf.reshape(tf.tile(x[None], [k, 1, 1, 1, 1]), (-1, *x.shape[1:]))
    tiled_c = None if condition is None else tf.reshape(tf.tile(condition[None], [k, 1, 1]), (-1, condition.shape[-1]))
    log_px_z = tf.reshape(_given(model.likelihood, flat_z, tiled_c).log_prob(tiled_x), (k, n))
    return tf.reduce_logsumexp(log_px_z + prior.log_prob(z) - q.log_prob(z), axis=0)
