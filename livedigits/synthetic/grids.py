"""Synthetic photos of grids with known cells: sudokus, score tables and forms with one row of boxes.

Each cell holds nothing, a printed digit (a font), a handwritten one (an MNIST digit drawn as a pen
stroke, when digits are given) or several small candidate digits; the flat grid is then put on a
page and photographed: perspective, a little rotation, uneven light and noise.

    picture = make_grid_picture(rows=1, cols=8, seed=3)          # a form with one row of boxes
    cv2.imwrite("form.png", picture.image); print(picture.table)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class GridPicture:
    image: np.ndarray         # BGR photo
    corners: np.ndarray       # (4, 2) the grid's outer corners in the photo (TL, TR, BR, BL)
    table: list               # rows of cell texts: "" empty, "7" a digit, "1 4 7" candidates
    kinds: list               # rows of "", "printed", "handwritten" or "candidates"


def make_grid_picture(rows: int = 9, cols: int = 9, seed: int = 0, cell: int = 60, fill: float = 0.6,
                      digits: np.ndarray | None = None, labels: np.ndarray | None = None,
                      candidates: float = 0.0, thick_every: int = 3, size: tuple[int, int] = (1200, 900),
                      tilt: float = 0.12) -> GridPicture:
    """A photo of a ``rows`` x ``cols`` grid. ``fill`` of the cells hold a digit: handwritten from
    ``digits``/``labels`` (28x28 MNIST-style, white on black) when given, half of them, else all
    printed; ``candidates`` of the cells hold 2-4 small printed candidates. Every ``thick_every``-th
    line is drawn thicker (sudoku boxes; 0 for none)."""
    rng = np.random.default_rng(seed)
    width, height = cols * cell, rows * cell
    margin = cell
    flat = np.full((height + 2 * margin, width + 2 * margin), 255, np.uint8)
    table = [["" for _ in range(cols)] for _ in range(rows)]
    kinds = [["" for _ in range(cols)] for _ in range(rows)]
    ink = int(rng.integers(10, 60))
    for r in range(rows):
        for c in range(cols):
            x0, y0 = margin + c * cell, margin + r * cell
            roll = rng.random()
            if roll < fill:
                if digits is not None and rng.random() < 0.5:
                    k = int(rng.integers(len(digits)))
                    _handwritten(flat, digits[k], x0, y0, cell, rng)
                    table[r][c], kinds[r][c] = str(int(labels[k])), "handwritten"
                else:
                    d = int(rng.integers(1, 10))
                    _printed(flat, str(d), x0 + cell / 2, y0 + cell / 2, 0.5 * cell, ink)
                    table[r][c], kinds[r][c] = str(d), "printed"
            elif roll < fill + candidates:
                marks = sorted(rng.choice(np.arange(1, 10), size=int(rng.integers(2, 5)), replace=False).tolist())
                for m in marks:
                    cx = x0 + cell * (0.2 + 0.3 * ((m - 1) % 3))
                    cy = y0 + cell * (0.2 + 0.3 * ((m - 1) // 3))
                    _printed(flat, str(m), cx, cy, 0.22 * cell, ink)
                table[r][c], kinds[r][c] = " ".join(map(str, marks)), "candidates"
    line_ink = int(rng.integers(0, 70))
    for k in range(rows + 1):
        thick = 3 if k in (0, rows) or (thick_every and k % thick_every == 0) else 1
        cv2.line(flat, (margin, margin + k * cell), (margin + width, margin + k * cell), line_ink, thick)
    for k in range(cols + 1):
        thick = 3 if k in (0, cols) or (thick_every and k % thick_every == 0) else 1
        cv2.line(flat, (margin + k * cell, margin), (margin + k * cell, margin + height), line_ink, thick)
    return _photographed(flat, margin, width, height, table, kinds, rng, size, tilt)


def _printed(canvas: np.ndarray, text: str, cx: float, cy: float, height: float, ink: int) -> None:
    font = cv2.FONT_HERSHEY_DUPLEX
    scale = height / 22.0
    thickness = max(1, int(round(height / 14)))
    (w, h), _ = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(canvas, text, (int(round(cx - w / 2)), int(round(cy + h / 2))), font, scale, ink, thickness,
                cv2.LINE_AA)


def _handwritten(canvas: np.ndarray, digit: np.ndarray, x0: int, y0: int, cell: int, rng) -> None:
    side = int(cell * rng.uniform(0.85, 1.05))  # MNIST's 20 px digit in 28: ~0.6-0.75 of the cell
    stroke = cv2.resize(digit.astype(np.float32) / max(1.0, float(digit.max())), (side, side),
                        interpolation=cv2.INTER_LINEAR)
    ox = x0 + (cell - side) // 2 + int(rng.integers(-cell // 12, cell // 12 + 1))
    oy = y0 + (cell - side) // 2 + int(rng.integers(-cell // 12, cell // 12 + 1))
    region = canvas[oy:oy + side, ox:ox + side].astype(np.float32)
    pen = float(rng.uniform(20, 110))  # pencil to pen
    canvas[oy:oy + side, ox:ox + side] = (region * (1 - stroke) + pen * stroke).astype(np.uint8)


def _photographed(flat, margin, width, height, table, kinds, rng, size, tilt) -> GridPicture:
    out_w, out_h = size
    grid_flat = np.float32([[margin, margin], [margin + width, margin], [margin + width, margin + height],
                            [margin, margin + height]])
    # where the grid lands: centred, filling 50-80 % of the picture, its corners moved at random
    scale = rng.uniform(0.5, 0.8) * min(out_w / width, out_h / height)
    w, h = width * scale, height * scale
    cx, cy = out_w / 2 + rng.uniform(-0.08, 0.08) * out_w, out_h / 2 + rng.uniform(-0.08, 0.08) * out_h
    target = np.float32([[cx - w / 2, cy - h / 2], [cx + w / 2, cy - h / 2], [cx + w / 2, cy + h / 2],
                         [cx - w / 2, cy + h / 2]])
    target += rng.uniform(-tilt, tilt, (4, 2)).astype(np.float32) * 0.5 * min(w, h)
    homography = cv2.getPerspectiveTransform(grid_flat, target)
    paper = float(rng.uniform(190, 245))
    page = cv2.warpPerspective(flat, homography, (out_w, out_h), flags=cv2.INTER_AREA,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=255)
    # uneven light: a gradient across the page, and sensor noise
    gx, gy = np.meshgrid(np.linspace(-1, 1, out_w), np.linspace(-1, 1, out_h))
    light = 1.0 - 0.18 * (rng.uniform(-1, 1) * gx + rng.uniform(-1, 1) * gy + 1) / 2
    photo = page.astype(np.float32) / 255.0 * paper * light + rng.normal(0, 3, page.shape)
    photo = cv2.GaussianBlur(np.clip(photo, 0, 255).astype(np.uint8), (3, 3), 0)
    tint = rng.uniform(0.9, 1.0, 3)
    image = np.clip(photo[..., None] * tint[None, None, :], 0, 255).astype(np.uint8)
    return GridPicture(image, target, table, kinds)
