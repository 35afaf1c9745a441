"""The string reader's runtime: line preparation, CTC decoding and its alignment, digit boxes, and
the recogniser's ``reader`` choice (the shipped string model, when it reads real lines)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from livedigits import Recognizer
from livedigits.classify import ModelError
from livedigits.strings import (BLANK, CROPS, HEIGHT, StringReader, ctc_greedy, default_string_model_path, digit_boxes,
                                line_crop, line_input, own_boxes, strings_preferred)


def frames(labels: list[int], sure: float = 0.9) -> np.ndarray:
    """(T, 11) probabilities putting ``sure`` on each frame's label."""
    p = np.full((len(labels), 11), (1 - sure) / 10)
    p[np.arange(len(labels)), labels] = sure
    return p


def test_line_input_is_height_normalised_ink():
    gray = np.full((50, 150), 220, np.uint8)
    cv2.putText(gray, "42", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 30, 3)
    line = line_input(gray)
    assert line.shape == (HEIGHT, round(150 * HEIGHT / 50)) and line.dtype == np.float32
    assert line.min() == 0.0 and line.max() > 0.9        # paper 0, ink near 1
    assert line[:, :4].max() == 0.0                        # the margin stays paper
    assert line_input(np.zeros((1, 40), np.uint8)).shape[0] == HEIGHT  # a degenerate crop is no error


def test_ctc_greedy_collapses_repeats_and_keeps_blank_separated_doubles():
    reading = ctc_greedy(frames([BLANK, 1, 1, BLANK, 1, BLANK, 7, 7, 7, BLANK]), scale=4.0)
    assert reading.text == "117"
    assert [(d.x0, d.x1) for d in reading.digits] == [(4, 12), (16, 20), (24, 36)]  # frames -> columns
    assert reading.confidence == pytest.approx(0.9)
    assert ctc_greedy(frames([BLANK] * 5), 4.0).text == ""


def test_digit_boxes_follow_the_alignment_and_the_ink():
    ink = np.zeros((32, 100), np.float32)
    ink[5:28, 10:25] = 1.0   # a digit
    ink[8:30, 40:52] = 1.0   # another
    reading = ctc_greedy(frames([BLANK] * 4 + [3] + [BLANK] * 6 + [5] + [BLANK] * 13), scale=4.0)
    boxes = digit_boxes(reading, ink)
    assert boxes == [(10, 5, 15, 23), (40, 8, 12, 22)]


def test_line_crop_adds_margins_inside_the_picture():
    assert line_crop([(10, 10, 20, 30), (40, 12, 20, 30)], (100, 200)) == (4, 6, 66, 46)
    assert line_crop([(0, 0, 10, 10)], (10, 10)) == (0, 0, 10, 10)


def test_line_crop_cuts_long_tails_at_the_reach():
    row = [(10, 20, 20, 30), (40, 20, 20, 30), (70, 20, 20, 30), (100, 20, 20, 75)]  # the last: a long tail
    assert line_crop(row, (200, 200), reach=0.0, margin=0.0) == (4, 20, 126, 50)  # 0.2 x 30 sideways
    assert line_crop(row, (200, 200), reach=0.5, margin=0.0) == (1, 20, 129, 65)


def test_digit_boxes_take_the_piece_they_alone_cover():
    from livedigits.segment import Box
    pieces = [Box(0, 0, 30, 40), Box(40, 0, 8, 40), Box(60, 0, 60, 40)]  # a 0, a narrow 1, two touching digits
    boxes = [Box(2, 2, 26, 36), Box(30, 1, 20, 38), Box(60, 2, 30, 36), Box(90, 2, 30, 36)]
    assert own_boxes(boxes, pieces) == [pieces[0], pieces[1], boxes[2], boxes[3]]
    assert own_boxes(boxes[:1], []) == boxes[:1]


def test_choice_weighs_both_readings_confidences():
    choice = (1.0, 0.5, -0.5)
    assert strings_preferred(choice, [np.log(0.99)] * 3, [np.log(0.9)] * 3)
    assert not strings_preferred(choice, [np.log(0.2)] * 3, [np.log(0.99)] * 3)


def test_reader_choice_is_checked(tmp_path):
    with pytest.raises(ValueError, match="reader"):
        Recognizer(reader="letters")
    assert Recognizer(reader="digits").string_reader is None
    with pytest.raises(ModelError, match="string model"):
        Recognizer(reader="strings", string_model=tmp_path / "missing.tflite")
    assert Recognizer(reader="auto", string_model=tmp_path / "missing.tflite").string_reader is None


