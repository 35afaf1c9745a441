"""The training mix beyond MNIST: real digits and non-digits, printed renders and hard cases.

Every real picture goes through the runtime's single-digit normaliser (``single_digit_crop`` then
``to_mnist``), so the network learns from exactly the crops that ``read_digit`` gives it. Sources
are split by group (writer, form, puzzle, card, cheque; see ``realdata``): the validation part is
returned apart and never trained on.
"""
from __future__ import annotations

import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livedigits.classify import NOT_A_DIGIT
from livedigits.normalize import to_mnist
from livedigits.single_digit import single_digit_crop
from livedigits.training.realdata import (DigitSource, SourceMissing, cheque_digits, digit_photos,
                                 european_pen_digits, letters, printed_cells, sudoku_photo_cells,
                                 sudoku_train_cells, usps_digits)
from livedigits.segment import working_gray

# How many times each source's training part is repeated in an epoch: small real sets count more
# than their size (the network must not treat a real cheque digit as a rare accident).
# MNIST counts twice with the mix: it keeps the network's MNIST accuracy, the figure users compare.
REPEATS = {"mnist": 2, "european_pen": 2, "usps": 1, "cheque": 3, "sudoku_cells": 2, "printed_cells": 1,
           "letters": 2, "printed_renders": 1}
MAX_EMPTY_CELLS = 4000     # empty sudoku cells kept as "not a digit" (there are 13,700)
PRINTED_RENDERS = 8000     # printed digits rendered from the installed fonts
HARD_CASES = 16000         # motion-blurred, stretched, binarised-and-downsampled and faint copies
FONT_GLOBS = ("/usr/share/fonts/**/*.ttf", "/usr/share/fonts/**/*.otf", "/usr/share/fonts/**/*.pfb")
_NOT_DIGIT_FONTS = ("Symbol", "Dingbat", "D050000L", "StandardSymbols", "Ding", "Emoji", "Math")


@dataclass
class Mix:
    x: np.ndarray                                     # (N, 28, 28) uint8, white on black
    y: np.ndarray                                     # (N,) 0-10
    counts: dict = field(default_factory=dict)        # source -> training examples (before repeats)
    validation: dict = field(default_factory=dict)    # source -> (x, y) held out by group
    skipped: list = field(default_factory=list)       # "source: why" for missing optional sources


def normalise(pictures: list, dark_ink: bool = True) -> np.ndarray:
    """Raw pictures of known polarity -> (N, 28, 28) uint8 MNIST-style crops (blank: all zero)."""
    out = np.zeros((len(pictures), 28, 28), np.uint8)
    for i, picture in enumerate(pictures):
        gray, scale = working_gray(picture)
        crop = single_digit_crop(gray if dark_ink else 255 - gray, scale)
        if crop is not None:
            out[i] = np.round(to_mnist(crop) * 255).astype(np.uint8)
    return out


def font_files() -> list[str]:
    """Installed outline fonts that draw the ten digits (symbol fonts and fonts of other scripts,
    which draw the same empty box for every digit, left out). Besides the system's fonts (the more
    the better: ``apt install fonts-dejavu-core fonts-liberation fonts-noto-core fonts-urw-base35
    ...``), matplotlib's own DejaVu faces, so that a machine without fonts still has some."""
    from PIL import ImageFont

    patterns = list(FONT_GLOBS)
    try:
        import matplotlib

        patterns.append(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "*.ttf"))
    except ImportError:
        pass
    found = sorted({path for pattern in patterns for path in glob.glob(pattern, recursive=True)})
    usable = []
    for path in found:
        if any(bad in Path(path).name for bad in _NOT_DIGIT_FONTS):
            continue
        try:
            font = ImageFont.truetype(path, 24)
            shapes = {bytes(font.getmask(d)) for d in "0123456789"}
        except OSError:
            continue
        if len(shapes) == 10:
            usable.append(path)
    return usable


