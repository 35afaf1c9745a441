#!/usr/bin/env python3
"""Steady readings on generated hand-held videos: the issue's figures, per clip and over all clips.

    LIVEDIGITS_MNIST=path/to/mnist python benchmarks/video.py                  # 12 clips, 15 fps
    python benchmarks/video.py --clips 4 --fps 30 --show-failures 5

Each clip is livedigits.synthetic.video.make_video with seed SEED+i: one page over 10 s, or every third
clip two pages over 18 s (a stack of pages filmed one after the other). Reported, for the raw
per-frame readings and for the steady ones (Recognizer + Stabilizer):

* CER: character error rate of `text` ("\\n" included) on frames where the whole page is in view;
* flicker: share of consecutive such frames whose `text` differs;
* blank: digits reported on frames of blank paper or desk (no part of any digit in view);
* tracking ms: Stabilizer.update per frame, median (wall clock, and this thread's CPU time).
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.synthetic.video import make_video, pooled, score_video  # noqa: E402
from livedigits.track import Stabilizer  # noqa: E402


def clip_plan(index: int) -> tuple[int, float]:
    """(pages, seconds) of clip `index`."""
    return (2, 18.0) if index % 3 == 2 else (1, 10.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--model")
    parser.add_argument("--show-failures", type=int, default=0, metavar="N",
                        help="print up to N frames per clip where the steady text is wrong")
    add_mnist_option(parser)
    args = parser.parse_args()
    mnist = load_mnist_for(parser, args.mnist)
    recognizer = Recognizer(args.model)
    raw_scores, steady_scores, wall, cpu = [], [], [], []
    print(f"{'clip':>4} {'pages':>5} {'frames':>6} {'full':>5} {'blank':>5} | {'raw CER':>7} {'flicker':>7} "
          f"{'blank':>5} | {'CER':>6} {'flicker':>7} {'blank':>5}")
    for i in range(args.clips):
        pages, seconds = clip_plan(i)
        video = make_video(mnist.x_test, mnist.y_test, seed=args.seed + i, seconds=seconds, fps=args.fps, pages=pages)
        stabilizer = Stabilizer()
        raw, steady = [], []
        for k, frame in enumerate(video.frames):
            reading = recognizer.recognize(frame)
            started, started_cpu = time.perf_counter(), time.thread_time()
            steady.append(stabilizer.update(frame, reading, video.time_s(k)))
            wall.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - started_cpu)
            raw.append(reading)
        r, s = score_video(video.truth, raw), score_video(video.truth, steady)
        raw_scores.append(r)
        steady_scores.append(s)
        print(f"{args.seed + i:>4} {pages:>5} {len(video.frames):>6} {s.full_frames:>5} {s.blank_frames:>5} | "
              f"{100 * r.cer:>6.2f}% {100 * r.flicker:>6.2f}% {r.blank_digits:>5} | "
              f"{100 * s.cer:>5.2f}% {100 * s.flicker:>6.2f}% {s.blank_digits:>5}")
        shown = 0
        for k, (truth, reading) in enumerate(zip(video.truth, steady)):
            if shown < args.show_failures and truth.full and reading.text != truth.text:
                print(f"      frame {k}: expected {truth.text!r} got {reading.text!r} (raw {raw[k].text!r})")
                shown += 1
    for name, scores in (("raw", raw_scores), ("steady", steady_scores)):
        s = pooled(scores)
        print(f"all {name + ':':<7} CER {100 * s.cer:.2f} % ({s.full_frames} full-view frames), flicker "
              f"{100 * s.flicker:.2f} %, {s.blank_digits} digits on {s.blank_frames} blank frames")
    print(f"tracking: median {1000 * statistics.median(wall):.2f} ms wall, {1000 * statistics.median(cpu):.2f} ms CPU "
          f"per 640x480 frame (90th percentile {1000 * statistics.quantiles(wall, n=10)[-1]:.2f} ms wall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
