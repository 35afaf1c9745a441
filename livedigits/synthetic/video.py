"""Synthetic hand-held videos of written pages, with per-frame ground truth.

Each page is a large sheet (3.2 x 2.4 frames) written with the scene generator's own pen, paper and
ruling (``livedigits.synthetic.scenes``: MNIST test digits in lines), upright and clean: the camera
effects are added per frame. A virtual hand-held camera moves over it: it arrives from blank paper or desk,
holds the page with tremor and slow zoom, roll and perspective changes, shakes (motion blur),
half-leaves the page, flashes, goes darker and lighter, has a shadow pass over, and leaves again;
pages come one after the other, swapped while the camera looks at blank paper.

    video = make_video(m.x_test, m.y_test, seed=1, seconds=10, pages=2)
    write_video(video, "clip.mp4")
    video.truth[i].full, video.truth[i].text   # the page's text when all of it is in view

Truth per frame: ``full`` when every digit of the page is wholly in view (with a small margin),
``blank`` when no part of any digit is, ``partial`` otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..evaluation.scoring import aligned_pairs, edit_distance
from .scenes import _INKS, PAPERS, TruthDigit, _blend, _ink_patch, _paper

_WORLD = (3.2, 2.4)        # page world size, in frame widths and heights: room for blank views beside the text
_MAX_ROLL = 4.0            # degrees; the recogniser's line grouping is built for photos tilted this much
_EXPOSURE = 0.35           # shutter open for this share of the frame interval: sets the motion-blur length
_EDGE = 0.015              # "in view" needs this share of the frame's shorter side between ink and edge


@dataclass(frozen=True)
class FrameTruth:
    page: int                        # the page the camera is over (0-based)
    full: bool                       # every digit of the page wholly in view
    blank: bool                      # no part of any digit in view (blank paper or desk)
    text: str                        # the page's text when `full`, else ""
    digits: tuple[TruthDigit, ...]   # digits wholly in view, frame coordinates
    blur_px: float = 0.0             # motion-blur length in pixels
    flash: bool = False              # a flash of light
    camera: np.ndarray | None = None  # homography page -> frame (tracking tests compare motion with it)

    @property
    def partial(self) -> bool:
        return not self.full and not self.blank


@dataclass
class Video:
    frames: list[np.ndarray]         # BGR uint8
    truth: list[FrameTruth]
    fps: float
    texts: list[str]                 # each page's text, in order

    def time_s(self, index: int) -> float:
        return index / self.fps


@dataclass(frozen=True)
class _Page:
    image: np.ndarray                # the world: page (and desk) image, BGR uint8
    digits: list[TruthDigit]         # world coordinates
    text: str
    home: np.ndarray                 # pose with the whole text comfortably in view
    partial: np.ndarray              # pose with part of the text out of view
    blank: np.ndarray                # pose over blank paper or desk
    slack: float                     # world pixels the home view can move before text leaves the view


# A pose is (cx, cy, zoom, roll degrees, px, py): the world point at the frame centre, frame pixels
# per world pixel, rotation, and the perspective terms of a slightly tilted camera.

def homography(pose, width: int, height: int) -> np.ndarray:
    """World -> frame for a pose."""
    cx, cy, zoom, roll, px, py = pose
    c, s = np.cos(np.radians(roll)) * zoom, np.sin(np.radians(roll)) * zoom
    centre = np.array([[c, -s, -(c * cx - s * cy)], [s, c, -(s * cx + c * cy)], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, 1, 0], [px, py, 1]])
    shift = np.array([[1, 0, width / 2], [0, 1, height / 2], [0, 0, 1]])
    return shift @ tilt @ centre


def _corners(box):
    x, y, w, h = box
    return np.float64([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])


def _project(matrix, pts):
    return cv2.perspectiveTransform(np.float64(pts).reshape(-1, 1, 2), matrix).reshape(-1, 2)


def _view_half(zoom, roll, width, height):
    """Half extents, in world pixels, of the world rect that a pose may see (roll and tilt included)."""
    r = np.radians(abs(roll))
    hx = (width / 2 * np.cos(r) + height / 2 * np.sin(r)) / zoom
    hy = (width / 2 * np.sin(r) + height / 2 * np.cos(r)) / zoom
    return 1.12 * hx, 1.12 * hy  # perspective can stretch a corner by up to ~10 %


def _write_page(rng, digits, labels, width, height, paper):
    """A page world (3.2 x 2.4 frames) with a block of handwritten lines off to one side, drawn with
    the scene generator's pen, paper and ruling at the frame's scale (make_scene would scale rulings
    and shadows up with the canvas). Returns (image, truth digits in world pixels, text box)."""
    s = min(width / 640, height / 480)
    ww, wh = int(_WORLD[0] * width), int(_WORLD[1] * height)
    dh = float(rng.uniform(30, 46) * s)
    picks = [rng.integers(len(digits), size=int(rng.integers(3, 9))) for _ in range(int(rng.integers(1, 4)))]
    thin = rng.uniform(0.1, 0.4)
    lo, hi = _INKS[rng.integers(len(_INKS))]
    ink, opacity = rng.uniform(lo, hi), rng.uniform(0.85, 1.0)
    rows = [[_ink_patch(digits[i], rng.uniform(0.9, 1.1) * dh, thin) for i in p] for p in picks]
    gaps = [rng.uniform(0.3, 0.7, p.size) * dh for p in picks]
    pitch = rng.uniform(1.6, 2.0 if paper == "ruled" else 2.3) * dh
    widths = [sum(b[2] - b[0] for _, b in row) + g[1:].sum() for row, g in zip(rows, gaps)]
    block_w, block_h = max(widths), (len(rows) - 1) * pitch + 1.25 * dh
    # the text sits off-centre, so that there is blank paper (or desk) beside it to look at
    cx = ww * (rng.uniform(0.3, 0.38) if rng.random() < 0.5 else rng.uniform(0.62, 0.7))
    left, first = cx - block_w / 2, wh * rng.uniform(0.4, 0.6) - block_h / 2 + 1.15 * dh
    page = (0, 0, ww, wh)
    if paper == "desk":  # a sheet on a desk: the text well inside it, desk all round
        mx, my = rng.uniform(0.35, 0.6, 2) * (width, height)
        page = tuple(int(v) for v in (max(0, left - mx), max(0, first - 1.15 * dh - my),
                                      min(ww, left + block_w + mx), min(wh, first - 1.15 * dh + block_h + my)))
    sit = rng.uniform(-0.12, 0.08) * dh  # digits sit on a rule line, or just above/below it
    canvas = _paper(rng, paper, ww, wh, page, s, dh, first - sit, pitch)
    truth = []
    for line, (row, g, p) in enumerate(zip(rows, gaps, picks)):
        baseline = first + line * pitch
        x = left + rng.uniform(0, 0.5 * dh)
        for j, ((alpha, (bx0, by0, bx1, by1)), idx) in enumerate(zip(row, p)):
            x += g[j] if j else 0.0
            bottom = baseline + rng.uniform(-0.05, 0.05) * dh
            px, py = int(round(x)) - bx0, int(round(bottom)) - by1
            _blend(canvas, px, py, alpha * opacity, ink)
            truth.append(TruthDigit(int(px + bx0), int(py + by0), int(bx1 - bx0), int(by1 - by0),
                                    int(labels[idx]), line))
            x = px + bx1
    boxes = np.array([(d.x, d.y, d.x + d.w, d.y + d.h) for d in truth], np.float64)
    text_box = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0))
    return np.clip(canvas, 0, 255).astype(np.uint8), truth, text_box


def _plan_page(rng, digits, labels, width, height, paper):
    """A page world, and the camera's poses over it: home (all the text comfortably in view), partial
    (part of the text out of view) and blank (blank paper or desk beside the text)."""
    image, truth, text_box = _write_page(rng, digits, labels, width, height, paper)
    text = "\n".join("".join(str(d.digit) for d in truth if d.line == n) for n in range(truth[-1].line + 1))
    return _page_poses(rng, image, truth, text_box, text, width, height)


def _page_poses(rng, image, truth, text_box, text, width, height) -> _Page:
    """The camera's poses over a page world whose writing fills `text_box` (world pixels)."""
    x0, y0, x1, y1 = text_box
    wh, ww = image.shape[:2]
    tw, th = x1 - x0, y1 - y0
    zoom = min(rng.uniform(0.9, 1.15), 0.72 * width / tw, 0.68 * height / th)
    hx, hy = _view_half(zoom, _MAX_ROLL, width, height)
    home = np.array([(x0 + x1) / 2, (y0 + y1) / 2, zoom, rng.uniform(-2, 2), 0.0, 0.0])
    blank = _blank_pose(rng, (x0, y0, x1, y1), zoom, ww, wh, width, height)
    if blank is None:  # cannot happen with the text off-centre on a 3.2-frame-wide sheet
        raise ValueError("no blank view beside the text")
    # part of the text out of view: the frame edge cuts the text 30-60 % of the way across
    side = int(rng.integers(4)) if text.count("\n") else int(rng.integers(2))
    cut = rng.uniform(0.3, 0.6)
    ex, ey = width / 2 / zoom, height / 2 / zoom
    partial = home.copy()
    if side == 0:
        partial[0] = x0 + (1 - cut) * tw - ex      # right part out
    elif side == 1:
        partial[0] = x1 - (1 - cut) * tw + ex      # left part out
    elif side == 2:
        partial[1] = y0 + (1 - cut) * th - ey      # bottom lines out
    else:
        partial[1] = y1 - (1 - cut) * th + ey      # top lines out
    partial[0] = np.clip(partial[0], hx, ww - hx)
    partial[1] = np.clip(partial[1], hy, wh - hy)
    slack = max(0.0, min(ex - tw / 2, ey - th / 2))
    return _Page(image, truth, text, home, partial, blank, slack)


