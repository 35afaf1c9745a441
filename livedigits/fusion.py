"""Page-level fusion for videos and cameras: each frame registered to the page, each digit's evidence
gathered over every frame that saw it.

A page filmed by a hand-held camera is the same page in every frame; only the view changes. The
steady reading of ``track.py`` follows digits from frame to frame in frame coordinates; here the
digits live on the page:

* **registration**: each frame gets a page -> frame mapping (``PageRegistry``): the camera's motion
  since the last frame (phase correlation of a 128-px grey copy) predicts it; the frame's digits,
  paired with the page's slots near where it predicts them, fit it (a similarity, RANSAC against
  stray pairs; a fit far from the measured motion needs many pairs that read alike, as rows of
  digits repeat). ORB features of a sharp keyframe of the page (``Keyframe``: OpenCV's ORB + RANSAC
  homography) find the page again when the prediction has drifted away (it left the view and came
  back, or the camera crossed blank paper, where nothing can be measured), and check the mapping
  when the camera settles after a fast move or a shake;
* **slots**: each digit of the page is a slot (``Slot``) with its box in page coordinates; each
  sighting adds the classifier's probabilities weighted by sharpness (a blurred frame counts little,
  and evidence gathered while everything was blurred shrinks when sharp sightings come; a slot's
  first sharp sighting replaces what only blurred frames said of it, box included). Sharp is
  relative to the page's best frames, and until the camera has held still on a page only frames
  with the camera still count. A slot is shown once seen in ``confirm_sharp`` sharp frames, or
  once read surely in one sharp frame with the camera still (a "clear" sighting), or read alike and
  surely in ``_CONSISTENT`` frames, blurred or not (thick strokes read well through blur); so one
  first seen blurred and read unsurely needs sharp evidence before it appears. A slot never seen
  sharp gives way to the sharp digit where it lies, shown or not. Once every digit of a page has
  been read in many sharp frames (``mature``), a digit new to it is shown only once read clearly in
  ``_MATURE_CLEAR`` frames (the smears and pieces of digits seen as the camera moves are not), and
  a clear sighting far shorter than the page's digits (the loop of a 9) does not count as one. New
  slots are made in well registered frames. A shown slot stays while its box holds its ink
  (contrast relative to the light, which a hand's shadow or dimmer light leaves as it is), read or
  not, if it was read in most sharp frames that showed it; it goes at once when the ink of most of
  the page is gone. One hidden as the reader stopped finding it, the rest of the page read, comes
  back only once read clearly in ``_RECALLS`` frames;
* **display**: what is shown changes as little as the evidence allows: blurred frames neither show
  new digits nor hide or change shown ones; a shown digit's change (another reading, or no longer
  sure) waits for a settled frame (the camera still, the frame sharp), ``settle_frames`` at most;
  new digits of a page on display wait (as long) while others are about to be sure, so that they
  come together instead of one by one as the camera settles;
* **layout**: lines and reading order are worked out on the page (the slots' page boxes, their
  slope measured and taken out), so they do not change while the page is still in the view, however
  the camera rolls;
* **polarity**: the page's polarity (dark ink on light paper or the reverse) is voted by the digits
  seen on it and held (``inverted``, for the recogniser), so a shadow or a dimmer frame cannot flip
  one frame to light-on-dark;
* **pages**: when the frame's digits no longer fit the page (the next page of a stack, or a page
  that was put away and replaced) and no keyframe finds it, a new page starts. ``pages`` keeps every
  page with its fused text: ``--summary`` writes one row per page (``PageSummary``).

    fusion = PageFusion()                      # one per video or camera
    for frame in frames:
        reading = recognizer.recognize(frame.image, inverted=fusion.inverted)
        steady = fusion.update(frame.image, reading, frame.time_s)
        draw(frame.image, steady)              # steady.text, steady.digits[i].track (the slot id)
    for page in fusion.pages: print(page.index, page.text, page.first_s, page.last_s)

The pieces work on their own, e.g. to read a sudoku grid across frames: ``PageRegistry`` gives the
page -> frame homography of each frame (``predict`` from the motion, ``fit`` to paired points,
``relocate``/``check`` with a ``Keyframe``), ``SlotBoard`` accumulates sharpness-weighted evidence for
slots keyed by page coordinates (``add``, ``observe``, ``showable``), ``map_boxes`` maps boxes both
ways.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from .pipeline import Reading
from .segment import Box, Region, order_lines
from .track import (_CLASSES, _CONTRAST_RATE, _NOT_A_DIGIT, Detection, FrameView, SeenText, SteadyReading, Track, TrackedDigit,
                    TrackSettings, _median, _one_hot, _touches_edge, camera_shift, greedy_pairs)

_MIN_RESPONSE = 0.3       # weaker phase-correlation peaks are noise (blank paper 0-0.16, pages 0.5-1)
_COAST_SLOWDOWN = 0.8     # per frame, the guessed motion when it cannot be measured
_SEARCH = 0.6             # a slot pairs with a digit this near its predicted centre (share of its height)...
_PAIR = 0.35              # ... and, once the mapping is fitted, this near
_FIT_ERROR = 0.25         # RANSAC threshold, share of the digit height
_TRUSTED_PAIRS = 6        # this many pairs reading alike fit the mapping however far it moves...
_MAX_CORRECTION = 0.5     # ... fewer may correct the measured motion by this many digit heights,
_MAX_CORRECTION_GUESSED = 1.5  # or the guessed motion (not measured: blur, blank paper) by this many
_DUPLICATE = 0.5         # slots overlapping by this share of the smaller are one digit
_SAME_DIGIT = 0.2         # a slot unseen for a while takes a digit giving its own at least this probability
_ORB_FEATURES = 400
_ORB_MIN_INLIERS = 12
_KEYFRAME_EVERY = 15      # frames between keyframe refreshes (the best-covering sharp frame is kept)
_MIN_INK_VARIANCE = 30.0  # grey variance of a detection's box below which it holds no ink (desk grain)
_MIN_CONTRAST_KEPT = 0.12  # less of its usual contrast and a slot's place holds no digit any more...
_INK_KEPT = 0.5           # ... this much or more and its digit is still there, read or not...
_MAX_UNREAD = 45          # ... for at most this many frames in a row...
_READ_SHARE = 0.5         # ... if read in this share of the sharp frames that had it in view
_MIN_FLASH = 8.0
_PAGE_DIGITS = 3          # showable digits that make a page believed...
_PAGE_SIGHTINGS = 5       # ... or one digit seen sharp in this many frames
_PAGE_CLEAR = 6           # ... or this many read clearly (FusionSettings.still_speed, clear_confidence)
_CONSISTENT = 3           # sightings read alike and surely (clear_confidence) that show a digit, blurred or not
_MATURE_HITS = 10         # a page whose shown digits were read sharp this often (median) is read...
_MATURE_CLEAR = 3         # ... and a digit new to it is shown once read clearly in this many frames
_RECALLS = 3              # clear sightings that bring back a digit hidden as the reader stopped finding it
_CLEAR_HEIGHT = 0.5       # a sighting shorter than this share of the page's digits (median height) is not clear
_UNSHOWN_MARGIN = 0.2     # the switch margin of a slot not on display
_POLARITY_VOTES = 6       # digits seen on a page before its polarity is held
_CHECK_AFTER_MOVING = 2   # fast-moving frames after which the mapping is checked against the keyframe
_MAX_HOLD = 4             # frames: a brightness change that lasts longer is no flash


@dataclass(frozen=True)
class FusionSettings:
    confirm_sharp: int = 2         # sharp sightings before a slot is shown
    sharp_share: float = 0.7       # a sighting at least this share of the page's sharpness is sharp...
    sharp_fade: float = 0.98       # ... the page's sharpness: the best frame median, fading per frame
    max_speed: float = 0.03        # ... and the camera moving less than this share of the width a frame
    still_speed: float = 0.02      # the camera moving less than this: still (a clear sighting can show a digit)
    clear_share: float = 0.75      # ... the frame this sharp (share of the page's sharpness)
    clear_confidence: float = 0.9  # ... and the reader gives it this probability
    settle_frames: int = 5         # frames a change of what is shown may wait for the camera to settle
    coast_frames: int = 10         # a shown slot unseen in this many sharp frames in view is hidden
    blur_ratio: float = 0.4        # unseen shown slots less sharp than this share of their best: blurred
    min_confidence: float = 0.5    # fused confidence a slot needs to be shown (once shown, switch_margin less)
    max_not_digit: float = 0.5     # fused "not a digit" share that hides a slot
    switch_margin: float = 0.5     # another digit must beat the shown one by this much to replace it
    decay: float = 0.97            # weight of older evidence per sharp sighting (a page does not change)
    blind_frames: int = 3          # frames with no digit seen, and no motion measured or the camera still,
                                   # before nothing is shown
    mismatch_frames: int = 3       # frames whose digits fit nowhere on the page before a new page starts
    min_digit_height: float = 0.025  # detections outside these shares of the frame height are not used
    max_digit_height: float = 0.6
    light_jump: float = 0.3        # brightness this far from the recent median: a flash, not read
    work_width: int = 320          # frames are measured (motion, sharpness, features) at about this width

    def track_settings(self) -> TrackSettings:
        return TrackSettings(decay=self.decay, switch_margin=self.switch_margin, confirm_hits=self.confirm_sharp,
                             min_confidence=self.min_confidence, max_not_digit=self.max_not_digit)


# -- geometry ------------------------------------------------------------------------------------

def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(N, 2) points through a 3x3 homography."""
    points = np.asarray(points, np.float64).reshape(-1, 2)
    if not len(points):
        return points
    q = points @ matrix[:2, :2].T + matrix[:2, 2]
    w = points @ matrix[2, :2] + matrix[2, 2]
    return q / w[:, None]


