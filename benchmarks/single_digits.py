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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model")
    args = parser.parse_args()
    recognizer = Recognizer(args.model)
    paths = source_paths(*shared_data_paths())
    scores = []
    print(f"| source | held-out digits | read_digit correct |\n|---|---|---|")
    for name, pictures, labels, keep in validation_sources(paths):
        started = time.perf_counter()
        read = recognizer.read_digits([pictures[i] for i in keep])
        got = np.array([-1 if d is None else d for d, _ in read])
        accuracy = float((got == labels[keep]).mean())
        scores.append(accuracy)
        print(f"| {name} | {len(keep)} | {100 * accuracy:.2f} % |  ({time.perf_counter() - started:.1f} s)")
    print(f"| **mean over sources** | | **{100 * np.mean(scores):.2f} %** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