def _blank_pose(rng, text_box, zoom, ww, wh, width, height):
    """A pose whose view stays clear of the text and inside the world, near the text (a short pan)."""
    x0, y0, x1, y1 = text_box
    for z in (zoom, 1.25 * zoom, 1.5 * zoom):
        hx, hy = _view_half(z, _MAX_ROLL, width, height)
        gap = 0.1 * width / z
        cxs, cys = np.meshgrid(np.linspace(hx, ww - hx, 17), np.linspace(hy, wh - hy, 9))
        cxs, cys = cxs.ravel(), cys.ravel()
        clear = (cxs + hx < x0 - gap) | (cxs - hx > x1 + gap) | (cys + hy < y0 - gap) | (cys - hy > y1 + gap)
        if clear.any():
            cxs, cys = cxs[clear], cys[clear]
            near = np.argsort(np.hypot(cxs - (x0 + x1) / 2, cys - (y0 + y1) / 2))[:3]
            pick = near[int(rng.integers(near.size))]
            return np.array([cxs[pick], cys[pick], z, rng.uniform(-2, 2), 0.0, 0.0])
    return None


# -- the camera's script -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Segment:
    seconds: float
    page: int
    start: np.ndarray                # pose at the start; the segment eases to `end`
    end: np.ndarray
    kind: str                        # "hold" (the hand still, trembling), "move" or "shake"


