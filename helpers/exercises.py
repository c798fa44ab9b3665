"""Checkers for the notebooks' exercises: each runs a learner's function on small inputs with known
answers and says, in words a learner can act on, what is wrong.

``check_<name>(fn)`` prints ✓ and a short confirmation, or ✗ and the first problem found: not
attempted yet, an error raised, a wrong shape, a typical mistake recognised by computing the
mistaken variant and comparing, or else an input with the expected and the obtained value. It
returns ``True`` or ``False`` and never raises because of the learner's code, so a notebook runs
on whatever the learner wrote (the lesson itself uses the reference implementations).

Exercise ``N.k`` is the k-th exercise of notebook ``0N``.
"""

import warnings

import numpy as np
import tensorflow as tf
from scipy.special import logsumexp, xlogy
from sklearn.metrics import roc_auc_score

from helpers.latent import typical_neighbour_distance
from helpers.losses import gaussian_kl
from helpers.metrics import psnr

RTOL = ATOL = 1e-4  # float32 arithmetic in a learner's code is accurate to about 1e-6


class _Problem(Exception):
    """What is wrong with an answer, in words for the learner; ends a check."""


def _attempt(fn, *args):
    """``fn(*args)`` as returned; a ``_Problem`` if it is a stub or raises."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # log(0) and overflow warnings: the checks explain
            out = fn(*args)
    except NotImplementedError:
        raise _Problem("not attempted yet: replace the `...` with your code.") from None
    except Exception as error:  # the learner's bug is reported, never raised
        raise _Problem(f"your function raised {type(error).__name__}: {error}\n"
                       f"  on the input {_show_args(args)}") from None
    if out is None or out is Ellipsis:
        raise _Problem("not attempted yet: the function returned nothing (write its body, and "
                       "end it with `return ...`).")
    return out


def _numpy(value):
    """A learner's answer as float64 arrays (a tuple or list stays a tuple), or ``None``."""
    if isinstance(value, (tuple, list)):
        parts = tuple(_numpy(v) for v in value)
        return None if any(p is None for p in parts) else parts
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _like(got, expected):
    """``got`` as a tuple where a tuple is expected, else as one array (or ``None``)."""
    if isinstance(expected, tuple):
        if isinstance(got, np.ndarray) and got.ndim and len(got) == len(expected):
            return tuple(got)
        return got
    if isinstance(got, tuple):
        try:
            return np.asarray(got, dtype=np.float64)
        except ValueError:  # parts of different shapes
            return None
    return got


def _shape(value):
    return tuple(_shape(v) for v in value) if isinstance(value, tuple) else np.shape(value)


def _close(got, expected):
    if isinstance(expected, tuple):
        return (isinstance(got, tuple) and len(got) == len(expected)
                and all(_close(g, e) for g, e in zip(got, expected)))
    return (got is not None and not isinstance(got, tuple) and got.shape == np.shape(expected)
            and np.allclose(got, expected, rtol=RTOL, atol=ATOL, equal_nan=True))


def _show(value):
    if isinstance(value, tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    array = np.asarray(value)
    if array.ndim == 0 and array.dtype.kind in "biuf":
        return f"{array.item():.6g}"
    with np.printoptions(precision=4, suppress=True, threshold=24, edgeitems=2):
        return np.array2string(array, separator=", ").replace("\n", "\n            ")


def _show_args(args):
    return ", ".join(_show(a) for a in args)


def _shape_words(value):
    if isinstance(value, tuple):
        return f"a tuple of {len(value)} with shapes {_shape(value)}"
    return f"shape {_shape(value)}"


def _compare(got, expected, given, mistakes=(), same=_close):
    """A ``_Problem`` unless ``got`` is the expected answer, naming a typical mistake if ``got``
    equals its value. ``mistakes``: ``(message, the mistaken answer)`` pairs; ``given``: the
    input, in words."""
    got = _like(got, expected)
    if same(got, expected):
        return
    for message, wrong in mistakes:
        if _close(got, wrong):
            raise _Problem(message)
    if got is None:
        raise _Problem(f"the result is not numbers: return a NumPy array or a TensorFlow "
                       f"tensor (or numbers, where one is asked for).\n  {given}")
    if _shape(got) != _shape(expected):
        raise _Problem(f"wrong shape: expected {_shape_words(expected)}, got {_shape_words(got)}."
                       f"\n  {given}")
    if not isinstance(got, tuple) and not np.isfinite(got).all():
        raise _Problem(f"returned nan or inf where the answer is finite.\n  {given}\n"
                       f"  expected: {_show(expected)}\n  got:      {_show(got)}")
    raise _Problem(f"not equal to the expected value.\n  {given}\n"
                   f"  expected: {_show(expected)}\n  got:      {_show(got)}")


def _report(title, check, confirmation):
    """Run ``check``; print ✓ with the confirmation or ✗ with the problem; return which."""
    try:
        check()
    except _Problem as problem:
        print(f"✗ {title}: {problem}")
        return False
    print(f"✓ {title}: correct. {confirmation}")
    return True


def _check_cases(title, fn, names, cases, reference, mistakes, confirmation):
    """Compare ``fn`` with ``reference`` on each case (a tuple of arguments named ``names``);
    ``mistakes``: ``(message, mistaken function)`` pairs, each taking the same arguments."""
    def check():
        for args in cases:
            got = _numpy(_attempt(fn, *args))
            with np.errstate(all="ignore"):
                wrong = [(message, _numpy(variant(*args))) for message, variant in mistakes]
            given = "input: " + ", ".join(f"{n} = {_show(a)}" for n, a in zip(names, args))
            _compare(got, _numpy(reference(*args)), given, wrong)
    return _report(title, check, confirmation)


def _pixels(seed, shape):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape).astype(np.float32)


