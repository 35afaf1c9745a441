"""Picture -> candidate digit regions: ink map, binarisation, line removal, components, text lines.

Everything runs at a *working scale* chosen from the picture size (big photos shrink, tiny scans
grow) and boxes are mapped back to input pixels at the end.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

import cv2
import numpy as np

MAX_SIDE = 1400          # larger pictures are shrunk: 12 MP photos gain nothing past this
MIN_SIDE = 480           # smaller ones are enlarged: 20 px digits binarise badly at native size
MAX_CANDIDATES = 150     # a noisy frame cannot cost more than this many crops
MIN_INK_CONTRAST = 0.16  # ink must be at least this much darker than the local paper (0-1)
MIN_DIGIT_SIDE = 0.018   # smallest digit height, as a share of the working image's shorter side
# Binarised noise breaks into ~50,000 blobs per megapixel; real pages, cheques and scenes give at
# most a few thousand. Past this the frame is unreadable, not a page of tiny digits.
NOISE_COMPONENTS_PER_MP = 5000
MANY_PIECES = 300            # past this many components, statistics over the pixels beat contours
SPARSE_INK = 0.15            # below this share of ink pixels, statistics from the ink pixels alone
MOSTLY_ZEROS = 0.3           # below this share of non-zero pixels, a histogram counts them alone
_GROW_KERNEL = np.ones((5, 5), np.uint8)
LINE_LEVEL = 0.75           # lines are looked for in ink above this share of the faint level
LINE_INK_CONTRAST = 2.0     # on a line, ink this many times darker than the line is writing
LINE_INK_SHARE = 0.75       # the line's darkness: this percentile of its pixels (its core, not its blurred edges)
TILTED_LINE_STRETCH = 70    # px: a line tilted by 4 degrees drifts 5 px (the band) over this
HALF_SIZE_LINE_SEARCH = 600  # px (shorter side): from here lines are looked for at half resolution
WEB_SHARE = 0.09             # a component this long (share of the longer side) and ...
WEB_MIN_SIDE = 12            # ... this wide (px), mostly hollow, with holes of half this side ...
WEB_HOLES = 3                # ... at least this many, may be a grid: the picture is searched for one
WEB_FILLS_VIEW = 0.97        # a web this share of the view's width and height is squared paper (as grid.FILLS_FRAME)


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h

    def union(self, other: "Box") -> "Box":
        x, y = min(self.x, other.x), min(self.y, other.y)
        return Box(x, y, max(self.x2, other.x2) - x, max(self.y2, other.y2) - y)


@dataclass
class Region:
    """One candidate digit (or several touching digits) at working scale."""
    box: Box
    labels: tuple  # component ids in the label image that make up this region
    line: int = -1


@dataclass
class Segmentation:
    ink: np.ndarray        # working-scale ink map, uint8, 0 = paper, 255 = darkest ink
    mask: np.ndarray       # binary ink after cleaning, uint8 0/255
    label_image: np.ndarray  # int32 connected-component ids of `mask`
    scale: float           # working / input
    regions: list[Region] = field(default_factory=list)
    digit_height: float = 0.0  # typical digit height at working scale (0 when nothing found)
    inverted: bool = False     # True when the input was light ink on a dark background
    # May the picture hold long straight lines (ruled paper, a grid, a form's boxes)? False only
    # when the line search looked and saw none: the recogniser then skips the search for grids.
    lined: bool = True
    # False when segment stopped at a web of boxes (``stop_at_web``): no regions were looked for
    complete: bool = True

    def crop(self, region: Region, columns: tuple[int, int] | None = None) -> np.ndarray:
        """Ink of the region's own components only (neighbours that intrude on the box are masked out)."""
        b = region.box
        x0, x1 = (b.x, b.x2) if columns is None else columns
        labels = self.label_image[b.y:b.y2, x0:x1]
        keep = labels == region.labels[0] if len(region.labels) == 1 else np.isin(labels, region.labels)
        return self.ink[b.y:b.y2, x0:x1] * keep  # uint8 times bool: a fifth of np.where's cost

    def to_input(self, box: Box) -> Box:
        s = self.scale
        return Box(int(round(box.x / s)), int(round(box.y / s)),
                   max(1, int(round(box.w / s))), max(1, int(round(box.h / s))))


def to_gray(image: np.ndarray) -> np.ndarray:
    """Any picture -> uint8 grey, transparency on white. Accepted: (H, W), (H, W, C) with C = 1
    grey, 2 grey + alpha, 3 BGR, 4 BGRA, and channels first (C, H, W); any integer, float or bool
    dtype (values are scaled to 0-255 by their range: 0-1 floats, 16-bit values in any integer
    type; NaN is paper-black 0). Anything else raises a ValueError naming the shape or dtype."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 2, 3, 4) and image.shape[2] > 4:
        image = np.moveaxis(image, 0, 2)  # channels first, as some libraries hand pictures over
    if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] > 4):
        raise ValueError(f"expected a picture of shape (H, W) or (H, W, C) with C 1-4 channels, got shape {image.shape}")
    image = _to_uint8(image)
    if image.ndim == 3 and image.shape[2] in (2, 4):  # an alpha channel: drawn on transparency
        alpha = image[:, :, -1:].astype(np.float32) / 255.0
        colour = image[:, :, :-1]
        if alpha.min() < 0.99:
            colour = (colour * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
        image = colour
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2GRAY)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Values of any numeric dtype -> uint8, by their range: 8-bit values stay, 16-bit ones (in
    any integer type: uint16, int32 or int64 from image libraries) are shifted, larger ones scaled."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == bool:
        return image.astype(np.uint8) * 255
    if image.dtype.kind not in "uif":
        raise ValueError(f"expected a picture of numbers, got dtype {image.dtype}")
    if image.dtype.kind == "f":
        image = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(image.max())
        factor = 255.0 if peak <= 1.0 else (1.0 if peak <= 255.0 else 255.0 / peak)
        return np.clip(image * factor, 0, 255).astype(np.uint8)
    low, peak = int(image.min()), int(image.max())
    if low >= 0 and peak <= 255:
        return image.astype(np.uint8)
    if low >= 0 and peak <= 65535:
        return (image >> 8).astype(np.uint8)
    return np.clip(image.astype(np.float64) * (255.0 / max(peak, 1)), 0, 255).astype(np.uint8)


def working_scale(shape: tuple[int, int]) -> float:
    longest = max(shape[:2])
    if longest > MAX_SIDE:
        return MAX_SIDE / longest
    if longest < MIN_SIDE:
        return min(8.0, MIN_SIDE / longest)
    return 1.0


def working_gray(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey picture at the working scale, and that scale (working / input)."""
    return at_working_scale(to_gray(image))