def render_printed(count: int, seed: int) -> tuple[list, np.ndarray, np.ndarray]:
    """Printed digits as a camera or scanner sees them: a font, size, weight of ink, paper level,
    sometimes a box or grid line near the edge, blur and noise. Returns pictures, labels, groups."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow comes with the training extras

    rng = np.random.default_rng(seed)
    fonts = font_files()
    if not fonts:
        raise SourceMissing("no fonts under /usr/share/fonts (install e.g. fonts-dejavu-core fonts-liberation)")
    pictures, labels, groups = [], [], []
    while len(pictures) < count:
        path = fonts[rng.integers(len(fonts))]
        size = int(rng.integers(20, 48))
        try:
            font = ImageFont.truetype(path, size)
        except OSError:
            continue
        digit = int(rng.integers(10))
        side = 64
        paper = int(rng.integers(150, 256))
        ink = int(rng.integers(0, max(1, paper - 80)))
        canvas = Image.new("L", (side, side), paper)
        draw = ImageDraw.Draw(canvas)
        left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
        if right - left < 2 or bottom - top < 8:
            continue
        x = (side - (right - left)) / 2 - left + rng.uniform(-6, 6)
        y = (side - (bottom - top)) / 2 - top + rng.uniform(-6, 6)
        draw.text((x, y), str(digit), fill=ink, font=font)
        picture = np.asarray(canvas).copy()
        if rng.random() < 0.4:  # a box border or a grid line at the cell's edge
            width = int(rng.integers(1, 4))
            edge = int(rng.integers(4))
            level = int(rng.integers(0, paper - 40))
            if edge == 0:
                picture[:width] = level
            elif edge == 1:
                picture[-width:] = level
            elif edge == 2:
                picture[:, :width] = level
            else:
                picture[:, -width:] = level
        if rng.random() < 0.5:
            picture = cv2.GaussianBlur(picture, (0, 0), rng.uniform(0.3, 1.5))
        noise = rng.normal(0, rng.uniform(0, 8), picture.shape)
        picture = np.clip(picture + noise, 0, 255).astype(np.uint8)
        pictures.append(picture)
        labels.append(digit)
        groups.append(Path(path).stem)
    return pictures, np.array(labels), np.array(groups)


def hard_cases(x: np.ndarray, y: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Copies of training digits in the styles real input adds: motion blur along a random
    direction (hand-held video), stretched to fill a square (some scanners), binarised and
    downsampled (fax-like scans), faint thin strokes (pencil). Through ``to_mnist`` again."""
    rng = np.random.default_rng(seed)
    digits = np.flatnonzero(y < NOT_A_DIGIT)
    chosen = rng.choice(digits, size=count)
    out = np.zeros((count, 28, 28), np.uint8)
    for i, k in enumerate(chosen):
        image = x[k]
        kind = i % 4
        if kind == 0:
            length = int(rng.integers(3, 8))
            kernel = np.zeros((length, length), np.float32)
            kernel[length // 2] = 1.0
            rotation = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1.0)
            kernel = cv2.warpAffine(kernel, rotation, (length, length))
            kernel /= max(kernel.sum(), 1e-6)
            changed = cv2.filter2D(image.astype(np.float32), -1, kernel)
        elif kind == 1:
            rows, cols = np.flatnonzero(image.max(1) > 30), np.flatnonzero(image.max(0) > 30)
            if rows.size < 2 or cols.size < 2 or y[k] == 1:  # a "1" stretched square is a blob
                out[i] = image
                continue
            tight = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            changed = cv2.resize(tight, (40, 40), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        elif kind == 2:
            small = int(rng.integers(8, 15))
            binary = np.where(image > rng.uniform(60, 160), 255, 0).astype(np.uint8)
            changed = cv2.resize(binary, (small, small), interpolation=cv2.INTER_AREA)
            changed = np.where(changed > 127, 255, 0).astype(np.float32)
        else:
            thin = cv2.erode(image, np.ones((2, 2), np.uint8)) if rng.random() < 0.6 else image
            changed = thin.astype(np.float32) * rng.uniform(0.25, 0.6)
        out[i] = np.round(to_mnist(changed) * 255).astype(np.uint8)
    return out, y[chosen].astype(np.int32)


def build_mix(paths: dict, seed: int = 1, log=print, renders: int = PRINTED_RENDERS) -> Mix:
    """Every optional source whose path (``realdata.source_paths``) is present: training parts
    normalised, validation parts apart, plus ``renders`` printed digits. A missing source is
    reported through ``log`` and skipped, never silently."""
    mix = Mix(np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int32))
    parts_x, parts_y = [], []

    def add(name: str, x: np.ndarray, y: np.ndarray) -> None:
        mix.counts[name] = mix.counts.get(name, 0) + len(y)
        for _ in range(REPEATS.get(name, 1)):
            parts_x.append(x)
            parts_y.append(np.asarray(y, np.int32))

    def skip(name: str, why: str) -> None:
        mix.skipped.append(f"{name}: {why}")
        log(f"training mix: skipped {name} ({why})", file=sys.stderr)

    def attempt(name: str, load, path):
        if path is None:
            return skip(name, "no folder given")
        try:
            return load(path)
        except SourceMissing as err:
            return skip(name, str(err))

    def held_out(name: str, source: DigitSource, normalised: np.ndarray | None = None) -> None:
        if len(source):
            mix.validation[name] = (normalise(source.pictures) if normalised is None else normalised, source.labels)

    for name, load, dark in (("european_pen", european_pen_digits, True), ("usps", usps_digits, False),
                             ("cheque", cheque_digits, True), ("letters", letters, True)):
        source = attempt(name, load, paths.get(name))
        if source is not None:
            train, held = source.part(False), source.part(True)
            add(name, normalise(train.pictures, dark), train.labels)
            held_out(name, held, normalise(held.pictures, dark))
            log(f"training mix: {name}: {len(train)} training, {len(held)} held out", file=sys.stderr)

    cells = attempt("sudoku_cells", sudoku_train_cells, paths.get("sudoku_cells"))
    if cells is not None:  # all training: the held-out sudoku puzzles are the photos below
        keep, blank = np.flatnonzero(cells.kinds != 0), np.flatnonzero(cells.kinds == 0)[:MAX_EMPTY_CELLS // 2]
        add("sudoku_cells", normalise([cells.pictures[i] for i in keep]), cells.labels[keep])
        add("empty_cells", normalise([cells.pictures[i] for i in blank]), cells.labels[blank])
        log(f"training mix: sudoku_cells: {len(keep)} digit/candidate cells, {len(blank)} blank", file=sys.stderr)

    printed = attempt("printed_cells", printed_cells, paths.get("printed_cells"))
    if printed is not None:
        rng = np.random.default_rng(seed)
        train, held = printed.part(False), printed.part(True)
        digits = np.flatnonzero(train.labels < NOT_A_DIGIT)
        empty = np.flatnonzero(train.labels == NOT_A_DIGIT)
        empty = rng.choice(empty, size=min(len(empty), MAX_EMPTY_CELLS // 2), replace=False)
        add("printed_cells", normalise([train.pictures[i] for i in digits]), train.labels[digits])
        add("empty_cells", normalise([train.pictures[i] for i in empty]), train.labels[empty])
        held_out("printed_cells", held)
        log(f"training mix: printed_cells: {len(digits)} digits + {len(empty)} empty training, {len(held)} held out", file=sys.stderr)

    if renders:
        try:
            pictures, labels, _ = render_printed(renders, seed)
            add("printed_renders", normalise(pictures), labels)
        except (SourceMissing, ImportError) as err:
            skip("printed_renders", str(err))

    photo_folders = [paths[name] for name in ("sudoku_photos", "sudoku_photos_more") if paths.get(name)]
    for name, kinds in (("sudoku_photos_handwritten", "H"), ("sudoku_photos_printed", "P")):
        source = attempt(name, lambda folders, k=kinds: sudoku_photo_cells(folders, k), photo_folders or None)
        if source is not None:
            held_out(name, source)
    photos = attempt("digit_photos", digit_photos, paths.get("digit_photos"))
    if photos is not None:
        held_out("digit_photos", photos, normalise_any(photos.pictures))

    if parts_x:
        mix.x, mix.y = np.concatenate(parts_x), np.concatenate(parts_y)
    return mix


def normalise_any(pictures: list) -> np.ndarray:
    """Pictures of unknown polarity (phone photos): as ``read_digit`` decides it."""
    from livedigits.single_digit import single_digit_crops

    out = np.zeros((len(pictures), 28, 28), np.uint8)
    for i, picture in enumerate(pictures):
        crops = single_digit_crops(picture)
        if crops:
            out[i] = np.round(to_mnist(crops[0]) * 255).astype(np.uint8)
    return out
