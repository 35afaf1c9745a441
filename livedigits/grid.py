"""Grids and boxed forms: find a grid's outline and its rows and columns, warp it flat, read each cell.

Sudokus, score sheets, timetables and forms with one box per digit are read cell by cell, the way
dedicated sudoku scanners do it: the grid is one connected web of lines, so its outline comes from
the largest line-like component of the picture; a perspective warp makes every line straight and
axis-aligned, where rows and columns are the peaks of the line masks' projections (any number of
them: a form with one row of boxes is a 1 x n grid). In the warped grid the lines are erased where
they are known to run, each remaining ink component is given to the cell that holds it (a stroke
cut by the erased line is joined again with its digit across it), and every cell is read: nothing,
one digit, a number, or several small candidate digits (sudoku pencil marks).

Everything here is a pure function of numpy arrays; the classifier is passed in as ``predict``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .classify import NOT_A_DIGIT, NUM_DIGITS
from .normalize import to_mnist
from .segment import MIN_INK_CONTRAST, _has_long_lines, darker_than_paper, ink_levels, is_dark_background, to_gray

SEARCH_SIDE = 1000       # px: grids are looked for on a copy this long (shorter pictures as they are)
FILLS_FRAME = 0.97       # a line web at least this share of the view's width and height is squared paper
SEARCH_AS_IS = 1.3       # ... unless the picture is at most this much longer (video frames up to 1300 px)
MIN_GRID_SHARE = 0.12    # a grid's longer side spans at least this share of the picture's longer side
MIN_CELL_PX = 12         # px at the search scale: smaller cells are squared paper, not a form
MAX_CELL_ASPECT = 8      # a typical cell is at most this many times wider than high (or higher than wide)
OUTSIDE_SHARE = 0.06    # how far around a grid's outline its lines are looked for (they must end there)
LINE_CONTRAST = 0.07    # a line or stroke is at least this much darker than the paper beside it
SHADOW_SEARCH_SIDE = 1400  # px: from this size on (photos), a second line mask is tried against shadows
MAX_HOLES = 1500         # a grid's cells and its digits' loops are fewer
MIN_CELLS = 3            # a frame with one or two boxes is a box, not a grid
SHORT_LINE_COVERAGE = 0.85  # the short lines across a strip of boxes: as long as a digit, so drawn all along
MISSING_LINE_COVERAGE = 0.08  # where a regular grid lacks a line, a faint one is enough
REGULAR_BORDER_COVERAGE = 0.4  # ... or this share, for a grid of many regular rows and columns
BORDER_COVERAGE = 0.6   # a grid's outer lines are drawn along at least this share of its sides
LINE_COVERAGE = 0.55     # a grid line covers at least this share of the grid's width (or height)
LINE_BAND = 0.12        # a grid line is looked for this far (share of a cell) either side of where it was found
REMNANT_SHARE = 0.85    # ink with this share of its pixels along the lines is what is left of a line
EDGE_SHARE = 0.2        # a piece centred this close (share of a cell) to its cell's side may be a neighbour's
PENCIL_SHARE = 0.6      # of the grid's Otsu ink level: pencil entries are at least this dark
WRITING_GATE = 0.75     # a cell whose darkest ink reaches this share of the grid's level holds writing
OWN_INK_SHARE = 0.4     # a cell with writing is binarised at this share of its own darkest ink
LOWEST_CELL_SHARE = 0.5 # but never below this share of the grid's level (pencil ghosts stay out)
FAINT_SHARE = 0.6       # strokes grow into ink this share of their cell's level
CELL_PX = 64             # cells are read at about this size (as the classifier's sudoku cells were)
_MAX_CANDIDATE_COMPONENTS = 6


@dataclass(frozen=True)
class Cell:
    row: int
    col: int
    kind: str                 # "empty", "digit", "number" (several full-size digits) or "candidates"
    digits: tuple = ()        # the digits read, left to right
    confidence: float = 1.0   # the least confident digit's (1.0 for an empty cell)

    @property
    def text(self) -> str:
        """The cell as a table entry: "" empty, "7", "12", or candidates as "1 4 7"."""
        joined = " " if self.kind == "candidates" else ""
        return joined.join(str(d) for d in self.digits)


@dataclass(frozen=True)
class Grid:
    """A grid in a picture: its outer corners (picture pixels, top-left, top-right, bottom-right,
    bottom-left) and its lines as shares (0-1) of its width (``columns``) and height (``rows``)."""
    corners: tuple            # ((x, y), ...) four corners
    row_lines: tuple          # len rows + 1, 0.0 first and 1.0 last
    col_lines: tuple          # len cols + 1
    cells: tuple = ()         # Cell per row and column, row-major, once read

    @property
    def rows(self) -> int:
        return len(self.row_lines) - 1

    @property
    def cols(self) -> int:
        return len(self.col_lines) - 1

    def cell(self, row: int, col: int) -> Cell | None:
        for c in self.cells:
            if c.row == row and c.col == col:
                return c
        return None

    @property
    def table(self) -> list[list[str]]:
        """Rows of cell texts ("" for an empty cell)."""
        table = [["" for _ in range(self.cols)] for _ in range(self.rows)]
        for c in self.cells:
            table[c.row][c.col] = c.text
        return table

    def as_dict(self) -> dict:
        return {"rows": self.rows, "columns": self.cols,
                "corners": [[round(float(x), 1), round(float(y), 1)] for x, y in self.corners],
                "cells": [{"row": c.row, "col": c.col, "kind": c.kind, "text": c.text,
                           "confidence": round(c.confidence, 4)} for c in self.cells if c.kind != "empty"],
                "table": self.table}


@dataclass
class CellDigit:
    """One digit read in a grid: its box in picture pixels and the classifier's outputs."""
    box: tuple                # x, y, w, h in picture pixels
    probabilities: np.ndarray
    row: int
    col: int
    grid: int = 0