def _pixel_axes(x):
    return tuple(range(1, np.ndim(x)))


def _image_mse(a, b):
    """The mean squared error of each image of ``a`` against ``b``: ``(N,)``."""
    return np.mean((a - b) ** 2, axis=_pixel_axes(a))


# Notebook 01


def check_image_mse(fn):
    """Exercise 1.1: ``fn(prediction, target)`` -> each image's mean squared error, ``(N,)``."""
    cases = [(_pixels(0, (3, 4, 5, 2)), _pixels(1, (3, 4, 5, 2))),
             (_pixels(2, (2, 16, 16, 1)), _pixels(3, (2, 16, 16, 1)))]

    mistakes = [
        ("one number for the whole batch: average over each image's pixels only, "
         "axis=(1, 2, 3), to get one error per image.", lambda p, t: np.mean((p - t) ** 2)),
        ("you averaged over the batch (axis 0): the batch is the first axis, average over the "
         "others, axis=(1, 2, 3).", lambda p, t: np.mean((p - t) ** 2, axis=0)),
        ("you summed the squared errors: the MSE is their mean over the pixels.",
         lambda p, t: np.sum((p - t) ** 2, axis=_pixel_axes(p))),
        ("that is the mean absolute error: square the differences.",
         lambda p, t: np.mean(np.abs(p - t), axis=_pixel_axes(p))),
        ("that is the root of the MSE: leave out the square root.",
         lambda p, t: np.sqrt(_image_mse(p, t))),
    ]
    return _check_cases("Exercise 1.1", fn, ("prediction", "target"), cases, _image_mse, mistakes,
                        "One mean squared error per image, as Keras' loss='mse' computes it "
                        "before averaging over the batch.")


def check_bce_minimum(fn):
    """Exercise 1.2: ``fn(t)`` -> the binary cross-entropy at the perfect prediction ``x' = t``
    for each gray level of ``t`` (any shape, values in [0, 1]), nats."""
    cases = [(np.array([0.0, 0.1, 0.3, 0.5, 0.9, 1.0]),), (np.array([[0.3, 0.7], [0.02, 0.5]]),)]

    def bce(t):
        return -(xlogy(t, t) + xlogy(1 - t, 1 - t))

    mistakes = [
        ("nan at t = 0 or t = 1: there 0 · log 0 must count as 0, its limit. Use "
         "scipy.special.xlogy(t, t), or clip the argument of the log, e.g. "
         "np.log(np.clip(t, 1e-12, 1)).",
         lambda t: -(t * np.log(t) + (1 - t) * np.log(1 - t))),
        ("the values are negative: the cross-entropy is minus the sum of t log t and "
         "(1 - t) log(1 - t).", lambda t: -bce(t)),
        ("that is in bits (log base 2): the series counts in nats, the natural log np.log.",
         lambda t: bce(t) / np.log(2)),
        ("that uses log10: the series counts in nats, the natural log np.log.",
         lambda t: bce(t) / np.log(10)),
        ("the term for black, (1 - t) log(1 - t), is missing: a gray pixel is white with "
         "probability t and black with probability 1 - t.", lambda t: -xlogy(t, t)),
    ]
    return _check_cases("Exercise 1.2", fn, ("t",), cases, bce, mistakes,
                        "The minimum is the entropy of the gray level: 0 only for t = 0 or 1, "
                        f"{float(bce(0.3)):.2f} nats at t = 0.3, so a BCE loss never reaches 0 "
                        "on gray targets.")


def check_image_psnr(fn):
    """Exercise 1.3: ``fn(images, references)`` -> the PSNR of each image in dB, ``(N,)``."""
    cases = [(_pixels(4, (4, 4, 4, 1)), _pixels(5, (4, 4, 4, 1))),
             (_pixels(6, (2, 3, 2, 3)), _pixels(7, (2, 3, 2, 3)))]

    mistakes = [
        ("that is the PSNR of the mean MSE, one number for the batch: compute each image's "
         "MSE (axis=(1, 2, 3)) and its PSNR.",
         lambda x, r: 10 * np.log10(1 / np.mean(_image_mse(x, r)))),
        ("that is the PSNR of the batch's mean MSE repeated for every image: compute each "
         "image's MSE (axis=(1, 2, 3)) and its PSNR.",
         lambda x, r: np.full(len(x), 10 * np.log10(1 / np.mean(_image_mse(x, r))))),
        ("20 log10 goes with the root of the MSE: with the MSE itself use 10 log10(1 / MSE).",
         lambda x, r: 20 * np.log10(1 / _image_mse(x, r))),
        ("np.log is the natural log: decibels use np.log10.",
         lambda x, r: 10 * np.log(1 / _image_mse(x, r))),
        ("the sign is flipped: PSNR is 10 log10(1 / MSE), positive for pixel values in [0, 1].",
         lambda x, r: 10 * np.log10(_image_mse(x, r))),
    ]
    return _check_cases("Exercise 1.3", fn, ("images", "references"), cases, psnr, mistakes,
                        "Your PSNR agrees with helpers.metrics.psnr, which every notebook uses.")


# Notebook 02