# Neighbouring pixels of a picture differ far less than its pixels overall (strokes and paper are
# smooth): mean |neighbour difference| / standard deviation is 0.2-0.6 on real digits and pages,
# 1.1 on pure noise. Measured on MNIST, USPS, pen digits and sudoku cells (99th percentile 0.55).
NOISE_ROUGHNESS = 0.8


def is_noise(gray: np.ndarray) -> bool:
    """Is this small grey picture pure noise? (Enlarged to the working scale, noise turns into
    smooth blobs that look like strokes, so it is judged at its own resolution.)"""
    values = gray.astype(np.float32)
    spread = float(values.std())
    if spread < 1.0 or min(gray.shape) < 2:
        return False
    roughness = (float(np.abs(np.diff(values, axis=1)).mean()) + float(np.abs(np.diff(values, axis=0)).mean())) / 2
    return roughness / spread > NOISE_ROUGHNESS


def at_working_scale(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """A grey picture at the working scale, and that scale (working / input)."""
    scale = working_scale(gray.shape)
    if scale != 1.0:
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
        # explicit size, at least 1 px: a 2 x 6000 strip shrunk by the scale would have no rows
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = cv2.resize(gray, size, interpolation=interpolation)
    return gray, scale


def is_dark_background(gray: np.ndarray) -> bool:
    """Light ink on a dark background? The background is the majority (the median) and ink the
    minority: whichever tail reaches further from the median is the ink."""
    low, median, high = grey_levels(gray[::2, ::2], (0.005, 0.5, 0.995))
    return (high - median) > 1.5 * (median - low) and high - low > 20


def grey_levels(gray: np.ndarray, shares: tuple[float, ...], where: np.ndarray | None = None) -> list[int]:
    """Grey levels below which the given shares of the pixels (under the ``where`` mask) lie:
    uint8 percentiles from a histogram, 7x faster than np.percentile on a frame."""
    counts = cv2.calcHist([np.ascontiguousarray(gray)], [0], where, [256], [0, 256]).ravel()
    cumulative = np.cumsum(counts)
    return [int(np.searchsorted(cumulative, share * cumulative[-1])) for share in shares]


def ink_map(gray: np.ndarray, uniform_paper: bool = False, polarity: bool = True,
            inverted: bool | None = None) -> tuple[np.ndarray, bool]:
    """Grey -> (ink, inverted): ink is how much darker each pixel is than its local paper (0-255).

    Dividing by an estimate of the paper brightness removes shadows, gradients and paper colour.
    ``uniform_paper`` (small scans, enlarged to the working scale) uses one paper level instead.
    A page lying on a much darker desk is found, and ink outside it is ignored. With
    ``polarity=False`` the ink is taken to be darker than the paper (the caller decided); ``inverted``
    True or False says which way it is (a video holds the polarity of the page it reads).
    """
    h, w = gray.shape
    small_scan = uniform_paper or min(h, w) < 120  # one paper level is all there is to estimate
    paper = None if small_scan else _paper_brightness(gray)
    # A mostly dark view is light ink on a dark board, unless its light part is a sheet of paper
    # lying on a desk: then it stays dark ink on light paper.
    if inverted is None:
        inverted = polarity and is_dark_background(gray) and not (paper is not None and _page_on_desk(paper))
    if inverted:
        gray = 255 - gray
        paper = None if small_scan else _paper_brightness(gray)
    page = None
    if small_scan:
        background = np.full_like(gray, int(np.percentile(gray, 90)))
    else:
        page = page_region(paper)
        background = cv2.resize(cv2.GaussianBlur(paper, (3, 3), 0), (w, h), interpolation=cv2.INTER_LINEAR)
    # 255 * (paper - pixel) / paper, saturating at 0 and 255: OpenCV's uint8 arithmetic does the
    # clipping and rounding in one pass, several times faster than float numpy on a whole frame.
    # The paper level is at least 16; blurring and enlarging never go below the smallest level,
    # so where the small paper image is that bright already, the frame-sized pass is not needed.
    ink = darker_than_paper(gray, background, paper_floored=not (small_scan or int(paper.min()) < 16))
    if page is not None:
        ink = cv2.multiply(ink, cv2.resize(page, (w, h), interpolation=cv2.INTER_NEAREST))  # page is 0/1
    return ink, inverted


def darker_than_paper(gray: np.ndarray, paper: np.ndarray, paper_floored: bool = False) -> np.ndarray:
    """255 * (paper - pixel) / paper, saturating at 0 and 255 (uint8): how much darker than its
    paper each pixel is. The paper level counts as at least 16 (``paper_floored``: it already is)."""
    return cv2.divide(cv2.subtract(paper, gray), paper if paper_floored else cv2.max(paper, 16), scale=255)


# A page may cover as little as this share of the view (a sticky note or a page far away on a
# desk); the desk's share is the rest.
MIN_PAGE_SHARE = 0.08
MAX_DESK_SHARE = 1.0 - MIN_PAGE_SHARE
SHADOW_STEP = 0.1  # a sheet grows into neighbours this share of the paper-desk contrast darker (shadows fade)
PAGE_SOLIDITY = 0.9  # a sheet of paper fills its convex outline; light writing on a board does not


def _paper_brightness(gray: np.ndarray, factor: int = 8) -> np.ndarray:
    """The paper's brightness at 1/``factor`` scale: a closing wider than any stroke fills the ink
    with paper, yet keeps the page's edge where it is (a plain max filter would spread the paper
    over the desk as false "ink")."""
    h, w = gray.shape
    small = cv2.resize(gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))