# -- finding grids ------------------------------------------------------------------------------

def find_grids(image: np.ndarray, max_grids: int = 4) -> list[Grid]:
    """Every grid in a picture (largest first), each with its rows and columns; [] when none."""
    gray = to_gray(image)
    # A picture not much larger than the search size is searched as it is: shrinking a 1280x720
    # frame to 1000 px (INTER_AREA, an uneven factor) costs more than the search on the whole frame.
    scale = 1.0 if max(gray.shape) <= SEARCH_AS_IS * SEARCH_SIDE else SEARCH_SIDE / max(gray.shape)
    small = gray if scale == 1.0 else cv2.resize(gray, (max(1, round(gray.shape[1] * scale)),
                                                        max(1, round(gray.shape[0] * scale))),
                                                 interpolation=cv2.INTER_AREA)
    if min(small.shape) < 3 * MIN_CELL_PX:
        return []
    # Lines as pixels darker than their neighbourhood's mean catch faint thin lines; darker than
    # the paper beside them (a closing) keeps a shadow's edge out of the grid's web. The second
    # is tried when the first finds no grid. A mostly dark picture may be a page on a desk (dark
    # lines) or light lines on dark paper: light lines are looked for first, then dark ones.
    dark = is_dark_background(small)
    found = _grid_candidates(_local_mean_mask(255 - small if dark else small), small.shape, max_grids)
    if not found and max(gray.shape) >= SHADOW_SEARCH_SIDE:  # phone photos, not video frames
        found = _grid_candidates(_line_mask(small), small.shape, max_grids)
    if not found and dark:
        found = _grid_candidates(_local_mean_mask(small), small.shape, max_grids)
    grids: list[Grid] = []
    kept: list[np.ndarray] = []
    for _, quad, row_lines, col_lines in sorted(found, key=lambda item: -item[0]):
        if any(_overlaps(quad, other) for other in kept):
            continue
        kept.append(quad)
        grids.append(Grid(tuple(map(tuple, (quad / scale).tolist())), row_lines, col_lines))
        if len(grids) >= max_grids:
            break
    grids.sort(key=lambda g: -cv2.contourArea(np.float32(g.corners)))
    return grids


def _grid_candidates(mask: np.ndarray, shape: tuple[int, int], max_grids: int) -> list:
    """(quality, outline, row lines, column lines) of every grid-like component of a line mask."""
    longest = max(shape)
    if not _has_long_lines(mask, int(0.8 * MIN_GRID_SHARE * longest)):
        return []  # no line as long as the smallest grid's side: most pages and frames end here
    # the big components by their contours (labelling every speck with statistics costs several
    # times more), and only those with cell-sized holes: a page's edge or a ruled line has none
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    parents = hierarchy[0][:, 3]
    boxes = [cv2.boundingRect(c) if parent < 0 else None for c, parent in zip(contours, parents)]
    big = {k for k, box in enumerate(boxes)
           if box is not None and max(box[2], box[3]) >= MIN_GRID_SHARE * longest and min(box[2], box[3]) >= MIN_CELL_PX}
    holes: dict = {}
    for c, parent in zip(contours, parents):
        if parent in big:
            _, _, w, h = cv2.boundingRect(c)
            if min(w, h) >= MIN_CELL_PX // 2:
                holes[parent] = holes.get(parent, 0) + 1
    candidates = [k for k in big if holes.get(k, 0) >= MIN_CELLS]
    candidates.sort(key=lambda k: -boxes[k][2] * boxes[k][3])
    found = []
    for k in candidates[:3 * max_grids]:
        x, y, w, h = boxes[k]
        if w >= FILLS_FRAME * shape[1] and h >= FILLS_FRAME * shape[0]:
            continue  # a web of lines across the whole view is squared paper: its outline would lie along the frame
        # the component itself, without the writing inside its cells that does not touch it
        _, labels = cv2.connectedComponents(mask[y:y + h, x:x + w], connectivity=8)
        px, py = contours[k][0][0]
        component = np.where(labels == labels[py - y, px - x], 255, 0).astype(np.uint8)
        if cv2.countNonZero(component) >= 0.5 * w * h:
            continue  # a dark blob (a photo, a black desk), not a web of lines
        # rows and columns from the component's own lines: a grid is one connected web, while a
        # page edge joined to a shadow or to other print holds only pieces of lines. The outline
        # is the component's; where writing, a shadow's edge or the page's edge joins the grid
        # it is no quadrilateral, and the cells (the component's holes of the common size) outline it.
        for outline in (_outline_quad, _cells_quad):
            quad = outline(component)
            if quad is None:
                continue
            along = _sides_along_frame(quad + np.float32([x, y]), shape)
            if along >= 2:
                continue
            # beside the frame a side cannot show lines running on: the others must show none
            lines = _grid_lines(component, quad, open_sides_allowed=0 if along else 1)
            if lines is not None:
                found.append((lines[2], quad + np.float32([x, y]), lines[0], lines[1]))
                break
    return found


