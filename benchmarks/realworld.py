#!/usr/bin/env python3
"""Score livedigits on the labelled real-photo folders (development data, never training data).

    python benchmarks/realworld.py [--data ../shared/data/realworld] [--model models/digits.tflite]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.evaluation.scoring import score_folder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--model")
    parser.add_argument("--min-confidence", type=float)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    kwargs = {} if args.min_confidence is None else {"min_confidence": args.min_confidence}
    recognizer = Recognizer(args.model, **kwargs)
    data = Path(args.data)
    for folder, mode in (("digit_photos", "read_digit"), ("digit_photos", "recognize"), ("page_photos", "recognize"),
                         ("cheque_amounts", "recognize"), ("sudoku_photos", "recognize"), ("usps_train", "read_digit")):
        started = time.perf_counter()
        score = score_folder(recognizer, data / folder, mode)
        took = time.perf_counter() - started
        print(f"{folder:15s} {mode:10s} n={len(score.items):5d} exact={100 * score.exact:6.2f} % "
              f"CER={100 * score.cer:6.2f} %  ({took:.1f} s)")
        if args.verbose:
            for path, expected, got in score.errors()[:15]:
                print(f"    {path}: expected {expected} got {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
