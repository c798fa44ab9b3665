import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from helpers.metrics import psnr, roc_auc_with_interval
from helpers.tables import Table, mean_sd


def test_psnr_is_the_per_image_value_not_that_of_the_mean_error():
    reference = np.zeros((2, 4, 4, 1))
    images = reference.copy()
    images[0] += 0.1  # MSE 0.01 -> 20 dB
    images[1] += 0.01  # MSE 0.0001 -> 40 dB
    values = psnr(images, reference)
    np.testing.assert_allclose(values, [20.0, 40.0])
    # the mean of per-image PSNR (30 dB) differs from the PSNR of the mean MSE (about 23 dB)
    assert values.mean() == pytest.approx(30.0)
    assert 10 * np.log10(1 / np.mean((images - reference) ** 2)) < 24


def test_psnr_agrees_with_tensorflow_and_is_infinite_for_an_exact_copy():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 8, 8, 3)), rng.random((3, 8, 8, 3))
    np.testing.assert_allclose(psnr(a, b), tf.image.psnr(a, b, max_val=1.0).numpy(), rtol=1e-5)
    assert np.isinf(psnr(a, a)).all()


@pytest.mark.parametrize("images, references, message", [
    (np.zeros((2, 4, 4, 1)), np.zeros((2, 4, 4, 3)), "same shape"),
    (np.full((2, 4, 4, 1), 255.0), np.zeros((2, 4, 4, 1)), r"\[0, 1\]"),
    (np.full((2, 4, 4, 1), np.nan), np.zeros((2, 4, 4, 1)), "NaN"),
    (np.zeros((0, 4, 4, 1)), np.zeros((0, 4, 4, 1)), "non-empty batches"),
])
def test_psnr_refuses_bad_input(images, references, message):
    with pytest.raises(ValueError, match=message):
        psnr(images, references)


def test_auc_interval_brackets_the_auc_and_narrows_with_more_data():
    rng = np.random.default_rng(0)

    def sample(n):
        labels = np.r_[np.zeros(n), np.ones(n)].astype(int)
        return labels, rng.normal(size=2 * n) + labels  # positives score one sd higher

    labels, scores = sample(200)
    auc, low, high = roc_auc_with_interval(labels, scores, n_boot=300)
    assert auc == pytest.approx(roc_auc_score(labels, scores))
    assert low < auc < high
    big = roc_auc_with_interval(*sample(5000), n_boot=300)
    assert big[2] - big[1] < (high - low) / 3  # about 1/5 as wide for 25x the data
    assert big[1] < 0.76 < big[2]  # the true AUC of a one-sd shift: Phi(1/sqrt(2)) = 0.760


def test_bootstrap_aucs_are_sklearns_on_each_resample_ties_included():
    """The vectorised replicates give the interval that looping over roc_auc_score gives."""
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 300)
    scores = rng.integers(0, 8, 300) + labels  # few distinct values: many ties
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    draw = np.random.default_rng(5)
    expected = []
    for _ in range(50):
        pick = np.concatenate([draw.choice(positive, len(positive)), draw.choice(negative, len(negative))])
        expected.append(roc_auc_score(labels[pick], scores[pick]))
    _, low, high = roc_auc_with_interval(labels, scores, n_boot=50, seed=5)
    assert (low, high) == pytest.approx(tuple(np.percentile(expected, [2.5, 97.5])), abs=1e-12)


def test_auc_interval_is_reproducible_and_refuses_one_class():
    labels, scores = np.r_[0, 0, 1, 1, 0, 1], np.r_[0.1, 0.4, 0.35, 0.8, 0.2, 0.9]
    assert roc_auc_with_interval(labels, scores, seed=3) == roc_auc_with_interval(labels, scores, seed=3)
    with pytest.raises(ValueError, match="both 0 and 1"):
        roc_auc_with_interval(np.zeros(6), scores)
    with pytest.raises(ValueError, match="same shape"):
        roc_auc_with_interval(labels, scores[:3])


def test_table_renders_markdown_and_aligned_text():
    table = Table(["method", "PSNR (dB)"], [("JPEG", "20.69"), ("VAE", 20.04)], note="mean of 5,000")
    markdown = table._repr_markdown_()
    assert markdown.splitlines()[:3] == ["| method | PSNR (dB) |", "|---|---|", "| JPEG | 20.69 |"]
    assert markdown.endswith("\n\nmean of 5,000")
    text = repr(table).splitlines()
    assert text[0] == "method  PSNR (dB)" and text[2] == "JPEG    20.69" and text[3] == "VAE     20.04"
    assert "|" not in repr(table)


def test_a_pipe_inside_a_cell_still_renders_as_a_table():
    import mistune  # the Markdown parser of nbconvert, which Jupyter installs

    html = mistune.create_markdown(plugins=["table"])(
        Table(["statistic", "mean |z|"], [("VAE", "0.73 | 0.80")])._repr_markdown_())
    assert html.count("<th>") == 2 and html.count("<td>") == 2, html
    assert "<th>mean |z|</th>" in html and "<td>0.73 | 0.80</td>" in html


def test_table_refuses_a_row_of_the_wrong_length():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header 2"):
        Table(["a", "b"], [(1, 2), (3,)])


def test_mean_sd_uses_the_sample_standard_deviation():
    assert mean_sd([1.0, 2.0, 3.0]) == "2.00 ± 1.00"
    assert mean_sd([0.5], fmt=".1%") == "50.0%"
    with pytest.raises(ValueError, match="finite"):
        mean_sd([1.0, np.nan])