def _script(rng, pages: list[_Page], seconds: float, blank: bool, partial: bool, width: int) -> list[_Segment]:
    """The camera's moves, page after page. Holds stretch to make the whole last `seconds`; moves keep
    their length (a hand settles on a page in about a second) unless the clip is too short for them."""
    segments = []
    for n, page in enumerate(pages):
        held = page.home.copy()
        held[3] = rng.uniform(-_MAX_ROLL + 1, _MAX_ROLL - 1)
        held[2] *= rng.uniform(0.93, 1.07)
        held[4:] = rng.uniform(-1.5e-4, 1.5e-4, 2)
        # a hand arrives quickly close to the text, then settles on it slowly (~0.3 frame widths a second)
        step = page.slack + 0.1 * width / page.home[2]
        near = page.home + (page.blank - page.home) / np.hypot(*(page.blank - page.home)[:2]) * step
        near[2:] = page.home[2:]
        settle = float(np.clip(step * page.home[2] / (0.3 * width), 0.6, 2.0))
        plan = []
        if blank or n > 0:
            plan += [(0.6, "hold", page.blank, page.blank), (1.0, "move", page.blank, near),
                     (settle, "move", near, page.home)]
        plan += [(2.2, "hold", page.home, held), (0.6, "shake", held, held), (1.0, "hold", held, page.home)]
        if partial:
            plan += [(0.8, "move", page.home, page.partial), (0.5, "hold", page.partial, page.partial),
                     (1.2, "move", page.partial, page.home)]
        plan += [(1.0, "hold", page.home, page.home)]
        if blank or n < len(pages) - 1:
            plan += [(1.0, "move", page.home, page.blank)]
            if n == len(pages) - 1:
                plan += [(0.6, "hold", page.blank, page.blank)]
        segments += [_Segment(t, n, a, b, kind) for t, kind, a, b in plan]
    fixed = sum(s.seconds for s in segments if s.kind != "hold")
    holds = sum(s.seconds for s in segments if s.kind == "hold")
    stretch = (seconds - fixed) / holds
    if stretch < 0.3:  # too short a clip for full-length moves: everything shrinks alike
        stretch = squeeze = seconds / (fixed + holds)
    else:
        squeeze = 1.0
    return [_Segment(s.seconds * (stretch if s.kind == "hold" else squeeze), s.page, s.start, s.end, s.kind)
            for s in segments]


