#!/usr/bin/env python3
"""read_digit on the held-out part of every real single-digit source (split by writer, form,
puzzle or cheque; never trained or tuned on), one row per source, and their mean.

    python benchmarks/single_digits.py [--model models/digits.tflite] [--errors DIR]

Sources are read from $LIVEDIGITS_TRAINING and $LIVEDIGITS_REALWORLD (default: beside $LIVEDIGITS_MNIST,
else ../shared/data); a missing one is reported and skipped.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.training.realdata import (SourceMissing, cheque_digits, digit_photos,  # noqa: E402
                                          european_pen_digits, printed_cells, shared_data_paths,
                                          source_paths, sudoku_photo_cells, usps_digits)


def validation_sources(paths: dict):
    """(row name, pictures, labels, indices of the digits) of every single-digit source found;
    only the held-out groups (train.py never trains on them)."""
    photo_folders = [paths["sudoku_photos"], paths["sudoku_photos_more"]]
    loaders = [("european pen (forms)", lambda: european_pen_digits(paths["european_pen"])),
               ("USPS (postal)", lambda: usps_digits(paths["usps"])),
               ("cheque digits", lambda: cheque_digits(paths["cheque"])),
               ("printed sudoku cells", lambda: printed_cells(paths["printed_cells"])),
               ("sudoku photos, handwritten", lambda: sudoku_photo_cells(photo_folders, "H")),
               ("sudoku photos, printed", lambda: sudoku_photo_cells(photo_folders, "P")),
               ("digit photos (phones)", lambda: digit_photos(paths["digit_photos"]))]
    for name, load in loaders:
        try:
            source = load().part(validation=True)
        except SourceMissing as err:
            print(f"skipped {name}: {err}", file=sys.stderr)
            continue
        keep = np.flatnonzero(source.labels < 10)  # digits only: blank cells are scored apart
        yield name, source.pictures, source.labels, keep


def empty_pictures(paths: dict, count: int = 200, seed: int = 0):
    """(name, pictures) that hold no digit: generated blank, black and noise pictures of many sizes,
    and the held-out empty cells of the sudoku photos and printed-cell puzzles."""
    rng = np.random.default_rng(seed)
    sizes = [(int(rng.integers(1, 400)), int(rng.integers(1, 400))) for _ in range(count)]
    yield "blank paper (white or any grey level, with slight shading and noise)", [
        np.clip(rng.integers(40, 256) + rng.normal(0, rng.uniform(0, 2), size) + np.linspace(0, rng.uniform(0, 8), size[1])[None],
                0, 255).astype(np.uint8) for size in sizes]
    yield "black", [np.zeros(size, np.uint8) for size in sizes]
    yield "noise (uniform and Gaussian, grey and colour)", [
        rng.integers(0, 256, size + ((3,) if k % 2 else ())).astype(np.uint8) if k % 3 else
        np.clip(128 + rng.normal(0, 40, size), 0, 255).astype(np.uint8) for k, size in enumerate(sizes)]
    photo_folders = [paths["sudoku_photos"], paths["sudoku_photos_more"]]
    for name, load in (("empty sudoku cells (held-out photos)", lambda: sudoku_photo_cells(photo_folders, ".")),
                       ("empty printed-form cells (held-out puzzles)", lambda: printed_cells(paths["printed_cells"]))):
        try:
            source = load().part(validation=True)
        except SourceMissing as err:
            print(f"skipped {name}: {err}", file=sys.stderr)
            continue
        yield name, [source.pictures[i] for i in np.flatnonzero(source.labels == 10)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    args = parser.parse_args()
    recognizer = Recognizer(args.model)
    paths = source_paths(*shared_data_paths())
    scores = []
    print("| source | held-out digits | read_digit correct | seconds |\n|---|---|---|---|")
    for name, pictures, labels, keep in validation_sources(paths):
        started = time.perf_counter()
        read = recognizer.read_digits([pictures[i] for i in keep])
        got = np.array([-1 if d is None else d for d, _ in read])
        accuracy = float((got == labels[keep]).mean())
        scores.append(accuracy)
        print(f"| {name} | {len(keep)} | {100 * accuracy:.2f} % | {time.perf_counter() - started:.1f} |")
    print(f"| **mean over sources** | | **{100 * np.mean(scores):.2f} %** | |")
    print("\n| pictures with no digit | count | read as \"no digit\" |\n|---|---|---|")
    for name, pictures in empty_pictures(paths):
        read = recognizer.read_digits(pictures)
        print(f"| {name} | {len(pictures)} | {100 * np.mean([d is None for d, _ in read]):.2f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