def check_compression_ratios(fn):
    """Exercise 2.1: ``fn(image_shape, latent_dim)`` -> ``(fewer_numbers, fewer_bits)``: how many
    times fewer numbers, and fewer bits, a float32 code has than a uint8 image."""
    cases = [((32, 32, 3), 256), ((28, 28, 1), 16), ((32, 32, 3), 64)]

    def ratios(shape, d, pixel_bits=8, code_bits=32):
        numbers = np.prod(shape) / d
        return numbers, numbers * pixel_bits / code_bits

    mistakes = [
        ("the channels are missing: a colour image has height × width × channels numbers.",
         lambda s, d: ratios(s[:2], d)),
        ("the bits ratio equals the numbers ratio: a uint8 pixel value takes 8 bits, a float32 "
         "code number 32.", lambda s, d: ratios(s, d, 32)),
        ("the bits are the wrong way round: a uint8 pixel value takes 8 bits, a float32 code "
         "number 32.", lambda s, d: ratios(s, d, 32, 8)),
        ("the ratios are upside down: divide the image's count by the code's.",
         lambda s, d: tuple(1 / r for r in ratios(s, d))),
    ]
    return _check_cases("Exercise 2.1", fn, ("image_shape", "latent_dim"), cases, ratios,
                        mistakes, "A 256-number code has 12 times fewer numbers than a CIFAR-10 "
                        "image but only 3 times fewer bits.")


def check_interpolate(fn):
    """Exercise 2.2: ``fn(z_a, z_b, ts)`` -> the points ``(1 - t) z_a + t z_b`` for each ``t`` of
    ``ts``, ``(len(ts), d)``."""
    rng = np.random.default_rng(22)
    cases = [(rng.normal(size=5), rng.normal(size=5), np.linspace(0, 1, 4)),
             (rng.normal(size=3), rng.normal(size=3), np.array([0.0, 0.25, 0.5, 0.9, 1.0]))]

    def line(a, b, ts):
        return (1 - ts[:, None]) * a + ts[:, None] * b

    mistakes = [
        ("the walk goes from z_b to z_a: at t = 0 it should be at z_a.",
         lambda a, b, ts: line(b, a, ts)),
        ("the array is transposed: one row per t, (len(ts), d).",
         lambda a, b, ts: line(a, b, ts).T),
        ("the weights of z_a and z_b must add up to 1: (1 - t) z_a + t z_b.",
         lambda a, b, ts: a + ts[:, None] * b),
    ]
    return _check_cases("Exercise 2.2", fn, ("z_a", "z_b", "ts"), cases, line, mistakes,
                        "A straight line in code space, from z_a at t = 0 to z_b at t = 1.")


# Notebook 03


def check_gaussian_kl(fn):
    """Exercise 3.1: ``fn(mu, log_var)`` -> ``KL(N(mu, diag exp(log_var)) || N(0, I))`` of each
    row, ``(batch,)``, nats."""
    rng = np.random.default_rng(31)
    cases = [(rng.normal(size=(3, 4)).astype(np.float32),
              rng.normal(scale=0.7, size=(3, 4)).astype(np.float32)),
             (rng.normal(size=(2, 6)).astype(np.float32),
              rng.normal(scale=0.7, size=(2, 6)).astype(np.float32))]

    def kl_terms(mu, log_var):
        return np.asarray(gaussian_kl(mu, log_var), dtype=np.float64)

    def kl(mu, log_var):
        return kl_terms(mu, log_var).sum(axis=-1)

    mistakes = [
        ("the factor 1/2 is missing: KL = 1/2 Σ (σ² + μ² - 1 - log σ²).",
         lambda mu, lv: 2 * kl(mu, lv)),
        ("log_var was used as log σ (σ² = exp(2 log_var)): it is log σ² itself, so "
         "σ² = exp(log_var).", lambda mu, lv: kl(mu, 2 * lv)),
        ("you summed over the batch (axis 0): sum over the latent dimensions, axis=-1, for one "
         "KL per row.", lambda mu, lv: kl_terms(mu, lv).sum(axis=0)),
        ("one number per latent dimension: sum over them (axis=-1) for one KL per row.",
         kl_terms),
        ("you averaged over the latent dimensions: the KL of independent dimensions is their "
         "sum.", lambda mu, lv: kl_terms(mu, lv).mean(axis=-1)),
        ("the sign is flipped: a KL divergence is never negative.", lambda mu, lv: -kl(mu, lv)),
        ("the -1 inside the sum is missing (your KL is d/2 too large): "
         "KL = 1/2 Σ (σ² + μ² - 1 - log σ²).", lambda mu, lv: kl(mu, lv) + 0.5 * mu.shape[-1]),
    ]
    return _check_cases("Exercise 3.1", fn, ("mu", "log_var"), cases, kl, mistakes,
                        "Your KL agrees with helpers.losses.gaussian_kl summed over the latent "
                        "dimensions, and with tfd.kl_divergence.")


