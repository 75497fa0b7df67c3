"""aebook.sprites: shapes, independent uniform factors, determinism, hand-checked pixels."""

import numpy as np
import pytest
from scipy.stats import chi2_contingency, chisquare

from aebook.sprites import (
    FACTOR_GRIDS,
    FACTOR_NAMES,
    SHAPES,
    make_sprites,
    render_sprites,
    sprite_factor_values,
)

SIDE = 32


def _image(shape, scale, rotation, x, y, image_size=SIDE):
    return render_sprites([[shape, scale, rotation, x, y]], image_size)[0].reshape(image_size,
                                                                                   image_size)


def test_shapes_dtype_and_binary_values():
    images, factors, names = make_sprites(50, image_size=28, seed=3)
    assert images.shape == (50, 28 * 28) and images.dtype == np.float32
    assert factors.shape == (50, 5) and factors.dtype == np.int64
    assert names == FACTOR_NAMES == ("shape", "scale", "rotation", "x", "y")
    assert set(np.unique(images)) <= {0.0, 1.0}
    assert np.all(images.sum(axis=1) > 0), "every image shows a shape"
    for j, name in enumerate(names):
        assert factors[:, j].min() >= 0 and factors[:, j].max() < len(FACTOR_GRIDS[name])


def test_factors_are_uniform_and_independent():
    _, factors, names = make_sprites(30_000, seed=0)
    for j, name in enumerate(names):
        counts = np.bincount(factors[:, j], minlength=len(FACTOR_GRIDS[name]))
        assert len(counts) == len(FACTOR_GRIDS[name])
        assert chisquare(counts).pvalue > 1e-3, (name, counts)
    for a in range(5):
        for b in range(a + 1, 5):
            table = np.zeros((len(FACTOR_GRIDS[names[a]]), len(FACTOR_GRIDS[names[b]])))
            np.add.at(table, (factors[:, a], factors[:, b]), 1)
            assert chi2_contingency(table).pvalue > 1e-3, (names[a], names[b])


def test_dependent_factors_would_be_caught():
    """The independence check above can fail: a coupled pair is rejected."""
    _, factors, _ = make_sprites(30_000, seed=0)
    coupled = np.where(factors[:, 1] > 2, factors[:, 3] // 2, factors[:, 3])  # x depends on scale
    table = np.zeros((6, 10))
    np.add.at(table, (factors[:, 1], coupled), 1)
    assert chi2_contingency(table).pvalue < 1e-6


def test_same_seed_same_images_other_seed_other_images():
    a = make_sprites(100, seed=7)
    b = make_sprites(100, seed=7)
    c = make_sprites(100, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    # the images are a function of the factors alone
    np.testing.assert_array_equal(render_sprites(a[1]), a[0])


def test_square_pixels_by_hand():
    # scale 1: half-side 32 / 7 = 4.57 px around the centre (8, 8) (x = y = 0.25):
    # pixel k (centre k + 0.5) is inside when 3.43 <= k + 0.5 <= 12.57, i.e. k = 3..12
    big = _image(0, 5, 0, 0, 0)
    expected = np.zeros((SIDE, SIDE))
    expected[3:13, 3:13] = 1
    np.testing.assert_array_equal(big, expected)
    # scale 0.5: half-side 2.29 px: 5.71 <= k + 0.5 <= 10.29, k = 6..9, a 4 x 4 square
    small = _image(0, 0, 0, 0, 0)
    assert small.sum() == 16 and small[6:10, 6:10].all()
    areas = [_image(0, s, 0, 4, 4).sum() for s in range(6)]
    assert areas == sorted(areas) and areas[0] < areas[-1], areas


def test_orientation_and_position():
    ellipse = _image(1, 5, 0, 4, 4)
    rows, cols = np.nonzero(ellipse)
    assert np.ptp(cols) > 1.5 * np.ptp(rows), "unrotated ellipse lies along x"
    triangle = _image(2, 5, 0, 4, 4)
    widths = triangle.sum(axis=1)[triangle.sum(axis=1) > 0]
    assert widths[0] < widths[-1], "the triangle's vertex points up (row 0 is the top)"
    centres_x = [np.nonzero(_image(0, 3, 0, x, 4))[1].mean() for x in range(10)]
    centres_y = [np.nonzero(_image(0, 3, 0, 4, y))[0].mean() for y in range(10)]
    assert np.all(np.diff(centres_x) > 0) and np.all(np.diff(centres_y) > 0)
    # rotation changes a square's outline but not (much) its area
    straight, turned = _image(0, 5, 0, 4, 4), _image(0, 5, 5, 4, 4)
    assert not np.array_equal(straight, turned)
    assert abs(straight.sum() - turned.sum()) < 0.1 * straight.sum()


@pytest.mark.parametrize("image_size", [16, 28, 32])
def test_every_shape_stays_inside_the_image(image_size):
    grid = np.array(np.meshgrid(range(3), [5], range(10), [0, 9], [0, 9], indexing="ij"))
    factors = grid.reshape(5, -1).T
    images = render_sprites(factors, image_size).reshape(-1, image_size, image_size)
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    assert border.sum() == 0
    assert np.all(images.sum(axis=(1, 2)) > 0)


def test_factor_values():
    values = sprite_factor_values(np.array([[2, 0, 9, 0, 9]]))
    np.testing.assert_allclose(values, [[2.0, 0.5, 81.0, 0.25, 0.75]])
    assert len(SHAPES) == len(FACTOR_GRIDS["shape"]) == 3


def test_bad_arguments_raise_with_the_house_message():
    with pytest.raises(ValueError, match=r"^n must be a positive int\. Received: n=0"):
        make_sprites(0)
    with pytest.raises(ValueError, match=r"^image_size must be an int >= 16\. Received: image_size=8"):
        make_sprites(5, image_size=8)
    with pytest.raises(ValueError, match=r"^seed must be an int in \[0, 2\*\*31 - 1"):
        make_sprites(5, seed=-1)
    with pytest.raises(ValueError, match=r"^factors must be an int array of shape \(N, 5\)"):
        render_sprites(np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match=r"^factors\[:, 1\] \(scale\) must hold grid indices in \[0, 5\]"):
        render_sprites([[0, 6, 0, 0, 0]])
