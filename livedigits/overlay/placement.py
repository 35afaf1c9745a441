"""Where the overlay's texts go: a pure function of the digit boxes and the frame size.

Every text is a filled rectangle, and a place is free when that rectangle lies inside the picture and
covers no digit box (its outline included), no other label, line banner or FPS counter. Labels are
placed line by line in reading order, each at the first free place around its box: above, below (a
line whose labels fit better below tries below first), inside its top edge (only where the box is tall
enough to keep most of the digit in view), beside, off a corner. The place is found for the digit
alone; with ``labels="full"`` each label then grows to "digit percent" only where that still covers
nothing. A label with no free place is hidden: its box keeps the confidence colour and its digit is
underlined in that colour in the line's banner. Each line's number string (banner) goes beside its
line, in the margin at its level, or just under or over it; failing that in smaller type; failing
that at the nearest free place in the picture, with a thin leader to its line.

Free places are checked with exact rectangle tests against the few rectangles in a coarse bucket
grid; the nearest free place for a banner that has to move comes from a summed-area table over a
coarse occupancy map. Text sizes are cached per (text, font).
"""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import NamedTuple, Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
LABEL_MODES = ("full", "digit", "none")
MIN_SCALE = 0.4       # Hershey simplex at 0.4: digits 10 px tall with a 1 px stroke, the smallest that reads well
INSIDE_MAX = 0.34     # a label goes inside its box's top edge only when it is at most this share of the box's height
_CELLS = 4            # the bucket grid's cells are this many label heights wide (fastest on dense pages)

Rect = tuple  # (x0, y0, x1, y1): pixels, x0 <= x < x1 and y0 <= y < y1


class Font(NamedTuple):
    scale: float
    thickness: int
    pad: int          # pixels between the text's ink and its rectangle's edge


class Style(NamedTuple):
    """Sizes for one frame: they follow the digits' height, within bounds set by the frame's size."""
    box_thickness: int
    gap: int          # pixels between a box's outline and a label beside it
    label: Font
    banner: Font


class TextBox(NamedTuple):
    text: str
    rect: Rect
    origin: tuple     # cv2.putText's origin (left end of the baseline)
    font: Font


class Label(NamedTuple):
    index: int                # the digit's position in the list given to layout()
    place: str                # one of PLACES; "hidden" when none was free, "none" with labels="none"
    box: TextBox | None       # None when hidden or when labels="none"


class Banner(NamedTuple):
    line: int
    box: TextBox
    leader: tuple | None      # ((x, y), (x, y)): from the banner to its line, when the banner had to move away
    marks: tuple              # ((rect, digit index), ...): underlines under the digits whose label is hidden


class Layout(NamedTuple):
    width: int
    height: int
    style: Style
    boxes: tuple              # each digit's box as drawn, outline included
    labels: tuple             # one Label per digit, in the order given
    banners: tuple            # one Banner per line that found a free place
    fps: TextBox | None

    def texts(self) -> list[TextBox]:
        """Every text rectangle drawn: labels, banners and the FPS counter."""
        found = [label.box for label in self.labels if label.box is not None]
        found += [banner.box for banner in self.banners]
        return found + ([self.fps] if self.fps is not None else [])


# -- sizes ------------------------------------------------------------------------------------------

def _font(scale: float) -> Font:
    return Font(scale, max(1, int(round(1.5 * scale))), max(1, int(round(3 * scale))))