def _tremor(rng, count):
    """Hand tremor: a few slow sines per pose term, (frequency Hz, phase) pairs and amplitudes."""
    freqs = rng.uniform(0.2, 1.6, (count, 6))
    phases = rng.uniform(0, 2 * np.pi, (count, 6))
    amps = np.array([4.0, 3.0, 0.012, 0.4, 1.5e-5, 1.5e-5]) * rng.uniform(0.5, 1.0, (count, 6))
    return freqs, phases, amps


def _pose_at(t, segments, tremor, shake):
    """(page, pose) at time t (seconds)."""
    start = 0.0
    for seg in segments:
        if t < start + seg.seconds or seg is segments[-1]:
            u = np.clip((t - start) / seg.seconds, 0, 1)
            ease = u * u * (3 - 2 * u)  # moves start and stop smoothly
            pose = seg.start + (seg.end - seg.start) * ease
            freqs, phases, amps = tremor
            # tremor amplitudes are frame pixels: the centre's world offset shrinks as the camera zooms in
            wobble = (amps * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=0)
            pose = pose + wobble / pose[2] ** np.r_[1, 1, 0, 0, 0, 0]
            if seg.kind == "shake":  # fast hand shake: large, quick moves that smear the picture
                f, ph, a = shake
                envelope = np.sin(np.pi * u) ** 2
                pose = pose + envelope * (a * np.sin(2 * np.pi * f * t + ph)).sum(axis=0)
            return seg.page, pose
        start += seg.seconds
    raise AssertionError("unreachable")


# -- one frame -----------------------------------------------------------------------------------

