"""A picture of one digit -> the digit's ink, ready for ``to_mnist``; and read_digit's answer.

A single digit's picture is not a page: it is often cut tight (the ink covers half of it), drawn in
faint pencil, framed by a box border or grid lines, or blank. So the polarity comes from the
picture's border, the paper is estimated around each pixel (shadows), the ink levels follow the
digit's own strokes, and border lines are erased before the digit's components are chosen.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .classify import NOT_A_DIGIT, NUM_DIGITS
from .segment import (MIN_INK_CONTRAST, at_working_scale, binarize, darker_than_paper, ink_levels, ink_map,
                      is_noise, to_gray)

_LOG_FLOOR = 1e-6


def digit_from_probabilities(probabilities: np.ndarray) -> tuple[int | None, float]:
    """The classifier's 11 outputs for one digit's picture -> ``read_digit``'s answer: the digit
    and its probability among the ten digits, or (None, probability of "not a digit")."""
    best = int(np.argmax(probabilities[:NUM_DIGITS + 1]))
    if best == NOT_A_DIGIT:
        return None, float(probabilities[NOT_A_DIGIT])
    return best, float(probabilities[best] / max(float(probabilities[:NUM_DIGITS].sum()), _LOG_FLOOR))


# A picture with less contrast than this between paper and its darkest ink holds no writing at
# all (blank paper, a black square): about 15 grey levels in 255.
_BLANK_CONTRAST = 0.06 * 255
# Pencil on a small scan can be far fainter than the page reader's floor (0.16): for one digit the
# floor follows the picture's own ink, down to this share of its darkest strokes.
_FAINT_INK_SHARE = 0.35
# A component lying along the picture's edge that is this thin across it is a box border or a grid
# line, not a stroke of the digit (share of the picture's side).
_BORDER_LINE = 0.15
_EDGE_WEIGHT = 0.5  # a component touching the edge counts half: desk, shadow or paper edge
_EDGE_BAND = 0.2  # the outer band of a picture where box borders and grid lines lie


@dataclass(frozen=True)
class DigitCrops:
    """The ink of the digit in a picture of one digit, as ``to_mnist`` takes it: once per plausible
    polarity (two when the picture's border does not say whether the paper is light or dark, none
    when it is blank), and once more per polarity with the long straight lines erased, where there
    were any (``unlined``)."""
    plain: list
    unlined: list


def digit_crops(image: np.ndarray) -> DigitCrops:
    """Every reading of a picture of one digit worth classifying (see ``DigitCrops``)."""
    plain, unlined = [], []
    picture = to_gray(image)
    if is_noise(picture if picture.size <= 1 << 20 else picture[::4, ::4]):
        return DigitCrops(plain, unlined)
    gray, scale = at_working_scale(picture)
    for inverted in paper_polarities(gray):
        ink = picture_ink(255 - gray if inverted else gray, scale)
        crop = crop_from_ink(ink)
        if crop is not None:
            plain.append(crop)
        # A grid line the digit touches or crosses joins its component: the digit is read with a
        # stroke too many ("|5", a 7 with a roof), or the line wins and the digit is lost. Read it
        # once more with the long straight lines taken out (``choose_reading`` decides).
        lines_out = without_long_lines(ink)
        crop = None if lines_out is None else crop_from_ink(lines_out)
        if crop is not None:
            unlined.append(crop)
    return DigitCrops(plain, unlined)


def single_digit_crops(image: np.ndarray) -> list[np.ndarray]:
    """The digit's ink in a picture of one digit, once per plausible polarity (``DigitCrops.plain``)."""
    return digit_crops(image).plain


# The reading with the lines erased replaces one that found no digit only when it is this sure.
# 0.98 while the erasing took digits' own stems with the lines; since only lines in the outer band
# are erased, 0.7 (chosen on the cells of the 20 photos of sudoku_photos/ and the training split
# of the printed cells: handwritten cells 98.1 -> 98.4 %, empty cells unchanged).
_UNLINED_SURE = 0.7
# ... and replaces an unsure plain digit (under this) when it is at least this sure: a faint digit
# beside heavy grid lines loses its place to their crossing, read as a "4" or a "7" (chosen on the
# same cells: handwritten 98.4 -> 99.4 %, the printed cells' training split 94.8 -> 95.1 %).
_PLAIN_UNSURE = 0.9
_UNLINED_OVERRULES = 0.95


