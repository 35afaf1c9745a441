"""Real digits beyond MNIST: every labelled source of ``../shared/data``, as raw pictures.

Each loader returns a :class:`DigitSource`: the pictures as a user would hand them to
``read_digit`` (a 16x16 form box, a 64x64 sudoku cell with its grid lines, a cheque digit cut from
its box), their labels (0-9, or ``NOT_A_DIGIT`` for letters, blank and candidate cells) and a
*group* per picture: the writer, form, puzzle, card or cheque it came from. Training and
validation are split by group, never by picture, so that a writer's other digits never vouch for
the validation numbers.

The pictures stay raw here; the training step normalises them through the runtime's own
single-digit path, so that training sees exactly what ``read_digit`` and ``recognize`` see.
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from livedigits.classify import NOT_A_DIGIT

CELL = 64                # sudoku cells are cut at this size (as in the shared cell files)
VALIDATION_SHARE = 0.15  # of the groups of a source that has no split of its own
# letters that a hand may write like a digit (O 0, I 1, L 1 or 7, B 8, D 0, T 7): never "not a digit"
DIGIT_LIKE_LETTERS = {"O", "I", "L", "B", "D", "T"}


@dataclass
class DigitSource:
    name: str
    pictures: list          # uint8 arrays, any size, grey (or BGR), as stored
    labels: np.ndarray      # 0-9, or NOT_A_DIGIT
    groups: np.ndarray      # str: writer / form / puzzle / card / cheque
    validation: np.ndarray = field(default=None)  # bool per picture; None: split by group hash

    def __post_init__(self):
        self.labels = np.asarray(self.labels, np.int32)
        self.groups = np.asarray(self.groups).astype(str)
        if self.validation is None:
            self.validation = np.array([in_validation(self.name, g) for g in self.groups], bool)

    def __len__(self) -> int:
        return len(self.labels)

    def part(self, validation: bool) -> "DigitSource":
        return self.part_where(self.validation == validation)

    def part_where(self, mask: np.ndarray) -> "DigitSource":
        keep = np.flatnonzero(mask)
        return DigitSource(self.name, [self.pictures[i] for i in keep], self.labels[keep], self.groups[keep],
                           self.validation[keep])


def in_validation(source: str, group: str, share: float = VALIDATION_SHARE) -> bool:
    """A stable hash of the group decides: the same writer is always on the same side."""
    digest = hashlib.sha256(f"{source}/{group}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < share


class SourceMissing(Exception):
    """An optional source is not where it was looked for; the message says where."""


def _need(path: Path) -> Path:
    if not path.exists():
        raise SourceMissing(f"{path} not found")
    return path


def _npz(path: Path) -> dict:
    with np.load(_need(path), allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# -- sources ------------------------------------------------------------------------------------

def european_pen_digits(path: Path) -> DigitSource:
    """15,200 digits written into the boxes of paper forms (16x16), split by form."""
    data = _npz(path)
    # blue ink: the darkest channel is the best grey (the README's 255 - min(R, G, B) ink map)
    grey = data["x_rgb"].min(axis=3)
    return DigitSource("european_pen", list(grey), data["y"], data["file_index"])


def usps_digits(folder: Path) -> DigitSource:
    """USPS training digits (16x16, white on black). No writer is recorded: split by blocks of 100
    consecutive digits (the set is ordered by scan batch), the closest to a writer split there is."""
    rows = _labels(_need(folder))
    pictures = [cv2.imread(str(folder / path), cv2.IMREAD_GRAYSCALE) for path, _ in rows]
    return DigitSource("usps", pictures, [int(label) for _, label in rows], [str(i // 100) for i in range(len(rows))])


def cheque_digits(folder: Path, margin: float = 0.08) -> DigitSource:
    """The real cheque digits of ``digit_boxes.csv``, cut with a small margin, split by cheque."""
    _need(folder)
    pictures, labels, groups = [], [], []
    cache: dict[str, np.ndarray] = {}
    with open(_need(folder / "digit_boxes.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            path = row["relative_path"]
            if path not in cache:
                cache.clear()
                cache[path] = cv2.imread(str(folder / path), cv2.IMREAD_GRAYSCALE)
            image = cache[path]
            if image is None:
                continue
            x, y, w, h = (int(row[k]) for k in ("x", "y", "w", "h"))
            pad = int(round(margin * h))
            crop = image[max(0, y - pad):y + h + pad, max(0, x - pad):x + w + pad]
            if crop.size:
                pictures.append(crop)
                labels.append(int(row["digit"]))
                groups.append(path)
    return DigitSource("cheque", pictures, labels, groups)


def cheque_validation_paths(folder: Path) -> set[str]:
    """The cheque amounts (in the ``cheque_amounts`` folder) whose digits are held out: the same
    hash as cheque_digits' split."""
    return {path for path, _ in _labels(folder) if in_validation("cheque", path)}


SUDOKU_KINDS = {0: "blank", 1: "printed", 2: "handwritten", 3: "candidates"}


def sudoku_train_cells(path: Path) -> DigitSource:
    """The 81 cells of 80 sudoku photos (the training split of the sudoku photos): printed and
    handwritten digits; blank and candidate cells are "not a digit"."""
    data = _npz(path)
    labels = np.where(np.isin(data["kind"], (1, 2)), data["y"], NOT_A_DIGIT)
    source = DigitSource("sudoku_cells", list(data["x"]), labels, data["puzzle"],
                         validation=np.zeros(len(labels), bool))  # its puzzles' photos are all training
    source.kinds = data["kind"]
    return source


def printed_cells(path: Path) -> DigitSource:
    """5,872 printed digit cells and 10,490 empty ones from newspaper sudoku photos, by puzzle."""
    data = _npz(path)
    labels = np.where(data["y"] > 0, data["y"], NOT_A_DIGIT)
    return DigitSource("printed_cells", list(data["x"]), labels, data["puzzle_id"])


