"""Synthetic photos of handwritten digit strings on paper, with exact ground truth.

Tests, benchmarks and samples need camera-like frames whose answer is known: MNIST test digits
are drawn as pen strokes in lines on plain, ruled, squared, coloured, textured paper or a page on
a desk, then the whole page is tilted and lit like a phone photo. Everything is drawn on a canvas
a little larger than the frame, so the camera warp never pulls in empty corners, and each digit's
ink box goes through the same warp to become its ground truth.

    scene = make_scene(m.x_test, m.y_test, seed=7)
    cv2.imwrite("scene.png", scene.image); print(scene.text)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAPERS = ("plain", "ruled", "squared", "coloured", "textured", "desk")

# BGR; (low, high) per channel, one colour per scene as a writer uses one pen
_INKS = (((15, 15, 15), (45, 45, 45)),      # black pen
         ((95, 25, 10), (150, 60, 40)),     # blue ballpoint
         ((55, 55, 55), (90, 90, 90)))      # dark grey / soft pencil
_TINTS = ((150, 235, 250), (200, 190, 252), (185, 240, 205), (245, 222, 195), (150, 205, 250),
          (175, 215, 235))                  # yellow, pink, green, blue sticky notes; orange; manila
_ALPHA_BOX = 0.3        # ink alpha that counts as "ink" for the ground-truth box


@dataclass(frozen=True)
class TruthDigit:
    x: int
    y: int
    w: int
    h: int
    digit: int
    line: int


@dataclass
class Scene:
    image: np.ndarray           # (H, W, 3) uint8 BGR
    digits: list[TruthDigit]    # reading order: line by line, left to right
    paper: str

    @property
    def text(self) -> str:
        lines: dict[int, str] = {}
        for d in self.digits:
            lines[d.line] = lines.get(d.line, "") + str(d.digit)
        return "\n".join(lines[k] for k in sorted(lines))


def _strength(rng, difficulty):
    """Whether an effect is on, and how strongly (0..1): harder scenes get more and stronger ones."""
    on = rng.random() < difficulty
    return on, (rng.uniform(0.3, 1.0) * (0.5 + 0.5 * difficulty) if on else 0.0)


def _camera(rng, w, h, difficulty):
    """Homography of a slightly tilted, slightly off-axis camera, frame -> frame."""
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src.copy()
    on, k = _strength(rng, difficulty)
    if on:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), rng.choice((-1, 1)) * 4.0 * k, 1.0)
        dst = dst @ rot[:, :2].T.astype(np.float32) + rot[:, 2].astype(np.float32)
    on, k = _strength(rng, difficulty)
    if on:
        dst += rng.uniform(-1, 1, (4, 2)).astype(np.float32) * np.float32([w, h]) * 0.03 * k
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def _apply(matrix, pts):
    return cv2.perspectiveTransform(np.float32(pts).reshape(-1, 1, 2), matrix).reshape(-1, 2)


def _inner_rect(quad):
    """An axis-aligned rect inside a near-upright quad TL, TR, BR, BL: every point of an edge lies
    between its end points, so the inner-most end of each edge is a safe bound."""
    (tl, tr, br, bl) = quad
    return max(tl[0], bl[0]), max(tl[1], tr[1]), min(tr[0], br[0]), min(bl[1], br[1])


def _geometry(rng, w, h, paper, difficulty):
    """Camera, canvas padding, page rect and the rect where text may go (canvas coordinates)."""
    cam = _camera(rng, w, h, difficulty)
    inv = np.linalg.inv(cam)
    reach = _apply(inv, [[0, 0], [w, 0], [w, h], [0, h]])
    pad = int(np.ceil(max(0, -reach.min(), (reach - (w, h)).max()))) + 2
    m = 0.04 * min(w, h)  # keeps ink off the frame edge, where detectors have no context
    x0, y0, x1, y1 = np.add(_inner_rect(_apply(inv, [[m, m], [w - m, m], [w - m, h - m], [m, h - m]])), pad)
    page = (0, 0, w + 2 * pad, h + 2 * pad)
    if paper == "desk":
        pw, ph = rng.uniform(0.75, 0.92) * w, rng.uniform(0.78, 0.94) * h
        px, py = rng.uniform(0, w - pw) + pad, rng.uniform(0, h - ph) + pad
        page = tuple(int(round(v)) for v in (px, py, px + pw, py + ph))
        mx, my = 0.07 * pw, 0.07 * ph  # "well inside": nobody writes up to the edge of a sheet
        x0, y0, x1, y1 = max(x0, px + mx), max(y0, py + my), min(x1, px + pw - mx), min(y1, py + ph - my)
    shift = np.float64([[1, 0, -pad], [0, 1, -pad], [0, 0, 1]])
    return cam @ shift, pad, page, (float(x0), float(y0), float(x1), float(y1))


def _ink_patch(img28, height, thin):
    """Soft ink alpha of one MNIST digit whose ink is `height` px tall, and its tight ink box."""
    ys, xs = np.nonzero(img28)
    crop = img28[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    k = height / crop.shape[0]
    crop = cv2.copyMakeBorder(crop, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=0)  # room for soft edges
    size = (max(1, round(crop.shape[1] * k)), max(1, round(crop.shape[0] * k)))
    up = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    # MNIST strokes are marker-thick once enlarged; a higher threshold gives a finer pen
    a = np.clip((up - thin) / 0.35, 0, 1)
    a = a * a * (3 - 2 * a)
    ys, xs = np.nonzero(a > _ALPHA_BOX)
    if ys.size == 0:  # a faint digit vanishes under a fine pen: draw it with the full stroke
        return _ink_patch(img28, height, 0.0) if thin > 0 else (a, (0, 0, a.shape[1], a.shape[0]))
    return a, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


def _blend(img, x, y, alpha, colour):
    """paper * (1 - alpha) + colour * alpha for a patch whose top-left is at (x, y), clipped."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + alpha.shape[1], w), min(y + alpha.shape[0], h)
    if x1 <= x0 or y1 <= y0:
        return
    a = alpha[y0 - y:y1 - y, x0 - x:x1 - x, None]
    roi = img[y0:y1, x0:x1]
    roi *= 1 - a
    roi += a * np.float32(colour)