def _render(world, poses, width, height):
    """The world seen from the mean of `poses` (sub-frame poses over the shutter time: motion blur)."""
    if len(poses) == 1:
        return cv2.warpPerspective(world, homography(poses[0], width, height), (width, height),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    acc = np.zeros((height, width, 3), np.float32)
    for pose in poses:
        acc += cv2.warpPerspective(world, homography(pose, width, height), (width, height),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return acc / len(poses)


def _light(rng, seconds, width, height, shadow=(0.3, 0.5)):
    """Per-frame lighting: slow exposure drift, a fixed gradient, and a shadow passing once (`shadow`:
    the range of how much light it takes away)."""
    sw, sh = width // 8 + 1, height // 8 + 1
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    phi = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.cos(phi) + yy * np.sin(phi)
    gradient = 1 - rng.uniform(0.05, 0.25) * (ramp - ramp.min()) / np.ptp(ramp)
    drift = rng.uniform(-0.22, 0.08, 3)  # exposure offsets at the start, middle and end
    shadow_t = rng.uniform(0.15, 0.75) * seconds
    shadow_len = rng.uniform(1.0, 1.8)
    shadow_dark = rng.uniform(*shadow)
    radii = rng.uniform(0.25, 0.45, 2) * (sw, sh)
    y_track = rng.uniform(0.2, 0.8) * sh
    direction = rng.choice((-1, 1))

    def field(t):
        level = 1.0 + np.interp(t, [0, seconds / 2, seconds], drift)
        light = gradient * np.float32(level)
        u = (t - shadow_t) / shadow_len
        if 0 <= u <= 1:  # a hand or arm crossing the light: a soft blob sliding across the frame
            cx = (-0.4 + 1.8 * u if direction > 0 else 1.4 - 1.8 * u) * sw
            shade = np.zeros((sh, sw), np.float32)
            cv2.ellipse(shade, (int(cx), int(y_track)), (int(radii[0]), int(radii[1])), 20.0, 0, 360, 1.0, -1)
            shade = cv2.GaussianBlur(shade, (0, 0), 0.08 * min(sw, sh) + 1)
            light = light * (1 - shadow_dark * shade)
        return cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)
    return field


def _truth(page: _Page, number: int, matrix, width, height, blur, flash) -> FrameTruth:
    quads = np.array([_project(matrix, _corners((d.x, d.y, d.w, d.h))) for d in page.digits])
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    m = _EDGE * min(width, height)
    inside = (lo[:, 0] >= m) & (lo[:, 1] >= m) & (hi[:, 0] <= width - m) & (hi[:, 1] <= height - m)
    outside = (hi[:, 0] <= 0) | (hi[:, 1] <= 0) | (lo[:, 0] >= width) | (lo[:, 1] >= height)
    seen = tuple(TruthDigit(int(round(a[0])), int(round(a[1])), int(round(b[0] - a[0])), int(round(b[1] - a[1])),
                            d.digit, d.line) for d, a, b, ok in zip(page.digits, lo, hi, inside) if ok)
    full = bool(inside.all())
    return FrameTruth(number, full, bool(outside.all()), page.text if full else "", seen, blur, flash, matrix)


def make_video(digits, labels, seed: int, seconds: float = 10.0, fps: float = 15.0, width: int = 640,
               height: int = 480, pages: int = 1, paper: str | None = None, blank: bool = True,
               partial: bool = True, flash: bool = True, noise: float = 3.0) -> Video:
    """A hand-held clip over `pages` written pages; every input is fixed by `seed`.

    `blank`: start and end over blank paper or desk (between pages the camera always goes there);
    `partial`: a stretch with part of the text out of view; `flash`: one over-exposed frame.
    """
    rng = np.random.default_rng(seed)
    if paper is not None and paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}, expected one of {PAPERS}")
    worlds = [_plan_page(rng, digits, labels, width, height, paper or PAPERS[int(rng.integers(len(PAPERS)))])
              for _ in range(pages)]
    return _film(rng, worlds, seconds, fps, width, height, blank, partial, flash, noise)