def _scale(matrix: np.ndarray) -> float:
    """Frame pixels per page pixel, near the page origin's mapping (the linear part's mean scale)."""
    return math.sqrt(abs(np.linalg.det(matrix[:2, :2]))) / max(abs(matrix[2, 2]), 1e-9)


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]])


def map_boxes(matrix: np.ndarray, boxes) -> np.ndarray:
    """(x, y, w, h) boxes through a homography: the bounding boxes of their mapped corners."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return boxes
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    corners = np.empty((len(boxes), 4, 2))
    corners[:, 0, 0] = corners[:, 3, 0] = x0
    corners[:, 1, 0] = corners[:, 2, 0] = x1
    corners[:, 0, 1] = corners[:, 1, 1] = y0
    corners[:, 2, 1] = corners[:, 3, 1] = y1
    mapped = _apply(matrix, corners.reshape(-1, 2)).reshape(-1, 4, 2)
    lo, hi = mapped.min(axis=1), mapped.max(axis=1)
    return np.concatenate([lo, hi - lo], axis=1)


def pair_nearest(predicted: np.ndarray, found: np.ndarray, radius: np.ndarray) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs (i, j) of predicted and found centres, nearest first, each closer than
    radius[i, j]."""
    if not len(predicted) or not len(found):
        return []
    dist = np.hypot(predicted[:, None, 0] - found[None, :, 0], predicted[:, None, 1] - found[None, :, 1])
    rows, cols = np.nonzero(dist < radius)
    return greedy_pairs(rows, cols, np.argsort(dist[rows, cols], kind="stable"))