def choose_reading(plain: np.ndarray, unlined: np.ndarray) -> np.ndarray:
    """The 11 probabilities that answer for one picture, from those of its plain readings and of
    its readings with lines erased ((k, 11) each, k >= 0): the most confident plain reading, unless
    that is "not a digit" or unsure and the reading without lines a sure digit (the plain reading
    then saw the lines: a "4" in the crossing of two grid lines, "not a digit" for a digit joined
    to a border)."""
    def most_confident(readings):
        return readings[int(np.argmax(readings[:, :NUM_DIGITS].max(axis=1)))] if len(readings) else None

    nothing = np.eye(NUM_DIGITS + 1, dtype=np.float32)[NOT_A_DIGIT]
    best = most_confident(plain)
    other = most_confident(unlined)
    if other is not None:
        digit = int(np.argmax(other))
        sure = digit != NOT_A_DIGIT and other[digit] >= _UNLINED_SURE \
            and other[digit] >= _UNLINED_SURE * float(other[:NUM_DIGITS].sum())
        plain_no_digit = best is None or int(np.argmax(best)) == NOT_A_DIGIT
        plain_unsure = best is not None and float(best.max()) < _PLAIN_UNSURE
        if sure and (plain_no_digit or (plain_unsure and other[digit] >= _UNLINED_OVERRULES)):
            return other
    return nothing if best is None else best


# A straight run of ink this long (share of the picture's side) is a grid line or a box border:
# a digit's own bars (the top of a 7 or a 5) span less of a cell; where a tight crop's bar spans
# the whole picture, the reading without lines loses to the one with them.
_LONG_LINE = 0.6
_LINE_BAND = 0.2
_CROSSING_LINE = 0.9


def without_long_lines(ink: np.ndarray) -> np.ndarray | None:
    """The ink with long horizontal and vertical lines erased (None when there are none)."""
    h, w = ink.shape
    if min(h, w) < 16:
        return None
    # below even the faint level: a blurred line's soft edges, left behind, join up as its outline
    _, faint = ink_levels(ink, floor=min(MIN_INK_CONTRAST * 255, _FAINT_INK_SHARE * float(ink.max())))
    binary = (ink >= 0.5 * faint).astype(np.uint8)
    def runs(share_x, share_y):
        across = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (round(share_x * w), 1)))
        down = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, round(share_y * h))))
        return across, down

    across, down = runs(_LONG_LINE, _LONG_LINE)
    # Box borders lie in the outer band; a long straight run in the middle is the digit's own
    # (the stem of a 4 or a 9, the bar of a 7), and erasing it broke the digit. Only a line
    # crossing nearly the whole picture is a grid line wherever it lies (a cell cut off its grid).
    band_y, band_x = round(_LINE_BAND * h), round(_LINE_BAND * w)
    across[band_y:h - band_y] = 0
    down[:, band_x:w - band_x] = 0
    crossing_across, crossing_down = runs(_CROSSING_LINE, _CROSSING_LINE)
    across |= crossing_across
    down |= crossing_down
    lines = across | down
    if not lines.any():
        return None
    # the line's blurred edges too, so that no thin sliver of it is left to read as a "1"
    grow = max(3, round(0.04 * min(h, w))) | 1
    lines = cv2.dilate(lines, np.ones((grow, grow), np.uint8))
    return np.where(lines > 0, 0, ink).astype(np.uint8)