def _local_mean_mask(gray: np.ndarray) -> np.ndarray:
    """Dark thin structure of a grey picture: pixels darker than their neighbourhood's mean."""
    block = max(15, (min(gray.shape) // 30) | 1)
    mask = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 8)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # a blurred line's gaps


def _line_mask(gray: np.ndarray) -> np.ndarray:
    """Dark thin structure (lines and writing) of a grey picture: pixels much darker than the
    paper right around them, the paper being a closing wider than any line. A shadow's edge is
    a step, which the closing keeps: it is no line (a local-mean threshold would take it for one,
    and join it to the grid)."""
    size = max(7, (min(gray.shape) // 120) | 1)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    darker = darker_than_paper(gray, paper)
    mask = cv2.threshold(darker, LINE_CONTRAST * 255, 255, cv2.THRESH_BINARY)[1]
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))  # a blurred line's gaps


def _outline_quad(component: np.ndarray) -> np.ndarray | None:
    """The four corners (TL, TR, BR, BL) of a component's outline, or None if it is no quadrilateral."""
    contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull)
    if hull_area <= 0:
        return None
    # the tolerance follows the outline's narrow side: a strip of boxes is long but thin
    narrow = min(cv2.minAreaRect(hull)[1])
    quad = None
    for share in (0.08, 0.12, 0.18, 0.24, 0.32, 0.4):
        approx = cv2.approxPolyDP(hull, share * narrow, True)
        if len(approx) == 4:
            quad = approx.reshape(4, 2).astype(np.float32)
            break
    if quad is None:
        return None
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2)) or cv2.contourArea(quad) < 0.85 * hull_area:
        return None
    return _ordered(quad)


