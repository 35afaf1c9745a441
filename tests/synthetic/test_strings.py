"""Synthetic digit strings: pictures a line reader can learn from, labels of digits only."""
import numpy as np

from livedigits.synthetic.strings import (DigitPool, _separator, _stroke_one, _with_tail, compose, ink_from_dark,
                                          ink_from_light)


def _pool(mnist, count=300):
    inks = [ink_from_light(x) for x in mnist.x_test[:count]]
    return DigitPool("mnist", inks, mnist.y_test[:count])


def test_compose_gives_grey_lines_labelled_with_digits_only(mnist):
    rng = np.random.default_rng(3)
    pool = _pool(mnist)
    for _ in range(40):
        gray, text = compose([pool], np.array([1.0]), [], rng)
        assert gray.dtype == np.uint8 and gray.ndim == 2 and gray.shape[1] >= gray.shape[0] // 2
        assert text.isdigit() and 1 <= len(text) <= 13
        assert int(gray.max()) - int(gray.min()) > 40  # ink on paper


def test_ink_maps_are_tight_and_polarity_aware():
    dark = np.full((20, 20), 230, np.uint8)
    dark[5:15, 8:12] = 20
    alpha = ink_from_dark(dark)
    assert alpha.shape == (10, 4) and alpha.max() == 1.0
    assert ink_from_light(255 - dark).shape == (10, 4)


def test_separators_keep_the_digit_height():
    rng = np.random.default_rng(0)
    for kind in (".", ",", "-", "=", "/=", ".-"):
        sep = _separator(kind, 48.0, 3, rng)
        assert sep.shape[0] == 48 and sep.max() == 1.0


def test_long_tails_and_bare_ones_have_the_asked_shape():
    rng = np.random.default_rng(1)
    seven = np.zeros((40, 20), np.float32)
    seven[:4] = 1.0
    seven[4:, 8:11] = 1.0
    tailed = _with_tail(seven, 50, rng)
    assert tailed.shape == (90, 20)
    assert np.array_equal(tailed[:20], seven[:20]) and tailed[-5:].max() > 0.5  # the head kept, ink down to the end
    one = _stroke_one(36, 3, rng)
    assert one.shape[0] == 36 and one[0].max() == 1.0 and one[-1].max() == 1.0


def test_long_tails_are_mostly_cut_below_the_row_and_small_digits_compose(mnist):
    pool = _pool(mnist)

    def leaving_at_the_bottom(tails: float) -> int:
        rng = np.random.default_rng(5)
        count = 0
        for _ in range(60):
            gray, _ = compose([pool], np.array([1.0]), [], rng, small_digits=0.0, tails=tails)
            count += bool((gray[-1] < int(np.percentile(gray, 80)) - 40).any())  # a stroke leaves the picture
        return count

    assert leaving_at_the_bottom(1.0) >= leaving_at_the_bottom(0.0) + 20
    rng = np.random.default_rng(2)
    for _ in range(20):
        gray, text = compose([pool], np.array([1.0]), [], rng, small_digits=1.0)
        assert gray.dtype == np.uint8 and text.isdigit()
