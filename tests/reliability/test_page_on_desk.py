"""A page on a plain desk that covers half of the frame or less (issue 14, item 22): its digits
are read; neither the page's outline nor the desk is taken for writing."""
import cv2
import numpy as np
import pytest

from livedigits import Recognizer


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def page_on_desk(mnist, share: float, seed: int, desk: int = 70, size=(480, 640)) -> tuple[np.ndarray, str]:
    """A white page covering ``share`` of a dark, slightly textured desk, with one line of MNIST
    test digits written on it in dark ink; returns the picture and its text."""
    rng = np.random.default_rng(seed)
    h, w = size
    frame = np.clip(desk + rng.normal(0, 4, size) + np.linspace(-10, 10, w)[None, :], 0, 255)
    page_h = int(np.sqrt(share * h * w / 1.3))
    page_w = int(1.3 * page_h)
    top, left = int(rng.integers(0, h - page_h)), int(rng.integers(0, w - page_w))
    frame[top:top + page_h, left:left + page_w] = 225 + rng.normal(0, 2, (page_h, page_w))
    picks = rng.choice(len(mnist.x_test), 4, replace=False)
    side = max(18, page_h // 4)
    x = left + page_w // 8
    for k in picks:
        digit = cv2.resize(mnist.x_test[k], (side, side), interpolation=cv2.INTER_CUBIC).astype(np.float64) / 255
        y = top + (page_h - side) // 2
        frame[y:y + side, x:x + side] -= 200 * digit
        x += int(side * 0.95)
    picture = cv2.cvtColor(np.clip(frame, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    return picture, "".join(str(mnist.y_test[k]) for k in picks)


@pytest.mark.parametrize("share", [0.5, 0.35, 0.2])
def test_page_covering_part_of_a_dark_desk_is_read(recognizer, mnist, share):
    right = 0
    for seed in range(5):
        picture, text = page_on_desk(mnist, share, seed)
        right += recognizer.recognize(picture).text == text
    assert right >= 4, f"{right} of 5 pages read right at {share:.0%} of the frame"


def test_desk_alone_reads_nothing(recognizer):
    desk = np.clip(70 + np.random.default_rng(1).normal(0, 4, (480, 640)), 0, 255).astype(np.uint8)
    assert recognizer.recognize(desk).digits == []
