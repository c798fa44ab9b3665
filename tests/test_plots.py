import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers.plots import plot_history, show_image_rows  # noqa: E402


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
