"""Synthetic digit strings: pictures a line reader can learn from, labels of digits only."""
import numpy as np

from livedigits.synthetic.strings import DigitPool, _separator, compose, ink_from_dark, ink_from_light


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
