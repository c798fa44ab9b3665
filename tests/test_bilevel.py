import numpy as np
import pytest

from helpers.bilevel import TEMPLATE, code_lengths, context_counts, contexts


def test_a_model_that_has_seen_nothing_costs_one_bit_per_pixel():
    images = np.random.default_rng(0).integers(0, 2, (3, 28, 28))
    assert code_lengths(np.zeros((2 ** len(TEMPLATE), 2)), images) == pytest.approx([784] * 3)


def test_images_like_the_training_images_are_cheap_and_unlike_ones_dear():
    rng = np.random.default_rng(1)
    stripes = np.zeros((50, 28, 28), int)
    stripes[:, :, ::4] = 1  # vertical lines every fourth column: predictable from the left
    counts = context_counts(stripes)
    assert code_lengths(counts, stripes[:2]).max() < 20
    noise = rng.integers(0, 2, (2, 28, 28))
    assert code_lengths(counts, noise).min() > 784


def test_the_code_length_is_the_sum_of_each_pixels_smoothed_cost():
    images = np.random.default_rng(2).integers(0, 2, (4, 5, 6))
    template = ((-1, 0), (0, -1))
    counts = context_counts(images[:3], template)
    x = images[3]
    expected = 0.0
    for i in range(5):
        for j in range(6):
            up = x[i - 1, j] if i > 0 else 0
            left = x[i, j - 1] if j > 0 else 0
            c = counts[up + 2 * left]
            expected -= np.log2((c[x[i, j]] + 0.5) / (c.sum() + 1))
    assert code_lengths(counts, images[3:], template)[0] == pytest.approx(expected)


def test_a_context_uses_only_pixels_coded_before():
    x = np.zeros((1, 6, 6), int)
    after = contexts(x)
    x[0, 3, 3] = 1
    changed = contexts(x) != after
    rows, cols = np.nonzero(changed[0])
    assert all((r, c) > (3, 3) for r, c in zip(rows, cols))  # raster order: only later pixels


@pytest.mark.parametrize("images, message", [
    (np.full((1, 4, 4), 0.5), "0s and 1s"),
    (np.zeros((4, 4)), "shape"),
])
def test_bad_images_are_refused(images, message):
    with pytest.raises(ValueError, match=message):
        context_counts(images)


def test_a_template_that_looks_ahead_is_refused():
    with pytest.raises(ValueError, match="earlier"):
        contexts(np.zeros((1, 4, 4), int), template=((0, 1),))
