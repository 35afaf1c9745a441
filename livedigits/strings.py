"""The string reader: a picture of one line of digits -> the digit string, each digit with a box.

A small convolutional network reads a height-normalised crop of a whole line (or of one wide blob)
and answers, for every 4 pixels of width, the probabilities of the ten digits and of "nothing here"
(the CTC blank); the string is the best path with repeats and blanks removed (greedy CTC decoding).
Touching, overlapping and slanted digits, and separators (dots, commas, dashes, "="), need no cut:
the network was trained on whole strings (``livedigits/training/strings.py``). Each digit's box is
the span of the frames that emitted it (the CTC alignment), narrowed to the ink found there.
A line of a picture is read in several crops at once (``CROPS``: tall strokes cut closer or further
from the row, wider or narrower margins) and the reading most of them agree on is kept.

Runs on the LiteRT interpreter like the digit classifier; the network is fully convolutional, so
any line width is read in one call (widths are padded up to a multiple of ``WIDTH_STEP`` so that
the interpreter is resized to few shapes).
"""
from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

HEIGHT = 32          # every line is scaled to this height
STRIDE = 4           # input columns per output frame
WIDTH_STEP = 32      # widths are padded up to a multiple of this
MIN_WIDTH = 32
MAX_WIDTH = 2048     # wider lines are squeezed to this
BLANK = 10           # CTC blank: the network's last output
NUM_OUTPUTS = 11
READERS = ("auto", "digits", "strings")
# A line is read in several crops, from tight around its row of digits to generous: how far tall
# strokes (a 7's or a 9's long tail) may reach beyond the row, in digit heights, times the margin
# above and below, a share of the crop. The reader's answer depends on how much of its input height
# the digits fill (its training lines were cropped with random margins), so the reading most crops
# agree on is kept. Chosen with benchmarks/string_crops.py on the tuning cheques and generated
# scenes: there 6 crops beat 1, 4, 9 or 36 (tuning cheques, string reader: 4.57 -> 2.57 % character errors).
CROPS = tuple((reach, margin) for reach in (0.0, 0.1, 0.25) for margin in (0.12, 0.25))
MARGIN_X = 0.2  # sideways margin, a share of the crop height
# Where the readers differ, P(the string reading is right) = sigmoid(w0 + w1 * S_strings + w2 * S_digits),
# S being a reading's summed log confidence; the model card's "choice" (fitted by train.py strings)
# replaces this prior, which favours the string reader unless it is much less sure.
DEFAULT_CHOICE = (1.0, 0.5, -0.5)

DEFAULT_STRING_MODEL = Path(__file__).resolve().parent.parent / "models" / "strings.tflite"
_INSTALLED_STRING_MODEL = Path(sys.prefix) / "share" / "livedigits" / "models" / "strings.tflite"


def default_string_model_path() -> Path:
    for candidate in (DEFAULT_STRING_MODEL, _INSTALLED_STRING_MODEL):
        if candidate.is_file():
            return candidate
    return DEFAULT_STRING_MODEL


def line_input(gray: np.ndarray, height: int = HEIGHT) -> np.ndarray:
    """A grey crop of one line (dark ink on light paper, uint8) -> float32 (height, W) ink map in
    0-1 (1 = darkest ink), the contrast stretched between the paper and the ink levels of the crop
    so that pale pencil and dark pen look alike. The training data goes through this same function."""
    gray = np.asarray(gray)
    h, w = gray.shape[:2]
    if h < 2 or w < 2:
        return np.zeros((height, MIN_WIDTH), np.float32)
    inked = ink_of(gray)
    width = int(min(MAX_WIDTH, max(1, round(w * height / h))))
    interpolation = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(inked, (width, height), interpolation=interpolation)


def ink_of(gray: np.ndarray) -> np.ndarray:
    """Float32 ink map of a grey crop at its own size: 0 at the paper level, 1 at the ink level."""
    paper, ink = np.percentile(gray, (80, 1))
    span = max(float(paper) - float(ink), 40.0)
    return np.clip((float(paper) - gray.astype(np.float32)) / span, 0.0, 1.0)


