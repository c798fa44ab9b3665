"""The exercise checkers (helpers/exercises.py): a right answer passes, a stub is reported as not
attempted, each typical mistake a checker names is caught with its message, and the solutions
folded under the exercises in the notebooks pass their checkers."""

import json
import re

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import logsumexp, xlogy
from sklearn.metrics import roc_auc_score

from helpers import exercises

from .conftest import REPO_ROOT

tfd = tfp.distributions


def _pixel_axes(x):
    return tuple(range(1, np.ndim(x)))


def _kl(mu, log_var, log_var_is_log_sigma=False):
    log_var = 2 * log_var if log_var_is_log_sigma else log_var
    return 0.5 * (np.exp(log_var) + mu ** 2 - 1 - log_var)


def _nll(x, x_hat, log_sigma):
    pixels = tfd.Normal(loc=x_hat, scale=tf.exp(tf.cast(log_sigma, tf.float32)))
    return -tfd.Independent(pixels, reinterpreted_batch_ndims=3).log_prob(x)


def _pairs(y, s):
    return s[y == 1][:, None] - s[y == 0][None, :]


# Right answers, written apart from the notebooks' solutions, several with TensorFlow or TFP:
# a checker must accept tensors as well as arrays.
REFERENCES = {
    "image_mse": lambda p, t: tf.reduce_mean(tf.square(p - t), axis=[1, 2, 3]),
    "bce_minimum": lambda t: -(t * np.log(np.clip(t, 1e-12, 1))
                               + (1 - t) * np.log(np.clip(1 - t, 1e-12, 1))),
    "image_psnr": lambda x, r: -10 * np.log10(np.mean((x - r) ** 2, axis=_pixel_axes(x))),
    "compression_ratios": lambda s, d: [np.prod(s) / d, np.prod(s) / (4 * d)],
    "interpolate": lambda a, b, ts: np.stack([a + t * (b - a) for t in ts]),
    "gaussian_kl": lambda mu, lv: tfd.kl_divergence(
        tfd.MultivariateNormalDiag(mu, tf.exp(0.5 * lv)),
        tfd.MultivariateNormalDiag(tf.zeros_like(mu), tf.ones_like(mu))),
    "reparameterized_sample": lambda mu, lv: tfd.Normal(mu, tf.exp(0.5 * lv)).sample(),
    "log_mean_exp": lambda w: tf.reduce_logsumexp(w, axis=0) - np.log(len(w)),
    "typical_gap": lambda c: np.median(np.sort(np.linalg.norm(c[:, None] - c, axis=-1))[:, 1]),
    "fit_gaussian": lambda c: (c.mean(axis=0), (c - c.mean(0)).T @ (c - c.mean(0)) / len(c)),
    "gaussian_samples": lambda m, cov, eps: m + eps @ np.linalg.cholesky(cov).T,
    "gaussian_nll": _nll,
    "best_sigma": lambda x, xh: tf.sqrt(tf.reduce_mean(tf.square(x - xh))),
    "beta_vae_loss": lambda r, k, b: tf.reduce_mean(r + b * k),
    "active_dimensions": lambda k, t: int((k.mean(axis=0) > t).sum()),
    "capacity_loss": lambda r, k, g, c: np.mean(r) + g * abs(np.mean(k) - c),
    "with_label": lambda h, y, n: tf.concat([h, tf.one_hot(y, n)], axis=-1),
    "class_consistency": lambda p, y: np.mean(np.argmax(p, axis=-1) == y),
    "reconstruction_error": lambda x, r: -np.sum(xlogy(x, np.clip(r, 1e-6, 1 - 1e-6))
                                                 + xlogy(1 - x, np.clip(1 - r, 1e-6, 1 - 1e-6)),
                                                 axis=(1, 2, 3)),
    "roc_auc": roc_auc_score,
    "threshold_for": lambda c, rate: np.sort(c)[int(round((1 - rate) * len(c))) - 1],
}


def _mse(p, t):
    return np.mean((p - t) ** 2, axis=_pixel_axes(p))


def _entropy(t):
    return -(t * np.log(np.clip(t, 1e-12, 1)) + (1 - t) * np.log(np.clip(1 - t, 1e-12, 1)))


def _line(a, b, ts):
    return (1 - np.asarray(ts)[:, None]) * a + np.asarray(ts)[:, None] * b


