import numpy as np
import pytest

from helpers.latent import (RADII, battery, battery_table, class_spread_table, decoded_images,
                            judge_scores, latent_codes, plot_judge_by_radius, probe_points,
                            typical_neighbour_distance, unit_directions)


def test_judge_scores_count_confident_images_and_average_the_entropy():
    p = np.array([[1.0, 0.0], [0.95, 0.05], [0.5, 0.5], [0.2, 0.8]])
    confident, entropy, _, _ = judge_scores(p)
    assert confident == pytest.approx(0.5)  # 1.0 and 0.95 reach 0.9; 0.5 and 0.8 do not
    expected = [0.0, -(0.95 * np.log(0.95) + 0.05 * np.log(0.05)), np.log(2),
                -(0.2 * np.log(0.2) + 0.8 * np.log(0.8))]
    assert entropy == pytest.approx(np.mean(expected))
    assert judge_scores(p, threshold=0.8)[0] == pytest.approx(0.75)


def test_judge_scores_measure_how_the_predicted_classes_spread():
    one_class = np.tile([0.05, 0.9, 0.05], (6, 1))
    assert judge_scores(one_class)[2:] == (pytest.approx(0.0), pytest.approx(1.0))
    assert np.copysign(1, judge_scores(one_class)[2]) == 1  # a table shows 0.00, not -0.00
    uniform = np.eye(10)[np.arange(50) % 10] * 0.9 + 0.01  # each class 5 times, all confident
    assert judge_scores(uniform)[2:] == (pytest.approx(1.0), pytest.approx(0.1))
    two_of_four = np.eye(4)[[0, 0, 0, 1]]  # classes 0, 0, 0, 1: shares 3/4 and 1/4
    spread = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25)) / np.log(4)
    assert judge_scores(two_of_four)[2:] == (pytest.approx(spread), pytest.approx(0.75))
    # confidence does not see coverage: both sets are judged confident on every image
    assert judge_scores(one_class)[0] == judge_scores(uniform)[0] == 1.0


@pytest.mark.parametrize("p, message", [
    (np.ones(4) / 4, "shape"),
    (np.ones((3, 1)), "K >= 2"),
    (np.array([[2.0, -1.0]]), "softmax"),
    (np.array([[0.3, 0.3]]), "softmax"),
    (np.array([[np.nan, 1.0]]), "softmax"),
])
def test_judge_scores_refuse_what_is_not_probabilities(p, message):
    with pytest.raises(ValueError, match=message):
        judge_scores(p)


def test_unit_directions_have_length_one_and_no_preferred_direction():
    u = unit_directions(20_000, 8, seed=1)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1, rtol=1e-5)
    assert np.abs(u.mean(axis=0)).max() < 0.01
    np.testing.assert_array_equal(u, unit_directions(20_000, 8, seed=1))


def test_typical_neighbour_distance_ignores_the_code_itself():
    codes = np.arange(10, dtype=float)[:, None] * 3.0  # points 3 apart on a line
    assert typical_neighbour_distance(codes) == pytest.approx(3.0)
    assert typical_neighbour_distance(codes * 10) == pytest.approx(30.0)
    with pytest.raises(ValueError, match="two codes"):
        typical_neighbour_distance(codes[:1])


def test_probe_points_follow_their_definitions():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 300)
    codes = rng.normal(size=(3000, 4)) * [1, 2, 3, 4] + 10 * labels[:, None]  # far from N(0, I)
    test = codes[::3]
    points = probe_points(codes, labels, test, n=500, seed=0)
    assert all(z.dtype == np.float32 for z in points.values())
    assert {len(z) for name, z in points.items() if name != "class centroids"} == {500}
    assert abs(points["N(0, I)"].mean()) < 0.2  # the prior, whatever the codes
    for name in ("Gaussian fitted to codes, diagonal", "Gaussian fitted to codes, full",
                 "mixture of 10 Gaussians fitted to codes"):
        np.testing.assert_allclose(points[name].mean(axis=0), codes.mean(axis=0), atol=2.0)
    np.testing.assert_allclose(points["class centroids"][3], codes[labels == 3].mean(axis=0),
                               rtol=1e-5)
    centre = points["near the centre"] - codes.mean(axis=0)
    size = np.linalg.norm(codes - codes.mean(0), axis=1).mean()
    assert np.linalg.norm(centre, axis=1).mean() < 0.15 * size
    step = typical_neighbour_distance(codes)
    for r in RADII:
        moved = np.linalg.norm(points[f"test code + {r:g} gaps"] - test[:500], axis=1)
        np.testing.assert_allclose(moved, r * step, rtol=1e-4)
    with pytest.raises(ValueError, match="at least n=500 test codes"):
        probe_points(codes, labels, test[:100], n=500)
    again = probe_points(codes, labels, test, n=500, seed=0)
    assert all(np.array_equal(again[k], points[k]) for k in points)


@pytest.fixture(scope="module")
def tiny_models():
    from helpers.models import VAE, ConvAutoencoder

    net = dict(input_shape=(8, 8, 1), latent_dim=3, filters=(4,), hidden_units=8)
    return ConvAutoencoder(**net), VAE(**net, seed=0)