def _film(rng, worlds: list[_Page], seconds: float, fps: float, width: int, height: int, blank: bool,
          partial: bool, flash: bool, noise: float, light_drift: float = 0.0, white_drift: float = 0.0,
          shadow: tuple[float, float] = (0.3, 0.5), jpeg: tuple[int, int] | None = None) -> Video:
    """The hand-held camera over `worlds`, frame by frame. `light_drift` dims the light further by up to
    this share over the clip, `white_drift` warms it (less blue, more red) by up to this share,
    `shadow` is how dark the passing hand's shadow gets, `jpeg` a (low, high) JPEG quality range."""
    segments = _script(rng, worlds, seconds, blank, partial, width)
    tremor = _tremor(rng, 3)
    shake = (rng.uniform(3.0, 5.0, (2, 6)), rng.uniform(0, 2 * np.pi, (2, 6)),
             np.array([18.0, 13.0, 0.02, 1.5, 0, 0]) * rng.uniform(0.6, 1.0, (2, 6)))
    light = _light(rng, seconds, width, height, shadow)
    count = int(round(seconds * fps))
    flash_at = -1
    if flash:  # during the hold after the shake, when the text is in view
        after = next(i for i, s in enumerate(segments) if s.kind == "shake") + 1
        flash_at = int((sum(s.seconds for s in segments[:after]) + 0.4 * segments[after].seconds) * fps)
    pad = 16  # the sensor noise is cut from a slightly larger bank at a random offset per frame
    bank = (rng.standard_normal((3, height + pad, width + pad, 3)) * noise).astype(np.float32)

    frames, truth = [], []
    for index in range(count):
        t = index / fps
        n, pose = _pose_at(t, segments, tremor, shake)
        matrix = homography(pose, width, height)
        # blur length: how far the frame centre's world point moves while the shutter is open
        half = _EXPOSURE / fps / 2
        n0, before = _pose_at(max(0.0, t - half), segments, tremor, shake)
        n1, after = _pose_at(t + half, segments, tremor, shake)
        if n0 != n or n1 != n:  # the page is swapped between frames, off view: no blur across it
            before = after = pose
        centre = _project(np.linalg.inv(matrix), [[width / 2, height / 2]])
        blur = float(np.linalg.norm(_project(homography(after, width, height), centre)
                                    - _project(homography(before, width, height), centre)))
        steps = int(np.clip(np.ceil(blur / 2), 1, 12)) if blur > 1.5 else 1
        poses = [pose] if steps == 1 else [before + (after - before) * k / (steps - 1) for k in range(steps)]
        image = _render(worlds[n].image, poses, width, height).astype(np.float32)
        image *= light(t)[..., None]
        is_flash = index == flash_at
        if is_flash:
            image = image * 1.6 + 70
        oy, ox = rng.integers(pad, size=2)
        image += bank[index % 3, oy:oy + height, ox:ox + width]
        if light_drift or white_drift:  # the light dims and warms as the clip goes on
            u = np.float32(index / max(count - 1, 1))
            image *= (1 - light_drift * u) * np.float32([1 - white_drift * u, 1.0, 1 + 0.4 * white_drift * u])
        frame = np.clip(image, 0, 255).astype(np.uint8)
        if jpeg is not None:
            quality = int(rng.integers(jpeg[0], jpeg[1] + 1))
            frame = cv2.imdecode(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)
        frames.append(frame)
        truth.append(_truth(worlds[n], n, matrix, width, height, blur, is_flash))
    return Video(frames, truth, fps, [w.text for w in worlds])


def write_video(video: Video, path: str | Path) -> Path:
    """The frames as an .mp4 (mp4v, in every OpenCV build with FFmpeg)."""
    path = Path(path)
    height, width = video.frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), video.fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write video {path}")
    try:
        for frame in video.frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


# -- scoring readings against the truth ----------------------------------------------------------

@dataclass(frozen=True)
class VideoScore:
    cer: float                # character error rate of `text` ("\n" included) on full-view frames
    flicker: float            # share of consecutive full-view frame pairs whose text differs
    blank_digits: int         # digits reported on blank frames, all frames together
    full_frames: int
    blank_frames: int
    blank_frames_with_digits: int
    chars: int = 0            # characters of truth on full-view frames (CER's denominator)
    pairs: int = 0            # consecutive full-view frame pairs (flicker's denominator)
    recover: tuple = ()       # per stretch of full view (page coming into view): frames until the
                              # text first reads as it does for most of the stretch

    def recovered_within(self, frames: int) -> float:
        """Share of the stretches of full view whose text is steady within `frames` frames."""
        return sum(r <= frames for r in self.recover) / max(len(self.recover), 1)


def score_video(truth: list[FrameTruth], readings: list) -> VideoScore:
    """Scores one video's readings (anything with .text and .digits), frame by frame."""
    errors = chars = changes = pairs = 0
    blank_digits = blank_hit = 0
    for k, (t, r) in enumerate(zip(truth, readings)):
        if t.full:
            errors += edit_distance(t.text, r.text)
            chars += len(t.text)
            if k and truth[k - 1].full and truth[k - 1].page == t.page:
                pairs += 1
                changes += r.text != readings[k - 1].text
        if t.blank:
            blank_digits += len(r.digits)
            blank_hit += bool(r.digits)
    return VideoScore(errors / max(chars, 1), changes / max(pairs, 1), blank_digits,
                      sum(t.full for t in truth), sum(t.blank for t in truth), blank_hit, chars, pairs,
                      recovery_frames(truth, readings))