def _cells_quad(component: np.ndarray) -> np.ndarray | None:
    """The outline of a grid's cells: the holes of the component that share the most common size
    (a digit's loop or a gap between writing and a line is far smaller), their convex hull reduced
    to four corners and moved out over the border line."""
    contours, hierarchy = cv2.findContours(component, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return None
    holes = [c for c, link in zip(contours, hierarchy[0]) if link[3] >= 0]
    if not 2 * MIN_CELLS <= len(holes) <= MAX_HOLES:
        return None  # too few cells, or the thousands of squares of squared paper
    areas = np.array([cv2.contourArea(c) for c in holes])
    big = np.flatnonzero(areas >= MIN_CELL_PX ** 2)
    if big.size < 2 * MIN_CELLS:
        return None
    support = [(np.abs(np.log(areas[big] / areas[k])) < 0.5).sum() for k in big]
    typical = areas[big[int(np.argmax(support))]]
    cells = [holes[k] for k in big if abs(np.log(areas[k] / typical)) < 0.5]
    if len(cells) < 2 * MIN_CELLS:
        return None
    hull = cv2.convexHull(np.concatenate(cells))
    narrow = min(cv2.minAreaRect(hull)[1])
    for share in (0.08, 0.12, 0.18, 0.24, 0.32):
        approx = cv2.approxPolyDP(hull, share * narrow, True)
        if len(approx) == 4:
            quad = _ordered(approx.reshape(4, 2).astype(np.float32))
            centre = quad.mean(axis=0)
            reach = np.linalg.norm(quad - centre, axis=1, keepdims=True)
            grow = 0.12 * np.sqrt(typical)  # half a cell's border line and then some
            return (centre + (quad - centre) * (1 + grow / np.maximum(reach, 1))).astype(np.float32)
    return None


def _sides_along_frame(quad: np.ndarray, shape: tuple[int, int]) -> int:
    """How many sides of the outline run along edges of the picture? Two or more: the edge of a
    sheet of squared paper filling the view (or a grid cut by the frame), not a grid's border."""
    h, w = shape[:2]
    margin = 0.04 * max(h, w) + 1
    xs, ys = quad[:, 0], quad[:, 1]
    sides = [(xs < margin).sum() >= 2, (ys < margin).sum() >= 2, (xs > w - 1 - margin).sum() >= 2,
             (ys > h - 1 - margin).sum() >= 2]
    return sum(sides)


def _ordered(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left (clockwise from the top-left)."""
    centre = quad.mean(axis=0)
    angles = np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0])
    quad = quad[np.argsort(angles)]  # clockwise on screen (y down), starting anywhere
    start = int(np.argmin(quad.sum(axis=1)))
    return np.roll(quad, -start, axis=0)


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
    return inter > 0.3 * min(cv2.contourArea(a), cv2.contourArea(b))


def _side_lengths(quad: np.ndarray) -> tuple[float, float]:
    top, bottom = np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3])
    left, right = np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1])
    return (top + bottom) / 2, (left + right) / 2


def _grid_lines(mask: np.ndarray, quad: np.ndarray, open_sides_allowed: int = 1) -> tuple[tuple, tuple, float] | None:
    """Rows and columns of the grid outlined by ``quad`` in a line mask: (row lines, column lines)
    as shares of its height and width, and how well its lines are drawn (0-1: the least covered
    line's share); None when it holds no grid of cells."""
    width, height = (max(8, int(round(s))) for s in _side_lengths(quad))
    mx, my = max(2, int(OUTSIDE_SHARE * width)), max(2, int(OUTSIDE_SHARE * height))
    target = np.float32([[mx, my], [mx + width, my], [mx + width, my + height], [mx, my + height]])
    around = cv2.warpPerspective(mask, cv2.getPerspectiveTransform(quad, target), (width + 2 * mx, height + 2 * my),
                                 flags=cv2.INTER_NEAREST)
    flat = around[my:my + height, mx:mx + width]
    rows_found = _line_positions(flat, horizontal=True)
    cols_found = _line_positions(flat, horizontal=False)
    if rows_found is None or cols_found is None:
        return None
    (row_lines, row_cover), (col_lines, col_cover) = rows_found, cols_found
    rows, cols = len(row_lines) - 1, len(col_lines) - 1
    if rows * cols < MIN_CELLS:
        return None
    cell_w = np.diff(col_lines) * width
    cell_h = np.diff(row_lines) * height
    if cell_w.min() < MIN_CELL_PX or cell_h.min() < MIN_CELL_PX:
        return None
    if not 1 / MAX_CELL_ASPECT < np.median(cell_w) / np.median(cell_h) < MAX_CELL_ASPECT:
        return None  # lines of squared or ruled paper, crossed by a few stray ones
    quality = min(row_cover, col_cover)
    # a border half lost (a shadow, a bent page) will do where the inner lines are many and regular
    regular = all(len(v) >= 6 and np.std(np.diff(v)) < 0.1 * np.mean(np.diff(v)) for v in (row_lines, col_lines))
    if quality < (REGULAR_BORDER_COVERAGE if regular else BORDER_COVERAGE):
        return None
    if _lines_run_on(around, row_lines, col_lines, mx, my) > open_sides_allowed:
        return None  # squared paper: its lines go on past what looked like a border
    return tuple(float(v) for v in row_lines), tuple(float(v) for v in col_lines), quality


def _lines_run_on(around: np.ndarray, row_lines, col_lines, mx: int, my: int) -> int:
    """On how many sides do the grid's inner lines go on beyond its outline? A grid's lines end
    at its border; those of squared paper run on over the page."""
    height, width = around.shape[0] - 2 * my, around.shape[1] - 2 * mx
    open_sides = 0
    for lines, size, margin, horizontal in ((col_lines, width, mx, False), (row_lines, height, my, True)):
        inner = [int(round(mx + v * (width - 1))) if not horizontal else int(round(my + v * (height - 1)))
                 for v in lines[1:-1]]
        if not inner:
            continue
        wander = max(1, size // 100)
        for side in (0, 1):
            far = my if not horizontal else mx
            band = slice(0, max(1, far - 2)) if side == 0 else slice(around.shape[horizontal] - far + 2, None)
            runs = 0
            for p in inner:
                strip = around[band, p - wander:p + wander + 1] if not horizontal else around[p - wander:p + wander + 1, band]
                along = strip.max(axis=1 if not horizontal else 0) > 0
                runs += along.size > 0 and along.mean() > 0.7
            open_sides += runs > 0.5 * len(inner)
    return open_sides


def _line_positions(flat: np.ndarray, horizontal: bool):
    """Positions (shares 0-1) of the straight lines across a warped grid: rows where a long
    straight run covers most of the width (or columns, most of the height); and the least
    coverage of its two outer lines (a grid is closed by its border)."""
    view = flat if horizontal else flat.T
    length, across = view.shape[1], view.shape[0]
    # long lines may be broken (a faint print, a blurred photo): straight stretches of a tenth will
    # do; the short lines of a strip of boxes must be straight over most of their length, or a
    # handwritten 1 or 7 in a box would pass for one
    short = length < across / 5  # the lines across a strip of boxes
    run = max(3, int(0.6 * length) if short else length // 10)
    # and must reach (almost) both borders: a short line all of its length
    need, end = (SHORT_LINE_COVERAGE, max(1, int(0.06 * length))) if short else (LINE_COVERAGE, max(1, int(0.2 * length)))
    # a photographed page bends: its lines wander a little across the flat grid, so the straight
    # runs are looked for in a mask thickened across them, and a line's coverage is counted over
    # a band as wide as that wandering
    thick = cv2.dilate(view, np.ones((3, 1), np.uint8))
    straight = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    wander = max(1, across // 80)
    straight = cv2.dilate(straight, np.ones((2 * wander + 1, 1), np.uint8))
    coverage = raw = (straight > 0).mean(axis=1)
    # a grid line runs from border to border: a stroke standing in a cell does not reach both
    reaches = (straight[:, :end].max(axis=1) > 0) & (straight[:, -end:].max(axis=1) > 0)
    coverage = np.where(reaches, coverage, 0.0)
    on = coverage >= need
    positions = []
    start = None
    for i, value in enumerate(np.r_[on, False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            weights = coverage[start:i]
            positions.append(float((np.arange(start, i) * weights).sum() / weights.sum()))
            start = None
    edge = 0.06 * across
    band = max(5, int(edge))  # a few pixels at least: a strip of boxes is thin
    border = min(float(coverage[:band].max()), float(coverage[-band:].max()))
    positions = [p for p in positions if edge < p < across - 1 - edge]
    # the outer lines: where the border is drawn most clearly in the bands at the outline's edges
    # (the outline follows the border's outer side, and a bent page moves it inwards)
    first = _plateau_centre(coverage[:band])
    last = across - band + _plateau_centre(coverage[-band:])
    lines = [first] + positions + [last]
    # lines closer than a third of the typical cell are one thick line (or a line and its shadow)
    gaps = np.diff(lines)
    typical = float(np.median(gaps))
    kept = [lines[0]]
    for p in lines[1:-1]:
        if p - kept[-1] >= 0.35 * typical:
            kept.append(p)
    if lines[-1] - kept[-1] < 0.35 * typical and len(kept) > 1:
        kept.pop()
    kept.append(lines[-1])
    kept = _missing_lines_added(kept, raw)
    return np.array(kept) / (across - 1), border


def _plateau_centre(values: np.ndarray) -> float:
    """The middle of the highest stretch of a profile (a line widened by the wander band is a
    plateau; argmax would pick its first pixel)."""
    top = values >= 0.95 * float(values.max())
    return float(np.flatnonzero(top).mean()) if top.any() else 0.0


def _missing_lines_added(lines: list[float], coverage: np.ndarray) -> list[float]:
    """Lines lost in a regular grid (faint or blurred, under a shadow, crossed by big writing)
    leave gaps two or three times as wide as all the others: put them back at the regular
    positions, where some of each must still be seen. (A table's wide column has no line there.)"""
    if len(lines) < 4:
        return lines
    gaps = np.diff(lines)
    step = float(np.median(gaps))
    multiple = np.round(gaps / step)
    fits = (multiple >= 1) & (multiple <= 3) & (np.abs(gaps - multiple * step) < 0.15 * multiple * step)
    if not fits.all() or (multiple == 1).sum() < 3 or (multiple - 1).sum() > 4:
        return lines
    out = [lines[0]]
    for count, end in zip(multiple.astype(int), lines[1:]):
        start = out[-1]
        for k in range(1, count):
            expected = start + k * (end - start) / count
            near = slice(max(0, int(expected - 0.15 * step)), int(expected + 0.15 * step) + 1)
            evidence = coverage[near].max(initial=0.0)
            if evidence >= MISSING_LINE_COVERAGE:
                out.append(near.start + _plateau_centre(coverage[near]))
            elif abs(end - start - count * step) < 0.06 * count * step:
                out.append(expected)  # not even a trace (cut off from the web): the grid's rhythm decides
        out.append(end)
    return out


# -- reading cells ------------------------------------------------------------------------------

def warp_grid(gray: np.ndarray, grid: Grid, cell_px: int = CELL_PX) -> tuple[np.ndarray, np.ndarray, float]:
    """The grid warped flat, its median cell about ``cell_px`` wide: (warped grey, the homography
    from the picture to the warped grid, the scale of the flat grid's pixels)."""
    quad = np.float32(grid.corners)
    width, height = _side_lengths(quad)
    cell = min(np.median(np.diff(grid.col_lines)) * width, np.median(np.diff(grid.row_lines)) * height)
    factor = cell_px / max(cell, 1.0)
    out_w, out_h = max(8, int(round(width * factor))), max(8, int(round(height * factor)))
    source, shrink = gray, 1.0
    if factor < 0.5:
        # shrink the grid's part of the picture by area first: warping straight from 12 MP would
        # sample thin strokes sparsely (aliasing) instead of averaging them
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(gray.shape[1], x1 + 1), min(gray.shape[0], y1 + 1)
        shrink = float(2 * factor)
        part = gray[y0:y1, x0:x1]
        source = cv2.resize(part, (max(1, round(part.shape[1] * shrink)), max(1, round(part.shape[0] * shrink))),
                            interpolation=cv2.INTER_AREA)
        quad_source = ((quad - np.float32([x0, y0])) * shrink).astype(np.float32)
        offset = np.float32([x0, y0])
    else:
        quad_source, offset = quad, np.float32([0, 0])
    target = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    warp = cv2.getPerspectiveTransform(quad_source, target)
    flat = cv2.warpPerspective(source, warp, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # the picture-to-flat homography: undo the crop and shrink, then the warp
    to_source = np.array([[shrink, 0, -offset[0] * shrink], [0, shrink, -offset[1] * shrink], [0, 0, 1]])
    return flat, warp @ to_source, factor


def read_grids(image: np.ndarray, grids: list[Grid], predict, enlarge: float = 1.0) -> tuple[list[Grid], list[CellDigit]]:
    """Read every cell of every grid: the grids with their cells, and each digit read (with its
    box mapped back to the picture). ``predict`` maps (N, 28, 28, 1) crops to (N, 11) probabilities.
    ``enlarge``: corners and boxes are given in a picture this many times larger (``image`` being
    a shrunk copy of it)."""
    gray = to_gray(image)
    plans = [_cell_crops(gray, grid) for grid in grids]
    crops = [crop for plan in plans for crop in plan[0]]
    probabilities = predict(np.stack(crops)[..., None]) if crops else np.zeros((0, NUM_DIGITS + 1))
    read, digits, start = [], [], 0
    for index, (grid, (plan_crops, pieces, to_picture)) in enumerate(zip(grids, plans)):
        probs = probabilities[start:start + len(plan_crops)]
        start += len(plan_crops)
        cells, found = _decide_cells(grid, pieces, probs, to_picture, index)
        corners = tuple((x * enlarge, y * enlarge) for x, y in grid.corners)
        read.append(Grid(corners, grid.row_lines, grid.col_lines, tuple(cells)))
        for digit in found:
            x, y, w, h = digit.box
            x1, y1 = int(round((x + w) * enlarge)), int(round((y + h) * enlarge))
            x0, y0 = int(round(x * enlarge)), int(round(y * enlarge))
            digit.box = (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
        digits.extend(found)
    return read, digits


@dataclass
class _Piece:
    row: int
    col: int
    box: tuple        # x, y, w, h in the flat grid
    crop: int         # index of its crop
    small: bool       # much smaller than the cell: a candidate mark
    edge: bool        # centred near the cell's side: maybe a stroke of the next cell's digit
    group: int = 0    # pieces of one cell read together (0: the cell's only reading)


def _cell_crops(gray: np.ndarray, grid: Grid):
    flat, homography, _ = warp_grid(gray, grid)
    h, w = flat.shape
    ys = np.round(np.array(grid.row_lines) * h).astype(int)
    xs = np.round(np.array(grid.col_lines) * w).astype(int)
    cell = float(min(np.median(np.diff(xs)), np.median(np.diff(ys))))
    ink = _flat_ink(flat, cell)
    mask = _cell_ink_mask(ink, xs, ys, cell)
    mask, erased, bands = _erase_grid_lines(mask, xs, ys, cell)
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    min_side = max(3, 0.12 * cell)
    # what lies almost all along the grid's lines is left of them (a crossing, a broken stretch)
    in_bands = np.bincount(labels.ravel(), weights=(bands.ravel() > 0), minlength=count)
    keep = [k for k in range(1, count) if max(stats[k, 2], stats[k, 3]) >= min_side
            and stats[k, 4] >= 0.01 * cell * cell and in_bands[k] < REMNANT_SHARE * stats[k, 4]]
    owner = {}
    for k in keep:
        cx, cy = centroids[k]
        owner[k] = (int(np.clip(np.searchsorted(ys, cy) - 1, 0, len(ys) - 2)),
                    int(np.clip(np.searchsorted(xs, cx) - 1, 0, len(xs) - 2)))
    near_line = cv2.dilate(erased, np.ones((5, 5), np.uint8))
    groups = _group_pieces(keep, stats, owner, labels, near_line, xs, ys, cell)
    crops, pieces = [], []
    for (row, col), members in groups.items():
        for group_index, ids in enumerate(members):
            x0 = min(stats[k, 0] for k in ids)
            y0 = min(stats[k, 1] for k in ids)
            x1 = max(stats[k, 0] + stats[k, 2] for k in ids)
            y1 = max(stats[k, 1] + stats[k, 3] for k in ids)
            region = labels[y0:y1, x0:x1]
            crop = np.where(np.isin(region, ids), ink[y0:y1, x0:x1], 0).astype(np.uint8)
            small = max(x1 - x0, y1 - y0) < 0.42 * cell
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            edge = min(cx - xs[col], xs[col + 1] - cx, cy - ys[row], ys[row + 1] - cy) < EDGE_SHARE * cell
            pieces.append(_Piece(row, col, (x0, y0, x1 - x0, y1 - y0), len(crops), small, edge, group_index))
            crops.append(to_mnist(crop))
    inverse = np.linalg.inv(homography)

    def to_picture(box):
        x, y, bw, bh = box
        corners = np.float32([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]]).reshape(-1, 1, 2)
        mapped = cv2.perspectiveTransform(corners, inverse).reshape(-1, 2)
        x0, y0 = np.floor(mapped.min(axis=0))
        x1, y1 = np.ceil(mapped.max(axis=0))
        return int(x0), int(y0), max(1, int(x1 - x0)), max(1, int(y1 - y0))

    return crops, pieces, to_picture


def _flat_ink(flat: np.ndarray, cell: float) -> np.ndarray:
    """How much darker each pixel is than its paper, paper estimated by a closing wider than strokes."""
    size = max(5, int(0.3 * cell) | 1)
    small = cv2.resize(flat, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size // 2 | 1, size // 2 | 1)))
    paper = cv2.GaussianBlur(paper, (0, 0), 0.15 * cell)
    paper = cv2.resize(paper, flat.shape[::-1], interpolation=cv2.INTER_LINEAR)
    paper = np.maximum(paper, flat)
    return darker_than_paper(flat, paper)


def _cell_ink_levels(ink: np.ndarray) -> tuple[float, float]:
    """(sure, faint) ink levels for a grid's writing: a pencil entry is far lighter than the print
    that sets Otsu's level, so the sure level is a share of it (never below the page minimum)."""
    threshold, _ = ink_levels(ink, floor=MIN_INK_CONTRAST * 255)
    sure = max(MIN_INK_CONTRAST * 255, PENCIL_SHARE * threshold)
    return sure, max(0.7 * MIN_INK_CONTRAST * 255, 0.6 * sure)


def _cell_ink_mask(ink: np.ndarray, xs: np.ndarray, ys: np.ndarray, cell: float) -> np.ndarray:
    """The writing in a flat grid, each cell binarised at its own level: a faint pencil entry in a
    shadow is read at a share of its own darkness, not of the print's. A cell whose darkest ink
    stays well under the grid's level holds no writing (pencil ghosts, specks: on the training
    puzzles' blank cells it stays under 0.66 of it in 199 of 200) and keeps that level."""
    sure, _ = _cell_ink_levels(ink)
    levels = np.full(ink.shape, sure, np.float32)
    inset = max(1, int(0.2 * cell))
    for r in range(len(ys) - 1):
        for c in range(len(xs) - 1):
            interior = ink[ys[r] + inset:ys[r + 1] - inset, xs[c] + inset:xs[c + 1] - inset]
            if interior.size == 0:
                continue
            values = interior.ravel()
            k = int(0.99 * (values.size - 1))
            peak = float(np.partition(values, k)[k])
            if peak >= WRITING_GATE * sure:
                own = min(sure, max(LOWEST_CELL_SHARE * sure, OWN_INK_SHARE * peak))
                levels[ys[r]:ys[r + 1], xs[c]:xs[c + 1]] = own
    strong = ink > levels
    allowed = ink > FAINT_SHARE * levels
    grown = strong.astype(np.uint8) * 255
    allowed_u8 = allowed.astype(np.uint8) * 255
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(4):  # hysteresis: strokes grow into their fainter continuation
        grown = cv2.bitwise_and(cv2.dilate(grown, kernel), allowed_u8)
    return grown


def _erase_grid_lines(mask: np.ndarray, xs: np.ndarray, ys: np.ndarray, cell: float):
    """Erase the straight runs along the grid's known lines; bridge strokes they cut."""
    h, w = mask.shape
    band = max(2, int(round(LINE_BAND * cell)))
    run = max(5, int(round(0.6 * cell)))
    bands = np.zeros_like(mask)
    lines = np.zeros_like(mask)
    horizontal = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((1, run), np.uint8))
    vertical = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((run, 1), np.uint8))
    for y in ys:
        y0, y1 = max(0, y - band), min(h, y + band + 1)
        lines[y0:y1] |= horizontal[y0:y1]
        bands[y0:y1] = 255
    for x in xs:
        x0, x1 = max(0, x - band), min(w, x + band + 1)
        lines[:, x0:x1] |= vertical[:, x0:x1]
        bands[:, x0:x1] = 255
    lines = cv2.bitwise_and(cv2.dilate(lines, np.ones((3, 3), np.uint8)), mask)
    # the outer frame: everything outside the outer lines is not the grid's writing
    cleaned = cv2.subtract(mask, lines)
    cleaned[:max(0, ys[0] + 1)] = 0
    cleaned[min(h, ys[-1]):] = 0
    cleaned[:, :max(0, xs[0] + 1)] = 0
    cleaned[:, min(w, xs[-1]):] = 0
    return cleaned, lines, bands


def _group_pieces(keep, stats, owner, labels, near_line, xs, ys, cell):
    """Components -> per cell, lists of component groups (each group read as one digit)."""
    by_cell: dict = {}
    for k in keep:
        by_cell.setdefault(owner[k], []).append(k)
    # A small piece lying against an erased line beside a digit of the next cell is that digit's
    # stroke, cut off by the line: join it to the digit.
    for (row, col), ids in list(by_cell.items()):
        for k in list(ids):
            x, y, w, h, area = stats[k]
            if max(w, h) >= 0.4 * cell:
                continue
            touching = near_line[y:y + h, x:x + w][labels[y:y + h, x:x + w] == k].any()
            if not touching:
                continue
            best = None
            for (r2, c2), others in by_cell.items():
                if abs(r2 - row) + abs(c2 - col) != 1:
                    continue
                for o in others:
                    ox, oy, ow, oh, _ = stats[o]
                    gap = max(ox - (x + w), x - (ox + ow), oy - (y + h), y - (oy + oh))
                    if gap <= 0.15 * cell and max(ow, oh) >= 0.4 * cell:
                        best = (r2, c2)
            if best is not None:
                ids.remove(k)
                by_cell[best].append(k)
    groups = {}
    for key, ids in by_cell.items():
        if not ids:
            continue
        groups[key] = _cluster(ids, stats, cell)
    return groups


def _cluster(ids, stats, cell):
    """The components of one cell -> groups: one digit (pieces overlapping across), or several."""
    ids = sorted(ids, key=lambda k: stats[k, 0])
    biggest = max(max(stats[k, 2], stats[k, 3]) for k in ids)
    if biggest >= 0.42 * cell:
        # a full-size digit: specks and slivers around it are its pieces (a broken stroke)
        big = [k for k in ids if max(stats[k, 2], stats[k, 3]) >= 0.42 * cell]
        clusters = [[k] for k in big]
        for k in ids:
            if k in big:
                continue
            nearest = min(range(len(clusters)), key=lambda i: _gap(stats[k], stats[clusters[i][0]]))
            clusters[nearest].append(k)
        # full-size pieces that overlap across (a 5's bar above its body) are one digit
        merged = []
        for cluster in sorted(clusters, key=lambda c: stats[c[0], 0]):
            if merged and _x_overlap(stats, merged[-1], cluster) > 0.3:
                merged[-1] = merged[-1] + cluster
            else:
                merged.append(cluster)
        return merged
    return [[k] for k in ids][:_MAX_CANDIDATE_COMPONENTS]


def _gap(a, b) -> float:
    return max(b[0] - (a[0] + a[2]), a[0] - (b[0] + b[2]), b[1] - (a[1] + a[3]), a[1] - (b[1] + b[3]), 0)


def _x_overlap(stats, a, b) -> float:
    ax0 = min(stats[k, 0] for k in a)
    ax1 = max(stats[k, 0] + stats[k, 2] for k in a)
    bx0 = min(stats[k, 0] for k in b)
    bx1 = max(stats[k, 0] + stats[k, 2] for k in b)
    return max(0, min(ax1, bx1) - max(ax0, bx0)) / max(1, min(ax1 - ax0, bx1 - bx0))


def _decide_cells(grid: Grid, pieces: list[_Piece], probs: np.ndarray, to_picture, grid_index: int):
    by_cell: dict = {}
    for piece in pieces:
        by_cell.setdefault((piece.row, piece.col), []).append(piece)
    cells, found = [], []
    for row in range(grid.rows):
        for col in range(grid.cols):
            mine = by_cell.get((row, col), [])
            read = [(p, probs[p.crop]) for p in mine if int(np.argmax(probs[p.crop])) != NOT_A_DIGIT]
            if not read:
                cells.append(Cell(row, col, "empty"))
                continue
            read.sort(key=lambda item: item[0].box[0])
            if all(p.small for p, _ in read) and len(read) >= 2:
                kind = "candidates"
                order = sorted(read, key=lambda item: int(np.argmax(item[1][:NUM_DIGITS])))
            else:
                read = [item for item in read if not item[0].small] or read[:1]
                if len(read) > 1:  # a number's digits stand in the cell; a neighbour's stroke at its side
                    read = [item for item in read if not item[0].edge] or [max(read, key=lambda i: i[0].box[3])]
                kind = "digit" if len(read) == 1 else "number"
                order = read
            digits = tuple(int(np.argmax(p[:NUM_DIGITS])) for _, p in order)
            confidence = min(float(p[:NUM_DIGITS].max()) for _, p in order)
            cells.append(Cell(row, col, kind, digits, confidence))
            for piece, p in order:
                found.append(CellDigit(to_picture(piece.box), p, row, col, grid_index))
    return cells, found


def outside_grids(gray: np.ndarray, grids: list[Grid], scale: float = 1.0, margin: float = 0.02) -> np.ndarray:
    """A copy of the grey picture with every grid covered by paper, so that a page reading of
    the rest neither reads its cells twice nor takes its lines for writing. ``scale``: the grey
    picture's size over the one the grids' corners are given in."""
    covered = gray.copy()
    for grid in grids:
        quad = np.float32(grid.corners) * np.float32(scale)
        centre = quad.mean(axis=0)
        grown = centre + (quad - centre) * (1 + 2 * margin)
        x0, y0 = np.clip(np.floor(grown.min(axis=0)), 0, None).astype(int)
        x1, y1 = np.ceil(grown.max(axis=0)).astype(int)
        part = gray[y0:y1 + 1, x0:x1 + 1]
        if part.size == 0:
            continue
        paper = int(np.percentile(part[::4, ::4], 95))
        cv2.fillConvexPoly(covered, np.round(grown).astype(np.int32), paper)
    return covered


# -- videos and cameras: a grid's cells read over many frames -----------------------------------

_EMPTY = NUM_DIGITS + 1  # the evidence slot of "nothing in this cell", after the 10 digits and "not a digit"


@dataclass
class GridFusion:
    """A grid seen in frame after frame, each cell's reading gathered over every frame that saw it.

    The grid registers itself: a frame's grid of the same rows and columns whose outline overlaps
    the last one seen (a hand-held camera moves it a little each frame) is the same grid, and its
    cells are the same cells, whatever the view. Each cell keeps a fading sum of what it was read
    as (the ten digits, or empty); a blurred frame adds as much as a sharp one here, so a cell
    changes only when most recent frames agree. A grid not seen for ``forget`` frames is dropped.

        fusion = GridFusion()
        for frame in frames:
            reading.grids = fusion.update(recognizer.recognize(frame).grids)
    """
    fade: float = 0.85
    forget: int = 15
    _grids: list = field(default_factory=list)  # [grid, evidence (rows, cols, 12), frames unseen]

    @property
    def holds_grids(self) -> bool:
        """A grid was seen within the last ``forget`` frames: the next frame likely holds it too."""
        return bool(self._grids)

    def update(self, grids: list[Grid]) -> list[Grid]:
        """The fused grids in view (each frame's grids registered to the ones seen before)."""
        seen = []
        for grid in grids:
            known = next((k for k in self._grids if k[0].rows == grid.rows and k[0].cols == grid.cols
                          and k not in seen and _overlaps(np.float32(k[0].corners), np.float32(grid.corners))), None)
            if known is None:
                known = [grid, np.zeros((grid.rows, grid.cols, _EMPTY + 1), np.float32), 0]
                self._grids.append(known)
            evidence = known[1] * self.fade
            for cell in grid.cells:
                vote = np.zeros(_EMPTY + 1, np.float32)
                if cell.kind == "digit":
                    vote[cell.digits[0]] = cell.confidence
                    vote[_EMPTY] = 1.0 - cell.confidence
                elif cell.kind == "empty":
                    vote[_EMPTY] = 1.0
                else:  # numbers and candidates are kept as the frame read them
                    vote[NOT_A_DIGIT] = 1.0
                evidence[cell.row, cell.col] += vote
            known[0], known[1], known[2] = grid, evidence, 0
            seen.append(known)
        for known in self._grids:
            if not any(known is s for s in seen):
                known[2] += 1
        self._grids = [k for k in self._grids if k[2] <= self.forget]
        return [_fused(k[0], k[1]) for k in seen]


def _fused(grid: Grid, evidence: np.ndarray) -> Grid:
    """The grid as its evidence reads it: each cell its most supported reading."""
    cells = []
    by_position = {(c.row, c.col): c for c in grid.cells}
    for row in range(grid.rows):
        for col in range(grid.cols):
            votes = evidence[row, col]
            best = int(np.argmax(votes)) if votes.any() else _EMPTY  # never read: empty
            total = float(votes.sum()) or 1.0
            if best == NOT_A_DIGIT and (row, col) in by_position:
                cells.append(by_position[(row, col)])  # a number or candidates: this frame's reading
            elif best < NUM_DIGITS:
                cells.append(Cell(row, col, "digit", (best,), float(votes[best]) / total))
            else:
                cells.append(Cell(row, col, "empty"))
    return Grid(grid.corners, grid.row_lines, grid.col_lines, tuple(cells))