def check_reparameterized_sample(fn):
    """Exercise 3.2: ``fn(mu, log_var)`` -> ``z = mu + exp(log_var / 2) * eps``, ``eps ~ N(0, I)``,
    ``(batch, d)``, computed so that gradients reach ``mu`` and ``log_var``."""
    rng = np.random.default_rng(32)
    mu = tf.constant(rng.normal(size=(2000, 4)), tf.float32)
    log_var = tf.constant(rng.uniform(-1.5, 1.0, size=(2000, 4)), tf.float32)
    no_gradient = ("no gradient reaches {} from z, so training could not improve the encoder. "
                   "Compute z with TensorFlow operations on mu and log_var: draw only eps "
                   "(tf.random.normal(tf.shape(mu))) and return mu + tf.exp(0.5 * log_var) * eps. "
                   "A sample drawn with NumPy is a constant to TensorFlow.")

    def check():
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([mu, log_var])
            out = _attempt(fn, mu, log_var)
            total = tf.reduce_sum(tf.cast(out, tf.float32)) if tf.is_tensor(out) else None
        z = _numpy(out)
        if z is None or z.shape != tuple(mu.shape):
            raise _Problem(f"wrong shape: expected {tuple(mu.shape)}, the shape of mu, got "
                           f"{_shape(z)}.")
        for name, source in (("mu", mu), ("log_var", log_var)):
            if total is None or tape.gradient(total, source) is None:
                raise _Problem(no_gradient.format(name))
        if not np.allclose(tape.gradient(total, mu), 1, rtol=RTOL, atol=ATOL):
            raise _Problem("dz/dmu is not 1: z should be mu plus the noise term.")
        noise = z - mu.numpy()  # sigma * eps
        _compare(tape.gradient(total, log_var).numpy(), 0.5 * noise,
                 "dz/dlog_var, which should be sigma * eps / 2 = (z - mu) / 2",
                 [("the scale is exp(log_var), as if log_var were log σ: it is log σ², so "
                   "σ = exp(log_var / 2).", noise)])
        eps = noise / np.exp(0.5 * log_var.numpy())
        if len(np.unique(eps.round(4))) < eps.size // 2:
            raise _Problem("entries of z share their eps: draw one eps per entry, with the shape "
                           "of mu (tf.shape(mu)).")
        tails = np.mean(np.abs(eps) > 1.96)  # 5% for a standard normal, whatever else matches
        if abs(eps.mean()) > 0.05 or abs(eps.std() - 1) > 0.05 or abs(tails - 0.05) > 0.012:
            raise _Problem(f"eps should be standard normal (mean 0, sd 1, 5% beyond ±1.96); over "
                           f"{eps.size:,} entries yours has mean {eps.mean():.3f}, sd "
                           f"{eps.std():.3f} and {tails:.1%} beyond ±1.96. Draw it with "
                           f"tf.random.normal.")

    return _report("Exercise 3.2", check, "z has the right distribution, and its gradient "
                   "reaches both mu and log_var: dz/dmu = 1, dz/dlog_var = σ ε / 2.")


def check_log_mean_exp(fn):
    """Exercise 3.3: ``fn(log_w)`` -> ``log((1/k) Σ_i exp(log_w[i]))`` over axis 0 of the
    ``(k, batch)`` log-weights, ``(batch,)``, computed without overflow."""
    rng = np.random.default_rng(33)
    small = rng.normal(scale=2.0, size=(5, 3))
    cases = [(small,), (small - 1000,), (small + 1000,), (rng.normal(size=(50, 2)) - 300,)]

    def log_mean_exp(log_w):
        return logsumexp(log_w, axis=0) - np.log(len(log_w))

    mistakes = [
        ("right for small values, but exp overflows (inf) or underflows (0, so log gives -inf) "
         "for log-weights near ±1000, as real images give. Subtract the largest log-weight m "
         "first: m + log(mean(exp(log_w - m))), or use tf.reduce_logsumexp / "
         "scipy.special.logsumexp.",
         lambda w: np.log(np.mean(np.exp(w), axis=0))),
        ("that is log Σ exp(log_w): subtract log k for the mean.",
         lambda w: logsumexp(w, axis=0)),
        ("you averaged the log-weights: that is the k-sample estimate of the ELBO, lower than "
         "log (1/k) Σ w_i (Jensen's inequality). Take the log of the mean of the weights.",
         lambda w: np.mean(w, axis=0)),
        ("you averaged over the batch (axis 1): the k samples are on axis 0.",
         lambda w: logsumexp(w, axis=1) - np.log(w.shape[1])),
        ("the answer keeps an axis of length 1: return shape (batch,), e.g. with keepdims=False.",
         lambda w: log_mean_exp(w)[None]),
    ]
    return _check_cases("Exercise 3.3", fn, ("log_w",), cases, log_mean_exp, mistakes,
                        "Stable for log-weights of any size, as "
                        "helpers.losses.importance_weighted_nll needs.")


# Notebook 04


def check_typical_gap(fn):
    """Exercise 4.1: ``fn(codes)`` -> the median distance from a code to its nearest *other* code,
    a number; ``codes``: ``(N, d)``."""
    rng = np.random.default_rng(41)
    cases = [(rng.standard_exponential((30, 3)) ** 2,), (rng.normal(size=(12, 5)),)]

    def distances(codes):
        d = np.linalg.norm(codes[:, None] - codes[None], axis=-1)
        return np.sort(d, axis=1)[:, 1]

    mistakes = [
        ("0: each code's nearest code is itself. Skip it: take the second-nearest "
         "(NearestNeighbors(n_neighbors=2), column 1), or set the distance to itself to inf.",
         lambda c: 0.0),
        ("those are squared distances: take the square root.",
         lambda c: np.median(distances(c) ** 2)),
        ("that is the mean distance: the lesson's yardstick is the median, which a few "
         "isolated codes do not pull up.", lambda c: np.mean(distances(c))),
    ]
    return _check_cases("Exercise 4.1", fn, ("codes",), cases, typical_neighbour_distance,
                        mistakes,
                        "The same yardstick as helpers.latent.typical_neighbour_distance.")


