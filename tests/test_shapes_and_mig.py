import numpy as np
import pytest

from helpers.metrics import discretize, mutual_information_gap, mutual_information_matrix
from helpers.shapes import FACTOR_NAMES, SHAPE_NAMES, factor_values, make_shapes


@pytest.fixture(scope="module")
def small():
    return make_shapes(image_size=32, n_scales=3, n_rotations=4, n_positions=5)


def test_every_factor_combination_once(small):
    images, factors = small
    assert images.shape == (3 * 3 * 4 * 5 * 5, 32, 32, 1) and images.dtype == np.uint8
    assert factors.shape == (len(images), len(FACTOR_NAMES))
    assert len({tuple(f) for f in factors}) == len(factors)
    assert set(np.unique(images)) == {0, 255}


def test_default_size_is_documented():
    values = factor_values()
    assert [len(v) for v in values.values()] == [3, 6, 10, 16, 16]
    assert np.prod([len(v) for v in values.values()]) == 46_080


def test_deterministic(small):
    again = make_shapes(image_size=32, n_scales=3, n_rotations=4, n_positions=5)
    np.testing.assert_array_equal(small[0], again[0])


def _pick(images, factors, **fixed):
    """The one image whose factors equal ``fixed`` (others at index 1)."""
    wanted = {name: 1 for name in FACTOR_NAMES} | fixed
    row = np.all([factors[:, i] == wanted[name] for i, name in enumerate(FACTOR_NAMES)], axis=0)
    return images[np.flatnonzero(row)[0], ..., 0].astype(bool)


@pytest.mark.parametrize("name", FACTOR_NAMES)
def test_each_factor_changes_the_image(small, name):
    images, factors = small
    assert not np.array_equal(_pick(images, factors, **{name: 0}), _pick(images, factors, **{name: 2}))


def test_factors_move_the_picture_the_right_way(small):
    images, factors = small
    area = [_pick(images, factors, scale=k).sum() for k in range(3)]
    assert area[0] < area[1] < area[2]  # larger scale, more pixels
    cols = [np.nonzero(_pick(images, factors, x=k))[1].mean() for k in (0, 4)]
    rows = [np.nonzero(_pick(images, factors, y=k))[0].mean() for k in (0, 4)]
    assert cols[0] < cols[1]  # larger x is further right
    assert rows[0] > rows[1]  # larger y is further up (smaller row index)
    assert len(SHAPE_NAMES) == 3


def test_almost_all_images_are_distinct():
    images, _ = make_shapes()  # the defaults: 46,080 images
    distinct = {image.tobytes() for image in images}  # as np.unique(axis=0), without its slow sort
    assert len(distinct) >= 0.99 * len(images)


def test_mig_is_one_when_each_latent_copies_one_factor():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 10, (5000, 3))
    latents = factors + rng.normal(scale=0.01, size=factors.shape)
    mig, per_factor = mutual_information_gap(latents, factors)
    assert mig > 0.95 and per_factor.shape == (3,)


def test_mig_is_near_zero_for_random_latents():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 10, (5000, 3))
    mig, _ = mutual_information_gap(rng.normal(size=(5000, 6)), factors)
    assert mig < 0.05


def test_mig_is_low_when_two_latents_share_a_factor():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 10, (5000, 1))
    latents = np.concatenate([factors, factors], axis=1) + rng.normal(scale=0.01, size=(5000, 2))
    assert mutual_information_gap(latents, factors)[0] < 0.05  # the information is there, but not in one latent


def test_discretize_uses_equal_width_bins():
    codes = discretize(np.linspace(0, 1, 100)[:, None], n_bins=4)
    assert np.bincount(codes[:, 0]).tolist() == [0, 25, 25, 25, 25]


def test_mig_rejects_bad_shapes():
    with pytest.raises(ValueError, match="D >= 2"):
        mutual_information_gap(np.zeros((10, 1)), np.zeros((10, 2), int))
    with pytest.raises(ValueError, match="N = 10"):
        mutual_information_gap(np.zeros((10, 3)), np.zeros((9, 2), int))


def test_mutual_information_matrix_finds_which_latent_holds_which_factor():
    rng = np.random.default_rng(0)
    factors = rng.integers(0, 8, (4000, 2))
    latents = np.stack([rng.normal(size=4000), factors[:, 1], factors[:, 0]], axis=1)
    mi = mutual_information_matrix(latents + rng.normal(scale=0.01, size=latents.shape), factors)
    assert mi.shape == (3, 2)
    assert mi.argmax(axis=0).tolist() == [2, 1]  # factor 0 lives in latent 2, factor 1 in latent 1
    assert mi[0].max() < 0.05 * mi.max()  # the noise latent knows almost nothing
    np.testing.assert_allclose(mi[2, 0], np.log(8), rtol=0.05)  # all of H(v_0) = log 8 nats


def _codes_of(factors, seed=0):
    """Each factor copied into a latent, plus two noise latents."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=0.01, size=(len(factors), factors.shape[1] + 2))
    return np.c_[factors, rng.normal(size=(len(factors), 2))] + noise


def test_mig_refuses_a_factor_that_never_varies():
    factors = np.random.default_rng(0).integers(0, 5, (1000, 3))
    factors[:, 1] = 2
    with pytest.raises(ValueError, match=r"factor column\(s\) \[1\] take a single value.*Drop the column"):
        mutual_information_gap(_codes_of(factors), factors)


@pytest.mark.parametrize("continuous, message", [
    (lambda n: np.random.default_rng(1).random(n), "factors must be discrete: whole numbers"),
    (lambda n: np.arange(n), r"factor column\(s\) \[2\] take \[1000\] distinct values in 1000 samples"),
], ids=["floats", "integers_all_distinct"])
def test_mig_refuses_a_continuous_factor(continuous, message):
    factors = np.random.default_rng(0).integers(0, 5, (1000, 3))
    factors = np.c_[factors[:, :2], continuous(1000)]
    with pytest.raises(ValueError, match=message + ".*discretize"):
        mutual_information_gap(_codes_of(factors[:, :2].astype(int)), factors)


def test_mig_refuses_nan_codes():
    factors = np.random.default_rng(0).integers(0, 5, (1000, 2))
    codes = _codes_of(factors)
    codes[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"latents hold NaN or infinite values \(1 of them\)"):
        mutual_information_gap(codes, factors)
    with pytest.raises(ValueError, match="NaN or infinite"):
        mutual_information_matrix(codes, factors)
