#!/usr/bin/env python3
"""Score livedigits on the labelled real-photo folders (development data, never training data).

    python benchmarks/realworld.py [--data ../shared/data/realworld] [--model models/digits.tflite] [--reader digits]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.evaluation.scoring import score_folder  # noqa: E402
from livedigits.training.realdata import cheque_validation_paths  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--model")
    parser.add_argument("--min-confidence", type=float)
    parser.add_argument("--reader", choices=["auto", "digits", "strings"], default="auto")
    parser.add_argument("--string-model", help="the string reader's .tflite (default: the shipped one)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    kwargs = {"reader": args.reader, "string_model": args.string_model}
    if args.min_confidence is not None:
        kwargs["min_confidence"] = args.min_confidence
    recognizer = Recognizer(args.model, **kwargs)
    data = Path(args.data)
    # the cheques whose digits the model never trained on (split by cheque, as train.py does)
    held_out = cheque_validation_paths(data / "cheque_amounts")
    for folder, mode, only in (("digit_photos", "read_digit", None), ("digit_photos", "recognize", None),
                               ("page_photos", "recognize", None), ("cheque_amounts", "recognize", None),
                               ("cheque_amounts", "recognize", held_out), ("sudoku_photos", "recognize", None),
                               ("usps_train", "read_digit", None)):
        started = time.perf_counter()
        score = score_folder(recognizer, data / folder, mode, only=only)
        took = time.perf_counter() - started
        name = folder if only is None else f"{folder} (held-out)"
        print(f"{name:26s} {mode:10s} n={len(score.items):5d} exact={100 * score.exact:6.2f} % "
              f"CER={100 * score.cer:6.2f} %  ({took:.1f} s)")
        if args.verbose:
            for path, expected, got in score.errors()[:15]:
                print(f"    {path}: expected {expected} got {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
