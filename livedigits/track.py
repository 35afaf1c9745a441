"""Steady readings for video and camera: digits tracked across frames, their evidence combined.

Read on its own, each frame of a video gives a slightly different answer: a 7 turns into a 1 for a
frame, a smudge of desk becomes a digit for a frame. Here each frame's digits are matched to those
of earlier frames (tracks):

* the camera's motion since the last frame is measured once (phase correlation of small grey
  frames) and moves every track's box; tracks and new boxes are then paired by overlap;
* a track's digit comes from the classifier's probabilities over all the frames it was seen in,
  sharp sightings counting more than blurred ones (the sharpness of each crop against the track's
  own sharpest), older ones fading a little so that a changed digit is followed;
* a track is shown once seen in a few frames, and dropped when lost for a while, or at once when
  its place holds no ink any more;
* a frame that cannot be read (a flash, or blur that makes the shown digits read differently)
  teaches nothing: the previous steady reading stays, its boxes moved with the camera;
* lines and reading order are worked out on the shown tracks, so the text is as steady as they are.

    stabilizer = Stabilizer()                  # one per video or camera
    summary = SummaryCollector()
    for frame in frames:
        steady = stabilizer.update(frame.image, recognizer.recognize(frame.image), frame.time_s)
        summary.add(steady.text, frame.time_s)
        draw(frame.image, steady)              # steady.text, steady.digits[i].track
    write_summary("summary.csv", {"clip.mp4": summary})

Why not a general-purpose tracker such as ByteTrack: it predicts each box with its own Kalman filter,
which cannot follow a hand-held camera (every box moves at once, and most of them are briefly lost in
a blurred frame), and it knows nothing of digit evidence, blur or blank paper. One phase correlation
per frame measures the motion that every box shares, for about 0.1 ms.
"""
from __future__ import annotations

import csv
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .pipeline import Digit, Reading
from .segment import Box, Region, order_lines

_CLASSES = 11             # digits 0-9, then "not a digit"
_NOT_A_DIGIT = 10
_MIN_WEIGHT = 0.05        # the blurriest sighting still counts this much (as a share of a sharp one)
_REF_FADE = 0.97          # a track's best sharpness fades per sighting, following slow zoom changes
_CONTRAST_FLOOR = 25.0    # grey variance added under the sharpness ratio: flat paper is not "sharp"
_CONTRAST_RATE = 0.3      # running mean of a track's contrast
_MIN_CONTRAST_KEPT = 0.12  # less of its usual contrast and a track's box holds no digit (a shadow keeps ~0.3)
_MOTION_WIDTH = 128       # phase correlation runs on a grey copy this wide
_MIN_RESPONSE = 0.3       # weaker phase-correlation peaks are noise (measured: blank paper 0-0.16, pages 0.5-1)
_COAST_SLOWDOWN = 0.8     # per frame, the guessed motion when it cannot be measured
_MAX_CORRECTION = 0.1     # share of the frame width: larger corrections of the motion are mistakes
_DUPLICATE_IOU = 0.3      # tracks overlapping more than this are one digit tracked twice
_SAME_DIGIT = 0.2         # a returning track takes a detection giving its digit at least this probability
_MIN_FLASH = 8.0          # grey levels: smaller brightness changes are never a flash...
_FLASH_HEADROOM = 0.6     # ... larger ones are when they go this share of the way to white
_EDGE_PX = 2.0            # a box this close to the frame's edge may be a digit cut by it...
_EDGE_SHARE = 0.015       # ... or this share of the frame's shorter side, if more


