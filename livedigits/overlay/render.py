"""Draw a Reading over a picture, following the layout: boxes, labels, each line's number, optional FPS."""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..pipeline import Reading
from .cache import LayoutCache
from .grid import draw_grids
from .placement import FONT, Font, Layout, TextBox, layout, text_box, text_size

BANNER_COLOUR = (90, 60, 20)   # BGR: dark blue behind each line's number string
FPS_COLOUR = (40, 40, 40)
TEXT_COLOUR = (255, 255, 255)


def confidence_colour(confidence: float) -> tuple[int, int, int]:
    """BGR: green when sure, amber when unsure, red when doubtful."""
    if confidence >= 0.9:
        return (60, 190, 40)
    if confidence >= 0.7:
        return (0, 170, 255)
    return (40, 40, 230)


def _as_bgr(image: np.ndarray, copy: bool = True) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        from ..segment import to_gray
        image = to_gray(image) if image.ndim == 2 or image.shape[2] == 1 else cv2.convertScaleAbs(
            image, alpha=255.0 / max(1.0, float(image.max())))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if copy or not (image.flags.writeable and image.flags.c_contiguous):
        return image.copy()
    return image


@lru_cache(maxsize=2048)
def _sprite(text: str, font: Font, colour: tuple) -> np.ndarray:
    """A text on its filled rectangle, drawn once: the same label on the next frame is one copy."""
    w, h = text_size(text, font)
    top = text_box(text, font, 0, 0).origin
    sprite = np.empty((h, w, 3), np.uint8)
    sprite[:] = colour
    cv2.putText(sprite, text, top, FONT, font.scale, TEXT_COLOUR, font.thickness, cv2.LINE_AA)
    sprite.flags.writeable = False
    return sprite


def _text(canvas: np.ndarray, box: TextBox, colour) -> None:
    """The text on its filled rectangle, so that it stays readable on any picture."""
    x0, y0, x1, y1 = box.rect
    if x0 >= 0 and y0 >= 0 and x1 <= canvas.shape[1] and y1 <= canvas.shape[0]:
        canvas[y0:y1, x0:x1] = _sprite(box.text, box.font, colour)
    else:  # only an FPS counter on a picture too small for it: OpenCV clips what falls outside
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, -1)
        cv2.putText(canvas, box.text, box.origin, FONT, box.font.scale, TEXT_COLOUR, box.font.thickness,
                    cv2.LINE_AA)


# a box's corners, back to the first, moved k pixels out for k = 1 (in for k = -1)
_NESTED = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], np.int32)


def _outlines(canvas: np.ndarray, digits, colours: list, thickness: int) -> None:
    """Every box, ``thickness`` pixels wide on the digit's edges (t//2 of them outside, within the
    layout's box): nested one-pixel outlines, each box's drawn as one path (from one outline to the
    next is a one-pixel diagonal step between corners that both outlines cover), all boxes of one
    colour in one OpenCV call."""
    corners = np.array([(d.x, d.y, d.x + d.w, d.y, d.x + d.w, d.y + d.h, d.x, d.y + d.h, d.x, d.y) for d in digits],
                       np.int32).reshape(-1, 1, 5, 2)
    nested = np.arange(-((thickness - 1) // 2), thickness // 2 + 1, dtype=np.int32).reshape(1, -1, 1, 1)
    paths = (corners + nested * _NESTED).reshape(len(digits), -1, 2)
    for colour in set(colours):
        cv2.polylines(canvas, paths[[c == colour for c in colours]], False, colour, 1)


def render(canvas: np.ndarray, digits, plan: Layout) -> np.ndarray:
    """Draws ``plan`` for ``digits`` on ``canvas`` (BGR, changed in place) and returns it."""
    colours = [confidence_colour(d.confidence) for d in digits]
    thickness = plan.style.box_thickness
    if colours:
        _outlines(canvas, digits, colours, thickness)
    leader = max(1, thickness // 2)
    for banner in plan.banners:  # under every text
        if banner.leader is not None:
            cv2.line(canvas, banner.leader[0], banner.leader[1], BANNER_COLOUR, leader, cv2.LINE_AA)
    height, width = canvas.shape[:2]
    for label in plan.labels:  # the commonest text: pasted here rather than through _text
        box = label.box
        if box is not None:
            x0, y0, x1, y1 = box.rect
            if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
                canvas[y0:y1, x0:x1] = _sprite(box.text, box.font, colours[label.index])
            else:
                _text(canvas, box, colours[label.index])
    for banner in plan.banners:
        _text(canvas, banner.box, BANNER_COLOUR)
        for (x0, y0, x1, y1), i in banner.marks:  # digits whose label found no place
            cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colours[i], -1)
    if plan.fps is not None:
        _text(canvas, plan.fps, FPS_COLOUR)
    return canvas


def draw(image: np.ndarray, reading: Reading, fps: float | None = None, show_lines: bool = True, *,
         labels: str = "full", copy: bool = True, cache: LayoutCache | None = None) -> np.ndarray:
    """A BGR copy of ``image`` with the reading drawn on it; the input is not changed.

    ``labels``: "full" (digit and confidence where the percentage fits), "digit" or "none" (boxes only);
    ``show_lines`` adds each line's number string, ``fps`` a frame-rate counter. ``copy=False`` draws
    straight onto a writable BGR uint8 ``image`` and returns it: a live loop does not need its frame
    undrawn afterwards, and copying a 1280x720 frame costs about a third of the drawing. Other
    pictures are still converted into a new BGR array. ``cache``: a LayoutCache kept for the frames of
    one video, so that the last frame's layout is moved with its digits where they barely moved."""
    canvas = draw_grids(_as_bgr(image, copy), getattr(reading, "grids", ()))
    plan = (cache.layout if cache is not None else layout)(reading.digits, canvas.shape[1], canvas.shape[0],
                                                          labels=labels, show_lines=show_lines, fps=fps)
    return render(canvas, reading.digits, plan)