needs_model = pytest.mark.skipif(not default_string_model_path().is_file(), reason="no string model shipped")


def _written_line(mnist, digits: str, gap: int, seed: int) -> np.ndarray:
    """MNIST *test* digits side by side (``gap`` px apart; negative: overlapping), dark on light."""
    rng = np.random.default_rng(seed)
    x, y = mnist.x_test, mnist.y_test
    canvas = np.zeros((40, 12 + len(digits) * (28 + gap) + 12), np.uint8)
    left = 12
    for ch in digits:
        digit = x[rng.choice(np.flatnonzero(y == int(ch)))]
        cols = np.flatnonzero(digit.max(axis=0) > 40)
        digit = digit[:, cols[0]:cols[-1] + 1]
        np.maximum(canvas[6:34, left:left + digit.shape[1]], digit, out=canvas[6:34, left:left + digit.shape[1]])
        left += digit.shape[1] + gap
    return 255 - canvas[:, :left + 12]


@needs_model
def test_shipped_string_model_reads_overlapping_mnist_strings(mnist):
    reader, digits = StringReader(), Recognizer(reader="digits")
    strings = ["2024", "31415", "700", "98765", "1234567890", "5566", "808", "13", "4092", "7177"]
    lines = [_written_line(mnist, s, -2, i) for i, s in enumerate(strings)]  # neighbours overlap by 2 px
    exact = sum(reader.read(line).text == s for line, s in zip(lines, strings))
    framed = [cv2.copyMakeBorder(line, 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=255) for line in lines]
    exact_cut = sum(digits.recognize(picture).text == s for picture, s in zip(framed, strings))
    assert exact >= 6 and exact >= exact_cut


@needs_model
def test_lines_read_together_as_alone_and_crops_vote(mnist):
    reader = StringReader()
    lines = [_written_line(mnist, s, 4, i) for i, s in enumerate(["2024", "31415926", "7"])]
    together = reader.read_all(lines)
    assert [r.text for r in together] == [reader.read(line).text for line in lines]
    # padded to the widest with paper: the last frames see a little more blank, nothing else changes
    assert [r.score for r in together] == pytest.approx([reader.read(line).score for line in lines], abs=1e-2)
    page = np.full((100, 300), 255, np.uint8)
    page[30:70, 20:20 + lines[1].shape[1]] = lines[1]
    box = (32, 36, lines[1].shape[1] - 24, 28)
    reading, (x0, y0, x1, y1) = reader.read_line(page, [box])
    assert x0 < box[0] < box[0] + box[2] < x1 and y0 <= box[1] < box[1] + box[3] <= y1
    readings = reader.read_all([page[y0:y1, x0:x1] for x0, y0, x1, y1 in
                                (line_crop([box], page.shape, r, m) for r, m in CROPS)])
    assert sum(r.text == reading.text for r in readings) == max(
        sum(r.text == t.text for r in readings) for t in readings)  # the majority's reading
    inverted, _ = reader.read_line(255 - page, [box], inverted=True)
    assert inverted.text == reading.text


@needs_model
def test_auto_leaves_lines_without_any_digit_to_cut_and_classify():
    page = np.full((200, 300), 235, np.uint8)
    page[40:160, 150:154] = 60  # a long thin stroke alone: a page edge or a shadow, not writing
    picture = cv2.cvtColor(page, cv2.COLOR_GRAY2BGR)
    assert Recognizer(reader="auto").recognize(picture).text == Recognizer(reader="digits").recognize(picture).text


@needs_model
def test_forced_string_reader_gives_every_digit_a_box(mnist):
    line = _written_line(mnist, "4096", 6, 1)
    page = np.full((120, line.shape[1] + 80), 255, np.uint8)
    page[40:40 + line.shape[0], 40:40 + line.shape[1]] = line
    reading = Recognizer(reader="strings").recognize(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR))
    assert reading.text == "4096"
    xs = [d.x for d in reading.digits]
    assert xs == sorted(xs) and all(40 <= d.x and d.x + d.w <= 40 + line.shape[1] for d in reading.digits)
    assert all(len(d.probabilities) == 11 and d.line == 0 for d in reading.digits)
