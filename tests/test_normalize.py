import numpy as np
import pytest

from livedigits.normalize import center_of_mass_shift, stroke_width, thicken_to_mnist, to_mnist


def _bar(h, w, thickness=6):
    image = np.zeros((h, w), np.uint8)
    image[:, (w - thickness) // 2:(w + thickness) // 2] = 255
    return image


def test_output_contract():
    out = to_mnist(_bar(100, 30))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0 and out.max() > 0.5


def test_longest_side_fits_20_pixels_keeping_aspect():
    tall = to_mnist(_bar(200, 60, thickness=60), thicken=False)  # a filled 200x60 block
    rows = np.flatnonzero(tall.max(axis=1) > 0.3)
    cols = np.flatnonzero(tall.max(axis=0) > 0.3)
    assert 19 <= rows.size <= 21
    assert 5 <= cols.size <= 7  # 60/200 of 20 px: aspect kept, not stretched to a square


@pytest.mark.parametrize("offset", [(0, 0), (30, 50), (70, 5)])
def test_centre_of_mass_is_centred(offset):
    image = np.zeros((150, 150), np.uint8)
    y, x = offset
    image[y:y + 60, x:x + 10] = 255
    image[y:y + 10, x:x + 40] = 255  # an L: its mass is off its box centre
    out = to_mnist(image)
    ys, xs = np.indices(out.shape)
    assert abs((ys * out).sum() / out.sum() - 13.5) < 0.6
    assert abs((xs * out).sum() / out.sum() - 13.5) < 0.6


def test_empty_crop_gives_zeros():
    assert not to_mnist(np.zeros((40, 40), np.uint8)).any()
    assert not to_mnist(np.zeros((0, 0), np.uint8)).any()


def test_thin_pen_strokes_are_thickened_towards_mnist():
    thin = _bar(200, 40, thickness=2)
    assert stroke_width(thin) < 4
    assert stroke_width(thicken_to_mnist(thin)) > 3 * stroke_width(thin)
    thick = _bar(200, 60, thickness=26)  # already MNIST-like: untouched
    assert np.array_equal(thicken_to_mnist(thick), thick)


def test_centre_of_mass_shift_keeps_total_ink():
    image = np.zeros((28, 28), np.float32)
    image[2:8, 2:8] = 1.0
    moved = center_of_mass_shift(image)
    assert abs(moved.sum() - image.sum()) < 1e-3 and moved[13, 13] > 0


def test_uint8_crops_are_cut_as_their_float_values_would_be():
    rng = np.random.default_rng(6)
    for trial in range(200):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        crop = np.zeros((h, w), np.uint8)
        crop[rng.random((h, w)) < 0.3] = rng.integers(1, 256)
        crop[rng.integers(0, h), rng.integers(0, w)] = 255 if trial % 2 else 9  # faint crops too
        for thicken in (True, False):
            assert np.array_equal(to_mnist(crop, thicken), to_mnist(crop.astype(np.float64), thicken))


def test_a_batch_is_each_crop_normalised_alone():
    from livedigits.normalize import to_mnist_batch

    crops = [_bar(100, 30), np.zeros((10, 10), np.uint8), _bar(40, 300, thickness=2), _bar(12, 9, 3).astype(np.float32)]
    batch = to_mnist_batch(crops)
    assert batch.shape == (4, 28, 28, 1)
    for crop, normalised in zip(crops, batch):
        assert np.array_equal(normalised[:, :, 0], to_mnist(crop))