def fit_page_to_frame(page_points: np.ndarray, frame_points: np.ndarray, threshold: float,
                      prior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The page -> frame homography that the point pairs say, and which pairs agree (inliers). One or
    two pairs move `prior` (a shift); three or more fit a similarity (rotation, scale, shift) with
    RANSAC, so that a wrongly paired digit does not pull the page (an affine map fitted to three
    digits of one line can shear the rest of the page anywhere; the mild perspective of a hand-held
    view is followed well enough by refitting every frame)."""
    n = len(page_points)
    if n == 0:
        return prior, np.zeros(0, bool)
    if n < 3:
        offset = frame_points - _apply(prior, page_points)
        shift = np.median(offset, axis=0)
        inliers = np.hypot(*(offset - shift).T) <= threshold
        return _translation(*shift) @ prior, inliers
    src, dst = np.float32(page_points), np.float32(frame_points)
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=threshold,
                                               maxIters=200, confidence=0.99, refineIters=5)
    if matrix is None or mask is None or int(mask.sum()) < max(3, n // 2):
        return prior, np.zeros(n, bool)
    return np.vstack([matrix, [0.0, 0.0, 1.0]]), mask.ravel().astype(bool)


# -- finding the page again: ORB features of a keyframe -------------------------------------------

@dataclass
class Keyframe:
    """ORB features of one sharp view of a page, their positions in page coordinates."""
    points: np.ndarray             # (N, 2) page coordinates
    descriptors: np.ndarray        # (N, 32) uint8
    coverage: int = 0              # slots matched when it was taken (a better-covering view replaces it)

    @classmethod
    def of(cls, grey: np.ndarray, scale: float, frame_to_page: np.ndarray, coverage: int = 0) -> "Keyframe | None":
        """Features of `grey` (the frame at `scale` of its input size); None when it has too few."""
        keypoints, descriptors = _orb().detectAndCompute(grey, None)
        if descriptors is None or len(keypoints) < _ORB_MIN_INLIERS:
            return None
        pts = np.array([k.pt for k in keypoints], np.float64) / scale
        return cls(_apply(frame_to_page, pts), descriptors, coverage)

    def locate(self, grey: np.ndarray, scale: float) -> np.ndarray | None:
        """The page -> frame homography (input pixels) of a frame whose grey copy at `scale` is `grey`,
        or None when the page is not found in it."""
        keypoints, descriptors = _orb().detectAndCompute(grey, None)
        if descriptors is None or len(keypoints) < _ORB_MIN_INLIERS:
            return None
        matches = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(self.descriptors, descriptors, k=2)
        good = [m[0] for m in matches if len(m) == 2 and m[0].distance < 0.8 * m[1].distance]
        if len(good) < _ORB_MIN_INLIERS:
            return None
        src = np.float32([self.points[m.queryIdx] for m in good])
        dst = np.float32([keypoints[m.trainIdx].pt for m in good]) / scale
        matrix, mask = cv2.findHomography(src, dst, cv2.RANSAC, 1.5 / scale)
        if matrix is None or int(mask.sum()) < _ORB_MIN_INLIERS or not _plausible(matrix):
            return None
        return matrix


def _orb():
    return cv2.ORB_create(nfeatures=_ORB_FEATURES, fastThreshold=12, edgeThreshold=15, patchSize=15)


def _plausible(matrix: np.ndarray) -> bool:
    """A homography a hand-held camera can give: no mirror, scale within 4x, mild perspective."""
    det = np.linalg.det(matrix[:2, :2]) / matrix[2, 2] ** 2
    return 1 / 16 < det < 16 and abs(matrix[2, 0]) < 2e-3 and abs(matrix[2, 1]) < 2e-3


# -- registration ------------------------------------------------------------------------------

class PageRegistry:
    """The page -> frame homography, frame after frame: predicted from the camera's motion (phase
    correlation), fitted to digits paired with the page's slots, found again from a keyframe."""

    def __init__(self):
        self.matrix: np.ndarray | None = None   # page -> frame, input pixels
        self.keyframe: Keyframe | None = None
        self._previous: FrameView | None = None
        self._window: np.ndarray | None = None
        self._velocity = np.zeros(2)
        self.speed = 0.0                         # the last measured motion, pixels per frame
        self.measured = False
        self.compared = False                    # the frame had a previous one to be compared with

    def start(self, matrix: np.ndarray | None = None) -> None:
        """A new page: its coordinates are those of the current frame (or `matrix` says how)."""
        self.matrix = np.eye(3) if matrix is None else matrix
        self.keyframe = None

    def predict(self, view: FrameView) -> np.ndarray | None:
        """Moves the mapping with the camera's motion since the last frame; returns it."""
        shift = np.zeros(2)
        self.measured = False
        self.compared = self._previous is not None and self._previous.size == view.size
        if self.compared:
            if self._window is None or self._window.shape != view.motion.shape:
                self._window = cv2.createHanningWindow(view.motion.shape[::-1], cv2.CV_32F)
            shift, response = camera_shift(self._previous, view, self._window)
            self.measured = response >= _MIN_RESPONSE
            self._velocity = shift if self.measured else self._velocity * _COAST_SLOWDOWN
            shift = self._velocity
        self.speed = float(np.hypot(*shift))
        self._previous = view
        if self.matrix is not None:
            self.matrix = _translation(*shift) @ self.matrix
        return self.matrix

    def fit(self, page_points: np.ndarray, frame_points: np.ndarray, threshold: float) -> np.ndarray:
        """Fits the mapping to paired points; returns which pairs agree."""
        self.matrix, inliers = fit_page_to_frame(page_points, frame_points, threshold, self.matrix)
        return inliers

    def relocate(self, view: FrameView) -> bool:
        """Finds the page in the frame from its keyframe; True when found (the mapping is then set)."""
        if self.keyframe is None:
            return False
        matrix = self.keyframe.locate(view.grey, view.scale)
        if matrix is None:
            return False
        self.matrix = matrix
        return True

    def check(self, view: FrameView, slot_boxes: np.ndarray) -> bool:
        """Checks the mapping against the keyframe; takes the keyframe's where they place the slots
        (page boxes) more than half a digit apart. True when it was corrected."""
        if self.keyframe is None or self.matrix is None or not len(slot_boxes):
            return False
        matrix = self.keyframe.locate(view.grey, view.scale)
        if matrix is None:
            return False
        centres = slot_boxes[:, :2] + slot_boxes[:, 2:] / 2
        apart = np.hypot(*(_apply(matrix, centres) - _apply(self.matrix, centres)).T)
        if float(np.median(apart)) <= 0.5 * float(np.median(slot_boxes[:, 3])) * _scale(self.matrix):
            return False
        self.matrix = matrix
        return True

    def remember(self, view: FrameView, coverage: int) -> None:
        """Keeps this (sharp, well registered) view as the keyframe if it covers at least as much."""
        if self.matrix is None or (self.keyframe is not None and coverage < self.keyframe.coverage):
            return
        key = Keyframe.of(view.grey, view.scale, np.linalg.inv(self.matrix), coverage)
        if key is not None:
            self.keyframe = key


# -- slots: the page's digits and their evidence ------------------------------------------------

class Slot(Track):
    """A digit of the page: a Track whose box is in page coordinates (it does not move with the camera)."""
    __slots__ = ("sharp_hits", "clear_hits", "sightings", "ever_shown", "unread", "relative", "shown_digit", "waiting",
                 "sharp_views", "recalls")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sharp_hits = 0
        self.recalls = -1          # clear sightings since it was hidden for want of sightings (-1: it was not)
        self.sharp_views = 0       # sharp frames it was in view in (a real digit is read in most of them)
        self.clear_hits = 0        # sharp sightings with the camera still and the reader sure of it
        self.sightings = 1         # sightings of all kinds (not cut by the frame's edge)
        self.shown_digit = -1      # the digit on display (follows `digit` once the change has settled)
        self.waiting = 0           # frames a change of what is shown of it has waited for a settled frame
        self.ever_shown = False
        self.unread = 0            # frames in a row unseen though its ink is there
        self.relative = 0.0        # its box's contrast relative to the light (running mean)

    def choose_digit(self, margin: float) -> None:
        """The slot's digit: sticky (another must beat it by `margin`) while it is on display; until
        then a smaller margin (a sticky first guess would keep a slot read 7 in most sharp frames as
        the 4 a blurred frame said, and hidden for want of confidence in that 4)."""
        super().choose_digit(margin if self.shown else _UNSHOWN_MARGIN)

    @property
    def replaceable(self) -> bool:
        """Never shown and seen sharp once at most, or never seen sharp: a sharp sighting where it lies
        may replace it."""
        return (self.sharp_hits <= 1 and not self.ever_shown) or not self.sharp_hits

    @property
    def tentative(self) -> bool:
        """Never seen sharp: what it holds may be a smeared or cut view of a digit (shown or not: one
        read alike in blurred frames is shown, and its squashed box must not keep the sharp digit out)."""
        return not self.sharp_hits


