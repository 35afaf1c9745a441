#!/usr/bin/env python3
"""Which crops of a line the string reader reads and votes over (``livedigits.strings.CROPS``).

Every line that the recogniser would hand the string reader is read once per crop of a wide grid
(how far tall strokes may reach beyond the row x the margin above and below); then each candidate
set of crops is scored as the runtime would use it (the reading most crops agree on; for
``--reader auto`` the per-line choice against cut-and-classify with the model card's weights).
Choose on the tuning sets, report on the others:

- tuning: the string reader's 77 tuning cheques (``training/strings.py`` ``tuning_cheque``) and
  generated scenes (MNIST *test* digits, ``--tuning-seed``, not the scenes benchmark's seed);
- report: the 4 page photos, the 153 held-out cheques and the scenes benchmark's 300 scenes (seed 2026).

    python benchmarks/string_crops.py [--data ../shared/data/realworld] [--tuning-scenes 150]
"""
import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import livedigits.pipeline as pipeline  # noqa: E402
from livedigits import Recognizer  # noqa: E402
from livedigits.evaluation.scoring import edit_distance, read_labels, rotate_ccw  # noqa: E402
from livedigits.strings import CROPS, _more_than_one_row, line_crop, strings_preferred  # noqa: E402
from livedigits.synthetic.scenes import make_scenes  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.training.realdata import cheque_validation_paths  # noqa: E402
from livedigits.training.strings import tuning_cheque  # noqa: E402

REACHES = (0.0, 0.05, 0.1, 0.15, 0.25, 0.35)
MARGINS = (0.08, 0.12, 0.16, 0.2, 0.25, 0.3)
GRID = [(reach, margin) for reach in REACHES for margin in MARGINS]
CANDIDATES = {
    "one crop (0.35, 0.12), before voting": [(0.35, 0.12)],
    "shipped CROPS": list(CROPS),
    "9: reach 0/0.1/0.25 x margin 0.12/0.2/0.3": [(r, m) for r in (0.0, 0.1, 0.25) for m in (0.12, 0.2, 0.3)],
    "4: reach 0/0.15 x margin 0.12/0.25": [(r, m) for r in (0.0, 0.15) for m in (0.12, 0.25)],
    "9: reach 0/0.05/0.1 x margin 0.12/0.2/0.3": [(r, m) for r in (0.0, 0.05, 0.1) for m in (0.12, 0.2, 0.3)],
    "9: reach 0/0.1/0.25 x margin 0.08/0.16/0.25": [(r, m) for r in (0.0, 0.1, 0.25) for m in (0.08, 0.16, 0.25)],
    "all 36": GRID,
}


class LineRecorder:
    """Stands in for ``choose_lines``: records, per line, cut-and-classify's shown digits, whether
    ``auto`` would read it, and the string reader's reading in every crop of ``GRID``."""

    def __init__(self):
        self.lines: dict = {}

    def __call__(self, reader, gray, seg, found, lines, min_confidence, forced=False):
        regions_of: dict = {}
        for region in seg.regions:
            regions_of.setdefault(region.line, []).append(seg.to_input(region.box))
        for line in {f[2] for f in found}:
            entry = self.lines.setdefault(line, {})
            entry.setdefault("doubtful", False)
            if not forced:
                entry["doubtful"] = line in lines
                continue
            current = sorted((f for f in found if f[2] == line), key=lambda f: f[0].x)
            entry["digits"] = [(int(np.argmax(p[:10])), float(p[:10].max())) for _, p, _ in current
                               if p[:10].max() >= min_confidence]
            boxes = regions_of.get(line, [])
            entry["crops"] = None
            if boxes and not _more_than_one_row(boxes):
                windows = [line_crop([(b.x, b.y, b.w, b.h) for b in boxes], gray.shape, r, m) for r, m in GRID]
                crops = [gray[y0:y1, x0:x1] for x0, y0, x1, y1 in windows]
                readings = reader.read_all([255 - c if seg.inverted else c for c in crops])
                entry["crops"] = {crop: (r.text, r.score, [d.confidence for d in r.digits])
                                  for crop, r in zip(GRID, readings)}
        return found


