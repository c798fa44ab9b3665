"""A coder made for black-and-white images: the ideal code length under a context model.

JBIG-style coders predict each pixel from a few already-coded neighbours (its *context*) and
spend -log2 p(pixel | context) bits on it with an arithmetic coder, which comes within a few bits
per image of that ideal length. Notebook 08 uses it as the fair opponent of a VAE on thresholded
MNIST digits: the probabilities are counted on training images, as the VAE's code is learned.
"""
import numpy as np

# (row, column) offsets of the causal neighbours: two pixels rows above, then four to the left.
TEMPLATE = ((-2, -1), (-2, 0), (-2, 1),
            (-1, -2), (-1, -1), (-1, 0), (-1, 1), (-1, 2),
            (0, -4), (0, -3), (0, -2), (0, -1))


def _bits(images):
    b = np.asarray(images)
    if b.ndim == 4 and b.shape[-1] == 1:
        b = b[..., 0]
    if b.ndim != 3 or b.size == 0:
        raise ValueError(f"Expected bilevel images of shape (N, H, W) or (N, H, W, 1), got shape "
                         f"{b.shape}.")
    if b.dtype != bool and not ((b == 0) | (b == 1)).all():
        raise ValueError("Expected images of 0s and 1s: threshold them first, e.g. (x > 127).")
    return b.astype(np.uint8)


def contexts(images, template=TEMPLATE):
    """The context of every pixel: its causal neighbours' bits as one integer.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 1)`` of 0s and 1s.
        template: ``(row, column)`` offsets of neighbours coded before the pixel in raster order
            (row < 0, or row == 0 and column < 0). Pixels outside the image count as 0.

    Returns:
        ``(N, H, W)`` integers in ``[0, 2**len(template))``.
    """
    b = _bits(images)
    if any(r > 0 or (r == 0 and c >= 0) for r, c in template):
        raise ValueError(f"template={template!r}: every offset must point to a pixel coded "
                         "earlier (a row above, or the same row to the left).")
    n, h, w = b.shape
    top = max(-r for r, _ in template)
    side = max(abs(c) for _, c in template)
    dtype = np.uint16 if len(template) <= 16 else np.int64  # uint16: a quarter of the memory
    padded = np.pad(b, ((0, 0), (top, 0), (side, side))).astype(dtype)
    ctx = np.zeros((n, h, w), dtype)
    for j, (r, c) in enumerate(template):
        ctx |= padded[:, top + r:top + r + h, side + c:side + c + w] << dtype(j)
    return ctx


def context_counts(images, template=TEMPLATE):
    """How often each context was followed by a 0 and by a 1 in ``images``: ``(2**T, 2)``."""
    b = _bits(images)
    ctx = contexts(b, template).ravel()
    total = np.bincount(ctx, minlength=2 ** len(template))
    ones = np.bincount(ctx[b.ravel() == 1], minlength=2 ** len(template))
    return np.stack([total - ones, ones], axis=1)


def code_lengths(counts, images, template=TEMPLATE):
    """Ideal code length of each image, in bits, under the context model of ``counts``.

    Each pixel costs -log2 p(pixel | context), with p from ``counts`` (from `context_counts`) and
    add-1/2 smoothing, so an unseen context costs 1 bit per pixel. No header: the model is shared
    by sender and receiver, like the VAE's decoder and its code's entropy model.

    Returns:
        ``(N,)`` bits.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != (2 ** len(template), 2):
        raise ValueError(f"Expected counts of shape {(2 ** len(template), 2)} from "
                         f"context_counts with the same template, got {counts.shape}.")
    b = _bits(images)
    ctx = contexts(b, template)
    p = (counts[ctx, b] + 0.5) / (counts[ctx].sum(axis=-1) + 1.0)
    return -np.log2(p).sum(axis=(1, 2))