class SlotBoard:
    """The slots of one page, keyed by page coordinates: sightings paired with them add evidence."""

    def __init__(self, settings: FusionSettings, first_id: int = 1):
        self.settings = settings
        self.track_settings = settings.track_settings()
        self.slots: list[Slot] = []
        self.next_id = first_id
        self.mature = False        # its digits were each read sharp in many frames: a new one needs more
        self.renewed = 0           # slots that started again from a sharp sighting (their box moved)

    def boxes(self) -> np.ndarray:
        return np.array([s.box for s in self.slots], np.float64).reshape(-1, 4)

    def observe(self, slot: Slot, page_box, det: Detection, sharp: bool, relative: float = 0.0,
                clear: bool = False) -> None:
        """A sighting of `slot` at `page_box` (page coordinates): evidence weighted by sharpness; the
        box follows sharp sightings only (a blurred box is smeared). `relative`: its box's contrast
        relative to the light."""
        old, digit = list(slot.box), slot.digit
        slot.relative += _CONTRAST_RATE * (relative - slot.relative)
        page_det = Detection(tuple(page_box), det.probs, det.sharpness, det.contrast, det.edge)
        slot.observe(page_det, self.track_settings, counts=sharp)
        if not sharp and not det.edge and slot.sharp_hits:
            slot.box = old
        elif not det.edge and slot.sharp_hits:
            slot.box = [0.7 * a + 0.3 * b for a, b in zip(old, page_box)]
        slot.sharp_hits += sharp and not det.edge
        slot.sightings += not det.edge
        slot.clear_hits += clear and not det.edge
        if slot.recalls >= 0:
            slot.recalls += clear and not det.edge
        if not sharp and slot.ever_shown:
            # a digit shown keeps its reading through blurred frames: only sharp ones may change it
            slot.digit = digit

    def add(self, page_box, det: Detection, sharp: bool, relative: float = 0.0, clear: bool = False) -> Slot:
        slot = Slot(self.next_id, list(page_box), np.array(det.probs, np.float64), 1.0, max(det.sharpness, 1e-9),
                    det.contrast, hits=int(sharp))
        slot.sharp_hits = int(sharp)
        slot.clear_hits = int(clear)
        slot.relative = relative
        slot.choose_digit(self.settings.switch_margin)
        self.next_id += 1
        self.slots.append(slot)
        return slot

    def renew(self, slot: Slot, page_box, det: Detection, relative: float = 0.0, clear: bool = False) -> None:
        """A tentative slot (never seen sharp) starts again from a sharp sighting: its box and evidence
        are the sighting's (what the blur said of it is dropped)."""
        slot.box = list(page_box)
        self.renewed += 1
        slot.evidence = np.array(det.probs, np.float64)
        slot.weight = 1.0
        slot.sharp_ref = max(det.sharpness, 1e-9)
        slot.contrast = det.contrast
        slot.hits = slot.sharp_hits = slot.sightings = 1
        slot.sharp_views = 0
        slot.clear_hits = int(clear)
        slot.missed = slot.away = 0
        slot.relative = relative
        slot.digit = -1
        slot.choose_digit(self.settings.switch_margin)

    def merge_duplicates(self) -> None:
        """Slots overlapping on the page are one digit seen twice (a box that split differently, a
        mapping a little off when it was added): the one seen sharp more often stays and takes the
        other's evidence if they read the same."""
        if len(self.slots) < 2:
            return
        order = sorted(self.slots, key=lambda sl: -sl.sharp_hits)
        overlap = _overlap_matrix(np.array([sl.box for sl in order], np.float64)) > _DUPLICATE
        if np.count_nonzero(overlap) == len(order):  # only the diagonal: no duplicates
            return
        kept: list[Slot] = []
        kept_index: list[int] = []
        for k, slot in enumerate(order):
            twin = next((kept[n] for n, j in enumerate(kept_index) if overlap[k, j]), None)
            # two digits shown apart and read apart are two digits whose boxes overlap (touching
            # digits, a box grown over its neighbour): both stay
            if twin is None or (twin.ever_shown and slot.ever_shown and twin.digit != slot.digit):
                kept.append(slot)
                kept_index.append(k)
            elif twin.digit == slot.digit:
                twin.evidence = twin.evidence + slot.evidence
                twin.weight += slot.weight
                twin.ever_shown = twin.ever_shown or slot.ever_shown
        if len(kept) < len(self.slots):
            self.slots = [sl for sl in self.slots if any(sl is k for k in kept)]

    def consistent(self, slot: Slot) -> bool:
        """Read alike and surely in many frames, blurred or not (thick strokes read well through blur)."""
        return slot.sightings >= _CONSISTENT and slot.evidence[slot.digit] >= self.settings.clear_confidence * slot.weight

    def showable(self, slot: Slot) -> bool:
        """Enough sharp, confident evidence to be shown (slots once shown keep a lower bar)."""
        s = self.settings
        w = max(slot.weight, 1e-12)
        needed = s.min_confidence - (s.switch_margin if slot.shown else 0.0)
        # (the sightings that let a digit be shown are asked for once: shown, it stays while sure)
        # a page read for a while has all its digits: a digit new to it is more likely a smear or a
        # piece of one seen as the camera moves, and is shown only once seen sharp several times
        if self.mature and not slot.ever_shown:
            seen = slot.clear_hits >= _MATURE_CLEAR
        else:
            seen = slot.sharp_hits >= s.confirm_sharp or slot.clear_hits >= 1 or self.consistent(slot)
        return ((seen or slot.ever_shown)
                and slot.evidence[slot.digit] >= needed * w
                and slot.evidence[_NOT_A_DIGIT] < s.max_not_digit * w)


# -- pages ---------------------------------------------------------------------------------------

