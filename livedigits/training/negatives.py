"""Synthetic "not a single digit" examples for the classifier's 11th class.

The segmenter hands the classifier whatever blobs it finds: two touching digits, a piece of a
digit, a dash, a smudge, a grid-line crossing. Teaching the CNN to say "none of 0-9" for these
rejects them better than a confidence threshold, and lets the touching-digit splitter score cuts.
Every example goes through the same ``to_mnist`` as the pipeline's crops.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..normalize import to_mnist

# share of each kind among the negatives
KINDS = {"pair": 0.38, "piece": 0.14, "dash": 0.14, "blob": 0.10, "zigzag": 0.10,
         "cross": 0.07, "speckle": 0.07}
_WIDE_DIGITS = (0, 2, 3, 5, 6, 8, 9)


def _pair(rng, digits, labels):
    count = 2 if rng.random() < 0.85 else 3
    parts = [digits[rng.integers(len(digits))] for _ in range(count)]
    canvas = np.zeros((28 + 8, 28 * count + 8), np.uint8)
    x = 4
    for part in parts:
        cols = np.flatnonzero(part.max(axis=0) > 30)
        part = part[:, cols[0]:cols[-1] + 1] if cols.size else part
        dy = int(rng.integers(0, 8))
        w = part.shape[1]
        region = canvas[dy:dy + 28, x:x + w]
        np.maximum(region, part[:, :region.shape[1]], out=region)
        x += w - int(rng.integers(-3, 6))  # from a small gap to a few pixels of overlap
    return canvas[:, :x + 4]


def _piece(rng, digits, labels):
    while True:
        i = rng.integers(len(digits))
        if labels[i] in _WIDE_DIGITS:
            break
    digit = digits[i]
    cols = np.flatnonzero(digit.max(axis=0) > 30)
    if cols.size < 8:
        return _dash(rng, digits, labels)
    keep = max(3, int(cols.size * rng.uniform(0.25, 0.5)))
    piece = digit[:, cols[0]:cols[0] + keep] if rng.random() < 0.5 else digit[:, cols[-1] + 1 - keep:cols[-1] + 1]
    rows = np.flatnonzero(piece.max(axis=1) > 30)
    # a tall thin sliver is indistinguishable from a "1": never label it "not a digit"
    if rows.size == 0 or keep < 0.5 * rows.size:
        return _dash(rng)
    return piece


def _dash(rng, *_):
    length, thick = int(rng.integers(20, 60)), int(rng.integers(2, 7))
    canvas = np.zeros((60, 80), np.uint8)
    angle = np.radians(rng.uniform(-15, 15))
    c = np.array([40, 30])
    d = np.array([np.cos(angle), np.sin(angle)]) * length / 2
    cv2.line(canvas, tuple((c - d).astype(int)), tuple((c + d).astype(int)), 255, thick, cv2.LINE_AA)
    return canvas


def _blob(rng, *_):
    canvas = np.zeros((60, 60), np.uint8)
    major = int(rng.integers(8, 22))
    axes = (major, int(major * rng.uniform(0.6, 1.0)))  # roundish: a narrow ellipse reads as "1"
    cv2.ellipse(canvas, (30, 30), axes, rng.uniform(0, 180), 0, 360, 255, -1, cv2.LINE_AA)
    if rng.random() < 0.5:  # ragged ink smudge
        canvas = cv2.GaussianBlur(canvas, (0, 0), rng.uniform(1, 3))
        canvas = np.where(canvas > rng.uniform(60, 160), 255, 0).astype(np.uint8)
    return canvas


def _zigzag(rng, *_):
    canvas = np.zeros((60, 100), np.uint8)
    n = int(rng.integers(5, 9))
    xs = np.linspace(8, 92, n) + rng.uniform(-3, 3, n)
    ys = np.where(np.arange(n) % 2 == 0, rng.uniform(10, 22, n), rng.uniform(38, 50, n))
    points = np.stack([xs, ys], axis=1).astype(np.int32)
    cv2.polylines(canvas, [points], False, 255, int(rng.integers(2, 6)), cv2.LINE_AA)
    return canvas


def _cross(rng, *_):
    canvas = np.zeros((80, 80), np.uint8)
    thick = int(rng.integers(1, 4))
    cx, cy = int(rng.integers(25, 55)), int(rng.integers(25, 55))
    kind = rng.integers(3)
    cv2.line(canvas, (0, cy), (79, cy), 255, thick)
    top = 0 if kind != 1 else cy  # plus, T, or plus with a short arm
    cv2.line(canvas, (cx, top), (cx, 79 if kind != 2 else cy + 10), 255, thick)
    return canvas


def _speckle(rng, *_):
    noise = (rng.random((40, 40)) < rng.uniform(0.05, 0.3)).astype(np.uint8) * 255
    return cv2.dilate(noise, np.ones((2, 2), np.uint8)) if rng.random() < 0.5 else noise


_MAKERS = {"pair": _pair, "piece": _piece, "dash": _dash, "blob": _blob, "zigzag": _zigzag,
           "cross": _cross, "speckle": _speckle}


def make_negatives(digits: np.ndarray, labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """(count, 28, 28) uint8 MNIST-style non-digits, built from the given digits (train split only)."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(list(KINDS), size=count, p=np.array(list(KINDS.values())) / sum(KINDS.values()))
    out = np.zeros((count, 28, 28), np.uint8)
    for i, kind in enumerate(kinds):
        raw = _MAKERS[kind](rng, digits, labels)
        out[i] = np.round(to_mnist(raw) * 255).astype(np.uint8)
    return out