@dataclass(frozen=True)
class StringDigit:
    digit: int
    confidence: float       # the digit's probability at its most confident frame
    x0: int                 # columns of the line crop (crop pixels) that the digit spans
    x1: int
    probabilities: tuple    # ten digits at that frame, then P(blank)


@dataclass(frozen=True)
class StringReading:
    text: str
    digits: tuple           # StringDigit per character, left to right
    score: float            # mean log-probability of the best path per frame (0 = certain)
    confidence: float       # the least confident digit's confidence (1.0 for an empty string)


def ctc_greedy(probabilities: np.ndarray, scale: float) -> StringReading:
    """(T, 11) per-frame probabilities -> the best-path reading; ``scale`` converts a frame to crop
    columns (STRIDE times crop width / network input width)."""
    best = probabilities.argmax(axis=1)
    frame_best = probabilities[np.arange(len(best)), best]
    score = float(np.mean(np.log(np.maximum(frame_best, 1e-9)))) if len(best) else 0.0
    digits = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        label = int(best[start])
        if label != BLANK:
            peak = start + int(np.argmax(probabilities[start:t, label]))
            digits.append(StringDigit(label, float(probabilities[peak, label]), int(round(start * scale)),
                                      int(round(t * scale)), tuple(float(p) for p in probabilities[peak])))
        start = t
    confidence = min((d.confidence for d in digits), default=1.0)
    return StringReading("".join(str(d.digit) for d in digits), tuple(digits), score, confidence)