@dataclass(eq=False)
class Page:
    """One page seen in a video: its slots, layout and fused text."""
    index: int
    board: SlotBoard
    first_s: float | None = None       # when its digits were first and last shown
    last_s: float | None = None
    sharp_ref: float = 0.0             # the page's sharpness (best frame median, fading)
    since_key: int = _KEYFRAME_EVERY   # frames since its keyframe was taken
    unpaired: int = 0                  # frames since any of its digits was seen
    polarity: float = 0.0              # digits seen on it read as light-on-dark, less those read dark-on-light
    confirmed: bool = False            # believed to be a page (not desk grain read as a digit for a moment)
    sharp_known: bool = False          # seen with the camera still: sharp_ref is what a sharp frame gives

    def recent(self, settings: FusionSettings) -> bool:
        """Whether its digits were seen lately (its mapping is still to be trusted)."""
        return self.unpaired <= settings.coast_frames
    _layout_key: tuple = ()
    _layout: dict = field(default_factory=dict)   # slot id -> (line, order)

    def layout(self) -> dict:
        """slot id -> (line, position in reading order), from the page boxes of the slots ever shown.
        Lines are found with the writing's slope taken out, so a tilted page reads as it is written."""
        slots = [s for s in self.board.slots if s.ever_shown]
        key = (self.board.renewed, *(s.id for s in slots))
        if key != self._layout_key:
            self._layout_key, self._layout = key, _layout(slots)
        return self._layout

    @property
    def text(self) -> str:
        """The fused reading of every digit of the page shown so far, lines joined by "\\n"."""
        order = self.layout()
        slots = sorted((s for s in self.board.slots if s.ever_shown and self.board.showable(s)),
                       key=lambda s: order[s.id])
        lines: dict[int, str] = {}
        for s in slots:
            lines[order[s.id][0]] = lines.get(order[s.id][0], "") + str(s.digit)
        return "\n".join(lines[k] for k in sorted(lines))


def _layout(slots: list[Slot]) -> dict:
    if not slots:
        return {}
    boxes = np.array([s.box for s in slots], np.float64)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    angle = _writing_slope(centres, boxes[:, 3])
    c, s = math.cos(-angle), math.sin(-angle)
    upright = centres @ np.array([[c, s], [-s, c]])
    regions = [Region(Box(int(round(x - w / 2)), int(round(y - h / 2)), max(1, int(round(w))), max(1, int(round(h)))), (k,))
               for k, ((x, y), w, h) in enumerate(zip(upright, boxes[:, 2], boxes[:, 3]))]
    return {slots[r.labels[0]].id: (r.line, n) for n, r in enumerate(order_lines(regions))}


def _writing_slope(centres: np.ndarray, heights: np.ndarray) -> float:
    """The median angle from each digit to its nearest right-hand neighbour on the same line."""
    angles = []
    for i, (x, y) in enumerate(centres):
        dx, dy = centres[:, 0] - x, centres[:, 1] - y
        near = (dx > 0.2 * heights[i]) & (dx < 3 * heights[i]) & (np.abs(dy) < 0.5 * dx + 0.3 * heights[i])
        if near.any():
            j = np.flatnonzero(near)[np.argmin(dx[near])]
            angles.append(math.atan2(dy[j], dx[j]))
    return float(np.median(angles)) if angles else 0.0


# -- the fused reading -------------------------------------------------------------------------

