"""Figures the notebooks share: rows of images, and training curves."""

import matplotlib.pyplot as plt
import numpy as np


def show_image_rows(rows, row_titles=None, col_titles=None, size=1.2, suptitle=None):
    """Plot images as a grid, one list of images per row.

    Args:
        rows: sequence of rows; each row a sequence or array of images, ``(H, W)``, ``(H, W, 1)`` or
            ``(H, W, 3)``, float in [0, 1] or uint8. Images in a grid may differ in size.
        row_titles: one label per row, written left of the row.
        col_titles: one title per column, above the first row.
        size: inches per image.

    Returns:
        The matplotlib ``Figure``.
    """
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols, size * n_rows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            image = np.asarray(row[j])
            image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
            vmax = 255 if image.dtype == np.uint8 else 1.0
            ax.imshow(np.clip(image, 0, vmax), cmap="gray" if image.ndim == 2 else None,
                      vmin=0, vmax=vmax, interpolation="nearest")
            if i == 0 and col_titles is not None:
                ax.set_title(col_titles[j], fontsize=8)
        if row_titles is not None:
            axes[i, 0].set_ylabel(row_titles[i], fontsize=9, rotation=0, ha="right", va="center")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_history(history, metrics=("loss",), log_scale=False, title=None):
    """Plot training and validation curves from ``model.fit``'s result, one panel per metric.

    Args:
        history: ``keras.callbacks.History`` or its ``.history`` dict.
        metrics: names logged by Keras; ``val_<name>`` is drawn too when present.
        log_scale: logarithmic y axis.

    Returns:
        The matplotlib ``Figure``.
    """
    logs = getattr(history, "history", history)
    missing = [m for m in metrics if m not in logs]
    if missing:
        raise KeyError(f"{missing} not in the history; it has {sorted(logs)}.")
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        epochs = np.arange(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "o-", ms=3, label="train")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "o-", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        if log_scale:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
