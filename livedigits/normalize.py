"""Crop -> MNIST-style 28x28: the step that makes real-paper crops look like what the CNN learned.

MNIST digits were size-normalised to fit a 20x20 box keeping their aspect ratio, anti-aliased,
then placed in 28x28 so that their centre of mass sits at the centre. Doing exactly the same to
our crops matters more than any model change (a plain resize reads photo crops at ~70 %).
"""
from __future__ import annotations

import cv2
import numpy as np

MNIST_SIZE = 28
MNIST_BOX = 20
# MNIST strokes are ~2.5 px wide at a 20 px digit height; thin pen strokes on a big crop shrink
# to hairlines, so we thicken them first. Ratio measured on MNIST train (median stroke / height).
MNIST_STROKE_RATIO = 0.13
_MIN_INK = 1e-3


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels of a binary mask (2 x distance-transform ridge median)."""
    return _padded_stroke_width(_padded_above(mask, 0))


def _padded_above(values: np.ndarray, level) -> np.ndarray:
    """uint8 0/1 mask of ``values > level`` inside a border of zeros (paper: strokes end at the
    crop's edge), made in one pass."""
    h, w = values.shape
    padded = np.zeros((h + 2, w + 2), np.uint8)
    np.greater(values, level, out=padded[1:-1, 1:-1].view(bool))
    return padded


_NEIGHBOURS = np.ones((3, 3), np.uint8)


def _padded_stroke_width(padded: np.ndarray) -> float:
    """``stroke_width`` of a uint8 0/1 mask that already has a border of zeros."""
    if not cv2.countNonZero(padded):
        return 0.0
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    # local maxima of the distance on the strokes (a stroke pixel's distance is never 0)
    on_ridge = dist >= cv2.dilate(dist, _NEIGHBOURS)
    on_ridge &= padded.view(bool)
    ridge = dist[on_ridge]
    return 2.0 * _median(ridge) if ridge.size else 1.0


def _median(values: np.ndarray) -> float:
    """np.median without its overhead, which dominates on the few hundred values of one crop."""
    middle = values.size // 2
    if values.size % 2:
        return float(np.partition(values, middle)[middle])
    low_high = np.partition(values, (middle - 1, middle))
    return float(low_high[middle - 1] + low_high[middle]) / 2.0


def thicken_to_mnist(ink: np.ndarray) -> np.ndarray:
    """Dilate a white-on-black crop whose strokes are thinner than MNIST's for its height."""
    return _thickened(ink, ink.max())


def _thickened(ink: np.ndarray, peak) -> np.ndarray:
    """``thicken_to_mnist`` of a crop whose maximum ``peak`` is known."""
    height = max(ink.shape)
    width = _padded_stroke_width(_padded_above(ink, 0.35 * peak))
    target = MNIST_STROKE_RATIO * height
    if width <= 0 or width >= 0.7 * target:
        return ink
    radius = int(round((target - width) / 2.0))
    if radius < 1:
        return ink
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    padded = cv2.copyMakeBorder(ink, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    return cv2.dilate(padded, kernel)  # padded: a tight crop has no room to grow


def to_mnist(ink: np.ndarray, thicken: bool = True) -> np.ndarray:
    """White-on-black crop (any size, uint8 or float) -> (28, 28) float32 in [0, 1], MNIST-style.

    An empty crop gives an all-zero image.
    """
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    _to_mnist_into(np.asarray(ink), thicken, out)
    return out


def _to_mnist_into(ink: np.ndarray, thicken: bool, out: np.ndarray) -> None:
    """``to_mnist`` written into ``out``, a zeroed (28, 28) float32 array (a batch's slot)."""
    if ink.ndim == 3:
        ink = ink.mean(axis=2)
    peak = ink.max() if ink.size else 0.0
    if peak <= _MIN_INK:
        return
    peak = float(peak)
    # tight crop on the raw values (no float copy of the whole crop): rows and columns with ink
    # above a tenth of the peak
    if ink.dtype == np.uint8:
        # OpenCV's threshold compares uint8 pixels with the level's floor: the same pixels
        x, y, w, h = cv2.boundingRect(cv2.threshold(ink, 0.1 * peak, 255, cv2.THRESH_BINARY)[1])
        ink = ink[y:y + h, x:x + w]
    else:
        rows = np.flatnonzero(ink.max(axis=1) > 0.1 * peak)
        cols = np.flatnonzero(ink.max(axis=0) > 0.1 * peak)
        if rows.size == 0 or cols.size == 0:
            return
        ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = np.float32(1.0 / peak)
    ink = ink.astype(np.float32) * scale
    if max(ink.shape) > 4 * MNIST_BOX:  # big crops: the same result from a quarter of the pixels
        shrink = 4 * MNIST_BOX / max(ink.shape)
        ink = cv2.resize(ink, (max(1, round(ink.shape[1] * shrink)), max(1, round(ink.shape[0] * shrink))),
                         interpolation=cv2.INTER_AREA)
        highest = ink.max()
    else:  # scaling keeps the order: the brightest pixel is the peak's, scaled as the array was
        highest = np.float32(peak) * scale
    if thicken:
        ink = _thickened(ink, highest)
    h, w = ink.shape
    scale = MNIST_BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(ink, (new_w, new_h), interpolation=interpolation)
    top, left = (MNIST_SIZE - new_h) // 2, (MNIST_SIZE - new_w) // 2
    placed = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    placed[top:top + new_h, left:left + new_w] = small
    if not _shift_to_centre(placed, out):
        out[:] = placed


def center_of_mass_shift(image: np.ndarray) -> np.ndarray:
    """Translate so that the intensity centre of mass is where MNIST puts it: (14, 14) of 28x28."""
    out = np.zeros_like(image)
    return out if _shift_to_centre(image, out) else image


def _shift_to_centre(image: np.ndarray, out: np.ndarray) -> bool:
    """``center_of_mass_shift`` written into ``out``; False (``out`` untouched) for an image without ink."""
    moments = cv2.moments(image)
    if moments["m00"] <= 0:
        return False
    cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
    centre = image.shape[0] / 2.0  # MNIST's own convention: (14, 14) of 28x28, not 13.5
    shift = np.float32([[1, 0, centre - cx], [0, 1, centre - cy]])
    moved = cv2.warpAffine(image, shift, image.shape[::-1], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    np.minimum(np.maximum(moved, 0.0, out=out), 1.0, out=out)  # np.clip's values, without its wrappers
    return True


def to_mnist_batch(crops: list[np.ndarray], thicken: bool = True) -> np.ndarray:
    """Many crops -> (N, 28, 28, 1) float32, ready for one batched classifier call."""
    batch = np.zeros((len(crops), MNIST_SIZE, MNIST_SIZE, 1), np.float32)
    for i, crop in enumerate(crops):
        _to_mnist_into(np.asarray(crop), thicken, batch[i, :, :, 0])
    return batch
