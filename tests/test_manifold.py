import numpy as np
import pytest

from helpers.manifold import knn_precision_recall


def test_a_set_against_itself_has_full_precision_and_recall():
    x = np.random.default_rng(0).normal(size=(200, 5))
    assert knn_precision_recall(x, x) == (1.0, 1.0)


def test_samples_of_one_mode_are_precise_but_miss_the_other_mode():
    rng = np.random.default_rng(1)
    real = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(20, 1, (300, 2))])
    generated = rng.normal(0, 1, (300, 2))
    precision, recall = knn_precision_recall(real, generated)
    assert precision > 0.9
    assert 0.4 < recall < 0.6


def test_samples_far_from_the_data_have_neither():
    rng = np.random.default_rng(2)
    assert knn_precision_recall(rng.normal(0, 1, (100, 3)), rng.normal(50, 1, (100, 3))) == (0, 0)


@pytest.mark.parametrize("real, generated, k, message", [
    (np.zeros((10, 2)), np.zeros((10, 3)), 3, "shapes"),
    (np.zeros((10, 2)), np.zeros((3, 2)), 3, "k=3"),
])
def test_bad_input_is_refused(real, generated, k, message):
    with pytest.raises(ValueError, match=message):
        knn_precision_recall(real, generated, k)
