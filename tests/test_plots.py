import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.plots import latent_traversal, plot_history, show_image_rows  # noqa: E402


def test_image_rows_mixes_sizes_and_channels():
    rows = [np.zeros((3, 8, 8, 3), np.uint8), [np.ones((4, 4, 1)), np.ones((4, 4))]]
    fig = show_image_rows(rows, row_titles=["a", "b"], col_titles=["x", "y", "z"])
    axes = fig.axes
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes[:3]] == ["x", "y", "z"]
    assert not axes[5].axison  # the short row leaves its last cell empty
    assert axes[3].images[0].get_array().shape == (4, 4)  # (H, W, 1) drawn as grayscale
    plt.close(fig)


def test_history_draws_train_and_validation():
    fig = plot_history({"loss": [3, 2, 1], "val_loss": [3, 2.5, 2], "kl": [1, 1, 1]}, metrics=("loss", "kl"))
    loss_ax, kl_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ["train", "validation"]
    assert [line.get_label() for line in kl_ax.lines] == ["train"]
    plt.close(fig)


def test_history_names_a_missing_metric():
    with pytest.raises(KeyError, match="has \\['loss'\\]"):
        plot_history({"loss": [1.0]}, metrics=("psnr",))


def test_latent_traversal_moves_one_dimension_per_row():
    z = np.array([0.3, -1.0, 2.0, 0.5], np.float32)
    calls = []

    def decode(codes):  # an "image" that is the code itself, (batch, 4, 1, 1)
        calls.append(len(codes))
        return codes[:, :, None, None]

    rows = latent_traversal(decode, z, dims=[2, 0], span=1.5, steps=5)
    assert calls == [10] and len(rows) == 2 and rows[0].shape == (5, 4, 1, 1)
    for row, j in zip(rows, [2, 0]):
        codes = row[:, :, 0, 0]
        np.testing.assert_allclose(codes[:, j], np.linspace(-1.5, 1.5, 5))
        others = [k for k in range(4) if k != j]
        np.testing.assert_array_equal(codes[:, others], np.repeat(z[None, others], 5, axis=0))


def test_latent_traversal_rejects_a_batch_of_codes_and_unknown_dims():
    with pytest.raises(ValueError, match="shape \\(latent_dim,\\)"):
        latent_traversal(lambda c: c, np.zeros((2, 4)), dims=[0])
    with pytest.raises(ValueError, match="dims"):
        latent_traversal(lambda c: c, np.zeros(4), dims=[4])