def _distances(c):
    return np.sort(np.linalg.norm(c[:, None] - c, axis=-1), axis=1)[:, 1]


def _gauss(x, xh, ls, half=0.5, power=2, weight=1.0, constant=True):
    d = np.prod(x.shape[1:])
    return (half * np.sum((x - xh) ** 2, axis=(1, 2, 3)) / np.exp(power * ls) + weight * d * ls
            + constant * d / 2 * np.log(2 * np.pi))


def _bce(x, r, clip=1e-6, reduce=np.sum):
    r = np.clip(r, clip, 1 - clip)
    return -reduce(x * np.log(r) + (1 - x) * np.log(1 - r), axis=(1, 2, 3))


def _reparameterized(mu, log_var, scale=lambda lv: tf.exp(0.5 * lv), eps=None):
    eps = tf.random.normal(tf.shape(mu)) if eps is None else eps(mu)
    return mu + scale(log_var) * eps


# (checker, a mistaken answer, words of the message that must name the mistake)
MISTAKES = [
    ("image_mse", lambda p, t: np.mean((p - t) ** 2), "one number for the whole batch"),
    ("image_mse", lambda p, t: np.mean((p - t) ** 2, axis=0), "you averaged over the batch"),
    ("image_mse", lambda p, t: np.sum((p - t) ** 2, axis=(1, 2, 3)), "you summed"),
    ("image_mse", lambda p, t: np.mean(np.abs(p - t), axis=(1, 2, 3)), "mean absolute error"),
    ("image_mse", lambda p, t: np.sqrt(_mse(p, t)), "root of the MSE"),
    ("bce_minimum", lambda t: -(t * np.log(t) + (1 - t) * np.log(1 - t)), "0 · log 0"),
    ("bce_minimum", lambda t: -_entropy(t), "values are negative"),
    ("bce_minimum", lambda t: _entropy(t) / np.log(2), "in bits"),
    ("bce_minimum", lambda t: _entropy(t) / np.log(10), "log10"),
    ("bce_minimum", lambda t: -t * np.log(np.clip(t, 1e-12, 1)), "term for black"),
    ("image_psnr", lambda x, r: 10 * np.log10(1 / np.mean((x - r) ** 2)), "PSNR of the mean MSE"),
    ("image_psnr", lambda x, r: 0 * _mse(x, r) + 10 * np.log10(1 / np.mean(_mse(x, r))),
     "repeated for every image"),
    ("image_psnr", lambda x, r: 20 * np.log10(1 / _mse(x, r)), "20 log10"),
    ("image_psnr", lambda x, r: 10 * np.log(1 / _mse(x, r)), "natural log"),
    ("image_psnr", lambda x, r: 10 * np.log10(_mse(x, r)), "sign is flipped"),
    ("compression_ratios", lambda s, d: (s[0] * s[1] / d, s[0] * s[1] / (4 * d)),
     "channels are missing"),
    ("compression_ratios", lambda s, d: (np.prod(s) / d, np.prod(s) / d), "equals the numbers"),
    ("compression_ratios", lambda s, d: (np.prod(s) / d, 4 * np.prod(s) / d), "wrong way round"),
    ("compression_ratios", lambda s, d: (d / np.prod(s), 4 * d / np.prod(s)), "upside down"),
    ("interpolate", lambda a, b, ts: _line(b, a, ts), "from z_b to z_a"),
    ("interpolate", lambda a, b, ts: _line(a, b, ts).T, "transposed"),
    ("interpolate", lambda a, b, ts: a + np.asarray(ts)[:, None] * b, "add up to 1"),
    ("gaussian_kl", lambda mu, lv: 2 * _kl(mu, lv).sum(-1), "factor 1/2"),
    ("gaussian_kl", lambda mu, lv: _kl(mu, lv, log_var_is_log_sigma=True).sum(-1), "as log σ"),
    ("gaussian_kl", lambda mu, lv: _kl(mu, lv).sum(0), "summed over the batch"),
    ("gaussian_kl", _kl, "one number per latent dimension"),
    ("gaussian_kl", lambda mu, lv: _kl(mu, lv).mean(-1), "averaged over the latent"),
    ("gaussian_kl", lambda mu, lv: -_kl(mu, lv).sum(-1), "never negative"),
    ("gaussian_kl", lambda mu, lv: 0.5 * np.sum(np.exp(lv) + mu ** 2 - lv, -1), "the -1"),
    ("reparameterized_sample",
     lambda mu, lv: np.random.default_rng(0).normal(mu, np.exp(0.5 * np.asarray(lv))),
     "no gradient reaches mu"),
    ("reparameterized_sample",
     lambda mu, lv: _reparameterized(mu, tf.constant(lv.numpy())), "no gradient reaches log_var"),
    ("reparameterized_sample", lambda mu, lv: 2 * _reparameterized(mu, lv), "dz/dmu is not 1"),
    ("reparameterized_sample", lambda mu, lv: _reparameterized(mu, lv, tf.exp), "log σ²"),
    ("reparameterized_sample",
     lambda mu, lv: _reparameterized(mu, lv, eps=lambda m: tf.random.normal(())),
     "share their eps"),
    ("reparameterized_sample",
     lambda mu, lv: _reparameterized(mu, lv, eps=lambda m: tf.random.uniform(tf.shape(m))),
     "standard normal"),
    ("reparameterized_sample",  # mean 0 and sd 1, but no tails: caught by the share beyond 1.96
     lambda mu, lv: _reparameterized(mu, lv, eps=lambda m: tf.random.uniform(tf.shape(m), -3 ** 0.5,
                                                                             3 ** 0.5)),
     "beyond ±1.96"),
    ("reparameterized_sample", lambda mu, lv: _reparameterized(mu, lv)[0], "wrong shape"),
    ("log_mean_exp", lambda w: np.log(np.mean(np.exp(w), axis=0)), "overflows"),
    ("log_mean_exp", lambda w: logsumexp(w, axis=0), "subtract log k"),
    ("log_mean_exp", lambda w: np.mean(w, axis=0), "ELBO"),
    ("log_mean_exp", lambda w: logsumexp(w, axis=1) - np.log(w.shape[1]), "over the batch"),
    ("log_mean_exp", lambda w: logsumexp(w, axis=0, keepdims=True) - np.log(len(w)),
     "axis of length 1"),
    ("typical_gap", lambda c: np.median(np.sort(np.linalg.norm(c[:, None] - c, axis=-1))[:, 0]),
     "is itself"),
    ("typical_gap", lambda c: np.median(_distances(c) ** 2), "squared distances"),
    ("typical_gap", lambda c: _distances(c).mean(), "the median"),
    ("fit_gaussian", lambda c: (c.mean(0), np.cov(c)), "rowvar=False"),
    ("fit_gaussian", lambda c: (c.mean(1), np.cov(c.T)), "wrong axis"),
    ("fit_gaussian", lambda c: (c.mean(0), np.diag(c.var(0))), "only the variances"),
    ("gaussian_samples", lambda m, cov, eps: np.random.default_rng(0).multivariate_normal(
        m, cov, len(eps)), "from the eps given"),
    ("gaussian_samples", lambda m, cov, eps: eps @ np.linalg.cholesky(cov).T, "add the mean"),
    ("gaussian_samples", lambda m, cov, eps: m + eps @ np.linalg.cholesky(cov), "L.T @ L"),
    ("gaussian_samples", lambda m, cov, eps: m + eps @ cov, "cov @ cov"),
    ("gaussian_samples", lambda m, cov, eps: m + eps * np.sqrt(np.diag(cov)),
     "ignores the correlations"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls, half=1.0), "factor 1/2"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls, weight=0.5), "used as log σ²"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls, weight=0.5, power=1), "in both terms"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls, power=1), "divided by σ instead"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls, constant=False), "log 2π"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls) / np.prod(x.shape[1:]),
     "averaged over the pixels"),
    ("gaussian_nll", lambda x, xh, ls: _gauss(x, xh, ls).sum(), "one number for the whole"),
    ("gaussian_nll", lambda x, xh, ls: -_gauss(x, xh, ls), "opposite sign"),
    ("best_sigma", lambda x, xh: np.mean((x - xh) ** 2), "that is σ²"),
    ("best_sigma", lambda x, xh: np.sqrt(_mse(x, xh)).mean(), "each image's root"),
    ("best_sigma", lambda x, xh: np.sqrt(_mse(x, xh)), "one σ per image"),
    ("best_sigma", lambda x, xh: np.sqrt(np.sum((x - xh) ** 2)), "summed the squared"),
    ("beta_vae_loss", lambda r, k, b: np.mean(b * r + k), "weighs the reconstruction"),
    ("beta_vae_loss", lambda r, k, b: np.mean(r + k), "β is missing"),
    ("beta_vae_loss", lambda r, k, b: np.mean(r + k / b), "divided by β"),
    ("beta_vae_loss", lambda r, k, b: np.sum(r + b * k), "summed over the batch"),
    ("beta_vae_loss", lambda r, k, b: r + b * k, "one number per image"),
    ("active_dimensions", lambda k, t: np.sum(k.mean(axis=1) > t), "counted images"),
    ("active_dimensions", lambda k, t: np.sum(k.sum(axis=0) > t), "summed over the images"),
    ("active_dimensions", lambda k, t: k.mean(axis=0) > t, "yes/no per dimension"),
    ("active_dimensions", lambda k, t: np.sum(k > t), "(image, dimension) entries"),
    ("capacity_loss", lambda r, k, g, c: np.mean(r) + g * (np.mean(k) - c), "absolute value is"),
    ("capacity_loss", lambda r, k, g, c: np.mean(r) + g * np.mean(np.abs(k - c)), "each image's"),
    ("capacity_loss", lambda r, k, g, c: np.mean(r) + g * (np.mean(k) - c) ** 2, "squared"),
    ("capacity_loss", lambda r, k, g, c: g * np.mean(r) + abs(np.mean(k) - c),
     "γ weighs the reconstruction"),
    ("with_label", lambda h, y, n: np.concatenate([h, y[:, None]], axis=-1), "one-hot vector"),
    ("with_label", lambda h, y, n: np.concatenate([np.eye(n)[y], h], axis=-1), "comes first"),
    ("with_label", lambda h, y, n: np.concatenate([h, np.eye(y.max() + 1)[y]], axis=-1),
     "largest label"),
    ("class_consistency", lambda p, y: np.mean(p.max(axis=1) >= 0.9), "confident predictions"),
    ("class_consistency", lambda p, y: np.mean(p[np.arange(len(y)), y]), "mean probability"),
    ("class_consistency", lambda p, y: 100 * np.mean(p.argmax(1) == y), "percentage"),
    ("class_consistency", lambda p, y: p.argmax(1) == y, "one yes/no per sample"),
    ("reconstruction_error", lambda x, r: _bce(x, r, clip=0), "Clip r"),
    ("reconstruction_error", lambda x, r: -np.sum(xlogy(x, r) + xlogy(1 - x, 1 - r), axis=(1, 2, 3)),
     "confidently wrong"),
    ("reconstruction_error", lambda x, r: _bce(x, r, reduce=np.mean), "averaged over the pixels"),
    ("reconstruction_error", lambda x, r: _bce(x, r).sum(), "one number for the whole batch"),
    ("reconstruction_error", lambda x, r: -_bce(x, r), "sign is flipped"),
    ("roc_auc", lambda y, s: roc_auc_score(1 - y, s), "1 - AUC"),
    ("roc_auc", lambda y, s: np.mean(_pairs(y, s) > 0), "ties are not counted"),
    ("roc_auc", lambda y, s: np.mean(_pairs(y, s) >= 0), "ties count fully"),
    ("threshold_for", lambda c, rate: np.quantile(c, rate), "flags 95%"),
    ("threshold_for", lambda c, rate: np.percentile(c, 1 - rate), "takes percent"),
    ("threshold_for", lambda c, rate: np.max(c), "largest normal score"),
]
CHECKERS = sorted(REFERENCES)


