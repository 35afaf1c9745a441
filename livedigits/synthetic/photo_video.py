"""Hand-held videos of *real* photos: page photos, sudoku photos and sticky notes, filmed by the same
virtual camera as the generated pages (``livedigits.synthetic.video``), with per-frame truth.

The generated pages of ``video.make_video`` are written with MNIST digits on clean paper; real pages
bring real handwriting, paper, ink and the photo's own shadows and blur. Here a photo is laid on a
desk (3.2 x 2.4 frames of world) and filmed: a pan from the desk, tremor, slow zoom, roll and
perspective, a shake whose motion blur is integrated over the exposure, a hand's shadow passing,
the light dimming and warming (white-balance drift), the page partly out of view and back, blank
desk stretches and JPEG compression of every frame.

    photos = page_photos(Path(realworld) / "page_photos")        # upright, with their text
    video = make_photo_video([photos[1]], seed=3)                  # a Video, as make_video's
    video.truth[i].full, video.truth[i].text

Truth per frame as for generated pages, with the writing's bounding box standing for its digits:
``full`` when the whole box is in view (with a small margin), ``blank`` when none of it is,
``partial`` otherwise; ``truth[i].digits`` holds that one box (digit -1) when it is wholly in view.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .scenes import TruthDigit, _paper
from .video import _WORLD, Video, _film, _page_poses

# The project's page photos (realworld/page_photos), once turned upright: the box holding all the
# writing (marked by hand, image pixels) and the text as the reader sees it, line by line. The sticky
# note (3_A4) has two numbers side by side on each row, far apart: two columns, so two lines each, the
# left one first (the recogniser splits such rows since the string reader's column split).
PAGE_PHOTO_TRUTH = {
    "0_A4.bmp": ((92, 50, 520, 265), "1247673\n8952481"),
    "1_A4.bmp": ((45, 10, 488, 212), "19674899\n354708745"),
    "2_A4.bmp": ((48, 20, 318, 242), "1411977432627\n18798354521\n0206537906"),
    "3_A4.bmp": ((30, 78, 548, 348), "02083901118\n4006280887\n13808895369\n0203875687\n07368544074\n13827283005"),
}
_TEXT_WIDTH = (0.55, 0.68)   # the writing spans this share of the frame width at zoom 1
_NOTE_TINT = np.float32([0.58, 0.95, 1.0])  # BGR gains that turn white paper into a yellow sticky note


@dataclass(frozen=True)
class PagePhoto:
    name: str
    image: np.ndarray              # BGR uint8, upright
    text: str                      # lines joined by "\n"
    text_box: tuple                # (x0, y0, x1, y1) image pixels: all the writing


def page_photos(folder: str | Path) -> list[PagePhoto]:
    """The page photos of `folder` (labels.csv with ``rotate_ccw_deg_to_upright``) that have a known
    text box (PAGE_PHOTO_TRUTH), turned upright."""
    folder = Path(folder)
    out = []
    with open(folder / "labels.csv", newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            name = row["relative_path"]
            if name not in PAGE_PHOTO_TRUTH:
                continue
            image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
            turns = int(row.get("rotate_ccw_deg_to_upright") or 0) // 90 % 4
            for _ in range(turns):
                image = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
            box, text = PAGE_PHOTO_TRUTH[name]
            if text.replace("\n", "") != row["label"]:
                raise ValueError(f"{name}: the text {text!r} does not hold the label {row['label']}")
            out.append(PagePhoto(name, image, text, box))
    return out


def sudoku_photos(folder: str | Path, names: list[str] | None = None, longest: int = 1400) -> list[PagePhoto]:
    """Sudoku photos (labels.csv ``grid`` and corners.csv), cropped round the grid and scaled so that
    their longer side is at most `longest`; the text is the grid's filled cells row by row."""
    folder = Path(folder)
    with open(folder / "corners.csv", newline="", encoding="utf-8-sig") as handle:
        corners = {r["relative_path"]: np.float64([float(v) for k, v in r.items() if k != "relative_path"]).reshape(4, 2)
                   for r in csv.DictReader(handle)}
    out = []
    with open(folder / "labels.csv", newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            name = row["relative_path"]
            if (names is not None and name not in names) or name not in corners or "X" in row["grid"]:
                continue
            image = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
            quad = corners[name]
            (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
            margin = 0.25 * max(x1 - x0, y1 - y0)
            cx0, cy0 = int(max(0, x0 - margin)), int(max(0, y0 - margin))
            cx1, cy1 = int(min(image.shape[1], x1 + margin)), int(min(image.shape[0], y1 + margin))
            crop = image[cy0:cy1, cx0:cx1]
            k = min(1.0, longest / max(crop.shape[:2]))
            crop = cv2.resize(crop, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
            rows = [r.replace("0", "") for r in row["grid"].split("/")]
            box = tuple(float(v) for v in ((x0 - cx0) * k, (y0 - cy0) * k, (x1 - cx0) * k, (y1 - cy0) * k))
            out.append(PagePhoto(name, crop, "\n".join(r for r in rows if r), box))
    return out


def sticky_note(photo: PagePhoto, margin: float = 0.35) -> PagePhoto:
    """The writing of `photo` cut out with a margin (a share of its height) and tinted yellow: a
    sticky note, to be laid on a desk."""
    x0, y0, x1, y1 = (int(round(v)) for v in photo.text_box)
    pad = int(margin * (y1 - y0))
    h, w = photo.image.shape[:2]
    nx0, ny0, nx1, ny1 = max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)
    note = np.clip(photo.image[ny0:ny1, nx0:nx1].astype(np.float32) * _NOTE_TINT, 0, 255).astype(np.uint8)
    return PagePhoto(photo.name + "#note", note, photo.text, (x0 - nx0, y0 - ny0, x1 - nx0, y1 - ny0))


def _photo_world(rng, photo: PagePhoto, width: int, height: int):
    """The photo laid on a desk in a world of 3.2 x 2.4 frames, its writing off-centre so that there
    is desk beside it to look at. Returns (world image, truth box as a TruthDigit, text box)."""
    ww, wh = int(_WORLD[0] * width), int(_WORLD[1] * height)
    x0, y0, x1, y1 = photo.text_box
    scale = min(rng.uniform(*_TEXT_WIDTH) * width / (x1 - x0), 0.6 * height / (y1 - y0))
    image = cv2.resize(photo.image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ph, pw = image.shape[:2]
    cx = ww * (rng.uniform(0.3, 0.38) if rng.random() < 0.5 else rng.uniform(0.62, 0.7))
    cy = wh * rng.uniform(0.4, 0.6)
    left = int(np.clip(cx - scale * (x0 + x1) / 2, 0, max(0, ww - pw)))
    top = int(np.clip(cy - scale * (y0 + y1) / 2, 0, max(0, wh - ph)))
    pw, ph = min(pw, ww - left), min(ph, wh - top)
    s = min(width / 640, height / 480)
    world = _paper(rng, "desk", ww, wh, (left, top, left + pw, top + ph), s, 40.0 * s, 0.0, 80.0 * s)
    world[top:top + ph, left:left + pw] = image[:ph, :pw]
    box = (left + scale * x0, top + scale * y0, left + scale * x1, top + scale * y1)
    truth = [TruthDigit(int(box[0]), int(box[1]), int(box[2] - box[0]), int(box[3] - box[1]), -1, 0)]
    return np.clip(world, 0, 255).astype(np.uint8), truth, box


def make_photo_video(photos: list[PagePhoto], seed: int, seconds: float = 10.0, fps: float = 15.0,
                     width: int = 640, height: int = 480, blank: bool = True, partial: bool = True,
                     flash: bool = False) -> Video:
    """A hand-held clip over `photos`, one page after another (swapped while the camera looks at the
    desk); every input is fixed by `seed`. Harder light than the generated pages' clips: a darker
    hand shadow, the light dimming by up to a third and warming, JPEG quality 60-90."""
    rng = np.random.default_rng(seed)
    worlds = []
    for photo in photos:
        image, truth, box = _photo_world(rng, photo, width, height)
        worlds.append(_page_poses(rng, image, truth, box, photo.text, width, height))
    return _film(rng, worlds, seconds, fps, width, height, blank, partial, flash, noise=3.0,
                 light_drift=float(rng.uniform(0.1, 0.35)), white_drift=float(rng.uniform(0.05, 0.2)),
                 shadow=(0.4, 0.6), jpeg=(60, 90))
