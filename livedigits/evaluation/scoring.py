"""Scoring readings against labels: edit distance, exact match, per-digit accuracy, box matching."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def aligned_pairs(expected: str, got: str) -> list[tuple[str, str]]:
    """Character pairs (expected, got) along one optimal alignment; '' marks a gap."""
    n, m = len(expected), len(got)
    table = np.zeros((n + 1, m + 1), np.int32)
    table[:, 0], table[0, :] = np.arange(n + 1), np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            table[i, j] = min(table[i - 1, j] + 1, table[i, j - 1] + 1,
                              table[i - 1, j - 1] + (expected[i - 1] != got[j - 1]))
    pairs, i, j = [], n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i, j] == table[i - 1, j - 1] + (expected[i - 1] != got[j - 1]):
            pairs.append((expected[i - 1], got[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and table[i, j] == table[i - 1, j] + 1:
            pairs.append((expected[i - 1], ""))
            i -= 1
        else:
            pairs.append(("", got[j - 1]))
            j -= 1
    return pairs[::-1]


@dataclass
class TextScore:
    """Scores of predicted strings against labels (digits only)."""
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (path, expected, got)

    def add(self, path: str, expected: str, got: str) -> None:
        self.items.append((path, only_digits(expected), only_digits(got)))

    @property
    def exact(self) -> float:
        return float(np.mean([e == g for _, e, g in self.items])) if self.items else 0.0

    @property
    def cer(self) -> float:
        errors = sum(edit_distance(e, g) for _, e, g in self.items)
        return errors / max(1, sum(len(e) for _, e, _ in self.items))

    def per_digit_accuracy(self) -> dict[str, float]:
        hits, totals = np.zeros(10), np.zeros(10)
        for _, expected, got in self.items:
            for e, g in aligned_pairs(expected, got):
                if e:
                    totals[int(e)] += 1
                    hits[int(e)] += e == g
        return {str(d): float(hits[d] / totals[d]) for d in range(10) if totals[d]}

    def confusion_pairs(self) -> tuple[list[int], list[int]]:
        """(true, predicted) for aligned substitutions and matches, for a confusion matrix."""
        truth, predicted = [], []
        for _, expected, got in self.items:
            for e, g in aligned_pairs(expected, got):
                if e and g:
                    truth.append(int(e))
                    predicted.append(int(g))
        return truth, predicted

    def errors(self) -> list[tuple[str, str, str]]:
        return [item for item in self.items if item[1] != item[2]]


def only_digits(text: str) -> str:
    return "".join(ch for ch in str(text) if ch.isdigit())


class LabelError(ValueError):
    """A labels file that cannot be scored against; the message names the file and line."""


def read_labels(path: str | Path) -> list[dict]:
    """labels.csv rows with at least relative_path and label (extra columns kept), UTF-8 with or without
    the byte order mark spreadsheet programs write. Every row must name a picture and give its label as
    digits (0-9, a picture's lines one after another); LabelError names the first line that does not:
    a missing or misspelt label would otherwise be scored as a picture without digits."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in reader.fieldnames or []]
        if "relative_path" not in columns or "label" not in columns:
            raise LabelError(f"{path} needs a header with relative_path,label; the first line of the labels "
                             "file must name its columns")
        reader.fieldnames = columns
        rows = []
        for row in reader:
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line
            rows.append(row)
            _check_label_row(path, reader.line_num, row)
    return rows


def _check_label_row(path: str | Path, line: int, row: dict) -> None:
    name, label = (row.get("relative_path") or "").strip(), (row.get("label") or "").strip()
    if not name:
        raise LabelError(f"{path} line {line}: no relative_path; each row is relative_path,label")
    if not label:
        raise LabelError(f"{path} line {line}: {name} has no label; give its digits, e.g. {name},1234")
    if not (label.isascii() and label.isdigit()):
        raise LabelError(f"{path} line {line}: the label of {name}, {label!r}, is not digits; a label is the "
                         "picture's digits 0-9, its lines one after another")
    row["relative_path"], row["label"] = name, label


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


def match_boxes(truth: list, found: list, threshold: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU: [(truth index, found index)] with IoU >= threshold."""
    scores = sorted(((iou(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)), reverse=True)
    used_t, used_f, pairs = set(), set(), []
    for score, i, j in scores:
        if score < threshold:
            break
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            pairs.append((i, j))
    return pairs


ROTATIONS_CCW = {0: None, 90: 2, 180: 1, 270: 0}  # degrees counter-clockwise -> cv2.rotate code


def rotate_ccw(image: np.ndarray, degrees: int) -> np.ndarray:
    """Turn a picture counter-clockwise by 0, 90, 180 or 270 degrees (sideways phone photos)."""
    import cv2

    code = ROTATIONS_CCW[int(degrees) % 360]
    return image if code is None else cv2.rotate(image, code)


def score_folder(recognizer, folder: str | Path, mode: str = "recognize", limit: int | None = None,
                 only: set[str] | None = None) -> TextScore:
    """Read every picture listed in ``folder/labels.csv`` (or those of them named in ``only``) and
    score it against its label.

    mode "read_digit" reads each picture as one digit (batched; "no digit" reads as an empty
    string); "recognize" reads all digits. A ``rotate_ccw_deg_to_upright`` column, when present,
    turns pictures upright first.
    """
    import cv2

    folder = Path(folder)
    rows = [row for row in read_labels(folder / "labels.csv") if only is None or row["relative_path"] in only][:limit]
    score = TextScore()
    images = (rotate_ccw(cv2.imread(str(folder / row["relative_path"]), cv2.IMREAD_UNCHANGED),
                         int(row.get("rotate_ccw_deg_to_upright") or 0)) for row in rows)
    if mode == "read_digit":
        images = list(images)
        for row, (digit, _) in zip(rows, recognizer.read_digits(images)):
            score.add(row["relative_path"], row["label"], "" if digit is None else str(digit))
        return score
    for row, image in zip(rows, images):
        score.add(row["relative_path"], row["label"], recognizer.recognize(image).text)
    return score


def score_scenes(recognizer, scenes) -> dict:
    """Detection recall/precision (IoU >= 0.5), accuracy on detected digits and exact text on
    generated scenes with known ground truth."""
    truths = found = matched = correct = exact = 0
    by_paper: dict = {}
    failures = []
    for index, scene in enumerate(scenes):
        reading = recognizer.recognize(scene.image)
        truth_boxes = [(d.x, d.y, d.w, d.h) for d in scene.digits]
        pairs = match_boxes(truth_boxes, [(d.x, d.y, d.w, d.h) for d in reading.digits])
        truths += len(truth_boxes)
        found += len(reading.digits)
        matched += len(pairs)
        correct += sum(scene.digits[i].digit == reading.digits[j].digit for i, j in pairs)
        ok = reading.text == scene.text
        exact += ok
        paper = by_paper.setdefault(scene.paper, [0, 0])
        paper[0] += ok
        paper[1] += 1
        if not ok:
            failures.append((index, scene.paper, scene.text.replace("\n", "/"), reading.text.replace("\n", "/")))
    return {"scenes": len(scenes), "digits": truths, "recall": matched / max(1, truths),
            "precision": matched / max(1, found), "accuracy_on_detected": correct / max(1, matched),
            "text_exact": exact / max(1, len(scenes)),
            "text_exact_by_paper": {p: s[0] / s[1] for p, s in by_paper.items()}, "failures": failures}
