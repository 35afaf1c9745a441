"""``livedigits eval``: read a labelled folder, score it, and write the report (confusion matrix, errors).

The confusion matrix is drawn with OpenCV: matplotlib is a training-only dependency and the command
must run on an installation without it. Its extra row and column ("none") count digits that were
missed and digits read where the label has none.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..evaluation.scoring import LabelError, TextScore, aligned_pairs, read_labels
from ..sources import ROTATIONS, SourceError
from .batch import PictureJob, PictureReader
from .outputs import write_picture

ROTATE_COLUMN = "rotate_ccw_deg_to_upright"
NONE = 10  # row/column index for "no digit" in the confusion matrix


@dataclass(frozen=True)
class LabelledPicture:
    relative_path: str
    label: str
    rotate: int  # degrees counter-clockwise to make the picture upright


@dataclass
class EvalResult:
    score: TextScore = field(default_factory=TextScore)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, why)


def labelled_pictures(labels_csv: Path, rotate: int | None = None) -> list[LabelledPicture]:
    """Rows of labels.csv; ``rotate`` (from --rotate) overrides the per-row rotate_ccw_deg_to_upright."""
    try:
        rows = read_labels(labels_csv)
    except FileNotFoundError:
        raise SourceError(f"labels file {labels_csv} does not exist; pass --labels FILE with columns "
                          "relative_path,label") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SourceError(f"cannot read labels file {labels_csv}: {err}; it must be a CSV file") from None
    except LabelError as err:
        raise SourceError(str(err)) from None
    items = []
    for number, row in enumerate(rows, start=2):
        turn = rotate
        if turn is None:
            text = (row.get(ROTATE_COLUMN) or "0").strip()
            try:
                turn = int(float(text))
            except ValueError:
                turn = -1
            if turn not in ROTATIONS:
                raise SourceError(f"{labels_csv} line {number}: {ROTATE_COLUMN} is {text!r}; use 0, 90, 180 or 270")
        items.append(LabelledPicture(row["relative_path"], row["label"], turn))
    return items


def evaluate_folder(folder: Path, items: list[LabelledPicture], reader: PictureReader,
                    on_skip: Callable[[str, str], None] = lambda path, why: None,
                    progress: Callable[[], None] = lambda: None) -> EvalResult:
    result = EvalResult()
    jobs = [PictureJob(folder / item.relative_path, item.rotate) for item in items]
    for item, outcome in zip(items, reader.read(jobs)):
        progress()
        if outcome.error:
            result.skipped.append((item.relative_path, outcome.error))
            on_skip(item.relative_path, outcome.error)
            continue
        result.score.add(item.relative_path, item.label, outcome.reading.text)
    return result


def digit_counts(score: TextScore) -> dict[str, int]:
    totals = {}
    for _, expected, _ in score.items:
        for digit in expected:
            totals[digit] = totals.get(digit, 0) + 1
    return totals


def format_scores(result: EvalResult) -> str:
    score = result.score
    items = len(score.items)
    exact = sum(e == g for _, e, g in score.items)
    digits = sum(len(e) for _, e, _ in score.items)
    edits = round(score.cer * max(1, digits))
    lines = [f"pictures           {items} scored, {len(result.skipped)} skipped",
             f"exact match        {100 * score.exact:6.2f} %  ({exact} of {items} pictures)",
             f"character errors   {100 * score.cer:6.2f} %  ({edits} edits over {digits} labelled digits)",
             "per-digit accuracy"]
    counts = digit_counts(score)
    for digit, accuracy in score.per_digit_accuracy().items():
        lines.append(f"  {digit}  {100 * accuracy:6.2f} %  ({counts.get(digit, 0)})")
    return "\n".join(lines)


def write_report(result: EvalResult, folder: Path, title: str) -> list[Path]:
    """confusion_matrix.png and errors.csv (path, expected, got) in ``folder``; OutputError when the
    picture cannot be written, OSError when the table cannot."""
    matrix_path, errors_path = folder / "confusion_matrix.png", folder / "errors.csv"
    write_picture(matrix_path, confusion_matrix_image(confusion_counts(result.score), title))
    with open(errors_path, "w", newline="", encoding="utf-8", errors="backslashreplace") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "expected", "got"])
        writer.writerows(result.score.errors())
    return [matrix_path, errors_path]


def confusion_counts(score: TextScore) -> np.ndarray:
    """11 x 11 counts: rows the labelled digit, columns the digit read; index 10 is "none"."""
    matrix = np.zeros((11, 11), np.int64)
    for _, expected, got in score.items:
        for e, g in aligned_pairs(expected, got):
            matrix[int(e) if e else NONE, int(g) if g else NONE] += 1
    return matrix


def confusion_matrix_image(matrix: np.ndarray, title: str, cell: int = 46) -> np.ndarray:
    """A BGR picture of the matrix: log-scaled blue cells with their counts, axes and accuracy."""
    n = matrix.shape[0]
    names = [str(d) for d in range(n - 1)] + ["none"]
    left, top, bottom, right = 90, 86, 56, 20
    height, width = top + n * cell + bottom, left + n * cell + right
    canvas = np.full((height, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    peak = np.log1p(max(1, int(matrix.max())))
    light, dark = np.float32((255, 251, 247)), np.float32((107, 48, 8))  # matplotlib "Blues", BGR
    for (row, col), count in np.ndenumerate(matrix):
        x, y = left + col * cell, top + row * cell
        share = float(np.log1p(count) / peak)
        colour = tuple(int(v) for v in light + (dark - light) * share)
        cv2.rectangle(canvas, (x, y), (x + cell - 1, y + cell - 1), colour, -1)
        if count:
            text = str(int(count))
            scale = 0.45 if len(text) < 4 else 0.35
            (tw, th), _ = cv2.getTextSize(text, font, scale, 1)
            ink = (255, 255, 255) if share > 0.55 else (30, 30, 30)
            cv2.putText(canvas, text, (x + (cell - tw) // 2, y + (cell + th) // 2), font, scale, ink, 1, cv2.LINE_AA)
    grid = (200, 200, 200)
    for k in range(n + 1):
        cv2.line(canvas, (left, top + k * cell), (left + n * cell, top + k * cell), grid, 1)
        cv2.line(canvas, (left + k * cell, top), (left + k * cell, top + n * cell), grid, 1)
    for k, name in enumerate(names):
        (tw, th), _ = cv2.getTextSize(name, font, 0.45, 1)
        cv2.putText(canvas, name, (left + k * cell + (cell - tw) // 2, top - 8), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(canvas, name, (left - tw - 8, top + k * cell + (cell + th) // 2), font, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.putText(canvas, "read as", (left + n * cell // 2 - 30, top - 30), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "label", (8, top + n * cell // 2), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    labelled = int(matrix[:NONE].sum())
    right_reads = int(np.trace(matrix[:NONE, :NONE]))
    heading = f"{title}: {labelled} digits, {100 * right_reads / max(1, labelled):.1f} % read right"
    cv2.putText(canvas, heading, (10, 26), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(canvas, "none: a digit missed (row) or read where there is none (column)",
                (10, height - 20), font, 0.42, (80, 80, 80), 1, cv2.LINE_AA)
    return canvas