def sudoku_photo_cells(folders: list[Path], kinds: str = "PH") -> DigitSource:
    """Cells warped out of the held-out sudoku photos (by default ``sudoku_photos`` and the ``val``
    split of ``sudoku_photos_more``; their training split is the cell file above): folders with
    ``labels.csv`` and ``corners.csv``. Only cells whose type is in ``kinds`` (P printed, H
    handwritten, C candidates, . blank)."""
    pictures, labels, groups, types = [], [], [], []
    for folder in folders:
        if not folder.is_dir():
            continue
        corners = {row["relative_path"]: row for row in csv.DictReader(open(folder / "corners.csv", newline=""))}
        for row in csv.DictReader(open(folder / "labels.csv", newline="")):
            if row.get("split", "val") != "val" or row["relative_path"] not in corners:
                continue
            cell_types = row["cell_types"].replace("/", "")
            grid = row["grid"].replace("/", "")
            if len(cell_types) != 81:
                continue
            image = cv2.imread(str(folder / row["relative_path"]), cv2.IMREAD_GRAYSCALE)
            if image is None:
                continue
            c = corners[row["relative_path"]]
            quad = np.float32([[float(c[f"x_{k}"]), float(c[f"y_{k}"])]
                               for k in ("topleft", "topright", "bottomright", "bottomleft")])
            side = 9 * CELL
            square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
            warped = cv2.warpPerspective(image, cv2.getPerspectiveTransform(quad, square), (side, side),
                                         flags=cv2.INTER_AREA)
            for k in range(81):
                if cell_types[k] not in kinds:
                    continue
                r, col = divmod(k, 9)
                pictures.append(warped[r * CELL:(r + 1) * CELL, col * CELL:(col + 1) * CELL].copy())
                labels.append(int(grid[k]) if grid[k].isdigit() and grid[k] != "0" else NOT_A_DIGIT)
                groups.append(row["relative_path"][:5])
                types.append(cell_types[k])
    if not pictures:
        raise SourceMissing(f"no held-out sudoku photos with corners in {', '.join(map(str, folders))}")
    source = DigitSource("sudoku_photos", pictures, labels, groups, validation=np.ones(len(labels), bool))
    source.types = np.array(types)
    return source


def digit_photos(folder: Path) -> DigitSource:
    """21 phone photos of one digit each: validation only (too few to train on)."""
    _need(folder)
    pictures, labels, groups = [], [], []
    for path, label in _labels(folder):
        if not (len(label) == 1 and label.isdigit()):
            continue  # the photo of all ten digits
        image = cv2.imread(str(folder / path), cv2.IMREAD_UNCHANGED)
        if image is not None:
            pictures.append(image)
            labels.append(int(label))
            groups.append(path.split("_")[0])
    return DigitSource("digit_photos", pictures, labels, groups, validation=np.ones(len(labels), bool))


def letters(path: Path) -> DigitSource:
    """Handwritten capital letters on cards: "not a digit" (those like digits left out), split by card."""
    data = _npz(path)
    keep = np.flatnonzero(~np.isin(data["letter"], list(DIGIT_LIKE_LETTERS)))
    return DigitSource("letters", [data["x"][i] for i in keep], np.full(len(keep), NOT_A_DIGIT),
                       data["card"][keep])


def _labels(folder: Path) -> list[tuple[str, str]]:
    with open(_need(folder / "labels.csv"), newline="") as handle:
        return [(row["relative_path"], row["label"]) for row in csv.DictReader(handle)]


def shared_data_paths(mnist: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(training, realworld) folders: ``$LIVEDIGITS_TRAINING`` / ``$LIVEDIGITS_REALWORLD``, else
    beside the MNIST copy (``mnist`` or ``$LIVEDIGITS_MNIST``), else ``../shared/data``."""
    base = Path(mnist or os.environ.get("LIVEDIGITS_MNIST", "../shared/data/mnist")).expanduser().parent
    training = Path(os.environ.get("LIVEDIGITS_TRAINING", base / "training"))
    realworld = Path(os.environ.get("LIVEDIGITS_REALWORLD", base / "realworld"))
    return training, realworld


# Where each source lies by default: (root, path under it), root being the training or the
# realworld folder. ``train.py --source NAME=PATH`` puts one elsewhere.
SOURCE_LOCATIONS = {
    "european_pen": ("training", "kensanata_numbers_16px/kensanata_16px.npz"),
    "usps": ("realworld", "usps_train"),
    "cheque": ("realworld", "cheque_amounts"),
    "sudoku_cells": ("training", "alexkubiesa_sudoku_train_cells/alexkubiesa_train_cells_64px.npz"),
    "printed_cells": ("training", "wichtounet_sudoku_printed_cells/wichtounet_cells_64px.npz"),
    "letters": ("training", "vu_charwizard_letters/vu_letters_64px.npz"),
    "sudoku_photos": ("realworld", "sudoku_photos"),
    "sudoku_photos_more": ("realworld", "sudoku_photos_more"),
    "digit_photos": ("realworld", "digit_photos"),
}


def source_paths(training: Path | None, realworld: Path | None, overrides: dict | None = None) -> dict:
    """name -> path of every source (None where its root folder is not given)."""
    roots = {"training": training, "realworld": realworld}
    paths = {name: (None if roots[root] is None else Path(roots[root]) / relative)
             for name, (root, relative) in SOURCE_LOCATIONS.items()}
    for name, path in (overrides or {}).items():
        if name not in SOURCE_LOCATIONS:
            raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCE_LOCATIONS)}")
        paths[name] = Path(path)
    return paths
