"""The single-digit normaliser on constructed cases: polarity from the border, an adaptive ink
floor, border lines weighed down, MNIST's centre of mass, and "no digit" for blank pictures."""
import cv2
import numpy as np
import pytest

from livedigits import Recognizer
from livedigits.normalize import to_mnist
from livedigits.single_digit import choose_reading, digit_crops, paper_polarities, single_digit_crops

CASES = range(30)


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def tight_white_on_black(digit: np.ndarray) -> np.ndarray:
    """A postal-style crop: white ink on black, cut to the ink, 16x16 (ink covers about half)."""
    rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
    tight = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return cv2.resize(tight, (16, 16), interpolation=cv2.INTER_AREA)


def faint_in_box(digit: np.ndarray, contrast: float = 0.10) -> np.ndarray:
    """A pencil digit of low contrast inside a dark box border, as on a scanned answer sheet."""
    box = np.full((64, 64), 235.0, np.float32)
    ink = cv2.resize(digit, (40, 40), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    box[12:52, 12:52] -= 235 * contrast * ink
    cv2.rectangle(box, (1, 1), (62, 62), 40, 2)
    return np.clip(box, 0, 255).astype(np.uint8)


def touching_edge(digit: np.ndarray) -> np.ndarray:
    """A digit cut so that its left side touches the picture's edge, a ruled line on the right."""
    page = np.full((48, 48), 225.0, np.float32)
    rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
    tight = cv2.resize(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], (24, 34)).astype(np.float32) / 255
    page[7:41, 0:24] -= 190 * tight
    page[:, 44:46] = 60  # a border line along the right edge, away from the digit
    return np.clip(page, 0, 255).astype(np.uint8)


def half_in_shadow(digit: np.ndarray) -> np.ndarray:
    """A cell of a phone photo: a pencil digit, the cell's right half in a hand's shadow (a soft
    step in the paper's brightness as deep as the ink), grid lines along the top and left edges."""
    cell = np.full((64, 64), 215.0, np.float32)
    cell -= 80 / (1 + np.exp(-(np.arange(64) - 36) / 2.0))[None, :]  # the shadow's soft edge
    ink = cv2.resize(digit, (32, 40), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    cell[12:52, 16:48] *= 1 - 0.45 * ink
    cell[:3], cell[:, :3] = 60, 60
    return np.clip(cell, 0, 255).astype(np.uint8)


def share_right(recognizer, mnist, make) -> float:
    pictures = [make(mnist.x_test[i]) for i in CASES]
    answers = recognizer.read_digits(pictures)
    return float(np.mean([digit == mnist.y_test[i] for i, (digit, _) in zip(CASES, answers)]))


def test_tight_white_on_black_crops_are_read_inverted(recognizer, mnist):
    for i in CASES:
        assert True in paper_polarities(tight_white_on_black(mnist.x_test[i]))
    assert share_right(recognizer, mnist, tight_white_on_black) >= 0.9


def test_dark_ink_on_light_paper_is_one_reading(mnist):
    paper = 255 - tight_white_on_black(mnist.x_test[0])
    framed = cv2.copyMakeBorder(paper, 6, 6, 6, 6, cv2.BORDER_CONSTANT, value=255)
    assert paper_polarities(framed) == (False,)


def test_faint_pencil_digit_inside_a_box_border(recognizer, mnist):
    crops = single_digit_crops(faint_in_box(mnist.x_test[0]))
    assert crops, "the faint digit was lost under the contrast floor"
    assert share_right(recognizer, mnist, faint_in_box) >= 0.9


def test_box_border_is_not_part_of_the_digit(mnist):
    normalised = to_mnist(single_digit_crops(faint_in_box(mnist.x_test[1], contrast=0.5))[0])
    reference = to_mnist(mnist.x_test[1])
    assert np.abs(normalised - reference).mean() < 0.12  # a border would fill the 28x28's rim


def test_paper_in_a_shadow_is_not_ink(recognizer, mnist):
    from livedigits.segment import at_working_scale
    from livedigits.single_digit import picture_ink
    gray, scale = at_working_scale(half_in_shadow(np.zeros((28, 28), np.uint8)))
    ink = picture_ink(gray, scale)
    assert np.percentile(ink[40:-40, 40:-40], 99) < 25  # no digit: the shadowed paper stays paper
    assert share_right(recognizer, mnist, half_in_shadow) >= 0.9


def test_ink_level_follows_the_digits_strokes_not_a_dark_border():
    from livedigits.segment import ink_levels
    from livedigits.single_digit import digit_ink_levels
    ink = np.zeros((100, 100), np.uint8)
    ink[:, :6] = ink[:, -6:] = 250          # a heavy grid line along each side
    ink[20:80, 45:52] = 120                 # the digit's firm stroke
    ink[20:26, 30:70] = 70                  # and its fainter bar, where the pen was lighter
    assert ink_levels(ink, floor=20)[0] > 70  # Otsu: set by the lines, above the faint bar
    sure, faint = digit_ink_levels(ink, floor=20)
    assert sure <= 60 and faint < sure      # half the middle's darkest strokes
    blank = np.zeros((100, 100), np.uint8)
    assert digit_ink_levels(blank, floor=20)[0] >= 20  # never under the floor


def test_digit_touching_the_edge(recognizer, mnist):
    assert share_right(recognizer, mnist, touching_edge) >= 0.9


def off_grid_cell(digit: np.ndarray) -> np.ndarray:
    """A blurred printed-sudoku cell cut off its grid: thick dark grid lines well inside the
    picture (not along its edges), heavier than the fainter digit beside them."""
    cell = np.full((64, 64), 200.0, np.float32)
    rows, cols = np.flatnonzero(digit.max(1) > 40), np.flatnonzero(digit.max(0) > 40)
    tight = cv2.resize(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], (20, 30)).astype(np.float32) / 255
    cell[12:42, 16:36] -= 90 * tight
    cell[2:62, 41:48] = 40     # a vertical grid line right of the digit
    cell[45:52, 2:62] = 40     # a horizontal one under it
    return cv2.GaussianBlur(cell, (7, 7), 0).clip(0, 255).astype(np.uint8)


