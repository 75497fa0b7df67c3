"""Sprites: a small dSprites-like data set with known, independent factors (NumPy).

dSprites (Matthey et al. 2017) shows one white shape on a black square; five factors
generate each image: the shape, its scale, its rotation and its x and y position.
`make_sprites` draws images of the same kind, smaller and on the fly, so that a
chapter can train on them in seconds and score a code against the true factors
(`aebook.metrics.mutual_information_gap`).

Each factor takes the values of a fixed grid, `FACTOR_GRIDS`; every image draws each
factor's grid index independently and uniformly. The images are binary (a pixel is 1
when its centre lies inside the shape), float32, flattened to `image_size ** 2`
values.
"""

import numpy as np

from aebook import validation as v

__all__ = ["FACTOR_GRIDS", "FACTOR_NAMES", "SHAPES", "make_sprites", "render_sprites",
           "sprite_factor_values"]

SHAPES = ("square", "ellipse", "triangle")
"""The shapes, in the order of their factor index 0, 1, 2."""

FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
"""The factors, in the order of the columns of `make_sprites`'s `factors`."""

FACTOR_GRIDS = {
    "shape": np.arange(len(SHAPES), dtype="float64"),
    "scale": np.linspace(0.5, 1.0, 6),
    "rotation": np.arange(10) * 9.0,
    "x": np.linspace(0.25, 0.75, 10),
    "y": np.linspace(0.25, 0.75, 10),
}
"""The values each factor takes. `scale` multiplies the shape's largest size (a
half-side of `image_size / 7` pixels for the square); `rotation` is in degrees,
counterclockwise, in [0, 90) so that no two rotations of a shape look alike (the
square repeats every 90 degrees, the triangle every 120, the ellipse every 180);
`x` and `y` place the shape's centre, as fractions of the image width from the
left and of its height from the top."""


def sprite_factor_values(factors):
    """The factor values of grid indices: column j is `FACTOR_GRIDS[FACTOR_NAMES[j]][factors[:, j]]`.

    Args:
        factors: int array (N, 5) of grid indices, as returned by `make_sprites`.

    Returns:
        float64 array (N, 5): shape index, scale, rotation (degrees), x, y.

    Raises:
        ValueError: if `factors` is not (N, 5) or holds an index outside its grid.
    """
    factors = np.asarray(factors)
    if factors.ndim != 2 or factors.shape[1] != len(FACTOR_NAMES) or not np.issubdtype(
            factors.dtype, np.integer):
        raise ValueError(f"factors must be an int array of shape (N, {len(FACTOR_NAMES)}). "
                         f"Received: factors with shape {factors.shape} and dtype {factors.dtype}")
    columns = []
    for j, name in enumerate(FACTOR_NAMES):
        grid = FACTOR_GRIDS[name]
        if factors.size and (factors[:, j].min() < 0 or factors[:, j].max() >= len(grid)):
            raise ValueError(f"factors[:, {j}] ({name}) must hold grid indices in "
                             f"[0, {len(grid) - 1}]. Received: factors[:, {j}] with values in "
                             f"[{factors[:, j].min()}, {factors[:, j].max()}]")
        columns.append(grid[factors[:, j]])
    return np.stack(columns, axis=1) if columns else np.zeros((0, len(FACTOR_NAMES)))