def _page_on_desk(paper: np.ndarray) -> bool:
    """Is the light part of a mostly dark view (its ``_paper_brightness``) a sheet of paper lying on
    a desk (then the picture is dark ink on light paper, though most of it is dark)? The sheet is
    one large, solid, light region; light writing on a dark board is thin strokes, never a solid
    region."""
    bright = (paper > _otsu(paper)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=4)
    if count <= 1:
        return False
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    area = int(stats[largest, cv2.CC_STAT_AREA])
    if area < MIN_PAGE_SHARE * paper.size:
        return False
    contours, _ = cv2.findContours((labels == largest).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hull = cv2.contourArea(cv2.convexHull(max(contours, key=cv2.contourArea)))
    return hull > 0 and area / hull >= PAGE_SOLIDITY


def page_region(paper: np.ndarray) -> np.ndarray | None:
    """The sheet of paper in a small paper-brightness image, or None when the paper fills the view.

    Only a region far darker than the paper and touching the frame's edge counts as desk, and the
    sheet takes in the darker parts it fades into, so a shadow across the page is not cut away.
    """
    threshold = _otsu(paper)
    bright = paper > threshold
    dark_share = 1.0 - bright.mean()
    if dark_share < 0.03 or dark_share > MAX_DESK_SHARE:
        return None
    if paper[bright].mean() < 1.6 * max(paper[~bright].mean(), 1.0):
        return None
    border = np.concatenate([~bright[0], ~bright[-1], ~bright[:, 0], ~bright[:, -1]])
    if border.mean() < 0.1:
        return None
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright.astype(np.uint8), connectivity=4)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    # a shadow across the page (a hand, an arm) is darker than the paper but fades into it, while the
    # desk begins with a step: the sheet grows into the darker parts it fades into
    sheet = _grown_by_fading(paper, labels == largest, SHADOW_STEP * (paper[bright].mean() - paper[~bright].mean()))
    contours, _ = cv2.findContours(sheet.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    page = np.zeros_like(paper, dtype=np.uint8)
    cv2.drawContours(page, contours, -1, 1, -1)  # filled: the writing on the page is part of it
    return cv2.erode(page, np.ones((3, 3), np.uint8), iterations=2)  # the page's edge is no ink


def _grown_by_fading(paper: np.ndarray, core: np.ndarray, step: float) -> np.ndarray:
    """`core` grown into every neighbour no more than `step` (>= 0) darker than its brightest
    neighbour inside: across soft shadow edges, not across the step from a sheet to its desk."""
    # uint8 OpenCV passes rather than int16 numpy ones, a third of the cost of a pass (the sheet
    # grows a pixel a pass, so a large shadow takes tens): a neighbour no more than `step` darker
    # is one whose integer level is at most floor(step) below
    region = core.astype(np.uint8) * 255
    levels = np.ascontiguousarray(paper, dtype=np.uint8)
    # a pixel joins where 1 <= its brightest neighbour inside <= its own level + floor(step)
    # (a level past 255 is no limit: no neighbour is brighter than 255)
    lowest, highest = np.ones_like(levels), cv2.add(levels, int(np.floor(step)))
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(max(paper.shape)):
        brightest = cv2.dilate(cv2.bitwise_and(levels, region), kernel)
        new = cv2.subtract(cv2.inRange(brightest, lowest, highest), region)
        if not cv2.countNonZero(new):
            break
        region = cv2.bitwise_or(region, new)
    return region > 0


def outer_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The outer boundary of every 8-connected component, including components inside another's
    hole (a digit in a box). Far cheaper than cv2.connectedComponentsWithStats, whose statistics
    pass costs 4x its labelling on a frame."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    return [c for c, link in zip(contours, hierarchy[0]) if link[3] < 0]  # no parent: not a hole


def bounding_boxes(contours: list[np.ndarray]) -> np.ndarray:
    """(N, 4) int32 x, y, w, h of each contour."""
    if not contours:
        return np.zeros((0, 4), np.int32)
    return np.array([cv2.boundingRect(c) for c in contours], np.int32)


def filled(contours: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """uint8 0/255 image with the given components filled (holes too: AND it with the mask)."""
    out = np.zeros(shape, np.uint8)
    if contours:
        cv2.drawContours(out, contours, -1, 255, thickness=cv2.FILLED)
    return out


def _histogram(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """256 counts of a contiguous uint8 image's levels (under ``mask``). An ink map is mostly
    zeros, and counting one bin over and over stalls a histogram: its non-zero pixels are counted
    with the image as its own mask, and the zeros are what is left (half the time on a frame;
    where fewer pixels are zero, the mask's own cost outweighs what it saves)."""
    inked = cv2.countNonZero(image) if mask is None else image.size
    if inked > MOSTLY_ZEROS * image.size:
        return cv2.calcHist([image], [0], mask, [256], [0, 256]).ravel()
    counts = cv2.calcHist([image], [0], image, [256], [0, 256]).ravel()
    counts[0] = image.size - inked
    return counts


def _otsu(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Otsu's threshold of a uint8 image (of its pixels under ``mask``), from the histogram: the
    same level as OpenCV's THRESH_OTSU, without copying the masked pixels out."""
    counts = _histogram(np.ascontiguousarray(image), mask).astype(np.float64)
    levels = np.arange(256, dtype=np.float64)
    below, below_sum = np.cumsum(counts), np.cumsum(counts * levels)
    total, total_sum = below[-1], below_sum[-1]
    above = total - below
    spread = below * above  # zero where one class is empty: no split there
    between = np.zeros(256)
    np.divide((below_sum * total - total_sum * below) ** 2, spread, out=between, where=spread > 0)
    return float(np.argmax(between))


def ink_levels(ink: np.ndarray, floor: float = MIN_INK_CONTRAST * 255) -> tuple[float, float]:
    """(sure, faint) ink levels: global Otsu on the illumination-free ink map, never below a
    minimum contrast (``floor``, 0-255); the faint level is where strokes may grow into and lines
    are looked for."""
    return _ink_levels(ink, floor)[0]


def _ink_levels(ink: np.ndarray, floor: float = MIN_INK_CONTRAST * 255) -> tuple[tuple[float, float], np.ndarray]:
    """``ink_levels``, and the mask of the ink above the sure level (made on the way)."""
    threshold = max(_otsu(ink), floor)
    faint = max(0.5 * threshold, 0.7 * floor)
    sure = _above(ink, threshold)
    if cv2.countNonZero(sure) > 0.12 * sure.size:
        # Patterned paper (cheques) binarises as ink in large areas: split paper / pattern / ink
        # and keep only the darkest class.
        faint = threshold
        higher = max(_otsu(ink, sure), threshold)
        faint = (faint + higher) / 2
        if higher != threshold:
            sure = _above(ink, higher)
        threshold = higher
    return (threshold, faint), sure


@dataclass
class _Pieces:
    """The 8-connected pieces of a mask: their number (the background counted, as labelling
    counts) and whichever of the labelling or the outer contours gave it."""
    count: int
    labels: np.ndarray | None = None
    contours: list | None = None


def _pieces(mask: np.ndarray) -> _Pieces:
    """Counted by their outer contours, a third of the cost of labelling on a page; but tracing
    costs a hundred times the labelling on noise, so a strip across the middle is labelled first,
    and a crowded one has the whole mask labelled as before."""
    h = mask.shape[0]
    strip = mask[h // 2 - h // 16:h // 2 + h // 16 + 1]
    if _too_many_pieces(_label(strip)[0], strip, factor=0.5):
        return _Pieces(*_label(mask))
    contours = outer_contours(mask)
    return _Pieces(len(contours) + 1, contours=contours)


def binarize(ink: np.ndarray, grow_steps: int = 8, levels: tuple[float, float] | None = None,
             sure: np.ndarray | None = None, sure_pieces: _Pieces | None = None,
             keep_out: np.ndarray | None = None) -> np.ndarray:
    """Ink above the sure level, with hysteresis: strokes grow from the sure pixels into fainter
    ones next to them, so a pen that skipped does not break a 0 into two halves (the fainter level
    alone would catch noise). ``sure`` and its pieces may be given when known; nothing grows into
    ``keep_out`` (erased lines)."""
    threshold, faint = levels or ink_levels(ink)
    sure = _above(ink, threshold) if sure is None else sure
    if grow_steps <= 0 or not cv2.countNonZero(sure):
        return sure
    # Grow only from pieces already the size of a stroke: specks (the darker crossings of a faint
    # grid, paper grain) would otherwise grow along faint lines into dashes and "1"s.
    seed_side = max(6, int(MIN_DIGIT_SIDE * min(ink.shape)))
    pieces = sure_pieces or _pieces(sure)
    count = pieces.count
    if _too_many_pieces(count, sure, factor=4):
        return sure  # noise: nothing here is worth growing, and the frame will be rejected
    passes = (grow_steps + 1) // 2  # 2 px a step: half the passes over the frame for the same reach
    # Strokes grow at most 2 px a pass from their seeds: the growing is done only within the
    # seeds' bounding box widened by that reach (the same pixels, a fraction of the frame's)
    window = (slice(None), slice(None))
    if count > MANY_PIECES:  # statistics over the pixels beat one contour per piece
        labelled = (count, pieces.labels) if pieces.labels is not None else _label(sure)
        labels, stats = piece_stats(sure, labelled)
        is_seed = stats[:, 2:4].max(axis=1) >= seed_side
        is_seed[0] = False
        grown = np.take(np.where(is_seed, 255, 0).astype(np.uint8), labels)
    else:
        contours = pieces.contours if pieces.contours is not None else outer_contours(sure)
        boxes = bounding_boxes(contours)
        chosen = np.flatnonzero(boxes[:, 2:4].max(axis=1, initial=0) >= seed_side) if len(boxes) else []
        if not len(chosen):
            return sure.copy()
        reach = 2 * passes
        x0, y0 = np.maximum(boxes[chosen, :2].min(axis=0) - reach, 0)
        x1, y1 = (boxes[chosen, :2] + boxes[chosen, 2:4]).max(axis=0) + reach
        window = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
        seeds = np.zeros(sure[window].shape, np.uint8)
        cv2.drawContours(seeds, [contours[i] for i in chosen], -1, 255, thickness=cv2.FILLED, offset=(-int(x0), -int(y0)))
        grown = cv2.bitwise_and(seeds, sure[window])
    allowed = _above(ink[window], faint)
    if keep_out is not None:
        allowed = cv2.subtract(allowed, keep_out[window])
    for _ in range(passes):
        grown = cv2.dilate(grown, _GROW_KERNEL) & allowed
    out = sure.copy()
    out[window] |= grown
    return out


def _above(ink: np.ndarray, level: float) -> np.ndarray:
    """uint8 0/255 mask of ink > level (OpenCV's threshold: one pass, no bool temporaries)."""
    return cv2.threshold(ink, level, 255, cv2.THRESH_BINARY)[1]


def remove_lines(mask: np.ndarray, min_length: int, min_length_vertical: int | None = None,
                 source: np.ndarray | None = None, ink: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Erase ruled lines, grid lines and frame borders: straight runs longer than any digit stroke.

    Lines are looked for in ``source`` (default: the mask itself), best the faint-level mask: a
    faint grid is continuous there, while in the mask it is broken into stroke-sized pieces that
    would read as "1"s. The source is first thickened across the line direction so that slightly
    tilted lines still form long runs; strokes that a line crossed are then bridged again across
    the gap. Given the ``ink`` map, pixels on a line that are far darker than the line itself
    (a digit's stroke crossing a faint grid) are kept. Returns the cleaned mask and the erased
    line pixels.
    """
    cleaned, removed, _ = _remove_lines(mask, min_length, min_length_vertical, source, ink)
    return (mask.copy() if cleaned is mask else cleaned), removed


def _remove_lines(mask: np.ndarray, min_length: int, min_length_vertical: int | None, source: np.ndarray | None,
                  ink: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, bool]:
    """``remove_lines``, and whether any line was seen in the source (erased or not: a faint
    ruling lies under the mask's level, yet it is a line). Where nothing is erased the cleaned
    mask is ``mask`` itself, not a copy."""
    source = mask if source is None else source
    cleaned, removed, seen = mask, None, False  # copies made once a line is found: most frames have none
    # On a big frame lines are found at half resolution (a block with any ink is ink: a 1-px line
    # survives), a quarter of the pixels for every pass; they are erased at full resolution.
    factor = 2 if min(mask.shape) >= HALF_SIZE_LINE_SEARCH else 1
    small = _pooled(source, factor) if factor > 1 else source
    coarse = _pooled(small, 4 // factor) if min(small.shape) >= 32 // factor else None
    for horizontal in (True, False):
        length = (min_length if horizontal else (min_length_vertical or min_length)) // factor
        # Straight runs are looked for over a shorter stretch, within which a line tilted by a few
        # degrees (a page photographed at an angle) stays inside the thickened band; the pieces
        # must then join into something at least `length` long.
        stretch = min(length, TILTED_LINE_STRETCH // factor)
        if not _may_have_lines(coarse, length, horizontal, factor=4 // factor):
            continue
        # vertical lines are looked for as horizontal ones in the transposed mask: contours and
        # row-wise filters run twice as fast along rows
        view = small if horizontal else cv2.transpose(small)
        lines = _opened_along_rows(view, 5 // factor, stretch)
        if not cv2.countNonZero(lines):
            continue
        lines = _thin_only(lines, view, length, factor)
        if not cv2.countNonZero(lines):
            continue
        seen = True
        if not horizontal:
            lines = cv2.transpose(lines)
        if ink is not None:
            # the line's own darkness, from every other pixel of it (plenty, at a quarter the cost)
            on_line = cv2.bitwise_and(lines, small)[::2 // factor, ::2 // factor]
            line_ink = grey_levels(ink[::2, ::2][:on_line.shape[0], :on_line.shape[1]], (LINE_INK_SHARE,), on_line)[0]
        if factor > 1:
            lines = cv2.resize(lines, mask.shape[::-1], interpolation=cv2.INTER_NEAREST)
        if ink is not None:
            far_darker = _above(ink, LINE_INK_CONTRAST * max(line_ink, 8))
            lines = cv2.subtract(lines, far_darker)
        lines = cv2.bitwise_and(cv2.dilate(lines, np.ones((3, 3), np.uint8)), mask)
        if not cv2.countNonZero(lines):
            continue
        cleaned = cv2.subtract(cleaned, lines)
        removed = lines if removed is None else cv2.bitwise_or(removed, lines)
        bridge = (1, 11) if horizontal else (11, 1)  # kernel (w, h) across the erased band
        bridged = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, np.ones(bridge[::-1], np.uint8))
        cv2.copyTo(bridged, lines, cleaned)  # only across the erased band
    return cleaned, (np.zeros_like(mask) if removed is None else removed), seen


def _opened_along_rows(view: np.ndarray, across: int, stretch: int) -> np.ndarray:
    """The runs of at least ``stretch`` pixels along the rows of ``view`` thickened across ``across``
    rows: ``cv2.morphologyEx(cv2.dilate(view, ones((across, 1))), MORPH_OPEN, ones((1, stretch)))``,
    the line search's costliest pass, computed only on the bands of rows that may hold such a run.
    Every row of an opening along rows stands alone, and a thickened row holds no more ink than its
    neighbours within ``across`` together: rows whose neighbourhood holds fewer than ``stretch`` ink
    pixels give nothing (nor fewer at the ends, where the erosion takes the outside for ink); on a
    page that is most rows."""
    h, w = view.shape
    thicken = np.ones((across, 1), np.uint8)
    if w < 2 * stretch or h < 4 * across:
        return _opened_runs(cv2.dilate(view, thicken), stretch)
    anchor = stretch // 2
    left, right = stretch - anchor, anchor + 1  # a run from the edge inwards this long survives the erosion
    ink = cv2.threshold(view, 0, 1, cv2.THRESH_BINARY)[1]
    window = np.ones(2 * across + 1, np.int32)  # at least the rows that the thickening reaches
    inked = [np.convolve(cv2.reduce(part, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel(), window, mode="same")
             for part in (ink, ink[:, :left], ink[:, w - right:])]
    rows = np.flatnonzero((inked[0] >= stretch) | (inked[1] >= left) | (inked[2] >= right))
    lines = np.zeros_like(view)
    if rows.size == 0:
        return lines
    # bands of candidate rows; bands a few rows apart are done as one (fewer calls, same rows)
    breaks = np.flatnonzero(np.diff(rows) > 4 * across + 1)
    for start, stop in zip(np.r_[rows[0], rows[breaks + 1]].tolist(), np.r_[rows[breaks], rows[-1]].tolist()):
        stop += 1
        top, bottom = max(0, start - across), min(h, stop + across)
        lines[start:stop] = _opened_runs(cv2.dilate(view[top:bottom], thicken)[start - top:stop - top], stretch)
    return lines


def _opened_runs(rows: np.ndarray, stretch: int) -> np.ndarray:
    """``cv2.morphologyEx(rows, MORPH_OPEN, ones((1, stretch)))`` (its anchor, its borders: the
    outside is ink to the erosion and paper to the dilation), with each pass's running minimum or
    maximum over the row built by doubling spans: a handful of whole-row passes instead of
    ``stretch`` comparisons per pixel, a third of the time for a line search's stretch."""
    anchor = stretch // 2
    eroded = _running(cv2.copyMakeBorder(rows, 0, 0, anchor, stretch - 1 - anchor, cv2.BORDER_CONSTANT, value=255),
                      stretch, cv2.min)
    return _running(cv2.copyMakeBorder(eroded, 0, 0, anchor, stretch - 1 - anchor, cv2.BORDER_CONSTANT, value=0),
                    stretch, cv2.max)


def _running(values: np.ndarray, span: int, pick) -> np.ndarray:
    """Column x of the answer: ``pick`` (cv2.min or cv2.max) of values[:, x:x + span]; the answer is
    span - 1 columns narrower."""
    covered = 1
    while 2 * covered <= span:
        values = pick(values[:, :-covered], values[:, covered:])  # now over `2 * covered` columns
        covered *= 2
    if covered < span:  # the last stretch: two overlapping windows of `covered` columns
        values = pick(values[:, :covered - span], values[:, span - covered:])
    return values


def _has_long_lines(mask: np.ndarray, length: int) -> bool:
    """Might the mask hold a line at least ``length`` long (the cheap coarse check)?"""
    if min(mask.shape) < 32:
        return False
    coarse = _pooled(mask, 4)
    return any(_may_have_lines(coarse, length, horizontal) for horizontal in (True, False))


def _pooled(mask: np.ndarray, factor: int) -> np.ndarray:
    """A ``factor`` times smaller copy of a 0/255 mask where a block holding any ink is ink."""
    h, w = mask.shape
    if h % factor == 0 and w % factor == 0:
        # whole blocks: each block's maximum (a dilation reaching right and down, then its top-left
        # pixel) is the same answer as averaging, at half the cost
        spread = cv2.dilate(mask, np.ones((factor, factor), np.uint8), anchor=(0, 0))
        small = cv2.resize(spread, (w // factor, h // factor), interpolation=cv2.INTER_NEAREST)
    else:
        small = cv2.resize(mask, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return cv2.threshold(small, 0, 255, cv2.THRESH_BINARY)[1]


def _may_have_lines(coarse: np.ndarray | None, length: int, horizontal: bool, factor: int = 4) -> bool:
    """The line search on a ``factor`` times smaller copy, over the whole length: a band 5 blocks
    (20 px at full resolution) wide holds a line tilted by 4 degrees over 280 px, so it finds
    every line the full search would (and perhaps more) at a fraction of the cost. A page without lines, or with only a line of
    writing (broken by the gaps between digits), pays almost nothing."""
    if coarse is None or length < 4 * factor:
        return True
    along = max(2, length // factor - 2)
    kernel = np.ones((1, along) if horizontal else (along, 1), np.uint8)
    across = np.ones((5, 1) if horizontal else (1, 5), np.uint8)
    return bool(cv2.countNonZero(cv2.morphologyEx(cv2.dilate(coarse, across), cv2.MORPH_OPEN, kernel)))


def _thin_only(lines: np.ndarray, mask: np.ndarray, min_length: int = 0, factor: int = 1) -> np.ndarray:
    """Keep horizontal line candidates at least ``min_length`` long that are thin for their
    length: a ruled or grid line is a few pixels thick over hundreds, while the stroke of a big
    "1" or a 7's bar is thick for its length. Thickness is measured on the mask around the candidate, since the
    opening shaves strokes. A line may be 5 px thick or 3.5 % of its length at full resolution;
    on masks pooled by ``factor`` a t-px line is about (t + factor - 1) / factor thick."""
    margin = 6 // factor
    contours = outer_contours(lines)
    keep = []
    for contour, (x, y, length, h) in zip(contours, bounding_boxes(contours).tolist()):
        if length < min_length:
            continue
        thickness = np.count_nonzero(mask[max(0, y - margin):y + h + margin, x:x + length]) / max(length, 1)
        if thickness <= max((4 + factor) / factor, 0.035 * length + (factor - 1) / factor):
            keep.append(contour)
    if not keep:  # the commonest answer (the rows of writing that the opening left): no frame-sized passes
        return np.zeros_like(lines)
    return cv2.bitwise_and(filled(keep, lines.shape), lines)


def _may_be_web(labels: np.ndarray, ids: np.ndarray, stats: np.ndarray) -> str | None:
    """Is any component large and hollow enough to be a web of lines (a grid, a row of boxes):
    long, mostly empty, with a few cell-sized holes? Its lines may be too long for the line
    search, which measures them against a digit height that the web, taken for writing, set.
    "inside" for a web within the view, "filling" for one across all of it (squared paper), or None."""
    h, w = labels.shape
    sides = stats[:, 2:4]
    big = (sides.max(axis=1) >= WEB_SHARE * max(h, w)) & (sides.min(axis=1) >= WEB_MIN_SIDE)
    found = None
    for index in np.flatnonzero(big & (stats[:, 4] < 0.5 * sides[:, 0] * sides[:, 1])):
        x, y, bw, bh = (int(v) for v in stats[index, :4])
        own = (labels[y:y + bh, x:x + bw] == ids[index]).astype(np.uint8)
        contours, hierarchy = cv2.findContours(own, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        if hierarchy is None:
            continue
        holes = sum(1 for c, link in zip(contours, hierarchy[0])
                    if link[3] >= 0 and min(cv2.boundingRect(c)[2:]) >= WEB_MIN_SIDE // 2)
        if holes >= WEB_HOLES:
            if bw < WEB_FILLS_VIEW * w or bh < WEB_FILLS_VIEW * h:
                return "inside"
            found = "filling"
    return found


def _digit_like(stats: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Heights and areas of components shaped like a digit or a few touching ones (not bands)."""
    widths, heights = stats[:, 2].astype(np.float32), stats[:, 3].astype(np.float32)
    aspect = widths / np.maximum(heights, 1)
    fill = stats[:, 4] / np.maximum(widths * heights, 1)  # page edges and frames are hollow
    ok = (heights < 0.9 * h) & (widths < 0.9 * w) & (aspect > 0.12) & (aspect < 3.0) & (fill > 0.08)
    return stats[ok, 3], stats[ok, 4]


def _typical_height(heights: np.ndarray, areas: np.ndarray) -> float:
    """Area-weighted median height: specks are many but light, digits few but heavy."""
    if heights.size == 0:
        return 0.0
    order = np.argsort(heights)
    cumulative = np.cumsum(areas[order])
    return float(heights[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def piece_stats(mask: np.ndarray, labelled: tuple[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(labels, stats) of a labelled mask: one row of x, y, w, h, area per label (row 0 is the
    background), as cv2.connectedComponentsWithStats gives them. That statistics pass visits every
    pixel and costs 10x the labelling; on a sparse mask (a blank page's grid or ruling broken
    into thousands of pieces) the ink pixels alone give the same numbers in a tenth of the time."""
    count, labels = labelled
    if cv2.countNonZero(mask) > SPARSE_INK * mask.size:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
        return labels, stats
    points = cv2.findNonZero(mask).reshape(-1, 2)
    xs, ys = points[:, 0], points[:, 1]
    ids = labels[ys, xs]
    low = np.full((2, count), np.iinfo(np.int32).max, np.int32)
    high = np.full((2, count), -1, np.int32)
    for axis, values in enumerate((xs, ys)):
        np.minimum.at(low[axis], ids, values)
        np.maximum.at(high[axis], ids, values)
    stats = np.zeros((count, 5), np.int32)
    stats[1:, 0:2] = low[:, 1:].T
    stats[1:, 2:4] = (high - low)[:, 1:].T + 1
    stats[:, 4] = np.bincount(ids, minlength=count)
    return labels, stats


def _label(mask: np.ndarray) -> tuple[int, np.ndarray]:
    return cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)


def _too_many_pieces(count: int, mask: np.ndarray, factor: float = 1.0) -> bool:
    return count - 1 > factor * NOISE_COMPONENTS_PER_MP * mask.size / 1e6


def _components(mask: np.ndarray, min_side: int, pieces: _Pieces | None = None):
    """(labels, ids, stats) of the components big enough to be part of a digit; stats rows are
    x, y, w, h, area as in OpenCV; all None for a frame of noise. ``pieces``: the mask's
    ``_pieces`` when already known."""
    pieces = pieces or _pieces(mask)
    count = pieces.count
    if _too_many_pieces(count, mask):
        return None, None, None
    if count > MANY_PIECES:  # statistics over the pixels beat one contour per piece
        labels = pieces.labels if pieces.labels is not None else _label(mask)[1]
        labels, stats = piece_stats(mask, (count, labels))
        stats, ids = stats[1:], np.arange(1, len(stats), dtype=np.int32)
        big_enough = (stats[:, cv2.CC_STAT_AREA] >= max(6, min_side)) & (stats[:, 2:4].max(axis=1) >= min_side // 2)
        return labels, ids[big_enough], stats[big_enough].astype(np.int64)
    contours = pieces.contours if pieces.contours is not None else outer_contours(mask)
    boxes = bounding_boxes(contours)
    labels = pieces.labels if pieces.labels is not None else _labels_from_contours(mask, contours, boxes)
    tall_enough = np.flatnonzero(boxes.max(axis=1, initial=0) >= min_side // 2) if len(boxes) else []
    ids, stats = [], []
    for index in tall_enough:
        x, y, w, h = boxes[index].tolist()
        start_x, start_y = contours[index][0, 0]  # a contour starts on a pixel of its component
        label = labels[start_y, start_x]
        area = int(np.count_nonzero(labels[y:y + h, x:x + w] == label))
        if area >= max(6, min_side):
            ids.append(label)
            stats.append((x, y, w, h, area))
    return labels, np.array(ids, np.int32), np.array(stats, np.int64).reshape(-1, 5)


def _labels_from_contours(mask: np.ndarray, contours: list, boxes: np.ndarray) -> np.ndarray:
    """The int32 label image of a mask's components from their outer contours (component i is
    i + 1): each contour filled with its number, then kept to the mask's pixels (a filled
    contour covers its holes). A component lying in another's hole has a smaller box, so filling
    the larger boxes first leaves it its own number. A few small fills instead of labelling the
    whole frame, which costs several times the tracing on a page."""
    labels = np.zeros(mask.shape, np.int32)
    for index in np.argsort(-(boxes[:, 2].astype(np.int64) * boxes[:, 3]), kind="stable").tolist():
        cv2.drawContours(labels, [contours[index]], 0, index + 1, thickness=cv2.FILLED)
    for x, y, w, h in boxes.tolist():  # nothing was drawn outside the boxes
        labels[y:y + h, x:x + w] *= mask[y:y + h, x:x + w] > 0
    return labels


def segment(image: np.ndarray, max_candidates: int = MAX_CANDIDATES, inverted: bool | None = None,
            stop_at_web: bool = False) -> Segmentation:
    """The digit candidates of a picture. `inverted` (light ink on a dark background) is decided from
    the picture unless given. With ``stop_at_web``, a picture holding a web of boxes within the view
    (most likely a grid, which the caller will cover and read apart) is left there: lined, not
    complete, without regions."""
    picture = to_gray(image)
    gray, scale = at_working_scale(picture)
    if scale > 1 and is_noise(picture):  # a small picture of pure noise: nothing to read
        nothing = np.zeros(gray.shape, np.uint8)
        return Segmentation(nothing, nothing, np.zeros(gray.shape, np.int32), scale)
    ink, inverted = ink_map(gray, uniform_paper=scale > 2, inverted=inverted)
    levels, sure = _ink_levels(ink)
    sure_pieces = _pieces(sure)
    if _too_many_pieces(sure_pieces.count, sure, factor=4):  # noise: ten times more pieces than any page
        return Segmentation(ink, sure, np.zeros(sure.shape, np.int32), scale, inverted=inverted)
    h, w = sure.shape
    min_side = max(6, int(MIN_DIGIT_SIDE * min(h, w)))
    page_long = max(4 * min_side, min(h, w) // 4)
    line_source = _above(ink, LINE_LEVEL * levels[1])
    removed, lined = None, False
    if min(h, w) >= HALF_SIZE_LINE_SEARCH and _has_long_lines(sure, page_long):
        # Lines as dark as the writing (a blank squared page, where the threshold falls to the
        # grid's level): erased before anything grows along them or they are labelled, which on
        # a whole grid costs more than the rest of the frame.
        sure, removed, lined = _remove_lines(sure, page_long, page_long, line_source, ink)
        sure_pieces = _pieces(sure)
    mask = binarize(ink, levels=levels, sure=sure, sure_pieces=sure_pieces, keep_out=removed)

    def empty(mask: np.ndarray = mask) -> Segmentation:  # this mask, made only where returned
        return Segmentation(ink, mask, np.zeros(mask.shape, np.int32), scale, inverted=inverted)

    if not cv2.countNonZero(mask):
        return empty()

    pieces = _pieces(mask)
    if _too_many_pieces(pieces.count, mask, factor=4):
        return empty()  # noise: ten times more pieces than any page
    labels, ids, stats = _components(mask, min_side, pieces)
    if labels is None:
        # Thousands of pieces, but not noise: a dark grid broken up by the threshold. Erase
        # lines running across the picture and look again.
        mask, more_removed, lined = _remove_lines(mask, page_long, page_long, line_source, ink)
        removed = more_removed if removed is None else cv2.bitwise_or(removed, more_removed)
        labels, ids, stats = _components(mask, min_side)
        if labels is None:
            return empty()
    if ids.size == 0:
        # Nothing big enough for a digit (a blank page, or a grid broken into specks by the
        # threshold): erasing lines only removes pixels, so it could not make one appear.
        return Segmentation(ink, mask, labels, scale, inverted=inverted)
    digit_height = _typical_height(*_digit_like(stats, h, w))
    web = _may_be_web(labels, ids, stats)
    if stop_at_web and web == "inside":
        return Segmentation(ink, mask, labels, scale, digit_height=digit_height, inverted=inverted, complete=False)
    lined = lined or web is not None
    # Lines are judged against the writing: a 7's bar is shorter than 2.5 digit heights, and a
    # "1" is a vertical line one digit high, so vertical lines must be longer still. Without a
    # digit height yet (every digit touches a ruled line), only very long runs count.
    if digit_height > 0:
        long_h, long_v = int(max(2.5 * digit_height, 3 * min_side)), int(max(4 * digit_height, 4 * min_side))
    else:
        long_h = long_v = page_long
    mask, more_removed, seen = _remove_lines(mask, long_h, long_v, line_source, ink)
    lined = lined or seen
    removed = more_removed if removed is None else cv2.bitwise_or(removed, more_removed)
    if cv2.countNonZero(more_removed):
        labels, ids, stats = _components(mask, min_side)
        if labels is None:
            return empty()
        digit_height = _typical_height(*_digit_like(stats, h, w)) or digit_height
    segmentation = Segmentation(ink, mask, labels, scale, digit_height=digit_height, inverted=inverted, lined=lined)
    if ids.size == 0:
        return segmentation
    segmentation.regions = _digit_regions(labels, removed, ids, stats, digit_height, max_candidates)
    return segmentation


def _digit_regions(labels: np.ndarray, removed: np.ndarray, ids: np.ndarray, stats: np.ndarray,
                   digit_height: float, max_candidates: int) -> list[Region]:
    """The components that may be digits or parts of one (no line remnants, plausible sizes), merged
    into digits, at most ``max_candidates``, in text lines and reading order."""
    h, w = labels.shape
    boxes = [Box(*s) for s in stats[:, :4].tolist()]
    remnant = _line_remnant_share(labels, removed, ids, stats)
    keep = [i for i, b in enumerate(boxes)
            if not _line_remnant(b, remnant[i], digit_height) and _plausible_part(b, stats[i, 4], digit_height, h, w)]
    if len(keep) > 4 * max_candidates:  # noise: don't spend time merging thousands of specks
        keep = sorted(keep, key=lambda i: -stats[i, 4])[:4 * max_candidates]
    regions = [Region(boxes[i], (int(ids[i]),)) for i in keep]
    regions = merge_fragments(regions, digit_height)
    regions = [r for r in regions if _plausible_digit(r.box, digit_height, h, w)]
    if len(regions) > max_candidates:
        regions = sorted(regions, key=lambda r: -r.box.w * r.box.h)[:max_candidates]
    # specks are judged against the whole row of writing, then the row is cut into its columns
    return order_lines(drop_small_in_line(order_lines(regions, columns=False), digit_height))


def _line_remnant_share(labels: np.ndarray, removed: np.ndarray, ids: np.ndarray, stats: np.ndarray) -> np.ndarray:
    """Share of each component lying right next to erased line pixels: leftovers of a tilted or
    ragged line (a page edge on a desk) are almost all such pixels, a digit crossed by a line few."""
    share = np.zeros(len(ids))
    if ids.size == 0 or not cv2.countNonZero(removed):
        return share
    near = cv2.dilate(removed, np.ones((5, 5), np.uint8)) > 0
    for i, (label, (x, y, w, h, area)) in enumerate(zip(ids, stats)):
        own = labels[y:y + h, x:x + w] == label
        share[i] = np.count_nonzero(own & near[y:y + h, x:x + w]) / max(area, 1)
    return share


def _line_remnant(box: Box, near_share: float, digit_height: float) -> bool:
    """A leftover of an erased line: lying mostly along it and small or sliver-shaped. A small
    digit written on squared paper may have most of its pixels near erased grid lines, but is
    neither."""
    longer, shorter = max(box.w, box.h), max(1, min(box.w, box.h))
    sliver = longer > 6 * shorter or longer < 0.5 * digit_height
    return near_share >= 0.5 and sliver


def _plausible_part(box: Box, area: int, digit_height: float, h: int, w: int) -> bool:
    """Filter for single components before merging: not the page, not a frame."""
    if box.h > 0.95 * h and box.w > 0.95 * w:
        return False
    fill = area / float(box.w * box.h)
    if fill < 0.04 and max(box.w, box.h) > 3 * max(digit_height, 1):  # a big hollow frame
        return False
    return True


def _plausible_digit(box: Box, digit_height: float, h: int, w: int) -> bool:
    """Filter for merged regions: digit-sized, not a speck, not a huge blob."""
    min_side = max(6, int(MIN_DIGIT_SIDE * min(h, w)))
    if box.h < min_side and box.w < min_side:
        return False
    if digit_height > 0 and box.h < 0.3 * digit_height and box.w < 0.3 * digit_height:
        return False  # dots, commas, specks next to real digits
    if box.h > 0.98 * h or box.w > 0.98 * w:
        return False
    if box.w > 8 * box.h:
        return False  # a dash or a line, even a string of touching digits is not this flat
    at_side, at_top_or_bottom = box.x == 0 or box.x2 >= w, box.y == 0 or box.y2 >= h
    if (at_side and box.w * 4 <= box.h) or (at_top_or_bottom and box.h * 4 <= box.w):
        return False  # a sliver along the frame's edge: the page's border, not a "1"
    if digit_height > 0 and box.h > 2.5 * digit_height and box.h > 6 * box.w:
        return False  # a band far taller than the writing: a page edge or a margin line
    return True


def merge_fragments(regions: list[Region], digit_height: float) -> list[Region]:
    """Join pieces of one digit: a 5's detached bar, a broken stroke, a 4 drawn in two strokes.

    Two regions merge when one sits above the other with strongly overlapping columns and the
    union is still digit-sized, or when a small piece lies within a stroke's width of a region.
    """
    if digit_height <= 0 or len(regions) < 2:
        return regions
    regions = sorted(regions, key=lambda r: r.box.x)
    merged = True
    while merged:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i].box, regions[j].box
                if b.x > a.x2 + 0.3 * digit_height:
                    break  # sorted by x: nothing further right can touch a
                if _same_digit(a, b, digit_height):
                    regions[i] = Region(a.union(b), regions[i].labels + regions[j].labels)
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return regions


def _same_digit(a: Box, b: Box, digit_height: float) -> bool:
    union = a.union(b)
    if union.h > 1.35 * digit_height or union.w > 1.1 * digit_height:
        return False
    overlap = min(a.x2, b.x2) - max(a.x, b.x)
    narrower = min(a.w, b.w)
    gap_y = max(a.y, b.y) - min(a.y2, b.y2)
    stacked = overlap >= 0.5 * narrower and gap_y < 0.35 * digit_height
    small = min(a.h, b.h) < 0.5 * digit_height and max(a.h, b.h) >= 0.5 * digit_height
    gap_x = -overlap
    near = gap_x < 0.12 * digit_height and gap_y < 0.12 * digit_height
    inside = overlap >= 0.8 * narrower and (a.union(b) == a or a.union(b) == b)
    return stacked or (small and near) or inside


def drop_small_in_line(regions: list[Region], digit_height: float = 0.0, share: float = 0.35) -> list[Region]:
    """Drop pieces much shorter than the digits of their own line: dots, dashes, commas and
    broken-off bits of strokes. Judged per line, so a line of small digits keeps its digits; a
    "line" of nothing but a speck far smaller than the writing elsewhere goes too."""
    kept = []
    for number in sorted({r.line for r in regions}):
        line = [r for r in regions if r.line == number]
        if max(r.box.h for r in line) < 0.4 * digit_height:
            continue
        if len(line) < 2:
            kept.extend(r for r in line if not _stray_sliver(r, line, digit_height))
            continue
        tallest = sorted((r.box.h for r in line), reverse=True)
        typical = _median(tallest[:max(2, len(line) // 2 + 1)])  # the taller half: the digits
        line = [r for r in line if r.box.h >= share * typical]
        kept.extend(r for r in line if not _stray_sliver(r, line, digit_height or typical))
    return kept


def _stray_sliver(region: Region, line: list[Region], digit_height: float) -> bool:
    """A short thin stroke that is a hairline or stands apart from the digits of its line (or
    alone in a line of its own): a scrap of a page's edge or a shadow, not a "1". A real 1 is as
    tall as its neighbours, or written close to them with a pen's width."""
    box = region.box
    if box.w >= 0.3 * box.h or box.h >= 0.75 * digit_height:
        return False
    if box.w <= 0.12 * digit_height:
        return True  # a hairline beside the writing (a scrap of shadow or edge), thinner than any pen
    others = [r.box for r in line if r is not region]
    if not others:
        return box.h < 0.6 * digit_height
    gap = min(max(o.x - box.x2, box.x - o.x2) for o in others)
    return gap > 1.5 * digit_height


def order_lines(regions: list[Region], columns: bool = True) -> list[Region]:
    """Group regions into text lines (top to bottom) and order each left to right; with ``columns``,
    a row of writing with a wide empty gap is two lines (``split_columns``)."""
    if not regions:
        return regions
    lines: list[dict] = []  # running top/bottom medians of each line, kept cheap
    for region in sorted(regions, key=lambda r: r.box.y + r.box.h / 2):
        centre = region.box.y + region.box.h / 2
        for line in lines:
            top, bottom = line["top"], line["bottom"]
            if abs(centre - (top + bottom) / 2) < 0.5 * max(bottom - top, region.box.h * 0.8):
                line["members"].append(region)
                line["tops"].append(region.box.y)
                line["bottoms"].append(region.box.y2)
                line["top"], line["bottom"] = _median(line["tops"]), _median(line["bottoms"])
                break
        else:
            lines.append({"members": [region], "tops": [region.box.y], "bottoms": [region.box.y2],
                          "top": region.box.y, "bottom": region.box.y2})
    lines.sort(key=lambda line: (line["top"] + line["bottom"]) / 2)
    ordered = []
    number = 0
    for line in lines:
        row = sorted(line["members"], key=lambda r: r.box.x)
        for column in (split_columns(row) if columns else [row]):
            for region in column:
                region.line = number
                ordered.append(region)
            number += 1
    return ordered


COLUMN_GAP = 2.5  # digit heights: a wider gap between two digits of a row separates two columns
COLUMN_SPACING = 3.0  # ... when it is also this many times the row's usual gap (widely spaced digits stay one line)


def split_columns(row: list[Region]) -> list[list[Region]]:
    """A row of regions (left to right) cut into lines at gaps much wider than both a digit and the
    row's own spacing: two columns of writing side by side are two lines (read in turn, left column
    first), so that no line spans the empty middle of the page."""
    if len(row) < 2:
        return [row]
    height = _median([r.box.h for r in row])
    # each gap from the furthest right any region before it reaches (a running maximum, one pass)
    reach = list(accumulate((r.box.x2 for r in row[:-1]), max))
    gaps = [b.box.x - right for b, right in zip(row[1:], reach)]
    usual = max(0.0, _median(gaps))
    columns = [[row[0]]]
    for region, gap in zip(row[1:], gaps):
        if gap > COLUMN_GAP * height and gap > COLUMN_SPACING * usual:
            columns.append([])
        columns[-1].append(region)
    return columns


def _median(values: list) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
