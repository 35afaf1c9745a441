"""Synthetic digit strings with exact truth, composed from real digit pictures.

Digits from one pool (MNIST, pen digits from forms, cheque digits, USPS, printed renders) are set
side by side as one writer would: a common height and slant, spacing from generous to touching and
overlapping, a little baseline wander, sometimes separators (thousands dots and commas, a trailing
".-", "-", "=" or "/="), on real cheque backgrounds, plain, tinted, ruled or squared paper; then
blurred, down-sampled (small digits on a phone photo) and noised. The picture is cropped around the
ink with a random margin, as the recogniser crops a line. The truth is the digits only: separators
are part of the picture, never of the label (as in the cheque labels).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SEPARATORS = (".", ",", "-", "=", "/=", ".-", ",-")


@dataclass
class DigitPool:
    """Ink pictures of single digits: float32 alpha maps (1 = ink), tightly cropped, and labels."""
    name: str
    inks: list
    labels: np.ndarray

    def __post_init__(self):
        self.labels = np.asarray(self.labels, np.int32)
        self.by_digit = [np.flatnonzero(self.labels == d) for d in range(10)]


def ink_from_dark(gray: np.ndarray, floor: float = 0.2) -> np.ndarray | None:
    """Dark ink on light paper (uint8) -> tight float alpha map, faint background texture dropped."""
    gray = gray.astype(np.float32)
    paper, ink = np.percentile(gray, (85, 2))
    if paper - ink < 30:
        return None
    alpha = np.clip((paper - gray) / (paper - ink), 0, 1)
    alpha[alpha < floor] = 0
    return tight(alpha)


def ink_from_light(white_on_black: np.ndarray) -> np.ndarray | None:
    """MNIST / USPS polarity (white digit on black) -> tight float alpha map."""
    return tight(white_on_black.astype(np.float32) / max(1.0, float(white_on_black.max())))


def tight(alpha: np.ndarray) -> np.ndarray | None:
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.15), np.flatnonzero(alpha.max(axis=0) > 0.15)
    if rows.size < 2 or cols.size < 1:
        return None
    return alpha[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def paper_from_cheque(gray: np.ndarray) -> np.ndarray:
    """A cheque picture with its writing removed (grey closing: ink strokes are thinner than the
    window), keeping the printed texture's tone and pattern, slightly smoothed."""
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 9)))
    return cv2.GaussianBlur(closed, (3, 3), 0)


def _separator(kind: str, h: float, thickness: int, rng) -> np.ndarray:
    """An alpha map of a separator at digit height h, aligned to the digit box (same height)."""
    H = int(round(h))
    out = []
    for part in ("/" if kind.startswith("/") else "", kind.lstrip("/")):
        if not part:
            continue
        for ch in part:
            if ch in ".,":
                r = max(1, int(round(h * rng.uniform(0.04, 0.08))))
                w = 2 * r + 2 + (r if ch == "," else 0)
                a = np.zeros((H, w), np.float32)
                cy = int(H - r - 1 - h * rng.uniform(0, 0.05))
                cv2.circle(a, (r + 1, cy), r, 1.0, -1)
                if ch == ",":
                    cv2.line(a, (r + 1, cy), (1, min(H - 1, cy + 2 * r + 2)), 1.0, max(1, r))
                if rng.random() < 0.5:  # a comma or dot on the baseline may drop below it
                    a = np.roll(a, int(h * 0.05), axis=0)
            elif ch == "-":
                length = int(h * rng.uniform(0.25, 0.8))
                a = np.zeros((H, length + 2), np.float32)
                y = int(H * rng.uniform(0.45, 0.7))
                cv2.line(a, (1, y), (length, y + int(rng.integers(-2, 3))), 1.0, thickness)
            elif ch == "=":
                length = int(h * rng.uniform(0.3, 0.7))
                a = np.zeros((H, length + 2), np.float32)
                y, gap = int(H * rng.uniform(0.4, 0.55)), max(thickness + 2, int(h * rng.uniform(0.12, 0.22)))
                cv2.line(a, (1, y), (length, y), 1.0, thickness)
                cv2.line(a, (1, min(H - 1, y + gap)), (length, min(H - 1, y + gap)), 1.0, thickness)
            else:  # "/"
                a = np.zeros((H, int(h * 0.4) + 2), np.float32)
                cv2.line(a, (a.shape[1] - 2, 1), (1, H - 2), 1.0, thickness)
            out.append(a)
    return np.concatenate(out, axis=1) if out else np.zeros((H, 1), np.float32)