def paper_polarities(gray: np.ndarray) -> tuple[bool, ...]:
    """Is the paper dark (light ink)? Paper surrounds a digit, so the border's level is the
    paper's; ink is the tail of the histogram farther from it. (The whole picture's median fails on
    tight crops, where ink covers half of it.) Both answers when neither tail clearly wins; none
    when the picture has no contrast at all."""
    h, w = gray.shape
    ring = max(1, round(0.2 * min(h, w)))  # wide enough that a box border in it is a minority
    border = np.concatenate([gray[:ring].ravel(), gray[-ring:].ravel(), gray[:, :ring].ravel(), gray[:, -ring:].ravel()])
    paper = float(np.median(border))
    low, high = np.percentile(gray[::2, ::2] if gray.size > 40000 else gray, (0.5, 99.5))
    darker, lighter = paper - low, high - paper
    if high - low < _BLANK_CONTRAST:  # no ink at all: blank paper, a black square
        return ()
    if darker > 1.5 * lighter:
        return (False,)
    if lighter > 1.5 * darker:
        return (True,)
    return (False, True)


def single_digit_crop(gray: np.ndarray, scale: float) -> np.ndarray | None:
    """Ink of the one digit in a grey picture of dark ink on lighter paper: the component that
    weighs most (heavy, central, not a border line along the edge) plus the pieces around it.
    None when the picture holds no ink, or nothing but box borders and grid lines."""
    return crop_from_ink(picture_ink(gray, scale))


# A small picture's paper is estimated on a copy this many pixels across, by a closing this share
# of it wide: wider than any stroke of a digit that fills the picture (so strokes are filled with
# paper), narrower than the shadows and light gradients across a phone photo of a cell.
_PAPER_SIDE = 48
_PAPER_CLOSING = 0.35


def picture_ink(gray: np.ndarray, scale: float) -> np.ndarray:
    """How much darker than its paper each pixel of a picture of one digit is (0-255; ink dark on
    light paper). A small picture enlarged to the working scale (``scale`` > 2: a cell, a box, a
    postal digit) has its paper estimated around each pixel, not as one level: a cell cut from a
    phone photo is often half in a hand's or the grid's shadow, and one level makes the shadowed
    half "ink" (read as a block, or as "not a digit")."""
    if scale <= 2:
        return ink_map(gray, polarity=False)[0]
    h, w = gray.shape
    shrink = _PAPER_SIDE / max(h, w)
    small = cv2.resize(gray, (max(1, round(w * shrink)), max(1, round(h * shrink))), interpolation=cv2.INTER_AREA)
    side = max(3, round(_PAPER_CLOSING * _PAPER_SIDE) | 1)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)),
                             borderType=cv2.BORDER_REPLICATE)
    paper = cv2.resize(cv2.GaussianBlur(paper, (0, 0), side / 4), (w, h), interpolation=cv2.INTER_LINEAR)
    return darker_than_paper(gray, paper)  # (as grid._flat_ink does for a grid's cells)


def crop_from_ink(ink: np.ndarray) -> np.ndarray | None:
    """``single_digit_crop`` on an ink map (0-255, how much darker than the paper)."""
    for attempt in range(2):
        peak = float(np.percentile(ink, 99.5))
        if peak < _BLANK_CONTRAST:
            return None
        threshold, faint = digit_ink_levels(ink, floor=min(MIN_INK_CONTRAST * 255, _FAINT_INK_SHARE * peak))
        mask = binarize(ink, levels=(threshold, faint))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if count <= 1:
            return None
        border_line = _border_lines(labels, stats[1:])
        if attempt == 0 and border_line.any():
            # A dark box border sets the ink levels: a faint digit inside it falls under them.
            # Erase the border and look again with levels of the rest of the picture.
            erase = np.isin(labels, 1 + np.flatnonzero(border_line)).astype(np.uint8)
            grow = max(5, round(0.03 * min(ink.shape)))  # the border's blurred edges too
            ink = np.where(cv2.dilate(erase, np.ones((grow, grow), np.uint8)) > 0, 0, ink).astype(np.uint8)
            continue
        break
    h, w = mask.shape
    x, y, bw, bh, areas = (stats[1:, k].astype(np.float64) for k in range(5))
    # prefer heavy components near the centre: photo borders and shadows sit at the edges
    cx, cy = (x + bw / 2) / w - 0.5, (y + bh / 2) / h - 0.5
    at_edge = (x <= 0) | (y <= 0) | (x + bw >= w) | (y + bh >= h)
    touches_all = (bw > 0.98 * w) & (bh > 0.98 * h)
    weight = areas * (1.0 - np.clip(np.hypot(cx, cy), 0, 0.7)) * np.where(at_edge, _EDGE_WEIGHT, 1.0)
    weight = np.where(touches_all, 0.1 * weight, weight)
    weight = np.where(border_line, 0.02 * weight, weight)
    main = int(np.argmax(weight))
    if border_line[main]:  # nothing but box borders and grid lines: an empty box
        return None
    mx, my, mw, mh = x[main], y[main], bw[main], bh[main]
    margin = 0.35 * max(mw, mh)
    keep = [1 + main]
    for k in range(len(areas)):
        if k == main or areas[k] < 0.02 * areas[main] or border_line[k]:
            continue
        if x[k] + bw[k] > mx - margin and x[k] < mx + mw + margin and y[k] + bh[k] > my - margin and y[k] < my + mh + margin:
            keep.append(1 + k)
    return np.where(np.isin(labels, keep), ink, 0).astype(np.uint8)