def test_codes_and_decoded_images_have_the_documented_shapes(tiny_models):
    images = np.random.default_rng(0).integers(0, 256, (25, 8, 8, 1)).astype(np.uint8)
    for model in tiny_models:
        codes = latent_codes(model, images, batch_size=10)
        assert codes.shape == (25, 3) and codes.dtype == np.float32
        decoded = decoded_images(model, codes, batch_size=10)
        assert decoded.shape == (25, 8, 8, 1) and 0 <= decoded.min() and decoded.max() <= 1
    vae = tiny_models[1]
    np.testing.assert_allclose(latent_codes(vae, images), vae.encode(images / 255.0)[0],
                               rtol=1e-5, atol=1e-6)


def test_decoded_images_refuse_points_of_the_wrong_size(tiny_models):
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        decoded_images(tiny_models[0], np.zeros((5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        decoded_images(tiny_models[1], np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="autoencoder"):
        latent_codes(object(), np.zeros((2, 8, 8, 1), np.uint8))


def test_battery_scores_every_probe_and_the_two_references(tiny_models):
    import keras

    judge = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    images = rng.random((300, 8, 8, 1)).astype(np.float32)
    labels = np.arange(300) % 10
    ae = tiny_models[0]
    codes = latent_codes(ae, images)
    scores, decoded = battery(ae, judge, codes, labels, codes[:50], images[:50], n=40)
    assert list(scores)[:2] == ["real test images", "reconstructions of test images"]
    probes = probe_points(codes, labels, codes[:50], 40)
    assert set(scores) == set(decoded) == {*list(scores)[:2], *probes}
    assert all(0 <= c <= 1 and 0 <= h <= np.log(10) + 1e-6 and 0 <= s <= 1 + 1e-9
               and 0.1 <= top <= 1 for c, h, s, top in scores.values())
    np.testing.assert_array_equal(decoded["real test images"], images[:40])


def test_battery_decodes_the_points_it_is_given(tiny_models):
    import keras

    judge = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    images = np.random.default_rng(1).random((60, 8, 8, 1)).astype(np.float32)
    vae = tiny_models[1]
    codes = latent_codes(vae, images)
    calls = []

    def two_probes(codes_train, labels_train, codes_test, n, seed):
        calls.append((len(codes_train), len(codes_test), n, seed))
        return {"origin": np.zeros((n, 3), np.float32), "first test codes": codes_test[:n]}

    scores, decoded = battery(vae, judge, codes, None, codes[:30], images[:30], n=20, seed=4,
                              make_points=two_probes)
    assert calls == [(60, 30, 20, 4)]
    assert list(decoded) == ["real test images", "reconstructions of test images", "origin",
                             "first test codes"]
    np.testing.assert_allclose(decoded["first test codes"],
                               decoded["reconstructions of test images"], atol=1e-6)
    assert np.ptp(decoded["origin"], axis=0).max() == 0  # one point, decoded 20 times


def _fake_scores():
    names = ["real test images", "reconstructions of test images", "midpoints of two test codes",
             *[f"test code + {r:g} gaps" for r in RADII]]
    return {(kind, seed): {name: (0.5 + 0.1 * seed, 1.0 + i, 0.9 - 0.1 * seed, 0.2 + 0.05 * i)
                           for i, name in enumerate(names)}
            for kind in ("autoencoder", "VAE") for seed in (0, 1, 2)}


def test_battery_table_reports_mean_and_sd_over_seeds_per_model():
    scores = _fake_scores()
    table = battery_table(scores, {name: 7 for name in scores["VAE", 0]})
    assert table.header == ["probe", "images", "autoencoder: confident", "VAE: confident",
                            "autoencoder: entropy (nats)", "VAE: entropy (nats)"]
    assert table.rows[0] == ["real test images", "7", "60.0% ± 10.0%", "60.0% ± 10.0%",
                             "1.00 ± 0.00", "1.00 ± 0.00"]
    assert len(table.rows) == len(scores["VAE", 0])


def test_class_spread_table_reports_the_spread_and_the_largest_class():
    scores = _fake_scores()
    table = class_spread_table(scores, {name: 7 for name in scores["VAE", 0]}, note="n")
    assert table.header == ["probe", "images", "autoencoder: class spread", "VAE: class spread",
                            "autoencoder: largest class", "VAE: largest class"]
    assert table.rows[1] == ["reconstructions of test images", "7", "0.80 ± 0.10", "0.80 ± 0.10",
                             "25% ± 0%", "25% ± 0%"]
    assert table.note == "n"


def test_plot_judge_by_radius_draws_both_models_against_the_radii():
    import matplotlib
    matplotlib.use("Agg")
    fig = plot_judge_by_radius(_fake_scores())
    lines = fig.axes[0].get_legend_handles_labels()[1]
    assert {"autoencoder", "VAE", "autoencoder: midpoints", "VAE: midpoints",
            "real test images"} <= set(lines)
    np.testing.assert_allclose(fig.axes[0].get_xticks(), [0, *RADII])