def check_fit_gaussian(fn):
    """Exercise 4.2: ``fn(codes)`` -> ``(mean, cov)`` of a Gaussian fitted to ``codes``
    ``(N, d)``: ``(d,)`` and ``(d, d)``."""
    rng = np.random.default_rng(42)
    codes = rng.normal(size=(60, 3)) @ np.array([[1.0, 0.8, 0.0], [0.0, 0.6, -0.5],
                                                 [0.0, 0.0, 0.4]]) + [1.0, -2.0, 0.5]
    mean = codes.mean(axis=0)
    given = f"input: codes of shape {codes.shape}"
    mistakes = [
        ("the covariance is (N, N): np.cov treats each row as a variable unless you pass "
         "rowvar=False (here each row is one code).", (mean, np.cov(codes))),
        ("the mean is over the wrong axis: average the codes, axis=0, for a (d,) mean.",
         (codes.mean(axis=1), np.cov(codes, rowvar=False))),
    ] + [("only the variances: a full covariance also holds the correlations off the diagonal "
          "(np.cov(codes, rowvar=False)).", (mean, np.diag(np.var(codes, axis=0, ddof=ddof))))
         for ddof in (0, 1)]

    def either_normalisation(got, expected):  # dividing by N or by N - 1 are both fine
        return any(_close(got, (mean, np.cov(codes, rowvar=False, ddof=ddof))) for ddof in (0, 1))

    return _report("Exercise 4.2", lambda: _compare(
        _numpy(_attempt(fn, codes)), (mean, np.cov(codes, rowvar=False)), given, mistakes,
        either_normalisation), "The Gaussian of notebook 04's 'Gaussian fitted to codes, full'.")


def check_gaussian_samples(fn):
    """Exercise 4.3: ``fn(mean, cov, eps)`` -> samples of ``N(mean, cov)`` made from standard
    normal ``eps`` ``(n, d)``: ``mean + eps @ L.T`` with ``L`` the Cholesky factor of ``cov``."""
    rng = np.random.default_rng(43)
    a = rng.normal(size=(3, 3))
    cov, mean = a @ a.T + 0.5 * np.eye(3), rng.normal(size=3)
    eps = rng.standard_normal((40, 3))
    chol = np.linalg.cholesky(cov)
    given = f"mean = {_show(mean)}, cov = {_show(cov)}"

    def check():
        z = _like(_numpy(_attempt(fn, mean, cov, eps)), eps)
        if z is None or _shape(z) != eps.shape:
            raise _Problem(f"wrong shape: expected {eps.shape}, the shape of eps, got "
                           f"{_shape(z)}.")
        # z = offset + eps @ root, if z is made from eps as it should be
        design = np.hstack([np.ones((len(eps), 1)), eps])
        coefficients, *_ = np.linalg.lstsq(design, z, rcond=None)
        if not np.allclose(design @ coefficients, z, rtol=1e-3, atol=1e-3):
            raise _Problem("the samples are not a fixed linear function of eps: make them from "
                           "the eps given (do not draw new noise).")
        offset, root = coefficients[0], coefficients[1:]
        if not np.allclose(offset, mean, rtol=RTOL, atol=ATOL):
            raise _Problem(f"for eps = 0 your sample would be {_show(offset)}, not the mean "
                           f"{_show(mean)}: add the mean.")
        # the covariance of eps @ root for standard normal eps: the one the samples would have
        _compare(root.T @ root, cov, f"the covariance of your samples, for {given}", [
            ("eps @ L gives the covariance L.T @ L: with one sample per row, multiply by the "
             "transpose, eps @ L.T.", chol.T @ chol),
            ("cov was used as the scale, giving the covariance cov @ cov: use a square root of "
             "cov, its Cholesky factor L (np.linalg.cholesky), and eps @ L.T.", cov @ cov),
            ("only the standard deviations were used: that ignores the correlations. Use the "
             "Cholesky factor L of the whole cov, and eps @ L.T.", np.diag(np.diag(cov)))])

    return _report("Exercise 4.3", check, "The samples have the fitted mean and covariance, "
                   "as rng.multivariate_normal's would.")


# Notebook 05