# The middle of a picture of one digit (without this share of each side, where box borders and
# grid lines lie) holds the digit's strokes; half of their darkest is still stroke.
_MIDDLE_BAND = 0.15
_STROKE_SHARE = 0.5


def digit_ink_levels(ink: np.ndarray, floor: float) -> tuple[float, float]:
    """(sure, faint) ink levels of a picture of one digit: the page reader's (Otsu), lowered to
    half the darkest strokes in the picture's middle where that is lower. A dark box border or grid
    line raises Otsu's level above a pencil digit's fainter strokes: half of an 8 or the foot of a 2
    fell under it and the rest was read ("3", "n")."""
    threshold, faint = ink_levels(ink, floor=floor)
    h, w = ink.shape
    band_y, band_x = int(_MIDDLE_BAND * h), int(_MIDDLE_BAND * w)
    middle = ink[band_y:h - band_y, band_x:w - band_x]
    strokes = max(floor, _STROKE_SHARE * float(np.percentile(middle, 99))) if middle.size else threshold
    if strokes < threshold:
        return strokes, 0.5 * strokes
    return threshold, faint


def _border_lines(labels: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Which components (rows of ``stats``, background excluded) are box borders or grid lines:
    long and thin along an edge, or corners and frames lying almost all along two or more edges. (A tight
    crop's digit touches the edges too, but fills much more of its box than a frame does.)"""
    h, w = labels.shape
    x, y, bw, bh, areas = (stats[:, k].astype(np.float64) for k in range(5))
    at_edge = (x <= 0) | (y <= 0) | (x + bw >= w) | (y + bh >= h)
    # a long thin line along an edge, touching it or just inside it (a cell cut a little off its
    # grid): its middle lies in the outer band of the picture
    near_top_bottom = (y + bh / 2 < _EDGE_BAND * h) | (y + bh / 2 > (1 - _EDGE_BAND) * h)
    near_left_right = (x + bw / 2 < _EDGE_BAND * w) | (x + bw / 2 > (1 - _EDGE_BAND) * w)
    border_line = (((bh < _BORDER_LINE * h) & near_top_bottom & (bw > 0.5 * w))
                   | ((bw < _BORDER_LINE * w) & near_left_right & (bh > 0.5 * h)))
    for k in np.flatnonzero(at_edge & ~border_line & (areas < 0.3 * bw * bh)):
        sides = (x[k] <= 0, y[k] <= 0, x[k] + bw[k] >= w, y[k] + bh[k] >= h)
        if sum(sides) >= 2:
            ys, xs = np.nonzero(labels == k + 1)
            band_x, band_y = _BORDER_LINE * w, _BORDER_LINE * h
            near = ((sides[0] & (xs < band_x)) | (sides[1] & (ys < band_y))
                    | (sides[2] & (xs >= w - band_x)) | (sides[3] & (ys >= h - band_y)))
            border_line[k] = near.mean() > 0.8
    return border_line