def test_digit_beside_heavy_grid_lines_is_read_without_them(recognizer, mnist):
    found = digit_crops(off_grid_cell(mnist.x_test[0]))
    assert found.plain and found.unlined
    assert share_right(recognizer, mnist, off_grid_cell) >= 0.8


def test_grid_lines_alone_are_no_digit(recognizer):
    blank = np.zeros((28, 28), np.uint8)
    blank[0, 0] = blank[-1, -1] = 41  # two specks: the cell's frame, with no digit drawn in it
    assert recognizer.read_digit(off_grid_cell(blank))[0] is None


def test_choose_reading_keeps_a_sure_plain_reading_and_trusts_lines_out_only_when_sure():
    def probs(k, p):
        row = np.full(11, (1 - p) / 10, np.float32)
        row[k] = p
        return row[None]
    none = np.zeros((0, 11), np.float32)
    assert int(np.argmax(choose_reading(probs(3, 0.95), probs(8, 0.99)))) == 3  # a sure digit stays
    assert int(np.argmax(choose_reading(probs(3, 0.6), probs(8, 0.99)))) == 8  # an unsure one gives way
    assert int(np.argmax(choose_reading(probs(3, 0.6), probs(8, 0.9)))) == 3  # ... to a sure digit only
    assert int(np.argmax(choose_reading(probs(10, 0.9), probs(8, 0.99)))) == 8  # a line, then a sure 8
    assert int(np.argmax(choose_reading(probs(10, 0.9), probs(8, 0.6)))) == 10  # not sure enough
    assert int(np.argmax(choose_reading(none, probs(1, 0.5)))) == 10
    assert choose_reading(none, none)[10] == 1.0


def test_centre_of_mass_is_mnists():
    image = to_mnist(cv2.circle(np.zeros((90, 90), np.uint8), (30, 60), 12, 255, -1))
    moments = cv2.moments(image)
    assert moments["m10"] / moments["m00"] == pytest.approx(14.0, abs=0.15)
    assert moments["m01"] / moments["m00"] == pytest.approx(14.0, abs=0.15)


BLANKS = {
    "white": np.full((64, 64), 255, np.uint8),
    "black": np.zeros((64, 64), np.uint8),
    "one pixel": np.full((1, 1), 128, np.uint8),
    "plain paper": (np.full((120, 90), 214, np.float32) + np.linspace(0, 12, 90)[None, :]
                    + np.random.default_rng(1).normal(0, 1.5, (120, 90))).clip(0, 255).astype(np.uint8),
    "noise": np.random.default_rng(2).integers(0, 256, (64, 64)).astype(np.uint8),
    "colour noise": np.random.default_rng(3).integers(0, 256, (48, 48, 3)).astype(np.uint8),
    "empty box": cv2.rectangle(np.full((64, 64), 230, np.uint8), (2, 2), (61, 61), 30, 3),
}


@pytest.mark.parametrize("name", list(BLANKS))
def test_blank_pictures_hold_no_digit(recognizer, name):
    digit, not_a_digit = recognizer.read_digit(BLANKS[name])
    assert digit is None, f"{name} read as {digit}"
    assert 0.5 <= not_a_digit <= 1.0


def test_no_ink_at_all_is_certainly_no_digit(recognizer):
    assert recognizer.read_digit(BLANKS["white"]) == (None, 1.0)
    assert recognizer.digit_probabilities(BLANKS["black"])[10] == 1.0