def check_gaussian_nll(fn):
    """Exercise 5.1: ``fn(x, x_hat, log_sigma)`` -> ``-log N(x; x_hat, sigma^2 I)`` of each image,
    ``(batch,)``, nats; ``log_sigma`` is one number, ``log`` of the standard deviation."""
    # float32, like the images and the GaussianVAE's log_sigma weight: TensorFlow refuses to mix
    cases = [(_pixels(51, (3, 4, 4, 3)), _pixels(52, (3, 4, 4, 3)), np.float32(np.log(0.2))),
             (_pixels(53, (2, 2, 3, 1)), _pixels(54, (2, 2, 3, 1)), np.float32(np.log(0.05)))]

    def nll(x, x_hat, log_s, square_weight=0.5, sigma_power=2, log_sigma_weight=1.0,
            constant=True):
        squares = np.sum((x - x_hat) ** 2, axis=_pixel_axes(x))
        d = np.prod(np.shape(x)[1:])
        return (square_weight * squares / np.exp(sigma_power * log_s)
                + log_sigma_weight * d * log_s + constant * d / 2 * np.log(2 * np.pi))

    mistakes = [
        ("the factor 1/2 of the squared error is missing: Σ (x - x̂)² / (2σ²).",
         lambda x, xh, s: nll(x, xh, s, square_weight=1.0)),
        ("log_sigma was used as log σ², in both terms: it is log σ, so σ² = exp(2 log_sigma) "
         "and the second term is D log σ.",
         lambda x, xh, s: nll(x, xh, s, sigma_power=1, log_sigma_weight=0.5)),
        ("log_sigma was used as log σ²: the term is D log σ (= D/2 log σ²).",
         lambda x, xh, s: nll(x, xh, s, log_sigma_weight=0.5)),
        ("the squared error is divided by σ instead of σ²: σ² = exp(2 log_sigma).",
         lambda x, xh, s: nll(x, xh, s, sigma_power=1)),
        ("right up to the constant D/2 log 2π: it does not change the gradients, but without "
         "it the number is not -log p(x|z) in nats.",
         lambda x, xh, s: nll(x, xh, s, constant=False)),
        ("you averaged over the pixels: the log-likelihood of an image is the sum over its "
         "pixels.", lambda x, xh, s: nll(x, xh, s) / np.prod(np.shape(x)[1:])),
        ("one number for the whole batch: sum over each image's pixels only, axis=(1, 2, 3).",
         lambda x, xh, s: np.sum(nll(x, xh, s))),
        ("that is the log-likelihood: the negative log-likelihood has the opposite sign.",
         lambda x, xh, s: -nll(x, xh, s)),
    ]
    return _check_cases("Exercise 5.1", fn, ("x", "x_hat", "log_sigma"), cases, nll, mistakes,
                        "This is -log p(x|z) of the GaussianVAE: what TFP's "
                        "Independent(Normal(x_hat, σ), 3).log_prob(x) gives, negated.")


def check_best_sigma(fn):
    """Exercise 5.2: ``fn(x, x_hat)`` -> the ``sigma`` that minimises the Gaussian negative
    log-likelihood of all images together, one number."""
    cases = [(_pixels(55, (3, 4, 4, 3)), _pixels(56, (3, 4, 4, 3)) ** 2),
             (_pixels(57, (4, 2, 2, 1)), _pixels(58, (4, 2, 2, 1)))]

    def sigma(x, x_hat):
        return np.sqrt(np.mean((x - x_hat) ** 2))

    mistakes = [
        ("that is σ², the mean squared error: σ is its square root.",
         lambda x, xh: sigma(x, xh) ** 2),
        ("that is the mean of each image's root-mean-square error: one σ serves every pixel of "
         "every image, so take the root of the mean over all of them.",
         lambda x, xh: np.mean(np.sqrt(_image_mse(x, xh)))),
        ("one σ per image: the model has a single σ shared by all images, one number.",
         lambda x, xh: np.sqrt(_image_mse(x, xh))),
        ("you summed the squared errors: σ² is their mean.",
         lambda x, xh: np.sqrt(np.sum((x - xh) ** 2))),
    ]
    return _check_cases("Exercise 5.2", fn, ("x", "x_hat"), cases, sigma, mistakes,
                        "σ* is the root-mean-square error: the learned σ tracks the model's own "
                        "reconstruction error.")


# Notebook 06


def _rates(seed, n=5):
    rng = np.random.default_rng(seed)
    return rng.uniform(20, 80, n), rng.uniform(1, 15, n)  # reconstruction, kl: nats per image


def check_beta_vae_loss(fn):
    """Exercise 6.1: ``fn(reconstruction, kl, beta)`` -> the beta-VAE's loss for a batch, a number;
    ``reconstruction`` and ``kl``: ``(batch,)``, nats."""
    cases = [(*_rates(61), 4.0), (*_rates(62, 3), 16.0)]
    mistakes = [
        ("β weighs the reconstruction instead of the KL: loss = mean(reconstruction + β KL).",
         lambda r, k, b: np.mean(b * r + k)),
        ("β is missing: that is the negative ELBO (β = 1).", lambda r, k, b: np.mean(r + k)),
        ("the KL is divided by β: it is multiplied by it.", lambda r, k, b: np.mean(r + k / b)),
        ("you summed over the batch: Keras' losses, and helpers.models.VAE, take the mean.",
         lambda r, k, b: np.sum(r + b * k)),
        ("one number per image: the loss of a batch is their mean.", lambda r, k, b: r + b * k),
    ]
    return _check_cases("Exercise 6.1", fn, ("reconstruction", "kl", "beta"), cases,
                        lambda r, k, b: np.mean(r + b * k), mistakes,
                        "The objective of helpers.models.VAE with gamma = 0.")


