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


def plot_latent_scatter(z, labels, class_names=None, ax=None, title=None, max_points=5000):
    """Scatter the first two coordinates of latent codes ``z`` ``(N, >=2)``, coloured by class.

    Returns:
        The matplotlib ``Axes``.
    """
    z, labels = np.asarray(z)[:max_points], np.asarray(labels)[:max_points]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.6, vmin=-0.5, vmax=9.5)
    colorbar = ax.figure.colorbar(points, ax=ax, ticks=range(10))
    if class_names is not None:
        colorbar.ax.set_yticklabels(class_names, fontsize=8)  # >= 9 px in a 1,000-px-wide figure
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def latent_grid(n=15):
    """Points of a 2-D latent space on an ``n x n`` grid of standard-normal quantiles.

    The quantiles 0.5/n ... 1-0.5/n of N(0, 1) in each coordinate place equal prior mass in every
    cell, so the grid covers the prior evenly. Returns ``(n * n, 2)`` float32, row-major with z_2
    decreasing down the rows (as a picture's y axis).
    """
    from scipy.stats import norm

    q = norm.ppf(np.linspace(0.5 / n, 1 - 0.5 / n, n))
    z1, z2 = np.meshgrid(q, q[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)


def latent_traversal(decode, z, dims, span=2.5, steps=9):
    """Decoded images along single latent dimensions, one row per dimension.

    For each ``j`` in ``dims``: ``steps`` copies of the code ``z`` in which only ``z[j]`` moves,
    over ``linspace(-span, span, steps)`` (in prior standard deviations); all rows are decoded in
    one batch.

    Args:
        decode: maps codes ``(batch, latent_dim)`` to images, e.g. ``model.decode``.
        z: the code to start from, ``(latent_dim,)``, e.g. a posterior mean.
        dims: the latent dimensions to traverse.

    Returns:
        A list of ``len(dims)`` arrays ``(steps, H, W, C)``, ready for ``show_image_rows``.
    """
    z = np.asarray(z, np.float32)
    dims = [int(j) for j in dims]
    if z.ndim != 1 or any(not 0 <= j < len(z) for j in dims):
        raise ValueError(f"Expected one code of shape (latent_dim,) and dims in [0, latent_dim); "
                         f"got a code of shape {z.shape} and dims {dims}.")
    codes = np.repeat(z[None, None], len(dims), axis=0).repeat(steps, axis=1)  # (dims, steps, latent_dim)
    for row, j in enumerate(dims):
        codes[row, :, j] = np.linspace(-span, span, steps)
    images = np.asarray(decode(codes.reshape(-1, len(z))))
    return list(images.reshape(len(dims), steps, *images.shape[1:]))


def plot_latent_manifold(decode, n=15, size=6.0, title=None):
    """Decode ``latent_grid(n)`` in one batch and tile the images into one picture.

    Args:
        decode: function ``(n*n, 2) -> (n*n, H, W, 1)`` images in [0, 1].

    Returns:
        The matplotlib ``Figure``.
    """
    images = np.asarray(decode(latent_grid(n)))[..., 0]
    h, w = images.shape[1:3]
    canvas = images.reshape(n, n, h, w).transpose(0, 2, 1, 3).reshape(n * h, n * w)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("$z_1$: prior quantiles, left to right")
    ax.set_ylabel("$z_2$: prior quantiles, bottom to top")
    if title:
        ax.set_title(title)
    return fig
