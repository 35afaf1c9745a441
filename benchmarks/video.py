#!/usr/bin/env python3
"""Steady readings on hand-held videos: generated pages and filmed real photos, per clip and pooled.

    LIVEDIGITS_MNIST=path/to/mnist LIVEDIGITS_REALWORLD=path/to/realworld python benchmarks/video.py
    python benchmarks/video.py --clips 4 --photo-seeds 1 --show-failures 5
    python benchmarks/video.py --photos tune       # the photos page fusion was tuned on

Clips:

* generated (``--clips``, default 12): livedigits.synthetic.video.make_video with seed SEED+i, one
  page over 10 s, or every third clip two pages over 18 s (a stack filmed one after the other);
* real photos (``--photo-seeds`` seeds per photo, default 2): livedigits.synthetic.photo_video, 10 s
  each. ``--photos report`` (the default) films the page photos fusion was NOT tuned on, 1_A4 and
  3_A4 (a yellow sticky note), and a sticky note cut from 1_A4; ``tune`` films 0_A4, 2_A4 and notes
  cut from them (what the settings were chosen on); ``--sudoku N`` adds N sudoku photos (of different
  puzzles; their text is the 81 cells, printed and handwritten).

Reported for every frame read on its own (raw), the digit tracker (``--steady track``) and page
fusion (the default):

* CER: character error rate of `text` ("\\n" included) on frames where the whole text is in view;
* flicker: share of consecutive such frames whose `text` differs;
* blank: digits reported on frames of blank paper or desk (no part of the writing in view);
* recover: per stretch of full view (the page coming into view, or back), frames until the text
  first reads as it does for most of the stretch: median, worst, and the share within 10 frames;
* ms: Stabilizer.update / PageFusion.update per frame, median (this thread's CPU time).

``--breakdown`` adds, per clip, where page fusion's errors come from: substitutions, deletions and
insertions on full-view frames, text changes during the page's first 15 frames in view and later,
and the characters wrong in most full-view frames, with how often the raw reading had them right.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.strings import READERS  # noqa: E402
from livedigits.fusion import PageFusion  # noqa: E402
from livedigits.synthetic.photo_video import make_photo_video, page_photos, sticky_note, sudoku_photos  # noqa: E402
from livedigits.synthetic.video import error_breakdown, make_video, pooled, score_video  # noqa: E402
from livedigits.track import Stabilizer  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402

PHOTO_SPLITS = {"report": ("1_A4.bmp", "3_A4.bmp"), "tune": ("0_A4.bmp", "2_A4.bmp")}
NOTE_FROM = {"report": ("1_A4.bmp",), "tune": ("0_A4.bmp", "2_A4.bmp")}
SUDOKU = ("01_04_iphone_14_0.jpg", "01_06_honor_view_10_1.jpg", "01_08_honor_view_10_0.jpg")


def clip_plan(index: int) -> tuple[int, float]:
    """(pages, seconds) of generated clip `index`."""
    return (2, 18.0) if index % 3 == 2 else (1, 10.0)


def clips(args, mnist):
    """(group, name, Video) for every clip asked for, made one at a time."""
    for i in range(args.clips):
        pages, seconds = clip_plan(i)
        yield "generated", f"seed {args.seed + i}", make_video(mnist.x_test, mnist.y_test, seed=args.seed + i,
                                                               seconds=seconds, pages=pages)
    realworld = Path(args.realworld)
    photos = {p.name: p for p in page_photos(realworld / "page_photos")} if args.photo_seeds else {}
    films = [(name, photos[name]) for name in PHOTO_SPLITS[args.photos] if photos]
    films += [(name + " note", sticky_note(photos[name])) for name in NOTE_FROM[args.photos] if photos]
    for name, photo in films:
        for k in range(args.photo_seeds):
            yield "photos", f"{name} seed {100 + k}", make_photo_video([photo], seed=100 + k)
    for photo in sudoku_photos(realworld / "sudoku_photos", list(SUDOKU[:args.sudoku])) if args.sudoku else []:
        yield "sudoku", photo.name, make_photo_video([photo], seed=200)


def fmt(score) -> str:
    recover = f"{statistics.median(score.recover):>3.0f} {max(score.recover):>3} {100 * score.recovered_within(10):>4.0f}%" \
        if score.recover else f"{'-':>3} {'-':>3} {'-':>5}"
    return f"{100 * score.cer:>6.2f}% {100 * score.flicker:>6.2f}% {score.blank_digits:>5} {recover}"


def describe(b, texts: list[str], worst: int = 5) -> str:
    """Two indented lines: the error kinds and changes by phase, then the characters most often wrong."""
    head = (f"      page: {b.substitutions} substituted, {b.deletions} deleted, {b.insertions} inserted; text changes "
            f"{b.entry_changes}/{b.entry_pairs} frame pairs in the first 15 frames in view, {b.steady_changes}/{b.steady_pairs} later")
    chars = []
    for (page, index), count in sorted(b.wrong.items(), key=lambda kv: -kv[1])[:worst]:
        before = texts[page][:index]
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        chars.append(f"{texts[page][index]!r} (line {line}, digit {column}) wrong in {count}/{b.full_frames[page]}, "
                     f"raw right in {b.raw_right.get((page, index), 0)}")
    return head + "\n      most wrong: " + ("; ".join(chars) or "none")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12, help="generated clips (default 12)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--photo-seeds", type=int, default=2, help="clips per real photo (default 2)")
    parser.add_argument("--photos", choices=tuple(PHOTO_SPLITS), default="report")
    parser.add_argument("--sudoku", type=int, default=0, metavar="N", help="also film N sudoku photos (at most 3)")
    parser.add_argument("--realworld", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--model")
    parser.add_argument("--reader", choices=READERS, default="auto", help="the recogniser's reader (default auto)")
    parser.add_argument("--string-model", help="the string reader's .tflite (default: the shipped one)")
    parser.add_argument("--breakdown", action="store_true",
                        help="per clip: page fusion's substitutions, deletions, insertions, changes by phase, worst characters")
    parser.add_argument("--show-failures", type=int, default=0, metavar="N",
                        help="print up to N frames per clip where the fused text is wrong")
    add_mnist_option(parser)
    args = parser.parse_args()
    mnist = load_mnist_for(parser, args.mnist)
    recognizer = Recognizer(args.model, reader=args.reader, string_model=args.string_model)
    kinds = ("raw", "track", "page")
    scores = {}
    cpu = {"track": [], "page": []}
    head = f"{'CER':>7} {'flicker':>7} {'blank':>5} {'recover':>13}"
    print(f"{'clip':<26} {'frames':>6} {'full':>5} {'blank':>5} | raw: {head} | track: {head} | page: {head}")
    for group, name, video in clips(args, mnist):
        stabilizer, fusion = Stabilizer(), PageFusion()
        readings = {kind: [] for kind in kinds}
        for k, frame in enumerate(video.frames):
            reading = recognizer.recognize(frame)
            readings["raw"].append(reading)
            # page fusion holds the page's polarity for the recogniser (as the command does): a frame
            # the recogniser would have read the other way is read again, as the page says
            held = fusion.inverted
            page_reading = reading if held is None or held == reading.inverted else \
                recognizer.recognize(frame, inverted=held)
            for kind, reader, given in (("track", stabilizer, reading), ("page", fusion, page_reading)):
                started = time.thread_time()
                readings[kind].append(reader.update(frame, given, video.time_s(k)))
                cpu[kind].append(time.thread_time() - started)
        row = {kind: score_video(video.truth, readings[kind]) for kind in kinds}
        for kind in kinds:
            scores.setdefault((group, kind), []).append(row[kind])
        s = row["page"]
        print(f"{name:<26} {len(video.frames):>6} {s.full_frames:>5} {s.blank_frames:>5} | "
              + " | ".join(f"{'':>{len(kind) - 3}}{fmt(row[kind])}" for kind in kinds), flush=True)
        if args.breakdown:
            print(describe(error_breakdown(video.truth, readings["page"], readings["raw"]), video.texts))
        shown = 0
        for k, (truth, reading) in enumerate(zip(video.truth, readings["page"])):
            if shown < args.show_failures and truth.full and reading.text != truth.text:
                print(f"      frame {k}: expected {truth.text!r} got {reading.text!r} "
                      f"(raw {readings['raw'][k].text!r}, track {readings['track'][k].text!r})")
                shown += 1
    for group in dict.fromkeys(g for g, _ in scores):
        for kind in kinds:
            s = pooled(scores[(group, kind)])
            recover = (f"back to steady within 10 frames {100 * s.recovered_within(10):.0f} % of {len(s.recover)} "
                       f"entries (median {statistics.median(s.recover):.0f}, worst {max(s.recover)} frames)"
                       if s.recover else "")
            print(f"{group} {kind + ':':<6} CER {100 * s.cer:.2f} % ({s.full_frames} full-view frames), flicker "
                  f"{100 * s.flicker:.2f} %, {s.blank_digits} digits on {s.blank_frames} blank frames; {recover}")
    for kind, values in cpu.items():
        if values:
            print(f"{kind}: median {1000 * statistics.median(values):.2f} ms CPU per 640x480 frame "
                  f"(90th percentile {1000 * statistics.quantiles(values, n=10)[-1]:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