def check_active_dimensions(fn):
    """Exercise 6.2: ``fn(kl, threshold)`` -> how many latent dimensions are active: their KL
    ``kl`` ``(N, D)`` (per image and dimension), averaged over the images, above ``threshold``."""
    # 2 active dimensions; 4 images, 5 summed KLs and 10 entries above 0.1: each mistake differs
    kl = np.array([[0.50, 0.02, 0.09, 3.00, 0.03],
                   [0.40, 0.01, 0.13, 2.50, 0.02],
                   [0.00, 0.30, 0.12, 1.90, 0.04],
                   [0.60, 0.00, 0.05, 2.20, 0.03]])
    cases = [(kl, 0.1), (kl[:, ::-1] * 10, 0.5)]
    mistakes = [
        ("you averaged over the dimensions (axis 1) and counted images: average over the "
         "images (axis 0), then count the dimensions above the threshold.",
         lambda k, t: np.sum(k.mean(axis=1) > t)),
        ("you compared the KL summed over the images: average it over the images (axis 0).",
         lambda k, t: np.sum(k.sum(axis=0) > t)),
        ("that is a yes/no per dimension: return how many are active, e.g. with np.sum.",
         lambda k, t: k.mean(axis=0) > t),
        ("you counted the (image, dimension) entries above the threshold: average over the "
         "images first.", lambda k, t: np.sum(k > t)),
    ]
    return _check_cases("Exercise 6.2", fn, ("kl", "threshold"), cases,
                        lambda k, t: np.sum(k.mean(axis=0) > t), mistakes,
                        "The count the lesson's tables report as 'active dims'.")


def check_capacity_loss(fn):
    """Exercise 6.3: ``fn(reconstruction, kl, gamma, capacity)`` -> the capacity objective for a
    batch, a number; ``reconstruction`` and ``kl``: ``(batch,)``, nats."""
    reconstruction, _ = _rates(63)
    # the KL of a batch straddles C, with its mean below C (as early in training)
    cases = [(reconstruction, np.array([2.0, 9.0, 3.0, 12.0, 1.0]), 20.0, 8.0),
             (reconstruction[:3], np.array([14.0, 3.0, 4.0]), 5.0, 10.0)]

    def loss(r, k, g, c):
        return np.mean(r) + g * np.abs(np.mean(k) - c)

    mistakes = [
        ("the absolute value is missing: then a KL below C lowers the loss, and the objective "
         "pushes the rate to 0 instead of holding it at C.",
         lambda r, k, g, c: np.mean(r) + g * (np.mean(k) - c)),
        ("you took each image's |KL - C| and then the mean. The formula in section 4 is written "
         "per image; the model and this exercise apply it to the batch's mean KL, "
         "|mean(KL) - C|, as in helpers.models.VAE.",
         lambda r, k, g, c: np.mean(r) + g * np.mean(np.abs(k - c))),
        ("you squared the difference: the objective uses its absolute value.",
         lambda r, k, g, c: np.mean(r) + g * (np.mean(k) - c) ** 2),
        ("γ weighs the reconstruction: it weighs the distance of the KL from C.",
         lambda r, k, g, c: g * np.mean(r) + np.abs(np.mean(k) - c)),
    ]
    return _check_cases("Exercise 6.3", fn, ("reconstruction", "kl", "gamma", "capacity"), cases,
                        loss, mistakes, "The objective of helpers.models.VAE with gamma > 0.")


# Notebook 07


def check_with_label(fn):
    """Exercise 7.1: ``fn(h, labels, num_classes)`` -> ``h`` ``(batch, n)`` with the one-hot label
    appended, ``(batch, n + num_classes)``."""
    rng = np.random.default_rng(71)
    cases = [(rng.normal(size=(4, 6)).astype(np.float32), np.array([3, 0, 9, 3]), 10),
             (rng.normal(size=(4, 3)).astype(np.float32), np.array([1, 1, 2, 5]), 10)]

    def joined(h, labels, n, depth=None):
        return np.concatenate([h, np.eye(depth or n)[labels]], axis=-1)

    mistakes = [
        ("the label went in as one integer: a network reads a class as a one-hot vector "
         "(np.eye(num_classes)[labels], or keras.utils.to_categorical).",
         lambda h, y, n: np.concatenate([h, y[:, None]], axis=-1)),
        ("the one-hot label comes first: put h first, then the label, as helpers.models does.",
         lambda h, y, n: np.concatenate([np.eye(n)[y], h], axis=-1)),
        ("the one-hot vectors are as long as the largest label in this batch: make them "
         "num_classes long, whatever the batch holds.",
         lambda h, y, n: joined(h, y, n, y.max() + 1)),
    ]
    return _check_cases("Exercise 7.1", fn, ("h", "labels", "num_classes"), cases, joined,
                        mistakes, "The same input the CVAE's encoder features and decoder's z get.")