def _render(values, image_size):
    """Binary images (N, image_size, image_size) of factor values (N, 5)."""
    shape, scale, rotation, x, y = values.T
    half = scale * image_size / 7.0  # half-side of the square, in pixels
    centres = (np.arange(image_size) + 0.5)  # pixel centres
    cx, cy = x * image_size, y * image_size
    dx = centres[None, None, :] - cx[:, None, None]  # (N, 1, W): to the right
    dy = cy[:, None, None] - centres[None, :, None]  # (N, H, 1): upwards
    theta = np.deg2rad(rotation)[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    # rotate the pixel offsets by -theta, in units of the shape's half-size
    u = (cos * dx + sin * dy) / half[:, None, None]
    w = (-sin * dx + cos * dy) / half[:, None, None]
    square = np.maximum(np.abs(u), np.abs(w)) <= 1.0
    ellipse = (u / 1.2) ** 2 + (w / 0.6) ** 2 <= 1.0
    # equilateral triangle in the circle of radius 1.3, a vertex pointing up
    r = 1.3
    root3 = np.sqrt(3.0)
    triangle = (w >= -r / 2) & (root3 * u + w <= r) & (-root3 * u + w <= r)
    kind = shape.astype(int)[:, None, None]
    inside = np.where(kind == 0, square, np.where(kind == 1, ellipse, triangle))
    return inside.astype("float32")


def render_sprites(factors, image_size=32):
    """Draws the images of given factors (grid indices), e.g. to vary one factor at a time.

    Args:
        factors: int array (N, 5) of grid indices into `FACTOR_GRIDS`, columns in
            the order of `FACTOR_NAMES`.
        image_size: side of the square images in pixels (int >= 16).

    Returns:
        float32 array (N, image_size ** 2) of 0s and 1s, flattened row by row (row 0
        is the top of the image).

    Raises:
        ValueError: for bad `factors` (see `sprite_factor_values`) or `image_size`.

    Example:
        >>> from aebook.sprites import render_sprites
        >>> square = render_sprites([[0, 5, 0, 0, 0]])  # scale 1, no rotation, top left
        >>> int(square.sum())  # a 10 x 10 square: half-side 32 / 7 pixels, centre (8, 8)
        100
    """
    image_size = v.positive_int("image_size", image_size)
    if image_size < 16:
        v.fail("image_size", "an int >= 16", image_size)
    values = sprite_factor_values(factors)
    images = np.empty((len(values), image_size * image_size), dtype="float32")
    chunk = max(1, 2_000_000 // (image_size * image_size))  # bound the temporary arrays
    for start in range(0, len(values), chunk):
        block = _render(values[start:start + chunk], image_size)
        images[start:start + chunk] = block.reshape(len(block), -1)
    return images


def make_sprites(n, image_size=32, seed=0):
    """Draws `n` dSprites-like images with independent, uniformly drawn factors.

    Each image shows one white shape (square, ellipse or triangle, `SHAPES`) on black.
    Five factors generate it (`FACTOR_NAMES`): shape, scale, rotation, and the x and
    y position of its centre. Each factor's grid index is drawn independently and
    uniformly over its grid (`FACTOR_GRIDS`: 3 shapes, 6 scales, 10 rotations, 10 x
    and 10 y positions), so the factors are independent by construction. A pixel is
    1 when its centre lies inside the shape, else 0. Every shape stays inside the
    image at every scale, rotation and position.

    Args:
        n: number of images (positive int).
        image_size: side of the square images in pixels (int >= 16).
        seed: NumPy seed of the factor draws; the same seed gives the same images.

    Returns:
        `(images, factors, factor_names)`: `images` float32 (n, image_size ** 2),
        values 0 or 1, flattened row by row (reshape to (n, image_size, image_size)
        to view); `factors` int64 (n, 5), the grid index of each factor (its value
        is `sprite_factor_values(factors)`); `factor_names`, the tuple
        `FACTOR_NAMES`.

    Raises:
        ValueError: for a bad `n`, `image_size` or `seed`.

    Example:
        >>> from aebook.sprites import make_sprites
        >>> images, factors, names = make_sprites(4, image_size=32, seed=0)
        >>> images.shape, factors.shape, names
        ((4, 1024), (4, 5), ('shape', 'scale', 'rotation', 'x', 'y'))
    """
    n = v.positive_int("n", n)
    image_size = v.positive_int("image_size", image_size)
    if image_size < 16:
        v.fail("image_size", "an int >= 16", image_size)
    seed = v.seed("seed", seed, allow_none=False)
    rng = np.random.default_rng(seed)
    factors = np.stack([rng.integers(0, len(FACTOR_GRIDS[name]), size=n) for name in FACTOR_NAMES],
                       axis=1).astype("int64")
    return render_sprites(factors, image_size), factors, FACTOR_NAMES
