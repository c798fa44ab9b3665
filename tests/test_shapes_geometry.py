"""helpers.shapes.centroid_and_area: the position and size of a shape, read off its pixels."""

import numpy as np
import pytest

from helpers.shapes import centroid_and_area, factor_values, make_shapes


def test_a_single_pixel_is_found_where_it_is_with_y_counting_upwards():
    image = np.zeros((1, 8, 8), np.uint8)
    image[0, 1, 5] = 255  # row 1 from the top, column 5
    np.testing.assert_allclose(centroid_and_area(image), [[5.0, 6.0, 1.0]])


def test_soft_pixels_weigh_in_proportion_to_their_brightness():
    image = np.zeros((1, 4, 4, 1), np.float32)
    image[0, 3, 0, 0], image[0, 3, 3, 0] = 1.0, 0.5  # bottom row: x = 0 (weight 1), x = 3 (0.5)
    np.testing.assert_allclose(centroid_and_area(image), [[1.0, 0.0, 1.5]])


def test_moving_a_shape_one_position_step_moves_the_centroid_by_that_many_pixels():
    images, factors = make_shapes(n_scales=2, n_rotations=2, n_positions=5)
    step = np.diff(factor_values(n_positions=5)["x"])[0] * 32  # pixels per position step
    square = factors[:, 0] == 0
    geometry = centroid_and_area(images[square])
    f = factors[square]
    for column, name in ((0, "x"), (1, "y")):
        k = 3 if name == "x" else 4
        lo = geometry[(f[:, k] == 1) & (f[:, 7 - k] == 2) & (f[:, 1] == 1) & (f[:, 2] == 0)]
        hi = geometry[(f[:, k] == 3) & (f[:, 7 - k] == 2) & (f[:, 1] == 1) & (f[:, 2] == 0)]
        np.testing.assert_allclose(hi[:, column] - lo[:, column], 2 * step, atol=1.0)
        np.testing.assert_allclose(hi[:, 1 - column], lo[:, 1 - column], atol=0.5)
        np.testing.assert_allclose(hi[:, 2], lo[:, 2], atol=2)  # same size: same area


def test_an_empty_image_has_no_centroid_and_bad_input_is_refused():
    out = centroid_and_area(np.zeros((2, 4, 4)))
    assert np.isnan(out[:, :2]).all() and (out[:, 2] == 0).all()
    with pytest.raises(ValueError, match="shape"):
        centroid_and_area(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        centroid_and_area(np.full((1, 4, 4), 2.0))


def test_notebook_06_rotation_cell_shows_a_flat_prior_and_a_diagonal_posterior_that_picks_axes():
    """The cell of notebook 06 that teaches why latents can align: run it and check its curves."""
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .conftest import REPO_ROOT

    cells = json.loads((REPO_ROOT / "notebooks" / "06_beta_vae.ipynb").read_text())["cells"]
    source = ["".join(c["source"]) for c in cells if c.get("id") == "06-rotation"]
    assert len(source) == 1, "notebook 06 should have one code cell with id 06-rotation"
    namespace = {"np": np, "plt": plt}
    exec(compile(source[0], "06-rotation", "exec"), namespace)
    plt.close("all")
    angles = namespace["angles"]
    prior, tilted, round_ = (np.array(v) for v in namespace["curves"].values())
    assert np.ptp(prior) < 1e-9 and prior[0] > 1  # the prior charges the same at every angle
    np.testing.assert_allclose(tilted[[0, -1]], 0, atol=1e-9)  # aligned at 0 and 90 degrees
    assert angles[np.argmax(tilted)] == 45 and tilted.max() > 1
    np.testing.assert_allclose(round_, 0, atol=1e-9)  # equal widths: every angle is diagonal