def check_class_consistency(fn):
    """Exercise 7.2: ``fn(probs, requested)`` -> the share of samples that the judge assigns to
    the requested class, a number in [0, 1]; ``probs``: ``(N, K)``, ``requested``: ``(N,)``."""
    rng = np.random.default_rng(72)
    logits = rng.normal(scale=2.0, size=(12, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    requested = np.where(rng.random(12) < 0.6, probs.argmax(axis=1), rng.integers(0, 4, 12))
    cases = [(probs, requested), (probs[:7], requested[:7])]

    def consistency(p, y):
        return np.mean(p.argmax(axis=1) == y)

    mistakes = [
        ("that is the share of confident predictions (some class >= 0.9), the measure of "
         "notebooks 04 and 05: here count the samples whose most probable class is the one "
         "requested.", lambda p, y: np.mean(p.max(axis=1) >= 0.9)),
        ("that is the mean probability of the requested class: count the samples whose most "
         "probable class (argmax over axis 1) is the requested one.",
         lambda p, y: np.mean(p[np.arange(len(y)), y])),
        ("a percentage: return a share in [0, 1].", lambda p, y: 100 * consistency(p, y)),
        ("one yes/no per sample: return their mean, the share.",
         lambda p, y: p.argmax(axis=1) == y),
    ]
    return _check_cases("Exercise 7.2", fn, ("probs", "requested"), cases, consistency, mistakes,
                        "The lesson's 'class consistency'.")


# Notebook 08


def check_reconstruction_error(fn):
    """Exercise 8.1: ``fn(x, r)`` -> the binary cross-entropy of reconstructions ``r`` of binary
    images ``x``, summed over each image's pixels, ``(N,)``, nats; ``r`` may hold exact 0s and
    1s."""
    rng = np.random.default_rng(81)
    x = (rng.random((3, 4, 4, 1)) < 0.4).astype(np.float32)
    r = np.clip(rng.uniform(0.01, 0.99, x.shape), 0, 1).astype(np.float32)
    confident = np.where(rng.random(x.shape) < 0.3, x, r)  # some pixels exactly right: r = x
    wrong = confident.copy()
    # one confidently wrong pixel, r = 0 where x = 1 (not r = 1 where x = 0: in float32, 1 - r
    # after clipping r is not exactly 1e-6, and right answers would differ by 0.01 nats)
    wrong[np.unravel_index(np.argmax(x), x.shape)] = 0.0
    cases = [(x, r), (x, confident), (x, wrong)]

    def error(x, r, reduce=np.sum, clip=1e-6):
        r = np.clip(r, clip, 1 - clip)
        return -reduce(x * np.log(r) + (1 - x) * np.log(1 - r), axis=_pixel_axes(x))

    mistakes = [
        ("nan where a reconstruction is exactly 0 or 1: 0 · log 0 gives nan. Clip r first, "
         "np.clip(r, 1e-6, 1 - 1e-6), as the lesson's ae_error does (not 1e-8: in float32, "
         "1 - 1e-8 is exactly 1).",
         lambda x, r: error(x, r, clip=0)),
        ("infinite where a reconstruction is confidently wrong (r = 0 where x = 1): clip r to "
         "[1e-6, 1 - 1e-6] first, as the lesson's ae_error does.",
         lambda x, r: -np.sum(xlogy(x, r) + xlogy(1 - x, 1 - r), axis=_pixel_axes(x))),
        ("you averaged over the pixels: the score is the sum over each image's pixels, in nats "
         "per image.", lambda x, r: error(x, r, np.mean)),
        ("one number for the whole batch: sum over each image's pixels only, axis=(1, 2, 3).",
         lambda x, r: np.sum(error(x, r))),
        ("the sign is flipped: a cross-entropy is positive, higher for worse reconstructions.",
         lambda x, r: -error(x, r)),
    ]
    return _check_cases("Exercise 8.1", fn, ("x", "r"), cases, error, mistakes,
                        "The autoencoder's anomaly score of section 1.")


def check_roc_auc(fn):
    """Exercise 8.2: ``fn(is_anomaly, scores)`` -> the ROC AUC: the probability that a random
    anomalous input scores higher than a random normal one, ties counted as one half."""
    rng = np.random.default_rng(82)
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0])
    scores = np.round(rng.normal(size=12) + labels, 1)
    scores[[2, 6]] = scores[[3, 7]] = 0.5  # ties within and across the classes
    cases = [(labels, scores), (labels[::-1].copy(), np.round(scores * 0.5, 1))]

    def pairs(y, s):
        return s[y == 1][:, None] - s[y == 0][None, :]  # (anomalous, normal) score differences

    mistakes = [
        ("that is 1 - AUC: the question is how often an anomalous input scores *higher* than a "
         "normal one.", lambda y, s: 1 - roc_auc_score(y, s)),
        ("ties are not counted: a tied pair counts one half.",
         lambda y, s: np.mean(pairs(y, s) > 0)),
        ("ties count fully: a tied pair counts one half.",
         lambda y, s: np.mean(pairs(y, s) >= 0)),
    ]
    return _check_cases("Exercise 8.2", fn, ("is_anomaly", "scores"), cases, roc_auc_score,
                        mistakes, "Your AUC agrees with sklearn.metrics.roc_auc_score.")


def check_threshold_for(fn):
    """Exercise 8.3: ``fn(normal_scores, false_alarm_rate)`` -> the threshold that the share
    ``false_alarm_rate`` of the normal scores exceeds, a number."""
    normal_scores = np.random.default_rng(83).gamma(4.0, 25.0, size=1000)
    rate = 0.05

    def flags_the_rate(got, expected):
        return (got is not None and not isinstance(got, tuple) and got.shape == ()
                and abs(np.mean(normal_scores > got) - rate) <= 1.5 / len(normal_scores))

    mistakes = [
        ("that threshold flags 95% of the normal inputs: use the (1 - rate) quantile, "
         "np.quantile(normal_scores, 1 - false_alarm_rate).", np.quantile(normal_scores, rate)),
        ("np.percentile takes percent: use np.quantile(normal_scores, 1 - rate), or "
         "np.percentile(normal_scores, 100 * (1 - rate)).",
         np.percentile(normal_scores, 1 - rate)),
        ("the largest normal score flags no normal input at all: the threshold should let the "
         "share false_alarm_rate of them through.", normal_scores.max()),
    ]
    given = f"input: 1,000 normal scores, false_alarm_rate = {rate}"

    def check():
        got = _numpy(_attempt(fn, normal_scores, rate))
        _compare(got, np.quantile(normal_scores, 1 - rate), given, mistakes, flags_the_rate)

    return _report("Exercise 8.3", check, "5% of the normal scores lie above your threshold: "
                   "the false-alarm rate you chose.")
