"""The public recognition API: picture -> Reading (every digit, its box, confidence and line)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import cv2
import numpy as np

from .classify import Classifier
from .model import NOT_A_DIGIT, NUM_DIGITS
from .normalize import to_mnist
from .segment import Box, Region, Segmentation, binarize, ink_map, segment, to_gray, working_scale

# Chosen from measurements (see README "Confidence threshold"): rejects most non-digit blobs
# while keeping nearly all real digits on the synthetic scenes and the real-photo dev sets.
DEFAULT_MIN_CONFIDENCE = 0.5
_MAX_CUTS = 7            # candidate cut columns per wide blob
_MAX_PIECES = 6          # at most this many digits read out of one blob
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class Digit:
    x: int
    y: int
    w: int
    h: int
    digit: int
    confidence: float
    line: int
    top3: tuple = ()  # ((digit, probability), ...) best first

    def as_dict(self) -> dict:
        return {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "digit": self.digit,
                "confidence": round(self.confidence, 4), "line": self.line}


@dataclass
class Reading:
    digits: list[Digit] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        count = max((d.line for d in self.digits), default=-1) + 1
        return ["".join(str(d.digit) for d in self.digits if d.line == n) for n in range(count)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class _Piece:
    """A crop scored by the classifier: a whole region or a slice of a wide one."""
    region: int
    columns: tuple[int, int]  # working-scale x range inside the image
    crop_index: int


class Recognizer:
    """Finds and reads every digit in a picture. Load once, call ``recognize`` per frame."""

    def __init__(self, model: str | os.PathLike | None = None, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 num_threads: int | None = None):
        self.classifier = model if isinstance(model, Classifier) else Classifier(model, num_threads=num_threads)
        self.min_confidence = float(min_confidence)

    # -- pictures with many digits -------------------------------------------------------------
    def recognize(self, image: np.ndarray) -> Reading:
        seg = segment(image)
        if not seg.regions:
            return Reading()
        crops, pieces, cut_options = [], [], []
        for index, region in enumerate(seg.regions):
            pieces.append(_Piece(index, (region.box.x, region.box.x2), len(crops)))
            crops.append(seg.crop(region))
            cut_options.append(self._cut_pieces(seg, index, region, crops))
        batch = np.stack([to_mnist(c) for c in crops])[..., None] if crops else np.zeros((0, 28, 28, 1))
        probabilities = self.classifier.predict(batch)

        digits: list[tuple[Box, np.ndarray, int]] = []
        for index, region in enumerate(seg.regions):
            whole = probabilities[pieces[index].crop_index]
            chosen = self._best_reading(whole, cut_options[index], probabilities)
            for columns, probs in chosen:
                box = region.box if columns is None else _ink_box(seg, region, columns)
                digits.append((box, probs, region.line))
        return self._reading(seg, digits)

    def _cut_pieces(self, seg: Segmentation, index: int, region: Region, crops: list) -> list:
        """Slices of a blob too wide for one digit: (columns, crop index) for each candidate slice."""
        box = region.box
        height = max(box.h, 0.7 * seg.digit_height)
        if box.w < 0.9 * height:
            return []  # digit-shaped: never cut
        profile = (seg.crop(region) > 0).sum(axis=0).astype(np.float32)
        profile = np.convolve(profile, np.ones(3) / 3, mode="same")
        cuts = _cut_columns(profile, min_piece=int(0.22 * height), expected=box.w / (0.6 * height))
        cuts = [0] + cuts + [box.w]
        options = []
        for i in range(len(cuts)):
            for j in range(i + 1, len(cuts)):
                width = cuts[j] - cuts[i]
                if (i, j) == (0, len(cuts) - 1) or width < 0.2 * height or width > 1.15 * height:
                    continue
                columns = (box.x + cuts[i], box.x + cuts[j])
                crop = seg.crop(region, columns)
                if crop.any():
                    options.append(((i, j), columns, len(crops)))
                    crops.append(crop)
        return [len(cuts)] + options if options else []

    @staticmethod
    def _best_reading(whole: np.ndarray, options: list, probabilities: np.ndarray):
        """Keep the blob whole or cut it: the path of slices whose digit log-probabilities sum highest."""
        whole_score = float(np.log(max(whole[:NUM_DIGITS].max(), _LOG_FLOOR)))
        if not options:
            return [(None, whole)]
        n_cuts, slices = options[0], options[1:]
        best = {0: (0.0, [])}  # cut index -> (score, path)
        for end in range(1, n_cuts):
            candidates = []
            for (i, j), columns, crop_index in slices:
                if j != end or i not in best:
                    continue
                probs = probabilities[crop_index]
                score = best[i][0] + float(np.log(max(probs[:NUM_DIGITS].max(), _LOG_FLOOR)))
                if len(best[i][1]) < _MAX_PIECES:
                    candidates.append((score, best[i][1] + [(columns, probs)]))
            if candidates:
                best[end] = max(candidates, key=lambda c: c[0])
        final = best.get(n_cuts - 1)
        # A cut must clearly beat the whole: 3 nats is a probability ratio of ~20.
        if final is None or final[0] < whole_score + 3.0 or len(final[1]) < 2:
            return [(None, whole)]
        return final[1]

    def _reading(self, seg: Segmentation, found: list[tuple[Box, np.ndarray, int]]) -> Reading:
        kept = []
        for box, probs, line in found:
            digit = int(np.argmax(probs[:NUM_DIGITS]))
            confidence = float(probs[digit])
            if confidence < self.min_confidence:
                continue
            kept.append((seg.to_input(box), digit, confidence, line, _top3(probs)))
        renumber = {old: new for new, old in enumerate(sorted({k[3] for k in kept}))}
        kept.sort(key=lambda k: (renumber[k[3]], k[0].x))
        return Reading([Digit(b.x, b.y, b.w, b.h, d, c, renumber[line], top3) for b, d, c, line, top3 in kept])

    # -- pictures of one digit --------------------------------------------------------------------
    def read_digit(self, image: np.ndarray) -> tuple[int, float]:
        """The digit in a picture that holds one; confidence is over the ten digits."""
        probs = self.digit_probabilities(image)
        digit = int(np.argmax(probs))
        return digit, float(probs[digit])

    def digit_probabilities(self, image: np.ndarray) -> np.ndarray:
        crop = single_digit_crop(image)
        probs = self.classifier.predict(to_mnist(crop)[None, ..., None])[0][:NUM_DIGITS]
        return probs / max(float(probs.sum()), _LOG_FLOOR)

    def read_digits(self, images: list[np.ndarray]) -> list[tuple[int, float]]:
        """Many one-digit pictures in one classifier call."""
        batch = np.stack([to_mnist(single_digit_crop(im)) for im in images])[..., None]
        probs = self.classifier.predict_in_chunks(batch)[:, :NUM_DIGITS]
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), _LOG_FLOOR)
        return [(int(p.argmax()), float(p.max())) for p in probs]


def single_digit_crop(image: np.ndarray) -> np.ndarray:
    """Ink of the one digit in a picture: the heaviest component plus the pieces around it."""
    gray = to_gray(image)
    scale = working_scale(gray.shape)
    if scale != 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale,
                          interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ink, _ = ink_map(gray)
    mask = binarize(ink)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return ink
    h, w = mask.shape
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    # prefer heavy components near the centre: photo borders and shadows sit at the edges
    cx = (stats[1:, 0] + stats[1:, 2] / 2) / w - 0.5
    cy = (stats[1:, 1] + stats[1:, 3] / 2) / h - 0.5
    touches_all = (stats[1:, 2] > 0.98 * w) & (stats[1:, 3] > 0.98 * h)
    weight = areas * (1.0 - np.clip(np.hypot(cx, cy), 0, 0.7)) * np.where(touches_all, 0.05, 1.0)
    main = int(np.argmax(weight))
    x, y, bw, bh = stats[1 + main, :4]
    margin = 0.35 * max(bw, bh)
    keep = [1 + main]
    for k in range(len(areas)):
        if k == main or areas[k] < 0.02 * areas[main]:
            continue
        kx, ky, kw, kh = stats[1 + k, :4]
        if kx + kw > x - margin and kx < x + bw + margin and ky + kh > y - margin and ky < y + bh + margin:
            keep.append(1 + k)
    return np.where(np.isin(labels, keep), ink, 0).astype(np.uint8)


def _cut_columns(profile: np.ndarray, min_piece: int, expected: float) -> list[int]:
    """Candidate cut columns: valleys of the ink profile, plus even splits for 2-4 pieces."""
    width = len(profile)
    candidates = set()
    for x in range(max(1, min_piece), width - max(1, min_piece)):
        window = profile[max(0, x - min_piece // 2): x + min_piece // 2 + 1]
        if profile[x] <= window.min() + 1e-6:
            candidates.add(x)
    for parts in {2, 3, max(2, min(4, round(expected)))}:
        for k in range(1, parts):
            candidates.add(int(width * k / parts))
    ranked = sorted(candidates, key=lambda x: profile[x])[:_MAX_CUTS]
    ranked = sorted(ranked)
    spaced = []
    for x in ranked:  # cuts a few pixels apart give the same slices: keep one
        if not spaced or x - spaced[-1] >= max(2, min_piece // 3):
            spaced.append(x)
    return spaced


def _ink_box(seg: Segmentation, region: Region, columns: tuple[int, int]) -> Box:
    crop = seg.crop(region, columns)
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if rows.size == 0:
        return Box(columns[0], region.box.y, columns[1] - columns[0], region.box.h)
    return Box(columns[0] + int(cols[0]), region.box.y + int(rows[0]),
               int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def _top3(probs: np.ndarray) -> tuple:
    digits = probs[:NUM_DIGITS]
    order = np.argsort(digits)[::-1][:3]
    return tuple((int(d), round(float(digits[d]), 4)) for d in order)