@dataclass(frozen=True)
class TrackSettings:
    confirm_hits: int = 2          # sightings in sharp frames before a track is shown (never one frame's)
    coast_frames: int = 12         # a shown track stays shown this many readable frames unseen in view
                                   # (at most as many as it was seen in: junk seen twice goes at once)
    drop_after: int = 20           # ... and is forgotten after this many
    drop_out_of_view: int = 45     # frames a track out of view is remembered while the digits in view,
                                   # seen, tell where it is (a page half out of view and back)
    decay: float = 0.9             # weight of older evidence per sharp sighting: a changed digit is followed
    min_confidence: float = 0.5    # combined confidence a track needs to be shown (once shown, it stays
                                   # shown down to min_confidence - switch_margin)
    max_not_digit: float = 0.5     # combined "not a digit" share that ends a confirmed track
    switch_margin: float = 0.15    # another digit must beat the shown one by this much to replace it
    min_iou: float = 0.15          # overlap of a moved track and a new box to be the same digit
    blur_ratio: float = 0.4        # shown digits less sharp than this share of their best: a blurred frame
    min_agreement: float = 0.75    # a blurred frame reading fewer of the shown digits the same is not read
    light_jump: float = 0.3        # brightness this far (share) from the recent median, or most of the
                                   # way to white: a flash, not read
    max_hold: int = 10             # after this many unread frames in a row the frame is the new normal
    min_digit_height: float = 0.025  # detections shorter or taller than these shares of the frame
    max_digit_height: float = 0.6    # height are not tracked: specks of paper grain, desk or ruling, or
                                     # rulings, folds and page edges; a video's writing is in between
    work_width: int = 320          # frames are measured (motion, sharpness) at about this width


@dataclass(frozen=True)
class TrackedDigit(Digit):
    track: int = -1                # the track id: the same digit keeps it from frame to frame

    def as_dict(self) -> dict:
        return {**super().as_dict(), "track": self.track}


@dataclass
class SteadyReading(Reading):
    """A Reading of TrackedDigits; `held` when the frame could not be read and the previous reading
    is shown, its boxes moved with the camera."""
    held: bool = False
    time_s: float | None = None


@dataclass(slots=True)
class Detection:
    """One digit of one frame, as the tracker sees it."""
    box: tuple                     # (x, y, w, h) in frame pixels
    probs: np.ndarray              # the classifier's 11 outputs
    sharpness: float = 1.0         # any scale: compared only with the same track's other sightings
    contrast: float = 1.0          # any scale: compared only with the same track's box in later frames
    edge: bool = False             # touches the frame's edge: maybe part of a digit, so it keeps a track
                                   # alive but says nothing about which digit it is


@dataclass(eq=False, slots=True)
class Track:
    id: int
    box: list                      # [x, y, w, h] floats, moved with the camera when unseen
    evidence: np.ndarray           # weighted, fading sum of the sightings' probabilities
    weight: float                  # the same sum of weights: evidence / weight are probabilities
    sharp_ref: float               # the sharpest sighting so far (fading slowly)
    contrast: float = 1.0          # the sightings' contrast (running mean): ink that fades away is gone
    hits: int = 1                  # sightings in sharp frames (those at the frame's edge do not count)
    missed: int = 0                # frames in a row without a sighting: readable ones in view, and
                                   # ones out of view while nothing in view is seen
    away: int = 0                  # frames in a row out of view
    in_view: bool = True
    digit: int = -1                # the digit shown (kept unless another beats it by switch_margin)
    confirmed: bool = False
    shown: bool = False

    @property
    def probabilities(self) -> np.ndarray:
        return self.evidence / max(self.weight, 1e-12)

    @property
    def confidence(self) -> float:
        return float(self.evidence[self.digit] / max(self.weight, 1e-12))

    def observe(self, det: Detection, settings: TrackSettings, counts: bool = True) -> None:
        """Adds a sighting; `counts` False (a blurred frame) adds evidence without confirming."""
        self.missed = self.away = 0
        if det.edge:  # only where it is: a cut box would shrink the track's box
            self.box[0] += (det.box[0] + det.box[2] / 2) - (self.box[0] + self.box[2] / 2)
            self.box[1] += (det.box[1] + det.box[3] / 2) - (self.box[1] + self.box[3] / 2)
            return
        if det.sharpness > self.sharp_ref:
            # the evidence so far was weighed against a blurrier best: rescale it to the new best
            scale = _sharp_weight(self.sharp_ref / det.sharpness)
            self.evidence *= scale
            self.weight *= scale
            self.sharp_ref = det.sharpness
        w = _sharp_weight(det.sharpness / self.sharp_ref)
        fade = settings.decay ** w  # a blurred sighting hardly fades what sharp ones said
        self.evidence = fade * self.evidence + w * det.probs
        self.weight = fade * self.weight + w
        self.sharp_ref *= _REF_FADE
        self.contrast += _CONTRAST_RATE * (det.contrast - self.contrast)
        self.box = list(det.box)
        self.hits += counts
        self.confirmed = self.confirmed or self.hits >= settings.confirm_hits
        self.choose_digit(settings.switch_margin)

    def choose_digit(self, margin: float) -> None:
        p = self.evidence  # the same order as the probabilities
        best = int(np.argmax(p[:_NOT_A_DIGIT]))
        if self.digit < 0 or p[best] > p[self.digit] + margin * self.weight:
            self.digit = best