class PageFusion:
    """Frame readings in, page-fused readings out. One per video or camera (or call ``reset``)."""

    def __init__(self, settings: FusionSettings | None = None):
        self.settings = settings or FusionSettings()
        self.reset()

    def reset(self) -> None:
        self.registry = PageRegistry()
        self.pages: list[Page] = []
        self.page: Page | None = None
        self._next_id = 1
        self._mismatch = 0
        self._brightness: deque = deque(maxlen=15)
        self._flashes = 0                         # frames in a row taken for a flash
        self._blind = 0                           # frames in a row with nothing to say where the page is
        self._verified = False                    # this frame's mapping is trusted with new slots
        self._relative: list[float] = []          # the detections' contrast relative to the light
        self._unread = 0                          # still frames in a row with the page's digits unread
        self._ink_held = False                    # this frame's unread shown digits mostly hold their ink
        self._moving = 0                          # frames in a row the camera moved fast (blur)
        self._size: tuple | None = None

    @property
    def inverted(self) -> bool | None:
        """The polarity of the page in view (True: light ink on a dark background), for the recogniser
        to hold (``Recognizer.recognize(frame, inverted=fusion.inverted)``): a hand's shadow or dimmer
        light must not flip one frame to light-on-dark. None while no page is in view, or its digits
        were not seen lately: then each frame decides (the next page may be a blackboard)."""
        page = self.page
        if page is None or not page.recent(self.settings) or abs(page.polarity) < _POLARITY_VOTES:
            return None
        return page.polarity > 0

    def update(self, frame: np.ndarray, reading: Reading, time_s: float | None = None) -> SteadyReading:
        """The fused reading of `frame`, given the recogniser's `reading` of it."""
        s = self.settings
        view = FrameView.of(frame, s.work_width)
        if self._size is not None and self._size != view.size:
            self.reset()
        self._size = view.size
        registry = self.registry
        matrix = registry.predict(view)
        detections = self._detections(view, reading)
        if self._flash(view):
            return self._show(view, set(), held=True, time_s=time_s)
        page = self.page
        pairs: list[tuple[int, int]] = []
        self._verified = False
        steady = registry.speed <= s.max_speed * view.size[0]
        if page is not None and matrix is not None and steady and self._moving >= _CHECK_AFTER_MOVING:
            # the camera settles after a fast move or a shake: the motion measured through the blur
            # may be off by a digit or two, which the digits (a row of similar shapes) cannot tell
            registry.check(view, page.board.boxes())
        self._moving = 0 if steady else self._moving + 1
        if page is not None and matrix is not None and detections:
            pairs = self._register(page, view, detections)
            if not pairs and sum(not d.edge for d in detections) >= 2:
                # digits, and none where the page's are expected: the page seen again after a while
                # (find it from its keyframe), a new part of it (its place followed all along), or
                # another page (a few frames of this in a row)
                if not page.recent(s) and registry.relocate(view):
                    pairs = self._register(page, view, detections)
                if pairs or (page.recent(s) and registry.measured):
                    self._mismatch = 0
                else:
                    self._mismatch += 1
                    if self._mismatch >= s.mismatch_frames:
                        page = None
            elif pairs:
                self._mismatch = 0
        if page is None and any(not d.edge for d in detections):
            page = self._new_page()
        if page is None:
            return self._show(view, set(), held=False, time_s=time_s)
        page.unpaired = 0 if pairs else page.unpaired + 1
        page.polarity += (1 if reading.inverted else -1) * len(pairs)
        # the page's place is known while its digits are seen, or the camera's motion measured
        self._blind = 0 if pairs or registry.measured else self._blind + 1
        seen = self._learn(page, view, detections, pairs)
        # the camera still, the page's digits expected in view, and none of them read for a few frames:
        # the page is not where it is thought to be (or was taken away); nothing is shown
        expected = any(sl.shown for sl in page.board.slots)
        self._unread = self._unread + 1 if steady and expected and not pairs and not self._ink_held else 0
        if self._blind > s.blind_frames or self._unread > s.blind_frames:
            return SteadyReading([], held=False, time_s=time_s)
        return self._show(view, seen, held=False, time_s=time_s)

    # -- steps -------------------------------------------------------------------------------------
    def _detections(self, view: FrameView, reading: Reading) -> list[Detection]:
        s, height = self.settings, view.size[1]
        digits = [d for d in reading.digits if s.min_digit_height * height <= d.h <= s.max_digit_height * height]
        boxes = [(d.x, d.y, d.w, d.h) for d in digits]
        shown = []
        if self.page is not None and self.registry.matrix is not None:
            shown = map_boxes(self.registry.matrix, [sl.box for sl in self.page.board.slots if sl.shown]).tolist()
        view.focus(boxes + shown)
        sharpness, contrast = view.measure(boxes)
        relative = view.measure(boxes, relative=True)[1]
        # ink is far darker than its paper: the grain of a desk or of paper, read as a digit when no
        # page is in view, hardly varies (grey variance 2-15 against hundreds for a pen stroke)
        inked = np.flatnonzero(contrast >= _MIN_INK_VARIANCE)
        self._relative = relative[inked].tolist()
        probs = np.array([d.probabilities if len(d.probabilities) == _CLASSES else _one_hot(d.digit, d.confidence)
                          for d in digits], np.float64).reshape(-1, _CLASSES)
        edge = max(2.0, 0.015 * min(view.size))
        return [Detection(boxes[k], probs[k], float(sharpness[k]), float(contrast[k]),
                          _touches_edge(boxes[k], view.size, edge)) for k in inked.tolist()]

    def _flash(self, view: FrameView) -> bool:
        ref = _median(self._brightness) if self._brightness else view.brightness
        jump = view.brightness - ref
        # a flash brightens (a page leaving the view darkens it, and that frame is read as usual)
        flash = jump > self.settings.light_jump * max(ref, 1.0) or (jump > _MIN_FLASH and jump > 0.6 * (255 - ref))
        if flash and self._flashes < _MAX_HOLD:
            self._flashes += 1
            return True
        if flash:  # the new light has lasted: it is the normal now
            self._brightness.clear()
        self._flashes = 0
        self._brightness.append(view.brightness)
        return False

    def _register(self, page: Page, view: FrameView, detections: list[Detection]) -> list[tuple[int, int]]:
        """Pairs (slot index, detection index) of the frame, the mapping fitted to them. Sets
        ``_verified`` when enough of them read alike to trust the frame with new slots."""
        registry, slots, s = self.registry, page.board.slots, self.settings
        self._verified = False
        if not slots:
            return []
        centres = np.array([(d.box[0] + d.box[2] / 2, d.box[1] + d.box[3] / 2) for d in detections])
        heights = np.array([d.box[3] for d in detections], np.float64)
        boxes = page.board.boxes()
        page_centres = boxes[:, :2] + boxes[:, 2:] / 2
        recent = page.recent(s)

        def paired(radius: float) -> list[tuple[int, int]]:
            predicted = _apply(registry.matrix, page_centres)
            # a digit seen whole and a slot first seen in part (or the reverse) differ much in height
            limit = radius * np.maximum(boxes[:, 3:4] * _scale(registry.matrix), heights[None, :])
            # after a while unseen, a slot pairs only with a digit that reads like it: the mapping
            # may have drifted onto other digits, or onto another page
            return [(i, j) for i, j in pair_nearest(predicted, centres, limit) if not detections[j].edge
                    and ((recent and slots[i].missed <= s.coast_frames) or _alike(slots[i], detections[j]))]

        pairs = paired(_SEARCH)
        # the mapping is fitted to pairs that read alike: a shown digit paired with one that reads
        # otherwise (a blurred misread, its neighbour) must not pull the page
        agree = [(i, j) for i, j in pairs if not slots[i].shown or _alike(slots[i], detections[j])]
        if not agree:
            return []
        prior = registry.matrix
        src, dst = page_centres[[i for i, _ in agree]], centres[[j for _, j in agree]]
        size = float(np.median(heights[[j for _, j in agree]]))
        inliers = registry.fit(src, dst, _FIT_ERROR * size)
        # a wrong mapping fits misread or wrongly paired digits too (rows of digits repeat): it may
        # differ only a little from the camera's measured motion, unless many pairs read the same
        moved = np.hypot(*(_apply(registry.matrix, src) - _apply(prior, src)).T).max()
        same = sum(slots[i].digit == int(np.argmax(detections[j].probs[:_NOT_A_DIGIT])) for i, j in agree)
        trusted = same >= _TRUSTED_PAIRS and min(same, int(inliers.sum())) >= 0.8 * len(agree)
        limit = (_MAX_CORRECTION if registry.measured else _MAX_CORRECTION_GUESSED) * size
        if not inliers.any() or (moved > limit and not trusted):
            registry.matrix = prior
            return []
        self._verified = int(inliers.sum()) >= min(3, sum(sl.shown for sl in slots))
        return paired(_PAIR)

    def _new_page(self) -> Page:
        if self.page is not None:
            self._next_id = self.page.board.next_id
        page = Page(len(self.pages), SlotBoard(self.settings, self._next_id))
        self.pages.append(page)
        self.page = page
        self.registry.start()
        self._mismatch = 0
        return page

    def _learn(self, page: Page, view: FrameView, detections: list[Detection], pairs) -> set[int]:
        """Adds the frame's evidence to the page; returns the indices of the slots seen."""
        s, registry, board = self.settings, self.registry, page.board
        matrix = registry.matrix
        inverse = np.linalg.inv(matrix)
        page_boxes = map_boxes(inverse, [d.box for d in detections])
        sharpness = [d.sharpness for d in detections if not d.edge]
        frame_sharp = _median(sharpness) if sharpness else 0.0
        # (it fades only while the page is seen: frames of the desk or blank paper say nothing of it,
        # and a reference faded there would take the blur of the camera's return for sharp)
        if pairs or not page.sharp_ref:
            page.sharp_ref = max(page.sharp_ref * s.sharp_fade, frame_sharp)
        steady = registry.speed <= s.max_speed * view.size[0]
        # the page's sharpness is known once the camera has held still on it: until then (the pan
        # onto a page blurs every frame alike) only frames with the camera still count as sharp
        calm = registry.speed <= s.still_speed * view.size[0]
        page.sharp_known = page.sharp_known or (calm and bool(sharpness))
        sharp_frame = (steady if page.sharp_known else calm) and frame_sharp >= s.sharp_share * page.sharp_ref
        # a sighting is sharp in a sharp frame unless the digit itself is far blurrier (digits differ
        # in sharpness by their shape: only the frame's median is compared with the page's)
        def sharp(det: Detection) -> bool:
            return sharp_frame and det.sharpness >= 0.5 * s.sharp_share * page.sharp_ref

        # a clear sighting: sharp, the camera still and the reader sure; one is enough to show a digit
        # of a page believed (a digit seen sharp once as the camera settles is shown at once)
        # (not the first frame of a video: it has no motion to tell)
        still = calm and registry.compared and frame_sharp >= s.clear_share * page.sharp_ref

        # (and not far shorter than the page's digits: the loop of a 9 or the bar of a 7, cut off by
        # the segmentation, reads surely as a 0 or a 7)
        heights = [sl.box[3] for sl in board.slots if sl.sharp_hits]
        short = _CLEAR_HEIGHT * _median(heights) * _scale(matrix) if len(heights) >= _PAGE_DIGITS else 0.0

        def clear(det: Detection) -> bool:
            return still and sharp(det) and float(np.max(det.probs[:_NOT_A_DIGIT])) >= s.clear_confidence \
                and det.box[3] >= short

        used = set()
        for i, j in pairs:
            det = detections[j]
            if sharp(det) and not det.edge and board.slots[i].tentative:
                # its first sharp sighting: what the blur said of it (a smeared box, a guess) is dropped
                board.renew(board.slots[i], page_boxes[j], det, self._relative[j], clear(det))
            else:
                board.observe(board.slots[i], page_boxes[j], det, sharp(det), self._relative[j], clear(det))
            used.add(j)
        seen = {i for i, _ in pairs}
        # new digits: only where the frame is registered (paired digits, or a page just started)
        anchored = self._verified or not any(sl.ever_shown for sl in board.slots)
        if anchored:
            existing = board.boxes()
            for j, det in enumerate(detections):
                if j in used or det.edge:
                    continue
                covered = _overlapping(page_boxes[j], existing)
                if not len(covered):
                    board.add(page_boxes[j], det, sharp(det), self._relative[j], clear(det))
                    seen.add(len(board.slots) - 1)
                elif sharp(det) and (all(board.slots[i].tentative for i in covered) or (
                        len(covered) == 1 and board.slots[covered[0]].replaceable)):
                    # only slots never shown and seen sharp once at most lie there (a digit cut by the
                    # frame's edge or smeared in the pan onto the page, its box squashed or
                    # stretched): the sharp sighting replaces them
                    for i in covered[1:]:
                        board.slots[i].missed = 2 * s.coast_frames + 1
                    board.renew(board.slots[covered[0]], page_boxes[j], det, self._relative[j], clear(det))
                    seen.add(int(covered[0]))
        # the keyframe: a sharp view covering more of the page than the last one (ORB costs ~2 ms, so
        # not more often than every _KEYFRAME_EVERY frames)
        page.since_key += 1
        if sharp_frame and len(pairs) >= 3 and page.since_key >= _KEYFRAME_EVERY and (
                registry.keyframe is None or len(pairs) > registry.keyframe.coverage):
            registry.remember(view, len(pairs))
            page.since_key = 0
        # slots in view and not seen: missed, in sharp frames only (a blurred frame loses small digits)
        frame_boxes = map_boxes(matrix, board.boxes())
        w, h = view.size
        in_view = (frame_boxes[:, 0] >= 0) & (frame_boxes[:, 1] >= 0) & (frame_boxes[:, 0] + frame_boxes[:, 2] <= w) \
            & (frame_boxes[:, 1] + frame_boxes[:, 3] <= h) if len(frame_boxes) else np.zeros(0, bool)
        # shown slots in view and not seen: their place is measured. Next to no ink there: the digit is
        # gone (the page moved away unmeasured, or was taken away). Otherwise, unless the rest is
        # blurred (blur loses small digits), missed
        unseen = [i for i in range(len(board.slots)) if i not in seen and in_view[i] and board.slots[i].shown]
        absent, blurred = set(), False
        inked = set()
        if unseen:
            sharp, contrast = view.measure(frame_boxes[unseen])
            absent = {i for i, c in zip(unseen, contrast.tolist()) if c < _MIN_CONTRAST_KEPT * board.slots[i].contrast}
            # its ink still there (contrast relative to the light: a shadow keeps it) while others of
            # the page are read, or the camera's motion was measured: the reader missed it (a shadow,
            # a dimmer frame), the digit did not go
            if pairs or registry.measured:
                relative = view.measure(frame_boxes[unseen], relative=True)[1]
                # (only digits read in most sharp frames that showed them: a stray slot (a smear, a
                # piece of a digit) lies on ink too, and would stay)
                inked = {i for i, c in zip(unseen, relative.tolist()) if c >= _INK_KEPT * board.slots[i].relative
                         and board.slots[i].unread < _MAX_UNREAD and i not in absent
                         and board.slots[i].sharp_hits >= _READ_SHARE * board.slots[i].sharp_views}
            ratios = [sh / board.slots[i].sharp_ref for i, sh in zip(unseen, sharp.tolist()) if i not in absent]
            # a fast-moving camera blurs: it spreads a thin stroke so far that its contrast drops like
            # a vanished digit's
            blurred = (bool(ratios) and _median(ratios) < s.blur_ratio) or not steady
            # (a shake blurs while the camera hardly moves between frames: the digits read say so;
            # and a digit or two gone alone are more likely misplaced by a blurred frame's mapping
            # than rubbed out: a page goes as a whole)
            if blurred or (detections and frame_sharp < s.clear_share * page.sharp_ref) or 2 * len(absent) < len(unseen):
                absent = set()
        # most of the shown digits unread but their ink in place: the page is still there
        self._ink_held = bool(unseen) and 2 * len(inked) > len(unseen)
        for i, slot in enumerate(board.slots):
            slot.in_view = bool(in_view[i])
            slot.sharp_views += sharp_frame and slot.in_view
            slot.unread = slot.unread + 1 if i in inked else 0
            if i in seen:
                continue
            if slot.in_view and not blurred and i not in inked and (sharp_frame or not detections or not slot.shown):
                slot.missed += 1
            if i in absent:
                slot.missed = max(slot.missed, s.coast_frames + 1)
        # a page is believed once it holds a few showable digits, or one seen sharp in several frames:
        # the grain of a desk or a crease may read as a digit or two for a moment
        # (or many digits read clearly at once: a page of writing, not grain)
        shown_hits = [slot.sharp_hits for slot in board.slots if slot.shown]
        board.mature = len(shown_hits) >= _PAGE_DIGITS and _median(shown_hits) >= _MATURE_HITS
        showable = [board.showable(slot) for slot in board.slots]
        ready = [slot for ok, slot in zip(showable, board.slots) if ok]
        page.confirmed = page.confirmed or sum(slot.sharp_hits >= s.confirm_sharp for slot in ready) >= _PAGE_DIGITS \
            or sum(slot.clear_hits > 0 for slot in ready) >= _PAGE_CLEAR \
            or sum(board.consistent(slot) for slot in ready) >= _PAGE_DIGITS \
            or any(slot.sharp_hits >= _PAGE_SIGHTINGS for slot in ready)
        # digits of the page that may be shown soon: seen in this frame, read as a digit, not yet sure
        coming = any(not ok and not slot.ever_shown and slot.in_view and slot.missed == 0 and i in seen
                       and slot.evidence[_NOT_A_DIGIT] < s.max_not_digit * slot.weight
                       and slot.evidence[slot.digit] >= s.min_confidence * slot.weight
                       for i, (slot, ok) in enumerate(zip(board.slots, showable)))
        displayed = any(slot.shown for slot in board.slots)
        page_read = 2 * len(pairs) >= sum(slot.shown for slot in board.slots) >= _PAGE_DIGITS
        for slot, ok in zip(board.slots, showable):
            if not sharp_frame:
                # a blurred frame neither shows new digits nor hides shown ones for what it read
                ok = slot.shown or (ok and (slot.ever_shown or board.consistent(slot)))
            in_place = slot.in_view and slot.missed <= s.coast_frames
            want = page.confirmed and in_place and ok and not 0 <= slot.recalls < _RECALLS
            # new digits of a page on display come together: while others are about to be sure
            # enough, one that is waits (`settle_frames` at most), so that the text does not grow
            # digit by digit as the camera settles
            if want and not slot.ever_shown and displayed and coming and slot.waiting < s.settle_frames:
                slot.waiting += 1
                continue
            # a shown digit read otherwise, or no longer sure enough to be shown, changes in a settled
            # frame (the camera still, the frame sharp: `still`), or after waiting `settle_frames`
            # for one: what the frames read as the camera settles on a page varies
            if slot.shown and in_place and (not want or slot.digit != slot.shown_digit) and not still \
                    and slot.waiting < s.settle_frames:
                slot.waiting += 1
                continue
            slot.waiting = 0
            if slot.shown and not want and slot.in_view and slot.missed > s.coast_frames and page_read:
                # hidden as the reader stopped finding it while reading the rest of the page: it
                # comes back only once read clearly in several frames, not on one sighting (a digit
                # the reader finds now and then would blink)
                slot.recalls = 0
            slot.shown = want
            if want:
                slot.shown_digit = slot.digit
            slot.ever_shown = slot.ever_shown or slot.shown
        board.slots = [sl for sl in board.slots if sl.shown or sl.ever_shown or sl.missed <= 2 * s.coast_frames]
        if sharp_frame:
            board.merge_duplicates()
        return seen

    def _show(self, view: FrameView, seen: set[int], held: bool, time_s) -> SteadyReading:
        page = self.page
        matrix = self.registry.matrix
        if page is None or matrix is None:
            return SteadyReading([], held=held, time_s=time_s)
        shown = [sl for sl in page.board.slots if sl.shown]
        if not shown:
            return SteadyReading([], held=held, time_s=time_s)
        if time_s is not None:
            page.first_s = time_s if page.first_s is None else page.first_s
            page.last_s = time_s
        order = page.layout()
        shown.sort(key=lambda sl: order[sl.id])
        lines = {}
        for sl in shown:
            lines.setdefault(order[sl.id][0], len(lines))
        boxes = map_boxes(matrix, [sl.box for sl in shown])
        w, h = view.size
        # all slots' probabilities and top three at once: numpy per slot costs more than the maths
        probs = np.array([sl.evidence for sl in shown]) / np.array([[max(sl.weight, 1e-12)] for sl in shown])
        tops = np.argsort(-probs[:, :_NOT_A_DIGIT], axis=1)[:, :3].tolist()
        digits = []
        for sl, (x, y, bw, bh), p, top in zip(shown, boxes.tolist(), probs.tolist(), tops):
            x0, y0 = int(round(max(0.0, x))), int(round(max(0.0, y)))
            x1, y1 = int(round(min(float(w), x + bw))), int(round(min(float(h), y + bh)))
            digits.append(TrackedDigit(x0, y0, max(1, x1 - x0), max(1, y1 - y0), sl.shown_digit, p[sl.shown_digit],
                                       lines[order[sl.id][0]], tuple((d, p[d]) for d in top), tuple(p), track=sl.id))
        return SteadyReading(digits, held=held, time_s=time_s)