def record(images) -> list[list[dict]]:
    """Per picture, its lines (top to bottom) as LineRecorder entries."""
    recorder = LineRecorder()
    original = pipeline.choose_lines
    pipeline.choose_lines = recorder
    auto, strings = Recognizer(reader="auto"), Recognizer(reader="strings")
    out = []
    try:
        for image in images:
            recorder.lines = {}
            auto.recognize(image)
            strings.recognize(image)
            out.append([recorder.lines[k] for k in sorted(recorder.lines)])
    finally:
        pipeline.choose_lines = original
    return out


def line_text(entry: dict, crops: list, reader: str, choice) -> str:
    digits = "".join(str(d) for d, _ in entry.get("digits", []))
    if entry.get("crops") is None or (reader == "auto" and not entry["doubtful"]):
        return digits
    readings = [entry["crops"][c] for c in crops]
    votes = Counter(r[0] for r in readings)
    text, _, confidences = max(readings, key=lambda r: (votes[r[0]], r[1]))
    if reader == "auto" and (not text or not strings_preferred(
            choice, np.log(np.maximum(confidences, 1e-6)),
            np.log(np.maximum([c for _, c in entry["digits"]], 1e-6)))):
        return digits
    return "".join(ch for ch, c in zip(text, confidences) if c >= pipeline.DEFAULT_MIN_CONFIDENCE)


def score(items, crops, reader, choice) -> str:
    """'CER % / exact %' over (truth, lines, scene?) items; scenes count line by line, as the scenes benchmark."""
    errors = chars = exact = 0
    for truth, lines, scene in items:
        texts = [line_text(e, crops, reader, choice) for e in lines]
        got = "\n".join(t for t in texts if t) if scene else "".join(texts)
        wrong = edit_distance(truth.replace("\n", ""), got.replace("\n", ""))
        errors, chars, exact = errors + wrong, chars + len(truth.replace("\n", "")), exact + (got == truth)
    return f"{100 * errors / max(1, chars):5.2f} / {100 * exact / max(1, len(items)):5.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--tuning-scenes", type=int, default=150)
    parser.add_argument("--tuning-seed", type=int, default=7)
    add_mnist_option(parser)
    args = parser.parse_args()
    mnist = load_mnist_for(parser, args.mnist)
    data = Path(args.data)
    started = time.perf_counter()
    cheques = read_labels(data / "cheque_amounts" / "labels.csv")
    held = cheque_validation_paths(data / "cheque_amounts")
    sets = {}

    def folder_items(folder, rows):
        images = (rotate_ccw(cv2.imread(str(data / folder / r["relative_path"]), cv2.IMREAD_UNCHANGED),
                             int(r.get("rotate_ccw_deg_to_upright") or 0)) for r in rows)
        return [(r["label"], lines, False) for r, lines in zip(rows, record(images))]

    sets["tuning cheques"] = folder_items("cheque_amounts", [r for r in cheques if r["relative_path"] not in held
                                                             and tuning_cheque(r["relative_path"])])
    scenes = make_scenes(mnist.x_test, mnist.y_test, args.tuning_scenes, seed=args.tuning_seed)
    sets["tuning scenes"] = [(s.text, lines, True) for s, lines in zip(scenes, record(s.image for s in scenes))]
    sets["page photos"] = folder_items("page_photos", read_labels(data / "page_photos" / "labels.csv"))
    sets["held-out cheques"] = folder_items("cheque_amounts", [r for r in cheques if r["relative_path"] in held])
    scenes = make_scenes(mnist.x_test, mnist.y_test, 300, seed=2026)
    sets["scenes (benchmark)"] = [(s.text, lines, True) for s, lines in zip(scenes, record(s.image for s in scenes))]
    choice = Recognizer(reader="strings").string_reader.choice
    print(f"read every line in {len(GRID)} crops ({time.perf_counter() - started:.0f} s); "
          "CER % / exact % (scenes: text exactly right)")
    for name, crops in CANDIDATES.items():
        print(f"{name} ({len(crops)} crops)")
        for reader in ("strings", "auto"):
            print(f"  {reader:8s}" + " | ".join(f"{s} {score(items, crops, reader, choice)}" for s, items in sets.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