def _grain(rng, shape):
    """Unit-variance noise: a sum of two uniforms is Gaussian enough and far cheaper to draw."""
    u = rng.random((2, *shape), np.float32)
    return (u[0] + u[1] - 1) * np.float32(np.sqrt(6))


def _noise_field(rng, w, h, cell):
    """Smooth random field in about [-1, 1], varying over `cell` pixels (paper grain, desk wood)."""
    small = rng.standard_normal((h // cell[1] + 2, w // cell[0] + 2)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _paper(rng, kind, w, h, page, s, dh, first_baseline, pitch):
    """Background canvas (float32 BGR) with the ruling aligned to the text baselines."""
    if kind == "coloured":
        base = np.float32(_TINTS[rng.integers(len(_TINTS))]) + rng.uniform(-6, 6, 3)
    else:  # white paper is rarely neutral: a little less blue than red
        base = rng.uniform(232, 250) - rng.uniform((0, 0, 0), (10, 4, 0))
    img = np.empty((h, w, 3), np.float32)
    if kind == "desk":
        tone = (0.55, 0.75, 1.0) if rng.random() < 0.7 else (1.0, 1.0, 1.0)  # wood or grey desk
        wood = np.float32(tone) * rng.uniform(70, 150)
        grain = _noise_field(rng, w, h, (int(rng.integers(40, 120)), 3)) * rng.uniform(3, 10)
        img[:] = wood
        img += grain[..., None]
        drop = np.zeros((h // 4 + 1, w // 4 + 1), np.float32)  # the page's soft shadow, built small
        x0, y0, x1, y1 = (np.array(page) + 3 * s) / 4
        cv2.rectangle(drop, (int(x0), int(y0)), (int(x1), int(y1)), 1.0, -1)
        drop = cv2.GaussianBlur(drop, (0, 0), 1.5 * s)
        img *= 1 - 0.5 * cv2.resize(drop, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    px0, py0, px1, py1 = page
    sheet = img[py0:py1, px0:px1]
    sheet[:] = base
    if kind in ("textured", "coloured", "desk"):
        amp = rng.uniform(2, 5) if kind == "textured" else rng.uniform(0.5, 1.5)
        sheet += (_noise_field(rng, px1 - px0, py1 - py0, (32, 32)) * amp)[..., None]
    if kind == "textured":  # fibres: fine, slightly smeared grain
        sheet += cv2.GaussianBlur(_grain(rng, sheet.shape[:2]), (0, 0), 0.8)[..., None] * rng.uniform(3, 6)
    if kind in ("ruled", "squared"):
        mask = np.zeros(sheet.shape[:2], np.uint8)
        thick = max(1, int(round(s * rng.uniform(0.8, 1.6))))
        if kind == "ruled":
            ys = np.arange((first_baseline - py0) % pitch, py1 - py0, pitch)
            xs = []
        else:
            cell = rng.uniform(0.5, 1.0) * dh
            ys = np.arange(rng.uniform(0, cell), py1 - py0, cell)
            xs = np.arange(rng.uniform(0, cell), px1 - px0, cell)
        for y in ys:  # fixed-point coordinates keep the spacing exact between lines
            cv2.line(mask, (0, int(y * 16)), ((px1 - px0) * 16, int(y * 16)), 255, thick, cv2.LINE_AA, 4)
        for x in xs:
            cv2.line(mask, (int(x * 16), 0), (int(x * 16), (py1 - py0) * 16), 255, thick, cv2.LINE_AA, 4)
        blue = rng.random() < 0.7
        colour = rng.uniform((200, 160, 120), (235, 200, 170)) if blue else rng.uniform(150, 190, 3)
        opacity = rng.uniform(0.5, 0.9) if kind == "ruled" else rng.uniform(0.35, 0.7)
        _blend(sheet, 0, 0, mask.astype(np.float32) * (opacity / 255), colour)
    return img


def _photo(rng, img, w, h, s, difficulty):
    """Lighting, shadow, blur, sensor noise and JPEG, in the order a camera applies them."""
    sw, sh = w // 4 + 1, h // 4 + 1  # smooth fields are built small and enlarged: cheap
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    light = np.full((sh, sw), rng.uniform(0.88, 1.05), np.float32)  # exposure
    on, k = _strength(rng, difficulty)
    if on and rng.random() < 0.5:
        phi = rng.uniform(0, 2 * np.pi)
        ramp = xx * np.cos(phi) + yy * np.sin(phi)
        light *= 1 - 0.4 * k * (ramp - ramp.min()) / np.ptp(ramp)
    elif on:
        cx, cy = rng.uniform(0.2, 0.8) * sw, rng.uniform(0.2, 0.8) * sh
        r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / (sw * sw + sh * sh)
        light *= 1 - 0.6 * k * r2 / r2.max()
    on, k = _strength(rng, difficulty)
    if on:  # a hand or phone between lamp and page: a blurred blob reaching in from outside
        centre = rng.uniform((-0.2, -0.2), (1.2, 1.2)) * (sw, sh)
        angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(4, 8))))
        radii = rng.uniform(0.25, 0.6, angles.size) * min(sw, sh)
        poly = centre + np.c_[np.cos(angles), np.sin(angles)] * radii[:, None]
        shade = np.zeros((sh, sw), np.float32)
        cv2.fillPoly(shade, [np.int32(poly)], 1.0)
        shade = cv2.GaussianBlur(shade, (0, 0), rng.uniform(0.02, 0.06) * min(sw, sh) + 1)
        light *= 1 - 0.45 * k * shade
    img *= cv2.resize(light, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    on, k = _strength(rng, difficulty)
    if on:
        img = cv2.GaussianBlur(img, (0, 0), 1.2 * s * k)
    on, k = _strength(rng, difficulty)
    if on:
        img += _grain(rng, img.shape) * np.float32(6 * k)
    out = np.clip(img, 0, 255).astype(np.uint8)
    on, k = _strength(rng, difficulty)
    if on:
        quality = int(round(90 - 50 * k))
        _, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def _warp_box(matrix, box, w, h):
    """Bounding rect, clipped to the frame, of a canvas ink box (x0, y0, x1, y1) after the camera."""
    x0, y0, x1, y1 = np.float32(box) - 0.5  # pixel edges, not centres
    pts = _apply(matrix, [[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    bx0, by0 = np.floor(pts.min(axis=0) + 0.5).astype(int)
    bx1, by1 = np.ceil(pts.max(axis=0) - 0.5).astype(int) + 1
    bx0, by0, bx1, by1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
    return int(bx0), int(by0), int(bx1 - bx0), int(by1 - by0)


def make_scene(digits, labels, seed, width=640, height=480, paper=None, lines=None,
               digits_per_line=None, digit_height=None, difficulty=0.5) -> Scene:
    """One scene of `lines` lines of MNIST digits; None arguments are drawn from the seed.

    `digit_height` is in pixels of the output frame; `difficulty` (0..1) is both the chance and
    the strength of each camera effect, so 0 gives an upright, evenly lit, sharp, clean photo.
    """
    rng = np.random.default_rng(seed)
    paper = PAPERS[rng.integers(len(PAPERS))] if paper is None else paper
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}, expected one of {PAPERS}")
    n_lines = int(rng.integers(1, 5)) if lines is None else int(lines)
    lo, hi = (2, 10) if digits_per_line is None else (
        (digits_per_line, digits_per_line) if np.isscalar(digits_per_line) else digits_per_line)
    if n_lines < 1 or lo < 1 or hi < lo:
        raise ValueError(f"need lines >= 1 and 1 <= digits per line, got {lines}, {digits_per_line}")
    picks = [rng.integers(len(digits), size=int(rng.integers(lo, hi + 1))) for _ in range(n_lines)]
    s = min(width / 640, height / 480)
    warp, pad, page, (ax0, ay0, ax1, ay1) = _geometry(rng, width, height, paper, difficulty)

    # layout in units of the digit height first, so the height can be capped to fit the page
    sizes = [rng.uniform(0.9, 1.1, p.size) for p in picks]
    gaps = [rng.uniform(0.3, 0.7, p.size) for p in picks]  # stays >= 0.15 after a 4 degree tilt
    aspect = [np.array([np.ptp(np.nonzero(digits[i].any(axis=0))[0]) + 1 for i in p]) /
              np.array([np.ptp(np.nonzero(digits[i].any(axis=1))[0]) + 1 for i in p]) for p in picks]
    pitch = rng.uniform(1.6, 2.0 if paper == "ruled" else 2.3)  # baseline to baseline, >= 1.6
    need_w = max(float((z * a).sum() + g[1:].sum()) for z, a, g in zip(sizes, aspect, gaps))
    need_h = (n_lines - 1) * pitch + 1.25
    fit = 0.95 * min((ax1 - ax0) / need_w, (ay1 - ay0) / need_h)
    if digit_height is None:
        dh = min(rng.uniform(28, 70) * s, fit)
    elif digit_height > fit:
        raise ValueError(f"digit_height {digit_height} does not fit: at most {fit:.0f} px for this layout")
    else:
        dh = float(digit_height)
    if dh < 6:
        raise ValueError(f"{width}x{height} is too small for {n_lines} lines of up to {hi} digits")

    thin = rng.uniform(0.1, 0.4)  # finer pens break about 2 % of MNIST digits into pieces
    lo_ink, hi_ink = _INKS[rng.integers(len(_INKS))]
    ink, opacity = rng.uniform(lo_ink, hi_ink), rng.uniform(0.85, 1.0)
    patches = [[_ink_patch(digits[i], z * dh, thin) for i, z in zip(p, zz)] for p, zz in zip(picks, sizes)]
    widths = [sum(b[2] - b[0] for _, b in row) + dh * g[1:].sum() for row, g in zip(patches, gaps)]
    left = ax0 + rng.uniform(0, max(0.0, ax1 - ax0 - max(widths)))
    first = ay0 + rng.uniform(0, max(0.0, ay1 - ay0 - need_h * dh)) + 1.15 * dh
    sit = rng.uniform(-0.12, 0.08) * dh  # digits sit on a rule line, or just above/below it
    canvas = _paper(rng, paper, width + 2 * pad, height + 2 * pad, page, s, dh, first - sit, pitch * dh)

    truth = []
    for line, (row, g, pw) in enumerate(zip(patches, gaps, widths)):
        baseline = first + line * pitch * dh
        x = left + rng.uniform(0, min(dh, max(0.0, ax1 - left - pw)))
        for j, ((alpha, (bx0, by0, bx1, by1)), idx) in enumerate(zip(row, picks[line])):
            x += g[j] * dh if j else 0.0
            bottom = baseline + rng.uniform(-0.05, 0.05) * dh
            px, py = int(round(x)) - bx0, int(round(bottom)) - by1
            _blend(canvas, px, py, alpha * opacity, ink)
            box = _warp_box(warp, (px + bx0, py + by0, px + bx1, py + by1), width, height)
            truth.append(TruthDigit(*box, digit=int(labels[idx]), line=line))
            x = px + bx1
    image = cv2.warpPerspective(canvas, warp, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return Scene(_photo(rng, image, width, height, s, difficulty), truth, paper)


def make_scenes(digits, labels, count, seed=0, **kwargs) -> list[Scene]:
    """`count` scenes; scene i uses seed seed*100003+i, and papers cycle so every kind appears."""
    fixed = kwargs.pop("paper", None)
    return [make_scene(digits, labels, seed * 100003 + i, paper=fixed or PAPERS[i % len(PAPERS)], **kwargs)
            for i in range(count)]


def blank_scene(seed, width=640, height=480, paper="plain", difficulty=0.5) -> np.ndarray:
    """Paper, ruling, lighting and noise as in make_scene, with no digits (false-positive tests)."""
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}, expected one of {PAPERS}")
    rng = np.random.default_rng(seed)
    s = min(width / 640, height / 480)
    warp, pad, page, (ax0, ay0, _, _) = _geometry(rng, width, height, paper, difficulty)
    dh = rng.uniform(28, 70) * s
    canvas = _paper(rng, paper, width + 2 * pad, height + 2 * pad, page, s, dh, ay0 + dh,
                    rng.uniform(1.6, 2.0) * dh)
    image = cv2.warpPerspective(canvas, warp, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
    return _photo(rng, image, width, height, s, difficulty)