def _alike(slot: Slot, det: Detection) -> bool:
    """Whether a sighting reads like the slot's digit (gives it a fair probability)."""
    return bool(det.probs[slot.digit] >= _SAME_DIGIT)


def _overlap_matrix(boxes: np.ndarray) -> np.ndarray:
    """Overlap of every (x, y, w, h) box with every other, as a share of the smaller of the two."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
    ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
    area = boxes[:, 2] * boxes[:, 3]
    return iw * ih / np.maximum(np.minimum(area[:, None], area[None]), 1e-9)


def _overlapping(box, boxes: np.ndarray, share: float = 0.3) -> np.ndarray:
    """Indices of `boxes` (page coordinates) that `box` overlaps by more than `share` of the smaller."""
    if not len(boxes):
        return np.zeros(0, int)
    x, y, w, h = box
    iw = np.clip(np.minimum(x + w, boxes[:, 0] + boxes[:, 2]) - np.maximum(x, boxes[:, 0]), 0, None)
    ih = np.clip(np.minimum(y + h, boxes[:, 1] + boxes[:, 3]) - np.maximum(y, boxes[:, 1]), 0, None)
    smaller = np.minimum(w * h, boxes[:, 2] * boxes[:, 3])
    return np.flatnonzero(iw * ih > share * smaller)


class PageSummary:
    """``--summary`` with page fusion: one entry per page, its fused text and when its digits were first
    and last shown. Pages shown for less than `min_shown_s` (a glimpse, a stray) are left out."""

    def __init__(self, fusion: PageFusion, min_shown_s: float = 1.0):
        self.fusion = fusion
        self.min_shown_s = min_shown_s

    def add(self, text: str, time_s: float) -> None:
        """Nothing to do: the fusion keeps its pages (the same call as SummaryCollector's)."""

    def entries(self) -> list[SeenText]:
        out = []
        for page in self.fusion.pages:
            text = page.text
            if text and page.first_s is not None and page.last_s - page.first_s >= self.min_shown_s:
                out.append(SeenText(text, page.first_s, page.last_s))
        return out