def _sharp_weight(ratio: float) -> float:
    """Weight of a sighting whose sharpness is `ratio` of the track's best: blur costs quadratically."""
    ratio = min(max(ratio, _MIN_WEIGHT), 1.0)
    return ratio * ratio


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every (x, y, w, h) row of a against every row of b."""
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    bx0, by0 = b[:, 0], b[:, 1]
    iw = np.clip(np.minimum(ax0 + a[:, 2:3], bx0 + b[:, 2]) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay0 + a[:, 3:4], by0 + b[:, 3]) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    return inter / (a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter + 1e-9)


def associate(track_boxes: np.ndarray, det_boxes: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (track, detection), best overlap first. On the few dozen boxes of a page
    this is as good as an optimal assignment: digits do not overlap, so conflicts are rare."""
    if not len(track_boxes) or not len(det_boxes):
        return []
    iou = _iou_matrix(track_boxes, det_boxes)
    rows, cols = np.nonzero(iou >= min_iou)
    return greedy_pairs(rows, cols, np.argsort(-iou[rows, cols], kind="stable"))


def greedy_pairs(rows: np.ndarray, cols: np.ndarray, order: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs from the candidate pairs (rows[k], cols[k]), taken in `order` (best first)."""
    used_r, used_c, pairs = set(), set(), []
    for k in order:
        r, c = int(rows[k]), int(cols[k])
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


def _median(values) -> float:
    """Median of a short list (numpy's costs more than the sort, for the few values here)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _centre(box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _in_view(box, frame_size) -> bool:
    cx, cy = _centre(box)
    return 0 <= cx < frame_size[0] and 0 <= cy < frame_size[1]


def _touches_edge(box, frame_size, margin: float = _EDGE_PX) -> bool:
    x, y, w, h = box
    return x <= margin or y <= margin or x + w >= frame_size[0] - margin or y + h >= frame_size[1] - margin


class Tracker:
    """Tracks from detections, frame after frame. Pure bookkeeping: the camera motion, the frame's
    readability and blur, and each detection's sharpness are measured by the caller (Stabilizer)."""

    def __init__(self, settings: TrackSettings | None = None):
        self.settings = settings or TrackSettings()
        self.tracks: list[Track] = []
        self._next_id = 1
        self._measured = True

    def step(self, detections: list[Detection], frame_size: tuple[int, int], shift=(0.0, 0.0),
             readable: bool = True, blurred: bool = False, measured: bool = True) -> list[Track]:
        """One frame: ``predict``, ``match``, ``update``. Returns the tracks to show."""
        self.predict(shift, measured)
        pairs = self.match(detections) if readable else []
        return self.update(detections, pairs, frame_size, readable, blurred)

    def predict(self, shift, measured: bool = True) -> None:
        """Moves every track with the camera (`shift`: the image motion since the last frame, pixels;
        `measured`: False when that is a guess)."""
        self._measured = measured
        dx, dy = float(shift[0]), float(shift[1])
        for t in self.tracks:
            t.box[0] += dx
            t.box[1] += dy

    def match(self, detections: list[Detection]) -> list[tuple[int, int]]:
        """(track index, detection index) pairs of the same digit. A track coming back (from out of
        view, or after being unseen for a while) must also read as the same digit: its predicted
        place may have drifted onto another digit, or onto another page."""
        boxes = np.array([d.box for d in detections], np.float64).reshape(-1, 4)
        pairs = associate(np.array([t.box for t in self.tracks], np.float64).reshape(-1, 4), boxes,
                          self.settings.min_iou)
        coast = self.settings.coast_frames
        return [(t, d) for t, d in pairs
                if (self.tracks[t].away == 0 and self.tracks[t].missed <= coast) or detections[d].edge
                or detections[d].probs[self.tracks[t].digit] >= _SAME_DIGIT]

    def update(self, detections: list[Detection], pairs: list[tuple[int, int]], frame_size: tuple[int, int],
               readable: bool = True, blurred: bool = False, absent=()) -> list[Track]:
        """Learns from the matched detections and starts tracks for the others (when the frame is
        `readable`), and returns the tracks to show, in no particular order. In a `blurred` frame
        sightings add (blur-weighted) evidence but do not confirm. Tracks (indices) in `absent` are
        known not to be where they are expected (no ink there): they are hidden now."""
        s = self.settings
        if not readable:
            pairs = []
        if pairs:  # the matched boxes correct the measured motion for the tracks not seen this frame
            dx = _median([_centre(detections[d].box)[0] - _centre(self.tracks[t].box)[0] for t, d in pairs])
            dy = _median([_centre(detections[d].box)[1] - _centre(self.tracks[t].box)[1] for t, d in pairs])
            seen = {t for t, _ in pairs}
            for i, t in enumerate(self.tracks):
                if i not in seen:
                    t.box[0] += dx
                    t.box[1] += dy
        for ti, di in pairs:
            self.tracks[ti].observe(detections[di], s, counts=not blurred)
        seen = {t for t, _ in pairs}
        # a track out of view is where the camera motion says only while digits in view are seen too
        anchored = bool(pairs) if readable else self._measured
        for i, t in enumerate(self.tracks):
            t.in_view = _in_view(t.box, frame_size)
            if i in seen:
                continue
            t.away = 0 if t.in_view else t.away + 1
            if (t.in_view and readable) or (not t.in_view and not anchored):
                t.missed += 1  # an unreadable frame says nothing about a digit in view
            if i in absent:
                t.missed = max(t.missed, s.coast_frames + 1)
        if readable:
            used = {d for _, d in pairs}
            self.tracks += [self._new_track(det, not blurred) for di, det in enumerate(detections)
                            if di not in used and not det.edge]
        for t in self.tracks:
            w = max(t.weight, 1e-12)
            # a shown digit stays shown a little below the confidence it needed to appear: a digit the
            # classifier hesitates on (a 0 or a 6) must not blink
            needed = s.min_confidence - (s.switch_margin if t.shown else 0.0)
            t.shown = (t.confirmed and t.in_view and t.missed <= min(s.coast_frames, t.hits)
                       and t.evidence[t.digit] >= needed * w and t.evidence[_NOT_A_DIGIT] < s.max_not_digit * w)
        return self._forget()

    def _new_track(self, det: Detection, counts: bool) -> Track:
        track = Track(self._next_id, list(det.box), np.array(det.probs, np.float64), 1.0,
                      max(det.sharpness, 1e-9), det.contrast, hits=int(counts))
        track.confirmed = track.hits >= self.settings.confirm_hits
        track.choose_digit(self.settings.switch_margin)
        self._next_id += 1
        return track

    def _forget(self) -> list[Track]:
        s = self.settings
        # out of view, a track lost with the camera motion goes sooner: it could not be found again;
        # "not a digit" evidence ends a track
        self.tracks = [t for t in self.tracks if t.away <= s.drop_out_of_view
                       and t.missed <= (s.drop_after if t.in_view else s.coast_frames)
                       and not (t.confirmed and t.evidence[_NOT_A_DIGIT] >= s.max_not_digit * t.weight)]
        self._merge_duplicates()
        return [t for t in self.tracks if t.shown]

    def _merge_duplicates(self) -> None:
        """Digits do not overlap, so two overlapping tracks are one digit tracked twice (after a bad
        motion estimate, or a box that split differently). If they read the same, the longer-lived one
        stays and takes the other's evidence (and its place, if seen more recently); if not, the one
        seen more recently stays: the other is a stale track on a new digit."""
        if len(self.tracks) < 2:
            return
        order = sorted(self.tracks, key=lambda t: -t.hits)
        boxes = np.array([t.box for t in order], np.float64)
        overlap = _iou_matrix(boxes, boxes) > _DUPLICATE_IOU
        if np.count_nonzero(overlap) == len(order):  # only the diagonal: no duplicates
            return
        kept: list[int] = []
        for k, t in enumerate(order):
            twin = next((n for n, j in enumerate(kept) if overlap[k, j]), None)
            if twin is None:
                kept.append(k)
                continue
            keeper = order[kept[twin]]
            if keeper.digit != t.digit:
                if t.missed < keeper.missed:
                    kept[twin] = k
                continue
            keeper.evidence = keeper.evidence + t.evidence
            keeper.weight += t.weight
            if t.missed < keeper.missed:
                keeper.box, keeper.missed, keeper.away = t.box, t.missed, t.away
            keeper.choose_digit(self.settings.switch_margin)
        survivors = {id(order[k]) for k in kept}
        self.tracks = [t for t in self.tracks if id(t) in survivors]


# -- measuring frames ----------------------------------------------------------------------------

@dataclass
class FrameView:
    """A frame measured once: a small grey copy for motion, and crop statistics from integral images,
    computed over the part of the frame where digits are (``focus``)."""
    size: tuple[int, int]           # input (width, height)
    scale: float                    # working / input
    brightness: float               # mean grey, 0-255
    motion: np.ndarray              # float32 grey, _MOTION_WIDTH wide, for phase correlation
    grey: np.ndarray                # uint8 grey at the working scale
    origin: tuple[int, int] = (0, 0)  # top-left (working scale) of the focused part
    sums: tuple | None = None       # its integral images of grey, grey^2 and Laplacian^2

    @classmethod
    def of(cls, frame: np.ndarray, work_width: int) -> "FrameView":
        h, w = frame.shape[:2]
        scale = min(1.0, work_width / w)
        grey = frame  # grey first: one pass over the (cold) frame, then a small resize
        if grey.ndim == 3:
            grey = cv2.cvtColor(grey, cv2.COLOR_BGRA2GRAY if grey.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        if grey.dtype != np.uint8:
            grey = cv2.convertScaleAbs(grey, alpha=255.0 / max(1.0, float(grey.max())))
        small = cv2.resize(grey, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
        k = min(1.0, _MOTION_WIDTH / small.shape[1])
        motion = cv2.resize(small, (max(8, round(small.shape[1] * k)), max(8, round(small.shape[0] * k))),
                            interpolation=cv2.INTER_AREA)
        return cls((w, h), scale, cv2.mean(small)[0], motion.astype(np.float32), small)

    def focus(self, boxes) -> None:
        """Prepares ``measure`` for boxes (frame pixels) inside the bounding rect of `boxes`: the
        integral images cover only that (text is rarely the whole frame), plus a small margin."""
        b = np.asarray(boxes, np.float64).reshape(-1, 4) * self.scale
        hh, ww = self.grey.shape
        if not len(b):
            x0 = y0 = 0
            x1, y1 = min(ww, 2), min(hh, 2)
        else:
            x0 = int(np.clip(np.floor(b[:, 0].min()) - 2, 0, ww - 1))
            y0 = int(np.clip(np.floor(b[:, 1].min()) - 2, 0, hh - 1))
            x1 = int(np.clip(np.ceil((b[:, 0] + b[:, 2]).max()) + 2, x0 + 1, ww))
            y1 = int(np.clip(np.ceil((b[:, 1] + b[:, 3]).max()) + 2, y0 + 1, hh))
        part = self.grey[y0:y1, x0:x1]
        lap = cv2.Laplacian(part, cv2.CV_32F)
        grey_sum, grey_sq = cv2.integral2(part, sdepth=cv2.CV_32S, sqdepth=cv2.CV_64F)
        self.origin, self.sums = (x0, y0), (grey_sum, grey_sq, cv2.integral(lap * lap, sdepth=cv2.CV_64F))

    def measure(self, boxes, relative: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Per (x, y, w, h) box: sharpness (mean squared Laplacian over grey variance: dividing by the
        contrast makes it blind to shadows and exposure, while motion blur lowers it steeply) and
        contrast (grey variance: ink on paper is high, blank paper low; `relative`: over the squared
        mean grey, which a shadow or dimmer light leaves as it is). Boxes are clipped to the part
        of the frame last focused on (the whole frame if ``focus`` was not called)."""
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        if not len(boxes):
            return np.zeros(0), np.zeros(0)
        if self.sums is None:
            self.focus([(0, 0, *self.size)])
        grey_sum, grey_sq, lap_sq = self.sums
        hh, ww = grey_sum.shape[0] - 1, grey_sum.shape[1] - 1
        b = boxes * self.scale - (*self.origin, 0, 0)
        x0 = np.clip(np.floor(b[:, 0]), 0, ww - 1).astype(int)
        y0 = np.clip(np.floor(b[:, 1]), 0, hh - 1).astype(int)
        x1 = np.clip(np.ceil(b[:, 0] + b[:, 2]), x0 + 1, ww).astype(int)
        y1 = np.clip(np.ceil(b[:, 1] + b[:, 3]), y0 + 1, hh).astype(int)
        area = (x1 - x0) * (y1 - y0)

        def mean(table):
            return (table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]) / area
        grey = mean(grey_sum)
        variance = np.maximum(mean(grey_sq) - grey * grey, 0)
        contrast = variance / (grey * grey + 1.0) if relative else variance
        return mean(lap_sq) / (variance + _CONTRAST_FLOOR), contrast


def camera_shift(previous: FrameView, current: FrameView, window: np.ndarray) -> tuple[np.ndarray, float]:
    """The image shift (dx, dy) from `previous` to `current` in input pixels, and the strength of the
    correlation peak (low: nothing to lock on)."""
    (dx, dy), response = cv2.phaseCorrelate(previous.motion, current.motion, window)
    factor = current.size[0] / current.motion.shape[1]
    return np.array([dx, dy]) * factor, float(response)


# -- the steady reading --------------------------------------------------------------------------

class Stabilizer:
    """Frame readings in, steady readings out. One per video or camera (or call ``reset``)."""

    def __init__(self, settings: TrackSettings | None = None):
        self.settings = settings or TrackSettings()
        self.reset()

    def reset(self) -> None:
        self.tracker = Tracker(self.settings)
        self._previous: FrameView | None = None
        self._key: FrameView | None = None       # the last frame that was read
        self._moved_since_key = np.zeros(2)      # the shift given to the tracks since then
        self._window: np.ndarray | None = None   # Hanning window for phase correlation
        self._velocity = np.zeros(2)             # the last measured motion
        self._brightness: deque = deque(maxlen=15)
        self._unread = 0                         # unread frames in a row

    def update(self, frame: np.ndarray, reading: Reading, time_s: float | None = None) -> SteadyReading:
        """The steady reading of `frame`, given the recogniser's `reading` of it."""
        s = self.settings
        view = FrameView.of(frame, s.work_width)
        if self._previous is not None and self._previous.size != view.size:
            self.reset()
        shift, measured = self._motion(view)
        self.tracker.predict(shift, measured)
        detections = self._detections(view, reading)
        pairs = self.tracker.match(detections)
        readable, blurred, absent = self._judge(view, detections, pairs)
        shown = self.tracker.update(detections, pairs, view.size, readable, blurred, absent)
        self._previous = view
        if readable:
            self._key, self._moved_since_key = view, np.zeros(2)
        else:
            self._moved_since_key = self._moved_since_key + shift
        return _steady(shown, view.size, not readable, time_s)

    def _motion(self, view: FrameView) -> tuple[np.ndarray, bool]:
        """Image motion since the last frame, and whether it was measured (else it is the last motion,
        slowing down: blank paper gives phase correlation nothing to lock on)."""
        if self._previous is None:
            return np.zeros(2), False
        if self._window is None or self._window.shape != view.motion.shape:
            self._window = cv2.createHanningWindow(view.motion.shape[::-1], cv2.CV_32F)
        shift, response = camera_shift(self._previous, view, self._window)
        measured = response >= _MIN_RESPONSE
        self._velocity = shift if measured else self._velocity * _COAST_SLOWDOWN
        if self._unread:
            # after unread (blurred) frames, whose small motion errors add up, measure the motion
            # straight from the last frame that was read; unless that disagrees wildly (the camera
            # went farther than phase correlation can see, and the measure wrapped around)
            direct, response = camera_shift(self._key, view, self._window)
            correction = direct - self._moved_since_key - self._velocity
            if response >= _MIN_RESPONSE and np.hypot(*correction) < _MAX_CORRECTION * view.size[0]:
                return direct - self._moved_since_key, True
        return self._velocity, measured

    def _detections(self, view: FrameView, reading: Reading) -> list[Detection]:
        s, height = self.settings, view.size[1]
        digits = [d for d in reading.digits if s.min_digit_height * height <= d.h <= s.max_digit_height * height]
        boxes = [(d.x, d.y, d.w, d.h) for d in digits]
        view.focus(boxes + [t.box for t in self.tracker.tracks if t.shown])  # all that is measured here
        sharpness, contrast = view.measure(boxes)
        probs = np.array([d.probabilities if len(d.probabilities) == _CLASSES else _one_hot(d.digit, d.confidence)
                          for d in digits], np.float64).reshape(-1, _CLASSES)
        edge = max(_EDGE_PX, _EDGE_SHARE * min(view.size))
        return [Detection(b, p, sh, c, _touches_edge(b, view.size, edge))
                for b, p, sh, c in zip(boxes, probs, sharpness.tolist(), contrast.tolist())]

    def _judge(self, view: FrameView, detections: list[Detection], pairs) -> tuple[bool, bool, set[int]]:
        """(readable, blurred, absent) for this frame, from the shown tracks at their moved places:

        * absent: shown tracks, unmatched, whose box holds next to no ink any more (the page moved
          away faster than its motion could be measured, or was taken away). Not trusted while the
          digits that are still there are blurred: blur spreads a thin stroke so far that its
          contrast drops like a vanished digit's;
        * blurred: the sharpness of the others is below blur_ratio of their best (median);
        * not readable: a flash (a brightness jump), or blurred and reading fewer than min_agreement
          of them as the same digits. After max_hold such frames in a row the new look is normal.
        """
        s = self.settings
        tracks = self.tracker.tracks
        shown = [i for i, t in enumerate(tracks) if t.shown and _in_view(t.box, view.size)]
        sharpness, contrast = view.measure([tracks[i].box for i in shown])
        matched = {t for t, _ in pairs}
        faded = {i for i, c in zip(shown, contrast.tolist())
                 if i not in matched and c < _MIN_CONTRAST_KEPT * tracks[i].contrast}
        ratios = [sh / tracks[i].sharp_ref for i, sh in zip(shown, sharpness.tolist()) if i not in faded]
        blurred = bool(ratios) and _median(ratios) < s.blur_ratio
        absent = set() if blurred else faded
        disagree = False
        if blurred:
            agree = sum(1 for t, d in pairs if tracks[t].shown
                        and int(np.argmax(detections[d].probs[:_NOT_A_DIGIT])) == tracks[t].digit)
            disagree = agree < s.min_agreement * len(ratios)
        bright_ref = _median(self._brightness) if self._brightness else view.brightness
        jump = view.brightness - bright_ref
        # a flash: a jump in brightness, or most of the way to white (a bright page has little headroom)
        flash = abs(jump) > s.light_jump * max(bright_ref, 1.0) or (
            jump > _MIN_FLASH and jump > _FLASH_HEADROOM * (255.0 - bright_ref))
        if flash or disagree:
            if self._unread < s.max_hold:
                self._unread += 1
                return False, blurred, absent
            self._brightness.clear()
            for i, now in zip(shown, sharpness.tolist()):
                tracks[i].sharp_ref = max(now, 1e-9)
        self._unread = 0
        self._brightness.append(view.brightness)
        return True, blurred, absent


def _one_hot(digit: int, confidence: float) -> np.ndarray:
    """Probabilities for a Digit made without them: its confidence on its digit, the rest spread."""
    p = np.full(_CLASSES, (1 - confidence) / (_CLASSES - 1))
    p[digit] = confidence
    return p


def _steady(shown: list[Track], size: tuple[int, int], held: bool, time_s) -> SteadyReading:
    """Shown tracks as a Reading: boxes clipped to the frame, lines from their boxes."""
    if not shown:
        return SteadyReading([], held=held, time_s=time_s)
    w, h = size
    regions = []
    for k, t in enumerate(shown):
        x, y, bw, bh = t.box
        x0, y0 = int(round(max(0.0, x))), int(round(max(0.0, y)))
        x1, y1 = int(round(min(float(w), x + bw))), int(round(min(float(h), y + bh)))
        regions.append(Region(Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0)), (k,)))
    # all tracks' probabilities and top three at once: numpy per track costs more than the maths
    probs = np.array([t.evidence for t in shown]) / np.array([[max(t.weight, 1e-12)] for t in shown])
    tops = np.argsort(-probs[:, :_NOT_A_DIGIT], axis=1)[:, :3].tolist()
    probs = probs.tolist()
    digits = []
    for region in order_lines(regions):
        k = region.labels[0]
        t, p, b = shown[k], probs[k], region.box
        digits.append(TrackedDigit(b.x, b.y, b.w, b.h, t.digit, p[t.digit], region.line,
                                   tuple((d, p[d]) for d in tops[k]), tuple(p), track=t.id))
    return SteadyReading(digits, held=held, time_s=time_s)


# -- what was written: the distinct texts of a video ----------------------------------------------

@dataclass
class SeenText:
    text: str                      # lines joined by "\n", as Reading.text
    first_s: float                 # when it first became the steady text (start of its first stable run)
    last_s: float                  # the last time it was the steady text


@dataclass
class SummaryCollector:
    """The distinct steady texts of one video or camera run, each with the time it first and last
    appeared. A text counts once it has stayed unchanged for `min_stable_s` (texts on the way in or
    out of view, a page half out of view for a moment, do not); empty texts never count."""
    min_stable_s: float = 1.0
    seen: list[SeenText] = field(default_factory=list)
    _run: list = field(default_factory=lambda: ["", 0.0, 0.0])   # text, first and last time of the current run

    def add(self, text: str, time_s: float) -> None:
        if text == self._run[0]:
            self._run[2] = time_s
        else:
            self._close()
            self._run = [text, time_s, time_s]

    def entries(self) -> list[SeenText]:
        """Texts seen so far, in order of first appearance (the current run included if it qualifies)."""
        self._close()
        return list(self.seen)

    def _close(self) -> None:
        text, start, last = self._run
        if not text or last - start < self.min_stable_s:
            return
        for entry in self.seen:
            if entry.text == text:
                entry.last_s = max(entry.last_s, last)
                return
        self.seen.append(SeenText(text, start, last))


SUMMARY_FIELDS = ("source", "text", "first_s", "last_s")


def write_summary(path: str | Path, summaries: dict[str, SummaryCollector]) -> None:
    """`--summary FILE`: CSV ``source,text,first_s,last_s`` with a text's lines joined by a space (as
    printed on stdout), or, for a name ending in .json, a JSON list of the same fields with the text's
    lines joined by "\\n" (as in JSONL). Times are seconds from the start of the video or camera."""
    rows = [(source, e) for source, summary in summaries.items() for e in summary.entries()]
    path = Path(path)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps([{"source": src, "text": e.text, "first_s": round(e.first_s, 3),
                                     "last_s": round(e.last_s, 3)} for src, e in rows], indent=1) + "\n",
                        encoding="utf-8")
        return
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SUMMARY_FIELDS)
        for src, e in rows:
            writer.writerow([src, e.text.replace("\n", " "), f"{e.first_s:.3f}", f"{e.last_s:.3f}"])
