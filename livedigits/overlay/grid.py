"""Grids drawn over their picture: the outline and every row and column line, through the
perspective, so that one sees which cells were found (each cell's digits get their boxes and
labels from the usual layout)."""
from __future__ import annotations

import cv2
import numpy as np

GRID_COLOUR = (200, 120, 0)  # BGR: blue, apart from the confidence colours of the digits


def grid_segments(grid) -> np.ndarray:
    """(N, 2, 2) picture coordinates of the grid's lines: every row line, then every column line."""
    quad = np.float32(grid.corners)
    unit = np.float32([[0, 0], [1, 0], [1, 1], [0, 1]])
    to_picture = cv2.getPerspectiveTransform(unit, quad)
    # lines of the grid run from its first to its last line, not to the outline's edge
    top, bottom = grid.row_lines[0], grid.row_lines[-1]
    left, right = grid.col_lines[0], grid.col_lines[-1]
    ends = [((left, v), (right, v)) for v in grid.row_lines] + [((v, top), (v, bottom)) for v in grid.col_lines]
    points = np.float32(ends).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(points, to_picture).reshape(-1, 2, 2)


def draw_grids(canvas: np.ndarray, grids, thickness: int | None = None) -> np.ndarray:
    """Every grid's lines on ``canvas`` (BGR, changed in place); returns it."""
    if not grids:
        return canvas
    if thickness is None:
        thickness = max(1, round(max(canvas.shape[:2]) / 900))
    for grid in grids:
        segments = np.round(grid_segments(grid)).astype(np.int32)
        cv2.polylines(canvas, list(segments), False, GRID_COLOUR, thickness, cv2.LINE_AA)
    return canvas
