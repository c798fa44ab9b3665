"""A dSprites-like data set of binary shape images with known, independent factors (no download).

Every combination of five factors is drawn once, as in dSprites (Matthey et al. 2017):

=========  ==========================================  =======================
factor     values                                      default count
=========  ==========================================  =======================
shape      square, ellipse (2:1), triangle             3
scale      0.5 ... 1.0 of the largest size             6
rotation   0 ... 90 degrees (end excluded)             10
x, y       centre from 0.3 to 0.7 of the width (y up)  16 each
=========  ==========================================  =======================

Rotations stop short of 90 degrees because a square repeats every 90 degrees (a triangle every
120, an ellipse every 180), so that the factors can be told apart from the pictures. At 32 x 32
pixels a few small shapes rotated by a few degrees still hit the same pixel centres: with the
defaults, 3 * 6 * 10 * 16 * 16 = 46,080 images, of which 45,833 are distinct.
"""

import itertools

import numpy as np

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
SHAPE_NAMES = ("square", "ellipse", "triangle")
_RADIUS = 0.2  # half-size of a scale-1 shape, as a fraction of the image width


def factor_values(n_scales=6, n_rotations=10, n_positions=16):
    """The values each factor takes: a dict name -> 1-D array (shape: indices; rotation: radians)."""
    return {
        "shape": np.arange(len(SHAPE_NAMES)),
        "scale": np.linspace(0.5, 1.0, n_scales),
        "rotation": np.arange(n_rotations) * (np.pi / 2) / n_rotations,
        "x": np.linspace(0.3, 0.7, n_positions),
        "y": np.linspace(0.3, 0.7, n_positions),
    }


def _inside(shape, u, v):
    """Is the point (u, v), in the shape's own frame (unit size), inside the shape?"""
    if shape == 0:  # square, half-side 1
        return np.maximum(np.abs(u), np.abs(v)) <= 1.0
    if shape == 1:  # ellipse, semi-axes 1 and 0.5
        return u ** 2 + (v / 0.5) ** 2 <= 1.0
    # equilateral triangle with circumradius 1.2, pointing up: three half-planes
    normals = [(np.cos(a), np.sin(a)) for a in np.deg2rad([90 + 60, 90 + 180, 90 + 300])]
    return np.all([nx * u + ny * v <= 0.6 for nx, ny in normals], axis=0)


def make_shapes(image_size=32, n_scales=6, n_rotations=10, n_positions=16):
    """Render every combination of the factors.

    Returns:
        ``(images, factors)``: ``images`` uint8 ``(N, image_size, image_size, 1)`` with values 0 and
        255; ``factors`` int ``(N, 5)``, the index of each factor's value in ``factor_values()``,
        columns in ``FACTOR_NAMES`` order. Rows enumerate the factors in that order (the last
        factor, y, changes fastest).
    """
    values = factor_values(n_scales, n_rotations, n_positions)
    grid = (np.arange(image_size) + 0.5) / image_size  # pixel centres in [0, 1]
    py, px = np.meshgrid(grid, grid, indexing="ij")  # image row (y, downwards), column (x)
    images = np.zeros((len(SHAPE_NAMES), n_scales, n_rotations, n_positions, n_positions,
                       image_size, image_size), np.uint8)
    for s, k, r in itertools.product(range(len(SHAPE_NAMES)), range(n_scales), range(n_rotations)):
        size = _RADIUS * values["scale"][k]
        cos, sin = np.cos(values["rotation"][r]), np.sin(values["rotation"][r])
        # offsets of every pixel from every centre: (n_positions, n_positions, H, W) for x and y
        dx = px[None, None] - values["x"][:, None, None, None]
        dy = (1 - values["y"][None, :, None, None]) - py[None, None]  # y counts upwards
        u = (cos * dx + sin * dy) / size
        v = (-sin * dx + cos * dy) / size
        images[s, k, r] = _inside(s, u, v) * 255
    factors = np.stack(np.meshgrid(*[np.arange(len(v)) for v in values.values()], indexing="ij"), -1)
    return images.reshape(-1, image_size, image_size, 1), factors.reshape(-1, len(FACTOR_NAMES))


def centroid_and_area(images):
    """Where a shape sits in each image and how large it is, read off the pixels.

    Pixel values act as weights, so a decoded image's soft edges count in proportion to their
    brightness. Positions use the factors' convention: x to the right, y *upwards*, in pixels from
    the centre of the bottom-left pixel.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, 1)``, uint8 0-255 or float in [0, 1].

    Returns:
        float64 ``(N, 3)``: columns x and y of the intensity-weighted centroid (pixels) and the
        area, the summed intensity (pixels; a binary image's count of white pixels). An all-black
        image has area 0 and a NaN centroid.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(f"Expected gray images of shape (N, H, W) or (N, H, W, 1), got shape "
                         f"{images.shape}.")
    weights = images.astype(np.float64) / (255.0 if images.dtype == np.uint8 else 1.0)
    if not np.isfinite(weights).all() or weights.min() < 0 or weights.max() > 1:
        raise ValueError("Expected pixel values in [0, 1] (float) or 0-255 (uint8); rescale the "
                         "images, or apply the decoder's sigmoid to its logits first.")
    height, width = images.shape[1:]
    area = weights.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.einsum("nhw,w->n", weights, np.arange(width, dtype=np.float64)) / area
        y = np.einsum("nhw,h->n", weights, np.arange(height - 1, -1, -1, dtype=np.float64)) / area
    return np.stack([x, y, area], axis=1)
