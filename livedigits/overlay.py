"""Draw a Reading over a picture: boxes, digits, confidences, each line's number, optional FPS."""
from __future__ import annotations

import cv2
import numpy as np

from .pipeline import Reading

FONT = cv2.FONT_HERSHEY_SIMPLEX


def confidence_colour(confidence: float) -> tuple[int, int, int]:
    """BGR: green when sure, amber when unsure, red when doubtful."""
    if confidence >= 0.9:
        return (60, 190, 40)
    if confidence >= 0.7:
        return (0, 170, 255)
    return (40, 40, 230)


def _as_bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        from .segment import to_gray
        image = to_gray(image) if image.ndim == 2 or image.shape[2] == 1 else cv2.convertScaleAbs(
            image, alpha=255.0 / max(1.0, float(image.max())))
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image.copy()


def _label(canvas, text, origin, scale, colour, thickness):
    """Text on a filled background so that it stays readable on any picture."""
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    x, y = int(origin[0]), int(origin[1])
    x = min(max(0, x), max(0, canvas.shape[1] - tw - 2))
    y = min(max(th + base, y), canvas.shape[0] - 1)
    cv2.rectangle(canvas, (x, y - th - base), (x + tw + 2, y + 1), colour, -1)
    cv2.putText(canvas, text, (x + 1, y - base // 2), FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)


def draw(image: np.ndarray, reading: Reading, fps: float | None = None, show_lines: bool = True) -> np.ndarray:
    """A BGR copy of ``image`` with the reading drawn on it; the input is not changed."""
    canvas = _as_bgr(image)
    frame_scale = max(canvas.shape[:2]) / 640.0
    thickness = max(1, int(round(1.5 * frame_scale)))
    for d in reading.digits:
        colour = confidence_colour(d.confidence)
        cv2.rectangle(canvas, (d.x, d.y), (d.x + d.w, d.y + d.h), colour, thickness)
        scale = float(np.clip(d.h / 45.0, 0.35 * frame_scale, 1.2 * frame_scale))
        text = f"{d.digit} {100 * d.confidence:.0f}%"
        if cv2.getTextSize(text, FONT, scale, 1)[0][0] > 1.6 * d.w + 6:
            text = str(d.digit)  # small digits side by side: labels must not cover each other
        _label(canvas, text, (d.x, d.y - 2), scale, colour, max(1, thickness - 1))
    if show_lines:
        for number, text in enumerate(reading.lines):
            members = [d for d in reading.digits if d.line == number]
            if not members:
                continue
            x = min(d.x for d in members)
            y = max(d.y + d.h for d in members)
            scale = float(np.clip(np.median([d.h for d in members]) / 35.0, 0.45 * frame_scale, 1.4 * frame_scale))
            _label(canvas, text, (x, y + int(30 * scale) + 4), scale, (90, 60, 20), thickness)
    if fps is not None:
        _label(canvas, f"{fps:.0f} FPS", (8, int(28 * frame_scale)), 0.7 * frame_scale, (40, 40, 40), thickness)
    return canvas