def _string_digits(rng, long_strings: float) -> str:
    if rng.random() < long_strings:
        length = int(rng.integers(8, 14))
    else:
        length = int(rng.choice(np.arange(1, 9), p=[0.06, 0.12, 0.16, 0.18, 0.18, 0.14, 0.10, 0.06]))
    digits = "".join(str(d) for d in rng.integers(0, 10, length))
    if length > 2 and rng.random() < 0.35:  # amounts: round numbers end in zeros
        zeros = int(rng.integers(1, length))
        digits = digits[:length - zeros] + "0" * zeros
    return digits


def _stroke_one(height: int, thickness: int, rng) -> np.ndarray:
    """A "1" written as one bare stroke (no flag, no foot), slightly slanted: the thin 1 a line
    may start with."""
    lean = int(rng.integers(0, max(1, height // 8) + 1))
    a = np.zeros((height, lean + thickness + 2), np.float32)
    cv2.line(a, (lean + 1, 0), (1, height - 1), 1.0, thickness)
    return a


def _with_tail(alpha: np.ndarray, length: float, rng) -> np.ndarray:
    """A 7's or a 9's lower part drawn out downwards by ``length`` pixels (a long tail below the row)."""
    rows = alpha.shape[0]
    split = int(rows * rng.uniform(0.5, 0.7))
    lower = cv2.resize(alpha[split:], (alpha.shape[1], rows - split + int(length)), interpolation=cv2.INTER_LINEAR)
    return np.concatenate([alpha[:split], lower], axis=0)


def compose(pools: list[DigitPool], pool_weights: np.ndarray, backgrounds: list, rng,
            long_strings: float = 0.2, small_digits: float = 0.12, tails: float = 0.15) -> tuple[np.ndarray, str]:
    """One synthetic line: (grey uint8 crop, digit string). Some lines hold digits much smaller
    than their neighbours, written high (small round 0s), and some 7s and 9s with tails reaching one
    or two digit heights below the row, then mostly cut off below the row as the recogniser crops a
    line (its tall strokes cut a little beyond the row)."""
    text = _string_digits(rng, long_strings)
    if rng.random() < 0.1:  # amounts and counts often start with a 1
        text = "1" + text[1:]
    small_line = rng.random() < small_digits
    tail_line = rng.random() < tails
    tail_room = 2.2 if tail_line else 0.0
    mixed = rng.random() < 0.15
    pool = pools[rng.choice(len(pools), p=pool_weights)]
    h = 40.0
    slant = rng.normal(0, 0.15)
    spacing = rng.choice([rng.uniform(-0.15, 0.02), rng.uniform(0.0, 0.15), rng.uniform(0.1, 0.5)], p=[0.25, 0.45, 0.3])
    thickness_change = int(rng.choice([-1, 0, 0, 1, 2]))
    thickness = max(1, int(round(h * rng.uniform(0.05, 0.1))))
    groups_dot = rng.random() < 0.3
    separator_char = rng.choice([".", ",", ".", " "]) if groups_dot else None
    trailing = rng.choice(SEPARATORS) if rng.random() < 0.3 else None
    leading = rng.random() < 0.05
    pieces: list[tuple[np.ndarray, float]] = []  # (alpha at height, gap before)
    if leading:
        pieces.append((_separator(rng.choice(["-", "="]), h, thickness, rng), rng.uniform(0, 0.2) * h))
    for i, ch in enumerate(text):
        p = pools[rng.choice(len(pools), p=pool_weights)] if mixed else pool
        candidates = p.by_digit[int(ch)]
        if candidates.size == 0:
            p = pools[0]
            candidates = p.by_digit[int(ch)]
        ink = p.inks[int(rng.choice(candidates))]
        dh = h * rng.uniform(0.88, 1.05) * (rng.uniform(0.85, 1.0) if ch == "1" else 1.0)
        small = small_line and rng.random() < (0.5 if ch == "0" else 0.1)
        if small:
            dh = h * rng.uniform(0.4, 0.7)
        scale = dh / ink.shape[0]
        dw = max(2, int(round(ink.shape[1] * scale * rng.uniform(0.85, 1.15))))
        if ch == "1" and rng.random() < 0.08:
            alpha = _stroke_one(max(2, int(round(dh))), max(1, thickness - 1), rng)
            dw = alpha.shape[1]
        else:
            alpha = cv2.resize(ink, (dw, max(2, int(round(dh)))), interpolation=cv2.INTER_LINEAR)
        top = int(np.clip(h * 1.2 - alpha.shape[0] - h * 0.1 + rng.normal(0, 0.04 * h), 0, h * 1.2 - alpha.shape[0]))
        if small:  # written high: from the row's top to its middle
            top = int(h * 0.15 + rng.uniform(0, 0.6) * max(0.0, h * 0.95 - alpha.shape[0]))
        if tail_line and ch in "79" and rng.random() < 0.7:
            alpha = _with_tail(alpha, h * rng.uniform(0.5, tail_room - 0.2), rng)
        box = np.zeros((int(h * (1.2 + tail_room)), dw), np.float32)
        box[top:top + alpha.shape[0]] = alpha[:box.shape[0] - top]
        gap = (spacing + rng.normal(0, 0.06)) * h if i else 0.0
        if separator_char and i and (len(text) - i) % 3 == 0:
            if separator_char == " ":
                gap += h * rng.uniform(0.2, 0.6)
            else:
                sep = _separator(separator_char, h * 1.2, thickness, rng)
                pieces.append((sep, gap + rng.uniform(0, 0.1) * h))
                gap = rng.uniform(-0.05, 0.15) * h
        pieces.append((box, gap))
    if trailing:
        pieces.append((_separator(trailing, h * 1.2, thickness, rng), rng.uniform(0.0, 0.3) * h))
    H = int(h * (1.2 + tail_room))
    width = int(sum(max(1, a.shape[1]) + g for a, g in pieces) + 4 * h)
    canvas = np.zeros((H, max(width, 8)), np.float32)
    x = 2 * h
    for alpha, gap in pieces:
        x = max(0.0, x + gap)
        xi = int(round(x))
        region = canvas[:alpha.shape[0], xi:xi + alpha.shape[1]]
        np.maximum(region, alpha[:region.shape[0], :region.shape[1]], out=region)
        x += alpha.shape[1]
    cut_below = tail_line and rng.random() < 0.7
    if cut_below:  # the picture ends a little below the row (0-0.3 digit heights and a margin)
        canvas[int(h * (1.1 + rng.uniform(0.0, 0.3) + rng.uniform(0.1, 0.3))):] = 0
    if thickness_change:
        kernel = np.ones((2 + abs(thickness_change),) * 2, np.uint8)
        canvas = (cv2.dilate if thickness_change > 0 else cv2.erode)(canvas, kernel)
        if thickness_change < 0 and canvas.max() < 0.5:
            return compose(pools, pool_weights, backgrounds, rng, long_strings, small_digits, tails)
    # slant (shear about the baseline) and a small rotation
    pad = int(h * 0.6)
    canvas = cv2.copyMakeBorder(canvas, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    angle = rng.normal(0, 1.5)
    shear = np.array([[1, -slant, slant * canvas.shape[0] / 2], [0, 1, 0]], np.float32)
    rot = cv2.getRotationMatrix2D((canvas.shape[1] / 2, canvas.shape[0] / 2), angle, 1.0)
    matrix = np.vstack([rot, [0, 0, 1]]) @ np.vstack([shear, [0, 0, 1]])
    canvas = cv2.warpAffine(canvas, matrix[:2].astype(np.float32), (canvas.shape[1], canvas.shape[0]))
    rows, cols = np.flatnonzero(canvas.max(axis=1) > 0.3), np.flatnonzero(canvas.max(axis=0) > 0.3)
    if rows.size == 0 or cols.size == 0:
        return compose(pools, pool_weights, backgrounds, rng, long_strings, small_digits, tails)
    ink_h = rows[-1] - rows[0] + 1
    mx0, mx1 = (rng.uniform(0.03, 0.5, 2) * ink_h).astype(int)
    my0, my1 = (rng.uniform(0.03, 0.3, 2) * ink_h).astype(int)
    y0, y1 = max(0, rows[0] - my0), min(canvas.shape[0], rows[-1] + 1 + (0 if cut_below else my1))
    x0, x1 = max(0, cols[0] - mx0), min(canvas.shape[1], cols[-1] + 1 + mx1)
    alpha = canvas[y0:y1, x0:x1]
    gray = _paint(alpha, backgrounds, rng, thickness)
    return _degrade(gray, rng), text


def _paint(alpha: np.ndarray, backgrounds: list, rng, thickness: int) -> np.ndarray:
    h, w = alpha.shape
    kind = rng.random()
    if backgrounds and kind < 0.45:
        bg = backgrounds[rng.integers(len(backgrounds))]
        zoom = rng.uniform(0.8, 1.6) * h / bg.shape[0]
        bg = cv2.resize(bg, (max(w, int(bg.shape[1] * zoom) + 1), max(h, int(bg.shape[0] * zoom) + 1)))
        if bg.shape[1] < w or bg.shape[0] < h:
            bg = cv2.resize(bg, (max(w, bg.shape[1]), max(h, bg.shape[0])))
        reps = (1, -(-w // bg.shape[1]) + 1)
        bg = np.tile(bg, reps)
        ox, oy = rng.integers(0, bg.shape[1] - w + 1), rng.integers(0, bg.shape[0] - h + 1)
        paper = bg[oy:oy + h, ox:ox + w].astype(np.float32)
    else:
        level = rng.uniform(140, 250)
        paper = np.full((h, w), level, np.float32)
        gx = np.linspace(-1, 1, w)[None, :] * rng.normal(0, 12) + np.linspace(-1, 1, h)[:, None] * rng.normal(0, 8)
        paper += gx
        if rng.random() < 0.3:  # ruled or squared paper
            step = int(h * rng.uniform(0.35, 0.9))
            line_level = rng.uniform(20, 70)
            offset = int(rng.integers(0, step))
            for y in range(offset, h, step):
                paper[y:y + 1] -= line_level
            if rng.random() < 0.5:
                for x in range(int(rng.integers(0, step)), w, step):
                    paper[:, x:x + 1] -= line_level
        paper = cv2.GaussianBlur(paper, (0, 0), 0.7)
    contrast = rng.uniform(70, 220)
    ink_level = np.clip(paper.mean() - contrast, 0, 200)
    gray = paper * (1 - alpha) + np.minimum(paper, ink_level) * alpha
    return np.clip(gray, 0, 255).astype(np.uint8)


def _degrade(gray: np.ndarray, rng) -> np.ndarray:
    h, w = gray.shape
    out = gray.astype(np.float32)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.5))
    if rng.random() < 0.4:  # small writing in a photo: few pixels per digit
        target = rng.uniform(12, 30)
        f = min(1.0, target / h)
        small = cv2.resize(out, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    else:  # cheque-scan size
        f = rng.uniform(0.8, 1.3) * 50 / h
        out = cv2.resize(out, (max(2, int(w * f)), max(2, int(h * f))), interpolation=cv2.INTER_AREA)
    out += rng.normal(0, rng.uniform(0, 10), out.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return out


def printed(fonts: list, backgrounds: list, rng, long_strings: float = 0.3) -> tuple[np.ndarray, str]:
    """One printed line (a form, a page number, a price): a font, separators inside the string."""
    from PIL import Image, ImageDraw, ImageFont

    text = _string_digits(rng, long_strings)
    shown = text
    if len(text) > 3 and rng.random() < 0.3:
        sep = str(rng.choice([".", ",", " ", "-"]))
        head = len(text) % 3 or 3
        shown = text[:head] + "".join(sep + text[i:i + 3] for i in range(head, len(text), 3))
    if rng.random() < 0.15:
        shown += str(rng.choice([".-", ",-", "-", ".", "="]))
    font = ImageFont.truetype(fonts[rng.integers(len(fonts))], int(rng.integers(28, 56)))
    canvas = Image.new("L", (int(len(shown) * 60 + 40), 100), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text((20, 10), shown, fill=255, font=font)
    alpha = np.asarray(canvas).astype(np.float32) / 255
    rows, cols = np.flatnonzero(alpha.max(axis=1) > 0.3), np.flatnonzero(alpha.max(axis=0) > 0.3)
    if rows.size == 0:
        return printed(fonts, backgrounds, rng, long_strings)
    ink_h = rows[-1] - rows[0] + 1
    mx0, mx1 = (rng.uniform(0.03, 0.5, 2) * ink_h).astype(int)
    my0, my1 = (rng.uniform(0.03, 0.3, 2) * ink_h).astype(int)
    alpha = alpha[max(0, rows[0] - my0):rows[-1] + 1 + my1, max(0, cols[0] - mx0):cols[-1] + 1 + mx1]
    if rng.random() < 0.5:
        slant = rng.normal(0, 0.08)
        alpha = cv2.warpAffine(alpha, np.float32([[1, -slant, slant * alpha.shape[0] / 2], [0, 1, 0]]),
                               (alpha.shape[1], alpha.shape[0]))
    return _degrade(_paint(alpha, backgrounds, rng, 2), rng), text
