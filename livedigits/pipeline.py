"""The public recognition API: picture -> Reading (every digit, its box, confidence and line)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from .classify import NOT_A_DIGIT, NUM_DIGITS, Classifier
from .grid import Grid, find_grids, outside_grids, read_grids
from .normalize import to_mnist_batch
from .segment import Box, Region, Segmentation, at_working_scale, segment, to_gray, working_scale
from .single_digit import choose_reading, digit_crops, digit_from_probabilities
from .strings import READERS, StringReader, choose_lines

# Chosen from measurements (see README "Confidence threshold"): rejects most non-digit blobs
# while keeping nearly all real digits on the synthetic scenes and the real-photo dev sets.
DEFAULT_MIN_CONFIDENCE = 0.5
_MAX_CUTS = 16           # candidate cut columns per wide blob
_MAX_PIECES = 6          # at most this many digits read out of one blob
_LOG_FLOOR = 1e-6
# Each digit read out of a blob beyond the first costs this much log-probability: without it,
# halves of a 0 (each a confident "1") outscore the 0 itself.
_PIECE_PENALTY = 1.0
NARROW_PAIR = 0.75  # width / height of the narrowest pair of touching digits worth cutting
# With reader="auto", a line goes to the string reader when one of its blobs was cut or one of
# its digits is less sure than this (most clean lines are not, and cost nothing more).
STRING_DOUBT = 0.9


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
    probabilities: tuple = ()  # the classifier's 11 outputs: digits 0-9, then "not a digit"
    row: int | None = None     # the grid cell it was read in (None outside grids)
    col: int | None = None

    def as_dict(self) -> dict:
        record = {"x": self.x, "y": self.y, "w": self.w, "h": self.h, "digit": self.digit,
                  "confidence": round(self.confidence, 4), "line": self.line}
        if self.row is not None:
            record.update(row=self.row, col=self.col)
        return record


@dataclass
class Reading:
    digits: list[Digit] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)  # grids found, each cell read (livedigits.grid)
    inverted: bool = False  # read as light ink on a dark background

    @property
    def lines(self) -> list[str]:
        count = max((d.line for d in self.digits), default=-1) + 1
        return ["".join(str(d.digit) for d in self.digits if d.line == n) for n in range(count)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Recognizer:
    """Finds and reads every digit in a picture. Load once, call ``recognize`` per frame."""

    def __init__(self, model: str | os.PathLike | None = None, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
                 num_threads: int | None = None, reader: str = "auto", string_model: str | os.PathLike | None = None):
        # anything with predict((N, 28, 28, 1)) -> (N, classes) will do: tests pass a reference one
        self.classifier = model if hasattr(model, "predict") else Classifier(model, num_threads=num_threads)
        self.min_confidence = float(min_confidence)
        # "digits": cut and classify only; "strings": every line read by the string reader;
        # "auto": the string reader reads the lines that cut-and-classify finds doubtful, and the
        # reading with the higher calibrated probability of being right is kept per line
        if reader not in READERS:
            raise ValueError(f"reader must be one of {', '.join(READERS)}, not {reader!r}")
        self.reader = reader
        # a line's crops are read in one call, on all cores as a frame's digit crops (classify.SMALL_BATCH)
        self.string_reader = None if reader == "digits" else StringReader.if_available(
            string_model, num_threads, required=reader == "strings")

    # -- pictures with many digits -------------------------------------------------------------
    def recognize(self, image: np.ndarray, timings: dict | None = None, inverted: bool | None = None,
                  grids_expected: bool = False) -> Reading:
        """Every digit in ``image``. Pass a dict as ``timings`` to get seconds per stage added to it
        (segment, grids, normalise, classify, strings): the benchmark uses this. ``inverted`` says whether the ink
        is lighter than the paper (a video holds its page's polarity); by default each picture decides.
        ``grids_expected``: a video whose last frames held a grid has it searched for first, as in a photo
        (not read as a page up to the grid's web first); the answer is the same either way."""
        clock = time.perf_counter
        started = clock()
        # Grids are looked for and read on the page reader's working copy (a 12 MP photo shrunk
        # once, for both); a grid is read cell by cell, the rest of the picture (grids covered)
        # as a page. A frame-sized picture is searched only where the page reader saw long
        # straight lines or a web of boxes (most frames hold neither; at a web it stops reading,
        # since a grid will be covered); a larger one, a photo, is searched first, the search
        # being a small share of reading it.
        picture = to_gray(image)
        shrink = working_scale(picture.shape)
        work = at_working_scale(picture)[0] if shrink < 1 else picture
        # grey already: segment does not convert the frame again
        seg = segment(work, inverted=inverted, stop_at_web=True) if shrink >= 1 and not grids_expected else None
        paged = clock()
        grids = find_grids(work) if seg is None or seg.lined else []
        if grids:
            grids, cell_digits = read_grids(work, grids, self.classifier.predict, 1 / min(shrink, 1.0))
            seg = segment(outside_grids(work, grids, min(shrink, 1.0)), inverted=inverted)
        elif seg is None or not seg.complete:  # a photo or a grid expected, or a web that holds no grid
            searched = clock()
            seg = segment(work, inverted=inverted)
            paged += clock() - searched  # the page reading's time, not the search's
        if shrink < 1:
            seg.scale = shrink  # segment saw the working copy: boxes go back to the picture's pixels
        segmented = clock()
        normalise_s = classify_s = 0.0
        found: list[tuple[Box, np.ndarray, int]] = []
        doubtful: set[int] = set()  # lines with a cut blob or an unsure digit
        if seg.regions:
            # One batched call for every region, then at most one more for the cut hypotheses of the
            # wide blobs that the first call found doubtful (touching digits, digits with punctuation).
            t0 = clock()
            batch = to_mnist_batch([seg.crop(r) for r in seg.regions])
            t1 = clock()
            whole = self.classifier.predict(batch)
            t2 = clock()
            hypotheses, crops = {}, []
            for index, region in enumerate(seg.regions):
                if _worth_cutting(seg, region, whole[index]):
                    hypotheses[index] = _cut_hypotheses(seg, region, crops)
            sliced = None
            if crops:
                slices = to_mnist_batch(crops)
                t3 = clock()
                sliced = self.classifier.predict(slices)
                classify_s += clock() - t3
                normalise_s += t3 - t2
            normalise_s += t1 - t0
            classify_s += t2 - t1
            for index, region in enumerate(seg.regions):
                chosen = [(None, whole[index])]
                if index in hypotheses:
                    chosen = _best_cut_path(whole[index], hypotheses[index], sliced) or chosen
                if index in hypotheses or min(p[:NUM_DIGITS].max() for _, p in chosen) < STRING_DOUBT:
                    doubtful.add(region.line)
                for columns, probs in chosen:
                    box = region.box if columns is None else _ink_box(seg, region, columns)
                    found.append((box, probs, region.line))
        strings_s = 0.0
        if self.string_reader is not None and seg.regions:
            t4 = clock()
            lines = {r.line for r in seg.regions} if self.reader == "strings" else doubtful
            if lines:
                found = choose_lines(self.string_reader, picture, seg, found, lines,
                                     self.min_confidence, forced=self.reader == "strings")
            strings_s = clock() - t4
        reading = self._reading(seg, found)
        if grids:
            reading = self._with_grids(reading, grids, cell_digits)
        if timings is not None:
            if self.string_reader is not None:
                timings["strings"] = timings.get("strings", 0.0) + strings_s
            timings["segment"] = timings.get("segment", 0.0) + paged - started
            timings["grids"] = timings.get("grids", 0.0) + segmented - paged
            timings["normalise"] = timings.get("normalise", 0.0) + normalise_s
            timings["classify"] = timings.get("classify", 0.0) + classify_s
        return reading

    def _reading(self, seg: Segmentation, found: list[tuple[Box, np.ndarray, int]]) -> Reading:
        if not found:
            return Reading([], inverted=seg.inverted)
        # every candidate's digit, confidence and top three at once, not one small array at a time
        table = np.stack([probs for _, probs, _ in found])
        digits = table[:, :NUM_DIGITS].argmax(axis=1)
        confidences = table[np.arange(len(found)), digits]
        kept = []
        for (box, probs, line), digit, confidence, top3 in zip(found, digits.tolist(), confidences.tolist(), _top3s(table)):
            if confidence < self.min_confidence:
                continue
            kept.append((seg.to_input(box), digit, confidence, line, top3, probs))
        renumber = {old: new for new, old in enumerate(sorted({k[3] for k in kept}))}
        kept.sort(key=lambda k: (renumber[k[3]], k[0].x))
        return Reading([Digit(b.x, b.y, b.w, b.h, d, c, renumber[line], top3, tuple(probs.tolist()))
                        for b, d, c, line, top3, probs in kept], inverted=seg.inverted)

    def _with_grids(self, reading: Reading, grids: list[Grid], cell_digits) -> Reading:
        """The page's digits and the grids' digits, lines renumbered top to bottom (a grid row is a line)."""
        lines: dict = {}
        for d in reading.digits:
            lines.setdefault(("page", d.line), []).append(d)
        for c in cell_digits:
            digit = int(np.argmax(c.probabilities[:NUM_DIGITS]))
            confidence = float(c.probabilities[digit])
            if confidence < self.min_confidence:
                continue
            x, y, w, h = c.box
            lines.setdefault(("grid", c.grid, c.row), []).append(
                Digit(x, y, w, h, digit, confidence, 0, _top3(c.probabilities),
                      tuple(float(p) for p in c.probabilities), c.row, c.col))
        order = sorted(lines, key=lambda key: np.median([d.y + d.h / 2 for d in lines[key]]))
        digits = [replace(d, line=n) for n, key in enumerate(order)
                  for d in sorted(lines[key], key=lambda d: (d.col if d.col is not None else 0, d.x))]
        return Reading(digits, grids, reading.inverted)

    # -- pictures of one digit --------------------------------------------------------------------
    def read_digit(self, image: np.ndarray) -> tuple[int | None, float]:
        """The digit in a picture that holds one, and its confidence over the ten digits; or
        ``(None, p)`` when the picture holds no digit (blank paper, a letter, a scrap), ``p`` being
        the probability of "not a digit" (1.0 for a picture with no ink at all)."""
        return self.read_digits([image])[0]

    def digit_probabilities(self, image: np.ndarray) -> np.ndarray:
        """The classifier's outputs for a picture of one digit: ten digits, then "not a digit"."""
        return self._single_probabilities([image])[0]

    def read_digits(self, images: list[np.ndarray]) -> list[tuple[int | None, float]]:
        """Many one-digit pictures in one classifier call; each answer as ``read_digit``'s."""
        return [digit_from_probabilities(probs) for probs in self._single_probabilities(images)]

    def _single_probabilities(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, 11) probabilities: every reading of every picture (each polarity, with and without
        grid lines) in one classifier call, then ``choose_reading`` per picture; a picture with no
        ink is "not a digit" for sure."""
        crops, spans = [], []  # spans: per picture, where its plain and its unlined readings lie
        for image in images:
            found = digit_crops(image)
            start = len(crops)
            crops += found.plain + found.unlined
            spans.append((start, start + len(found.plain), len(crops)))
        probs = self.classifier.predict_in_chunks(to_mnist_batch(crops))[:, :NUM_DIGITS + 1] if crops \
            else np.zeros((0, NUM_DIGITS + 1), np.float32)
        result = np.empty((len(images), NUM_DIGITS + 1), np.float32)
        for index, (start, middle, end) in enumerate(spans):
            result[index] = choose_reading(probs[start:middle], probs[middle:end])
        return result


@dataclass
class _Hypotheses:
    """Candidate cut columns of one blob and the slices between them (crop indices)."""
    cuts: list[int]                 # absolute working-scale x positions, first = box start, last = end
    slices: dict                    # (i, j) -> (crop index, is_small) for cuts[i]..cuts[j]


def _worth_cutting(seg: Segmentation, region: Region, probs: np.ndarray) -> bool:
    """Only wide blobs that do not already read as one sure digit: a lone digit is never cut."""
    height = max(region.box.h, 0.7 * seg.digit_height)
    if probs[NOT_A_DIGIT] > 0.5 and region.box.w >= NARROW_PAIR * height:
        return True  # not one digit, yet as wide as two narrow touching ones ("44", "11")
    if region.box.w < 0.9 * height:
        return False
    return probs[:NUM_DIGITS].max() < 0.9 or probs[NOT_A_DIGIT] > 0.2


def _cut_hypotheses(seg: Segmentation, region: Region, crops: list) -> _Hypotheses:
    box = region.box
    height = max(box.h, 0.7 * seg.digit_height)
    ink = seg.crop(region)
    profile = np.convolve((ink > 0).sum(axis=0).astype(np.float32), np.ones(3) / 3, mode="same")
    # Dense, evenly spaced candidates: the right cut between two touching 0s is at a profile
    # *peak* (their touching sides), so valleys alone would miss it. The classifier decides.
    step = max(2.0, box.w / min(_MAX_CUTS, max(3, round(box.w / (0.18 * height)))))
    cuts = set(np.arange(step, box.w - step / 2, step).astype(int).tolist())
    window = max(1, int(0.1 * height))
    for x in range(window, box.w - window):
        if profile[x] <= profile[x - window:x + window + 1].min() + 1e-6:
            cuts.add(x)  # valleys too: where two digits barely touch
    cuts = _spaced(sorted(cuts), max(2, int(0.08 * height)))
    cuts = [0] + [c for c in cuts if 0 < c < box.w] + [box.w]
    slices = {}
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            width = cuts[j] - cuts[i]
            if width > 1.25 * height:
                break
            if (i, j) == (0, len(cuts) - 1) or width < 0.08 * height:
                continue
            crop = ink[:, cuts[i]:cuts[j]]
            rows = np.flatnonzero(crop.any(axis=1))
            if rows.size == 0:
                continue
            ink_height = rows[-1] - rows[0] + 1
            # punctuation that may be skipped: a dot or comma (small both ways) or a dash (flat);
            # not two small digits side by side
            is_small = ink_height < 0.45 * box.h and (width < 0.45 * box.h or ink_height < 0.2 * box.h)
            slices[(i, j)] = (len(crops), is_small)
            crops.append(crop)
    return _Hypotheses([box.x + c for c in cuts], slices)


def _spaced(values: list[int], gap: int) -> list[int]:
    kept = []
    for v in values:
        if not kept or v - kept[-1] >= gap:
            kept.append(v)
    return kept


def _best_cut_path(whole: np.ndarray, hyp: _Hypotheses, probabilities: np.ndarray):
    """The reading of a blob with the highest summed log-probability: its slices read as digits,
    small slices (a dot, a dash) may be skipped as non-digits. None if keeping it whole is as good."""
    def log(p):
        return float(np.log(max(p, _LOG_FLOOR)))

    end = len(hyp.cuts) - 1
    best = {0: (0.0, [])}
    for j in range(1, end + 1):
        options = []
        for (i, jj), (crop_index, is_small) in hyp.slices.items():
            if jj != j or i not in best or len(best[i][1]) >= _MAX_PIECES:
                continue
            probs = probabilities[crop_index]
            columns = (hyp.cuts[i], hyp.cuts[j])
            options.append((best[i][0] + log(probs[:NUM_DIGITS].max()) - _PIECE_PENALTY,
                            best[i][1] + [(columns, probs)]))
            if is_small:  # punctuation: its "not a digit" evidence, no digit, a piece all the same
                options.append((best[i][0] + log(probs[NOT_A_DIGIT]) - _PIECE_PENALTY, best[i][1]))
        if options:
            best[j] = max(options, key=lambda option: option[0])
    if end not in best or not best[end][1]:
        return None
    score, path = best[end]
    score += _PIECE_PENALTY  # the first digit is free, as for the whole blob
    # A cut must beat the whole by a margin (on top of the piece penalty): 1 nat, a ratio of ~3.
    return path if score > log(whole[:NUM_DIGITS].max()) + 1.0 else None


def _ink_box(seg: Segmentation, region: Region, columns: tuple[int, int]) -> Box:
    crop = seg.crop(region, columns)
    rows, cols = np.flatnonzero(crop.any(axis=1)), np.flatnonzero(crop.any(axis=0))
    if rows.size == 0:
        return Box(columns[0], region.box.y, columns[1] - columns[0], region.box.h)
    return Box(columns[0] + int(cols[0]), region.box.y + int(rows[0]),
               int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


def _top3(probs: np.ndarray) -> tuple:
    return _top3s(np.asarray(probs)[None])[0]


def _top3s(table: np.ndarray) -> list[tuple]:
    """Each row's three likeliest digits with their probabilities, ((digit, p), ...), most likely first."""
    digits = table[:, :NUM_DIGITS]
    order = np.argsort(digits, axis=1)[:, ::-1][:, :3]
    best = np.take_along_axis(digits, order, axis=1)
    return [tuple((d, round(p, 4)) for d, p in zip(row, values)) for row, values in zip(order.tolist(), best.tolist())]