def style_for(width: int, height: int, digit_height: float) -> Style:
    """Font scale, thicknesses and padding for a frame whose digits are ``digit_height`` pixels tall:
    labels' ink about a third of the digit height, never under MIN_SCALE nor under 1/2000 of the frame's
    shorter side (so a 4K frame shown scaled down stays readable), nor over 1/400 of it (one huge digit).
    Line banners are a quarter larger; box outlines a pixel per 360 of the shorter side (2 at 720p, 6 at
    4K), at most a tenth of the digit height."""
    short = max(1, min(width, height))
    low = max(MIN_SCALE, short / 2000)
    high = max(low, short / 400)
    # quantised to 0.05 so that a video's frames share one size (and the text-size cache)
    scale = round(float(np.clip(digit_height / 60, low, high)) * 20) / 20
    banner = round(min(scale * 1.25, max(high, scale)) * 20) / 20
    box = max(1, min(int(round(short / 360)), int(round(digit_height / 10))))
    return Style(box, max(1, (box + 1) // 2), _font(scale), _font(banner))


@lru_cache(maxsize=64)
def _ink_rows(scale: float, thickness: int) -> tuple[int, int]:
    """Top and bottom ink rows of digits, '%' and 'FPS' relative to the baseline (top < 0 <= bottom)."""
    probe = "0123456789% FPS"
    (w, h), base = cv2.getTextSize(probe, FONT, scale, thickness)
    pad = 4 + 2 * thickness
    canvas = np.zeros((h + base + 2 * pad, w + 2 * pad), np.uint8)
    cv2.putText(canvas, probe, (pad, pad + h), FONT, scale, 255, thickness, cv2.LINE_AA)
    rows = np.flatnonzero(canvas.any(axis=1))
    return int(rows[0]) - (pad + h), int(rows[-1]) - (pad + h)


@lru_cache(maxsize=8192)
def text_size(text: str, font: Font) -> tuple[int, int]:
    """Width and height of ``text``'s rectangle, padding included."""
    width = cv2.getTextSize(text, FONT, font.scale, font.thickness)[0][0]
    top, bottom = _ink_rows(font.scale, font.thickness)
    return width + 2 * font.pad, bottom - top + 1 + 2 * font.pad


def digit_boxes(digits: Sequence, style: Style) -> tuple:
    """Each digit's box as drawn, its outline included."""
    half = (style.box_thickness + 1) // 2
    return tuple((int(d.x) - half, int(d.y) - half, int(d.x + d.w) + half + 1, int(d.y + d.h) + half + 1)
                 for d in digits)


def text_box(text: str, font: Font, x: int, y: int) -> TextBox:
    w, h = text_size(text, font)
    top = _ink_rows(font.scale, font.thickness)[0]
    return TextBox(text, (x, y, x + w, y + h), (x + font.pad, y + font.pad - top), font)


def full_text(digit, confidence: float) -> str:
    return f"{digit} {100 * confidence:.0f}%"


# -- free places ------------------------------------------------------------------------------------

class _Occupied:
    """Rectangles bucketed in square cells: a test looks only at the rectangles sharing its cells."""

    def __init__(self, width: int, height: int, cell: int):
        self.width, self.height, self.cell = width, height, max(8, int(cell))
        # one spare column: a rectangle reaching left of the frame files into the row above's spare
        # column too, which only costs a test there
        self.columns = width // self.cell + 2
        self.cells: defaultdict = defaultdict(list)
        self.items: list = []
        self._taken: np.ndarray | None = None  # nearest_free's map of cells, made on its first call
        self._map_cell = 1

    def add(self, rect: Rect, owner: int) -> None:
        x0, y0, x1, y1 = rect
        item = (x0, y0, x1, y1, owner)
        self.items.append(item)
        c, cols, cells = self.cell, self.columns, self.cells
        first = x0 // c
        span = (x1 - 1) // c - first + 1
        for cy in range(y0 // c, (y1 - 1) // c + 1):
            for key in range(cy * cols + first, cy * cols + first + span):
                cells[key].append(item)
        if self._taken is not None:
            m = self._map_cell
            self._taken[max(0, y0 // m):(y1 - 1) // m + 1, max(0, x0 // m):(x1 - 1) // m + 1] = 1

    def free(self, rect: Rect, skip: tuple = ()) -> bool:
        """Inside the frame and clear of every rectangle (except those whose owner is in ``skip``)."""
        x0, y0, x1, y1 = rect
        if x0 < 0 or y0 < 0 or x1 > self.width or y1 > self.height:
            return False
        c, cols, cells = self.cell, self.columns, self.cells
        first = x0 // c
        span = (x1 - 1) // c - first + 1
        for cy in range(y0 // c, (y1 - 1) // c + 1):
            for key in range(cy * cols + first, cy * cols + first + span):
                bucket = cells.get(key)
                if bucket:
                    for ox0, oy0, ox1, oy1, owner in bucket:
                        if ox0 < x1 and x0 < ox1 and oy0 < y1 and y0 < oy1 and owner not in skip:
                            return False
        return True

    def take(self, rect: Rect, owner: int, skip: tuple = ()) -> bool:
        """Adds ``rect`` if it is free; whether it was."""
        if self.free(rect, skip):
            self.add(rect, owner)
            return True
        return False

    def nearest_free(self, w: int, h: int, near: Rect) -> Rect | None:
        """The free w x h rectangle closest to ``near`` (horizontal distance counts half as much as
        vertical, so a place on the line's own level wins); None when the picture has none.

        Searched on a map of cells a few pixels wide in which a cell is taken if anything touches it
        (so what it finds is free), with a summed-area table for the sums over every window at once.
        The map is made on the first call; what is added after that is marked on it."""
        if self._taken is None:
            self._map_cell = c = max(4, min(self.width, self.height) // 90)
            self._taken = np.zeros((self.height // c, self.width // c), np.uint8)
            r = np.array(self.items, np.int32).reshape(-1, 5)
            x0, y0, x1, y1 = r[:, 0] // c, r[:, 1] // c, (r[:, 2] - 1) // c, (r[:, 3] - 1) // c
            cv2.fillPoly(self._taken, np.stack([x0, y0, x1, y0, x1, y1, x0, y1], 1).reshape(-1, 4, 2), 1)
        c, taken = self._map_cell, self._taken
        kw, kh = -(-w // c), -(-h // c)
        if kw > taken.shape[1] or kh > taken.shape[0]:
            return None
        sat = cv2.integral(taken)
        count = sat[kh:, kw:] - sat[:-kh, kw:] - sat[kh:, :-kw] + sat[:-kh, :-kw]
        ys, xs = np.nonzero(count == 0)
        if ys.size == 0:
            return None
        px, py = xs * c, ys * c
        dx = np.maximum(0, np.maximum(near[0] - (px + w), px - near[2]))
        dy = np.maximum(0, np.maximum(near[1] - (py + h), py - near[3]))
        best = int(np.argmin(dx * dx + 4 * dy * dy))
        x, y = int(px[best]), int(py[best])
        return x, y, x + w, y + h


# The places tried around a digit's box, numbered for _label_rect; the order of preference puts a
# line's side (above, or below when more of the line's labels fit there) first.
PLACES = ("above", "above", "above", "below", "below", "below", "inside", "right", "right", "left", "left",
          "above right", "above left", "below right", "below left")
INSIDE = PLACES.index("inside")
ABOVE_FIRST = tuple(range(len(PLACES)))
BELOW_FIRST = (3, 4, 5, 0, 1, 2) + ABOVE_FIRST[6:]


def _label_rect(k: int, box: Rect, w: int, h: int, style: Style, width: int, height: int) -> Rect | None:
    """A w x h label at place k of PLACES around ``box``: left-aligned, centred or right-aligned above
    and below; inside the top edge (only when the box is tall and wide enough); beside, top-aligned or
    centred; off a corner. Clamped into the frame; None where it cannot go."""
    x0, y0, x1, y1 = box
    g = style.gap
    if k == INSIDE:
        edge = style.box_thickness + g
        if h <= INSIDE_MAX * (y1 - y0) and w <= x1 - x0 - 2 * edge:
            return x0 + edge, y0 + edge, x0 + edge + w, y0 + edge + h
        return None
    if w > width or h > height:
        return None
    if k < INSIDE:
        y = y0 - g - h if k < 3 else y1 + g
        x = x0 if k % 3 == 0 else (x1 - w if k % 3 == 2 else (x0 + x1 - w) // 2)
    elif k < 11:
        x = x1 + g if k < 9 else x0 - g - w
        y = y0 if k == 7 or k == 9 else (y0 + y1 - h) // 2
    else:  # off a corner, over the gap to the neighbour
        x = x1 + g if k % 2 else x0 - g - w
        y = y0 - g - h if k < 13 else y1 + g
    x = 0 if x < 0 else (width - w if x > width - w else x)
    y = 0 if y < 0 else (height - h if y > height - h else y)
    return x, y, x + w, y + h


def _grown(place: str, rect: Rect, box: Rect, w: int, width: int, edge: int) -> list:
    """Rectangles ``w`` wide at the same height as a placed label, growing away from its box."""
    x0, y0, x1, y1 = rect
    if place == "inside":
        return [(x0, y0, x0 + w, y1)] if x0 + w <= box[2] - edge else []
    found = []
    if not place.endswith("left") and x0 + w <= width:
        found.append((x0, y0, x0 + w, y1))
    if place in ("above", "below"):
        x = min(max(0, (x0 + x1 - w) // 2), width - w)
        found.append((x, y0, x + w, y1))
    if not place.endswith("right") and x1 - w >= 0:
        found.append((x1 - w, y0, x1, y1))
    return found


def _gap(a: Rect, b: Rect) -> int:
    """Chebyshev distance between two rectangles (0 when they touch or overlap)."""
    return max(0, a[0] - b[2], b[0] - a[2], a[1] - b[3], b[1] - a[3])


def _leader(banner: Rect, line: Rect) -> tuple:
    """The shortest segment from the banner's edge to the line's bounding box."""
    def ends(a0, a1, b0, b1):
        if a1 <= b0:
            return a1 - 1, b0
        if b1 <= a0:
            return a0, b1 - 1
        middle = (max(a0, b0) + min(a1, b1)) // 2
        return middle, middle
    (ax, bx), (ay, by) = ends(banner[0], banner[2], line[0], line[2]), ends(banner[1], banner[3], line[1], line[3])
    return (ax, ay), (bx, by)


# -- the layout -------------------------------------------------------------------------------------

def layout(digits: Sequence, width: int, height: int, *, labels: str = "full", show_lines: bool = True,
           fps: float | None = None) -> Layout:
    """Where every text goes, for digits (objects with x, y, w, h, digit, confidence, line, such as
    Reading.digits) over a ``width`` x ``height`` frame. Nothing is drawn."""
    if labels not in LABEL_MODES:
        raise ValueError(f"labels must be one of {', '.join(LABEL_MODES)}, got {labels!r}")
    width, height = int(width), int(height)
    n = len(digits)
    heights = sorted(d.h for d in digits)
    style = style_for(width, height, heights[n // 2] if n else 0)
    boxes = digit_boxes(digits, style)
    label_h = text_size("0", style.label)[1]
    occupied = _Occupied(width, height, _CELLS * (label_h + style.gap))
    for i, box in enumerate(boxes):
        occupied.add(box, i)

    fps_box = None
    if fps is not None:
        fps_box = _place_fps(f"{fps:.0f} FPS", style, occupied)
        occupied.add(fps_box.rect, -1)

    lines: dict = {}
    for i, d in enumerate(digits):
        lines.setdefault(d.line, []).append(i)
    placed: list = [None] * n
    if labels != "none":
        for line in sorted(lines):
            members = lines[line]
            order = BELOW_FIRST if len(members) > 1 and _below_suits_more(digits, boxes, members, style, occupied) \
                else ABOVE_FIRST
            for i in members:
                placed[i] = _first_free(i, n, boxes[i], str(digits[i].digit), order, style, occupied)

    hidden = {i for i in range(n) if placed[i] is None} if labels != "none" else set()
    banners = _place_banners(digits, boxes, lines, hidden, style, occupied) if show_lines else ()
    texts = [str(d.digit) for d in digits]
    if labels == "full":
        _grow_labels(digits, boxes, placed, texts, style, occupied)
    result = [Label(i, placed[i][0], text_box(texts[i], style.label, placed[i][1][0], placed[i][1][1]))
              if placed[i] else Label(i, "hidden" if labels != "none" else "none", None) for i in range(n)]
    return Layout(width, height, style, boxes, tuple(result), tuple(banners), fps_box)


def _below_suits_more(digits, boxes, members, style: Style, occupied: _Occupied) -> bool:
    """Whether more of a line's labels fit right under their boxes than right above them: a line's
    labels then all try below first, so that they read as one row."""
    score = 0
    for i in members[::max(1, len(members) // 3)]:  # a few of them tell
        w, h = text_size(str(digits[i].digit), style.label)
        for k, vote in ((0, -1), (3, 1)):
            rect = _label_rect(k, boxes[i], w, h, style, occupied.width, occupied.height)
            score += vote * (rect is not None and occupied.free(rect))
    return score > 0


def _first_free(i: int, n: int, box: Rect, text: str, order: tuple, style: Style, occupied: _Occupied):
    """(place, rect) of the first free place in ``order`` for digit i's label (of n digits), now taken;
    None when none is free."""
    w, h = text_size(text, style.label)
    tried = None
    for k in order:
        rect = _label_rect(k, box, w, h, style, occupied.width, occupied.height)
        if rect is not None and rect != tried:  # clamping into the frame can give a place again
            tried = rect
            if occupied.take(rect, n + i, (i,) if k == INSIDE else ()):
                return PLACES[k], rect
    return None


def _grow(i: int, n: int, spot: tuple, box: Rect, text: str, style: Style, occupied: _Occupied):
    """Digit i's placed label (``spot``: place, rect) widened to ``text`` where that covers nothing
    (the wider rectangle is then taken); None where it does not fit."""
    w = text_size(text, style.label)[0]
    for rect in _grown(spot[0], spot[1], box, w, occupied.width, style.box_thickness + style.gap):
        if occupied.take(rect, n + i, (i, n + i)):  # it may cover its own box only where it was inside it
            return rect
    return None


def _grow_labels(digits, boxes, placed: list, texts: list, style: Style, occupied: _Occupied) -> None:
    """Each placed label becomes "digit percent" where that still covers nothing (``placed`` and
    ``texts`` are updated)."""
    n = len(digits)
    for i, spot in enumerate(placed):
        if spot is not None:
            full = full_text(digits[i].digit, digits[i].confidence)
            rect = _grow(i, n, spot, boxes[i], full, style, occupied)
            if rect is not None:
                placed[i], texts[i] = (spot[0], rect), full


def relabel(digits: Sequence, boxes: Sequence, style: Style, width: int, height: int, kept: Sequence,
            again: Sequence) -> list | None:
    """New places for some labels of a layout whose other texts stay (``kept``: their rectangles):
    ``again`` lists (digit index, old place, whether it showed the percentage). Each goes to its first
    free place (its old side first) and grows to "digit percent" where it did and still fits. Returns
    [(index, place, TextBox)] in that order, or None when one finds no free place (its digit would have
    to be marked in its line's banner: only a fresh layout does that)."""
    n = len(digits)
    w, h = text_size("0 100%", style.label)  # the widest label
    occupied = _Occupied(width, height, _CELLS * (h + style.gap))
    # every place tried for a label, grown or not, lies within this margin around its box: only what
    # reaches into that can be in the way
    mx, my = style.gap + 2 * w, style.gap + 2 * h
    near = np.array([(boxes[i][0] - mx, boxes[i][1] - my, boxes[i][2] + mx, boxes[i][3] + my) for i, _, _ in again])
    for rects, owners in ((boxes, range(n)), (kept, [-1] * len(kept))):
        r = np.array(rects, np.int64).reshape(-1, 1, 4)
        reach = ((r[..., 0] < near[:, 2]) & (near[:, 0] < r[..., 2]) & (r[..., 1] < near[:, 3]) &
                 (near[:, 1] < r[..., 3])).any(axis=1)
        for k in np.flatnonzero(reach).tolist():
            occupied.add(rects[k], owners[k])
    found = []
    for i, place, full in again:
        text = str(digits[i].digit)
        spot = _first_free(i, n, boxes[i], text, BELOW_FIRST if place.startswith("below") else ABOVE_FIRST,
                           style, occupied)
        if spot is None:
            return None
        if full:
            wide = full_text(digits[i].digit, digits[i].confidence)
            rect = _grow(i, n, spot, boxes[i], wide, style, occupied)
            if rect is not None:
                spot, text = (spot[0], rect), wide
        found.append((i, spot[0], text_box(text, style.label, spot[1][0], spot[1][1])))
    return found


def _place_fps(text: str, style: Style, occupied: _Occupied) -> TextBox:
    """Top left, else the first corner clear of digits."""
    w, h = text_size(text, style.banner)
    g = 2 * style.gap
    W, H = occupied.width, occupied.height
    for x, y in ((g, g), (W - w - g, g), (g, H - h - g), (W - w - g, H - h - g)):
        if occupied.free((x, y, x + w, y + h)):
            return text_box(text, style.banner, x, y)
    return text_box(text, style.banner, g, g)


def _banner_places(line_box: Rect, w: int, h: int, g: int, width: int, page: tuple) -> list:
    """Top-left corners of a w x h banner near its line, in order: beside the line (centred, top- or
    bottom-aligned; right, then left), in the picture's margin at its level, right under or over it,
    then left or right of everything on the page (``page``: its left and right ends)."""
    x0, y0, x1, y1 = line_box
    ys = ((y0 + y1 - h) // 2, y0, y1 - h)
    near = [(x, y) for x in (x1 + g, x0 - g - w) for y in ys]
    near += [(width - w - g, ys[0]), (g, ys[0])]
    near += [(x0, y1 + g), (x1 - w, y1 + g), (x0, y0 - g - h), (x1 - w, y0 - g - h)]
    return near + [(page[0] - g - w, ys[0]), (page[1] + g, ys[0])]


def _place_banners(digits, boxes, members: dict, hidden: set, style: Style, occupied: _Occupied) -> list[Banner]:
    """Each line's number string near its line: first every line at the banner size, then the lines
    left over in smaller type (down to MIN_SCALE) so that they still fit beside their line or in a
    margin, and only then at the nearest free place in the picture, with a leader."""
    g = 2 * style.gap + style.banner.pad
    page = (min((r[0] for r in occupied.items), default=0), max((r[2] for r in occupied.items), default=0))
    lines = []
    for line in sorted(members):
        idx = members[line]
        line_box = (min(boxes[i][0] for i in idx), min(boxes[i][1] for i in idx),
                    max(boxes[i][2] for i in idx), max(boxes[i][3] for i in idx))
        lines.append((line, "".join(str(digits[i].digit) for i in idx), line_box))
    smaller = _font(max(MIN_SCALE, round(0.6 * style.label.scale * 20) / 20))
    fonts = list(dict.fromkeys((style.banner, style.label, smaller)))  # each size once, largest first
    found = {}
    for font in fonts:
        for line, text, line_box in lines:
            if line not in found:
                w, h = text_size(text, font)
                for x, y in _banner_places(line_box, w, h, g, occupied.width, page):
                    if occupied.take((x, y, x + w, y + h), -2 - line):
                        found[line] = (font, (x, y, x + w, y + h))
                        break
    for line, text, line_box in lines:
        for font in (fonts[0], fonts[-1]) if line not in found else ():
            rect = occupied.nearest_free(*text_size(text, font), line_box)
            if rect is not None:
                occupied.add(rect, -2 - line)
                found[line] = (font, rect)
                break
    banners = []
    for line, text, line_box in lines:
        if line not in found:
            continue  # nowhere free: better no banner than one over the digits
        font, rect = found[line]
        leader = _leader(rect, line_box) if _gap(rect, line_box) > g + style.gap else None
        marks = []
        for j, i in enumerate(members[line]):
            if i in hidden:
                a = text_size(text[:j], font)[0] - 2 * font.pad if j else 0
                b = text_size(text[:j + 1], font)[0] - 2 * font.pad
                bar = max(1, font.pad - 1)
                marks.append(((rect[0] + font.pad + a, rect[3] - bar, rect[0] + font.pad + b, rect[3]), i))
        banners.append(Banner(line, text_box(text, font, rect[0], rect[1]), leader, tuple(marks)))
    return banners


def collisions(plan: Layout) -> list[str]:
    """What breaks the layout's promises, one line each (empty when none): a text outside the picture,
    two texts overlapping, or a text over a digit box (a label inside its own box's top edge excepted)."""
    texts = [(f"label of digit {label.index}", label.box.rect, label.index if label.place == "inside" else None)
             for label in plan.labels if label.box is not None]
    texts += [(f"banner of line {banner.line}", banner.box.rect, None) for banner in plan.banners]
    texts += [("FPS", plan.fps.rect, None)] if plan.fps is not None else []
    found = []

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for k, (name, rect, own) in enumerate(texts):
        if rect[0] < 0 or rect[1] < 0 or rect[2] > plan.width or rect[3] > plan.height:
            found.append(f"{name} {rect} is not inside the {plan.width}x{plan.height} picture")
        found += [f"{name} {rect} overlaps {other} {r}" for other, r, _ in texts[k + 1:] if overlap(rect, r)]
        found += [f"{name} {rect} covers digit {i}'s box {box}" for i, box in enumerate(plan.boxes)
                  if i != own and overlap(rect, box)]
    return found