class StringReader:
    """Reads lines of digits with the string model. Load once, reuse."""

    def __init__(self, model_path: str | os.PathLike | None = None, num_threads: int | None = None):
        from .classify import ModelError, default_threads

        self.path = Path(model_path) if model_path else default_string_model_path()
        if not self.path.is_file():
            raise ModelError(f"string model {self.path} not found; --reader digits reads without it, "
                             "python train.py strings trains one")
        self.num_threads = num_threads or default_threads()
        self._interpreters: dict[tuple[int, int], object] = {}  # (lines, padded width) -> interpreter
        card = self.path.with_suffix(".json")
        self.card = json.loads(card.read_text()) if card.is_file() else {}

    @classmethod
    def if_available(cls, model_path=None, num_threads: int | None = None, required: bool = False):
        """The reader, or None when its model is missing and not ``required`` (then the recogniser
        cuts and classifies alone, as before the string reader existed)."""
        from .classify import ModelError

        try:
            return cls(model_path, num_threads)
        except ModelError:
            if required:
                raise
            return None

    @property
    def choice(self) -> tuple[float, float, float]:
        return tuple(self.card.get("choice", DEFAULT_CHOICE))

    def _interpreter(self, count: int, width: int):
        interpreter = self._interpreters.get((count, width))
        if interpreter is None:
            from .classify import _native_stderr_muted

            try:
                from ai_edge_litert.interpreter import Interpreter
            except ImportError:  # pragma: no cover - the runtime requirement
                from tensorflow.lite.python.interpreter import Interpreter
            with _native_stderr_muted():
                interpreter = Interpreter(model_path=str(self.path), num_threads=self.num_threads)
            index = interpreter.get_input_details()[0]["index"]
            interpreter.resize_tensor_input(index, [count, HEIGHT, width, 1])
            interpreter.allocate_tensors()
            if len(self._interpreters) >= 32:  # a stream of odd widths: keep memory bounded
                self._interpreters.pop(next(iter(self._interpreters)))
            self._interpreters[(count, width)] = interpreter
        return interpreter

    def probabilities(self, line: np.ndarray) -> np.ndarray:
        """(HEIGHT, W) line_input -> (T, 11) per-frame probabilities (softmax)."""
        return self.probabilities_of([line])[0]

    def probabilities_of(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Several (HEIGHT, W) line inputs in one call (padded with blank paper to the widest) ->
        (T, 11) per-frame probabilities of each."""
        width = max(MIN_WIDTH, -(-max(line.shape[1] for line in lines) // WIDTH_STEP) * WIDTH_STEP)
        batch = np.zeros((len(lines), HEIGHT, width, 1), np.float32)
        for index, line in enumerate(lines):
            batch[index, :, :line.shape[1], 0] = line
        interpreter = self._interpreter(len(lines), width)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
        interpreter.invoke()
        every = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        out = []
        for logits, line in zip(every, lines):
            logits = logits[:-(-line.shape[1] // STRIDE)].astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            out.append(exp / exp.sum(axis=1, keepdims=True))
        return out

    def read(self, gray: np.ndarray) -> StringReading:
        """A grey crop of one line (dark ink on light paper) -> its reading, boxes in crop columns."""
        return self.read_all([gray])[0]

    def read_all(self, grays: list[np.ndarray]) -> list[StringReading]:
        """Several grey crops in one call of the network -> their readings."""
        lines = [line_input(gray) for gray in grays]
        return [ctc_greedy(probabilities, STRIDE * gray.shape[1] / max(1, line.shape[1]))
                for gray, line, probabilities in zip(grays, lines, self.probabilities_of(lines))]

    def read_line(self, gray: np.ndarray, boxes: list, inverted: bool = False):
        """The line of the picture ``gray`` made of these (x, y, w, h) boxes, read in each of the
        ``CROPS`` (one call of the network) -> (the reading most crops agree on, the most sure of
        them on a tie; its crop (x0, y0, x1, y1), whose columns the reading's digits refer to)."""
        # every crop is read even where a row without tall strokes gives the same crop for several
        # reaches: a batch of always the same size keeps the interpreters to one per padded width
        windows = [line_crop(boxes, gray.shape, reach, margin) for reach, margin in CROPS]
        crops = [gray[y0:y1, x0:x1] for x0, y0, x1, y1 in windows]
        readings = self.read_all([255 - crop if inverted else crop for crop in crops])
        votes = Counter(reading.text for reading in readings)
        best = max(range(len(readings)), key=lambda i: (votes[readings[i].text], readings[i].score))
        return readings[best], windows[best]


def digit_boxes(reading: StringReading, ink: np.ndarray, level: float = 0.4) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) of each digit of ``reading`` in the crop whose ink map is ``ink``: CTC emits
    a digit at one or two frames, so each digit owns the columns half-way to its neighbours' peaks
    (for the first and last, half the usual spacing outwards), narrowed to the ink found there."""
    h, w = ink.shape
    centres = [(d.x0 + d.x1) / 2 for d in reading.digits]
    if not centres:
        return []
    inked = ink >= level
    rows_any = np.flatnonzero(inked.any(axis=1))
    ink_height = rows_any[-1] - rows_any[0] + 1 if rows_any.size else h
    half = 0.55 * float(np.median(np.diff(centres))) if len(centres) > 1 else 0.45 * ink_height
    bounds = [centres[0] - half] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [centres[-1] + half]
    boxes = []
    for left, right in zip(bounds, bounds[1:]):
        x0, x1 = int(np.clip(np.floor(left), 0, w - 1)), int(np.clip(np.ceil(right), 1, w))
        part = inked[:, x0:max(x1, x0 + 1)]
        rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if rows.size == 0:
            boxes.append((x0, 0, max(1, x1 - x0), h))
        else:
            boxes.append((x0 + int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)))
    return boxes


def line_crop(boxes: list, shape: tuple[int, int], reach: float = 0.35,
              margin: float = 0.12) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around a line's (x, y, w, h) boxes, with margins like the training lines'
    (a fifth of the crop height sideways, ``margin`` of it above and below). Long descenders and
    tall strokes are cut at ``reach`` times the typical digit height beyond the row, so that the
    digits keep the size the reader learnt."""
    tops, bottoms = np.array([b[1] for b in boxes]), np.array([b[1] + b[3] for b in boxes])
    height = float(np.median(bottoms - tops))
    top = max(int(tops.min()), int(np.median(tops) - reach * height))
    bottom = min(int(bottoms.max()), int(np.median(bottoms) + reach * height))
    x0 = min(b[0] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    mx, my = int(round(MARGIN_X * (bottom - top))), int(round(margin * (bottom - top)))
    return max(0, x0 - mx), max(0, top - my), min(shape[1], x1 + mx), min(shape[0], bottom + my)


def strings_preferred(choice: tuple, strings_log_confidences, digits_log_confidences) -> bool:
    """Does the string reading of a line beat cut-and-classify's? A logistic function of both
    readings' summed log confidences (fitted on the tuning cheques and synthetic lines) above 0.5."""
    w0, w_strings, w_digits = choice
    return w0 + w_strings * float(np.sum(strings_log_confidences)) + w_digits * float(np.sum(digits_log_confidences)) > 0


def _more_than_one_row(boxes: list) -> bool:
    """Do a line's boxes lie in more than one row (lines that the segmentation joined)? More than
    a fifth of them centred off the row's middle by most of a digit height."""
    centres = np.array([b.y + b.h / 2 for b in boxes])
    height = float(np.median([b.h for b in boxes]))
    return float(np.mean(np.abs(centres - np.median(centres)) > 0.8 * height)) > 0.2


def choose_lines(reader: StringReader, gray: np.ndarray, seg, found: list, lines: set, min_confidence: float,
                 forced: bool = False) -> list:
    """``found`` (working-scale box, probabilities, line) with the given lines read again by the
    string reader: the string reading replaces a line's digits when it is forced, or when its
    calibrated probability of being right is higher than cut-and-classify's."""
    from .segment import Box

    regions_of: dict[int, list] = {}
    for region in seg.regions:
        regions_of.setdefault(region.line, []).append(region.box)
    out = [f for f in found if f[2] not in lines]
    choice = reader.choice
    scale = seg.scale
    for line in sorted(lines):
        current = [f for f in found if f[2] == line]
        boxes = [seg.to_input(b) for b in regions_of.get(line, [])]
        shown = [float(p[:10].max()) for _, p, _ in current if p[:10].max() >= min_confidence]
        if not boxes or _more_than_one_row(boxes) or not (shown or forced):
            # a crop of two rows of writing is no line to read; nor a line where cut-and-classify
            # saw no digit at all (a page's edge, a shadow, a speck: the string reader reads a 1 there)
            out.extend(current)
            continue
        reading, (x0, y0, x1, y1) = reader.read_line(gray, [(b.x, b.y, b.w, b.h) for b in boxes], seg.inverted)
        if not forced:
            if not reading.text or not strings_preferred(choice, np.log(np.maximum([d.confidence for d in reading.digits], 1e-6)),
                                                         np.log(np.maximum(shown, 1e-6))):
                out.extend(current)
                continue
        # each digit's box is looked for in the whole line, tall strokes the crop read may have cut included
        left, top = min(x0, min(b.x for b in boxes)), min(y0, min(b.y for b in boxes))
        right, bottom = max(x1, max(b.x2 for b in boxes)), max(y1, max(b.y2 for b in boxes))
        crop = gray[top:bottom, left:right]
        if seg.inverted:
            crop = 255 - crop
        shifted = replace(reading, digits=tuple(replace(d, x0=d.x0 + x0 - left, x1=d.x1 + x0 - left) for d in reading.digits))
        found_boxes = [Box(int(round((left + bx) * scale)), int(round((top + by) * scale)),
                           max(1, int(round(bw * scale))), max(1, int(round(bh * scale))))
                       for bx, by, bw, bh in digit_boxes(shifted, ink_of(crop))]
        for digit, box in zip(reading.digits, own_boxes(found_boxes, [b for b, _, _ in current])):
            out.append((box, np.asarray(digit.probabilities, np.float32), line))
    return out


def own_boxes(boxes: list, pieces: list) -> list:
    """The string reader's digit ``boxes`` with each one that shares most of its columns with one
    piece cut-and-classify found (a blob or a cut of one), and that piece with no other digit,
    replaced by the piece's box: the piece follows the digit's ink, where the alignment's columns
    may take in a neighbour's strokes (a narrow 1 beside a wide 0). Digits sharing a piece
    (touching digits) keep their alignment boxes."""
    def shared(a, b) -> bool:
        return min(a.x2, b.x2) - max(a.x, b.x) >= 0.5 * min(a.w, b.w)

    out = []
    for box in boxes:
        mine = [piece for piece in pieces if shared(box, piece)]
        if len(mine) == 1 and sum(shared(other, mine[0]) for other in boxes) == 1:
            box = mine[0]
        out.append(box)
    return out