def recovery_frames(truth: list[FrameTruth], readings: list, min_run: int = 15) -> tuple[int, ...]:
    """For each stretch of at least `min_run` full-view frames of one page (the page coming into view,
    or back into it): how many frames pass until the text first reads as it does in most of the
    stretch (its steady value; the stretch's length if it never does)."""
    out, k = [], 0
    while k < len(truth):
        if not truth[k].full:
            k += 1
            continue
        end = k
        while end < len(truth) and truth[end].full and truth[end].page == truth[k].page:
            end += 1
        if end - k >= min_run:
            texts = [r.text for r in readings[k:end]]
            steady = max(set(texts), key=texts.count)
            out.append(texts.index(steady))
        k = end
    return tuple(out)


@dataclass(frozen=True)
class ErrorBreakdown:
    """Where a video's errors on full-view frames come from (``error_breakdown``)."""
    substitutions: int
    deletions: int
    insertions: int
    entry_changes: int        # text changes between consecutive full-view frames among the first
    entry_pairs: int          # `entry` frames of each stretch of full view (the page coming into view)...
    steady_changes: int       # ... and later in the stretch
    steady_pairs: int
    wrong: dict               # (page, index in its text) -> full-view frames that character was wrong in
    raw_right: dict           # ... frames the raw reading had it right (read right in some frame or not)
    full_frames: dict         # page -> its full-view frames


def error_breakdown(truth: list[FrameTruth], readings: list, raw: list | None = None, entry: int = 15) -> ErrorBreakdown:
    """Substitutions, deletions and insertions of `readings` on full-view frames (one optimal
    alignment per frame), text changes split into the page's entry and the rest of the view, and per
    character of the truth how often it was wrong and how often `raw` (each frame read on its own)
    had it right."""
    counts = {"S": 0, "D": 0, "I": 0}
    changes = {"entry": [0, 0], "steady": [0, 0]}
    wrong, raw_right, frames = {}, {}, {}
    run = 0
    for k, t in enumerate(truth):
        run = run + 1 if t.full and k and truth[k - 1].full and truth[k - 1].page == t.page else int(t.full)
        if not t.full:
            continue
        frames[t.page] = frames.get(t.page, 0) + 1
        if run > 1:
            phase = changes["entry" if run <= entry else "steady"]
            phase[0] += readings[k].text != readings[k - 1].text
            phase[1] += 1
        for key, target in ((readings, wrong), (raw, raw_right)):
            if key is None:
                continue
            index = 0
            for expected, got in aligned_pairs(t.text, key[k].text):
                if not expected:
                    counts["I"] += key is readings
                    continue
                ok = expected == got
                if key is readings and not ok:
                    counts["S" if got else "D"] += 1
                if ok == (key is raw):
                    target[(t.page, index)] = target.get((t.page, index), 0) + 1
                index += 1
    return ErrorBreakdown(counts["S"], counts["D"], counts["I"], *changes["entry"], *changes["steady"],
                          wrong, raw_right, frames)


def pooled(scores: list[VideoScore]) -> VideoScore:
    """Several videos' scores as one: CER over all their characters, flicker over all their pairs."""
    chars, pairs = sum(s.chars for s in scores), sum(s.pairs for s in scores)
    return VideoScore(sum(s.cer * s.chars for s in scores) / max(chars, 1),
                      sum(s.flicker * s.pairs for s in scores) / max(pairs, 1),
                      sum(s.blank_digits for s in scores), sum(s.full_frames for s in scores),
                      sum(s.blank_frames for s in scores), sum(s.blank_frames_with_digits for s in scores),
                      chars, pairs, tuple(r for s in scores for r in s.recover))