def check(name, fn, capsys):
    """Run checker ``check_<name>`` on ``fn``: its verdict and what it printed."""
    verdict = getattr(exercises, f"check_{name}")(fn)
    return verdict, capsys.readouterr().out


def test_every_checker_has_a_reference_and_named_mistakes():
    checkers = {n[len("check_"):] for n in dir(exercises) if n.startswith("check_")}
    assert checkers == set(CHECKERS)
    assert checkers == {name for name, _, _ in MISTAKES}


@pytest.mark.parametrize("name", CHECKERS)
def test_a_right_answer_passes(name, capsys):
    verdict, out = check(name, REFERENCES[name], capsys)
    assert verdict is True, out
    assert out.startswith("✓") and "correct" in out


def _stub(*args):
    ...  # a learner's function before any code is written: it returns None


def _raises_not_implemented(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("stub", [_stub, _raises_not_implemented])
def test_a_stub_is_reported_as_not_attempted(name, stub, capsys):
    verdict, out = check(name, stub, capsys)
    assert verdict is False
    assert out.startswith("✗") and "not attempted yet" in out


@pytest.mark.parametrize("name, mistake, words", MISTAKES,
                         ids=[f"{name}-{words}" for name, _, words in MISTAKES])
def test_a_typical_mistake_is_named(name, mistake, words, capsys):
    verdict, out = check(name, mistake, capsys)
    assert verdict is False
    assert out.startswith("✗") and words in out, out


def test_an_error_in_the_learners_code_is_reported_not_raised(capsys):
    verdict, out = check("interpolate", lambda a, b, ts: (1 - ts) * a + ts * b, capsys)
    assert verdict is False
    assert "your function raised ValueError" in out and "operands could not be broadcast" in out


def test_an_unrecognised_wrong_answer_shows_an_input_expected_and_got(capsys):
    verdict, out = check("gaussian_kl", lambda mu, lv: np.sum(mu ** 2, axis=-1), capsys)
    assert verdict is False
    assert "not equal to the expected value" in out
    assert "input: mu = [[" in out and "expected: [" in out and "got:      [" in out


def test_a_wrong_shape_says_which_shape_was_expected(capsys):
    verdict, out = check("image_mse", lambda p, t: np.mean((p - t) ** 2, axis=(1, 2)), capsys)
    assert verdict is False
    assert "wrong shape: expected shape (3,), got shape (3, 2)" in out


def test_an_answer_that_is_not_numbers_is_said(capsys):
    verdict, out = check("best_sigma", lambda x, xh: {"sigma": 0.1}, capsys)
    assert verdict is False and "the result is not numbers" in out


def test_nan_for_a_finite_answer_is_said(capsys):
    verdict, out = check("image_mse", lambda p, t: np.full(len(p), np.nan), capsys)
    assert verdict is False and "nan or inf" in out


def _exercise_cells():
    """(notebook, number, checker, function name, stub source, solution source) of every
    exercise; the stub cell holds `exercises.check_<name>(<function>)`, the next Markdown cell
    the solution under <summary>Solution</summary>."""
    found = []
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for i, cell in enumerate(cells):
            call = re.search(r"exercises\.check_(\w+)\((\w+)\)", "".join(cell["source"]))
            if cell["cell_type"] != "code" or not call:
                continue
            title = re.search(r"\*\*Exercise (\d\.\d) ", "".join(cells[i - 1]["source"]))
            solution = re.search(r"<summary>Solution</summary>\s*```python\n(.*?)```",
                                 "".join(cells[i + 1]["source"]), flags=re.S)
            assert title and solution, f"{path.name}, cell {i}: exercise without title or solution"
            found.append((path.name, title.group(1), *call.groups(), "".join(cell["source"]),
                          solution.group(1)))
    return found


EXERCISES = _exercise_cells()


def test_every_notebook_has_two_to_four_exercises_numbered_in_order():
    numbers = {}
    for notebook, number, *_ in EXERCISES:
        numbers.setdefault(notebook, []).append(number)
    assert len(numbers) == 8
    for notebook, found in numbers.items():
        assert 2 <= len(found) <= 4, notebook
        assert found == [f"{int(notebook[:2])}.{k}" for k in range(1, len(found) + 1)], notebook
    assert sorted(name for _, _, name, *_ in EXERCISES) == CHECKERS


@pytest.mark.parametrize("notebook, number, name, function, stub, solution", EXERCISES,
                         ids=[f"{e[1]}-{e[2]}" for e in EXERCISES])
def test_the_notebooks_stub_is_not_attempted_and_its_folded_solution_passes(
        notebook, number, name, function, stub, solution, capsys):
    exec(stub, {})  # as committed: the checker prints its verdict and does not raise
    assert f"✗ Exercise {number}: not attempted yet" in capsys.readouterr().out
    namespace = {"np": np, "tf": tf}  # what the notebooks have imported by then
    exec(solution, namespace)
    verdict, out = check(name, namespace[function], capsys)
    assert verdict is True, out
