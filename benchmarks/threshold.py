#!/usr/bin/env python3
"""How the confidence threshold trades found digits against invented ones.

    python benchmarks/threshold.py [--scenes 150] [--cheques 1070]

Each picture is read once with no threshold; every candidate threshold is then applied to the
same readings. Scenes: detection recall/precision (IoU >= 0.5) and exact text, on generated scenes
plus blank pages (digits invented per blank page). Real data: cheque_amounts exact/CER on the
cheques whose digits the model trained on (the held-out ones stay out of any tuning).
"""
import argparse
import os
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Reading, Recognizer  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.evaluation.scoring import TextScore, match_boxes, read_labels  # noqa: E402
from livedigits.synthetic.scenes import PAPERS, blank_scene, make_scenes  # noqa: E402
from livedigits.training.realdata import cheque_validation_paths  # noqa: E402

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def above(reading: Reading, threshold: float) -> Reading:
    kept = [d for d in reading.digits if d.confidence >= threshold]
    lines = {old: new for new, old in enumerate(sorted({d.line for d in kept}))}
    return Reading([type(d)(**{**d.__dict__, "line": lines[d.line]}) for d in kept])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=150)
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--cheques", type=int, default=1070)
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--model")
    add_mnist_option(parser)
    args = parser.parse_args()
    recognizer = Recognizer(args.model, min_confidence=0.0)
    mnist = load_mnist_for(parser, args.mnist)
    scenes = make_scenes(mnist.x_test, mnist.y_test, args.scenes, seed=args.seed)
    scene_readings = [recognizer.recognize(s.image) for s in scenes]
    blanks = [recognizer.recognize(blank_scene(i, paper=PAPERS[i % len(PAPERS)])) for i in range(60)]
    folder = Path(args.data) / "cheque_amounts"
    held_out = cheque_validation_paths(folder)
    rows = [row for row in read_labels(folder / "labels.csv") if row["relative_path"] not in held_out][:args.cheques]
    cheques = [recognizer.recognize(cv2.imread(str(folder / r["relative_path"]))) for r in rows]
    print("| threshold | recall | precision | scene text exact | digits per blank page | cheques exact | cheques CER |")
    print("|---|---|---|---|---|---|---|")
    for threshold in THRESHOLDS:
        truths = found = matched = exact = 0
        for scene, reading in zip(scenes, scene_readings):
            reading = above(reading, threshold)
            pairs = match_boxes([(d.x, d.y, d.w, d.h) for d in scene.digits], [(d.x, d.y, d.w, d.h) for d in reading.digits])
            truths, found, matched = truths + len(scene.digits), found + len(reading.digits), matched + len(pairs)
            exact += reading.text == scene.text
        invented = sum(len(above(b, threshold).digits) for b in blanks) / len(blanks)
        score = TextScore()
        for row, reading in zip(rows, cheques):
            score.add(row["relative_path"], row["label"], above(reading, threshold).text)
        print(f"| {threshold:.1f} | {100 * matched / truths:.2f} % | {100 * matched / max(1, found):.2f} % | "
              f"{100 * exact / len(scenes):.1f} % | {invented:.2f} | {100 * score.exact:.1f} % | {100 * score.cer:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
