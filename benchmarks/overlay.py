#!/usr/bin/env python3
"""Speed and layout of the overlay (livedigits.draw), against the overlay it replaced.

    python benchmarks/overlay.py                  # 40 digits at 1280x720 and the other sizes, 30 frames x 20 draws
    python benchmarks/overlay.py --frames 60 --repeats 50
    python benchmarks/overlay.py --case 1280x720:40        # one case (repeatable)
    git worktree add /tmp/before 5e6a4a9 && python benchmarks/overlay.py --case 1280x720:40 --against /tmp/before

Frames are generated pages (MNIST test digits, 4 lines of 10 for 40 digits) read as their exact truth
with random confidences, so no recognition runs: only drawing is timed. Each draw is timed on its own;
the first table gives medians with 10th-90th percentiles, for the new draw (which returns a drawn copy),
the same drawn on the frame itself (``copy=False``, as the live run loop draws), its layout alone, and
the old draw (kept below as it was, labels simply above each box) in the same run. It also counts what
the layout promises never to do (texts overlapping each other or a digit box, or leaving the picture)
and how labels were placed.

The second table films each page with a hand-held camera (``--clip`` frames at 30 fps, see hand_held)
and draws every frame on itself as the run loop does: with one LayoutCache per clip (the layout moved
with its digits where they barely moved) and without one, taking turns on each frame.
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from livedigits import Digit, Reading, draw  # noqa: E402
from livedigits.overlay import LayoutCache, collisions, confidence_colour, layout  # noqa: E402
from livedigits.synthetic.scenes import make_scene  # noqa: E402
from livedigits.synthetic.video import homography  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402

CASES = [((1280, 720), 40), ((640, 480), 10), ((640, 480), 40), ((320, 240), 10), ((1920, 1080), 40),
         ((3840, 2160), 40)]


# -- the overlay before labels avoided each other (livedigits/overlay.py up to commit e6192bc) -------
def old_draw(image, reading, fps=None, show_lines=True):
    font = cv2.FONT_HERSHEY_SIMPLEX

    def label(canvas, text, origin, scale, colour, thickness):
        (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
        x, y = int(origin[0]), int(origin[1])
        x = min(max(0, x), max(0, canvas.shape[1] - tw - 2))
        y = min(max(th + base, y), canvas.shape[0] - 1)
        cv2.rectangle(canvas, (x, y - th - base), (x + tw + 2, y + 1), colour, -1)
        cv2.putText(canvas, text, (x + 1, y - base // 2), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)

    canvas = image.copy()
    frame_scale = max(canvas.shape[:2]) / 640.0
    thickness = max(1, int(round(1.5 * frame_scale)))
    for d in reading.digits:
        colour = confidence_colour(d.confidence)
        cv2.rectangle(canvas, (d.x, d.y), (d.x + d.w, d.y + d.h), colour, thickness)
        scale = float(np.clip(d.h / 45.0, 0.35 * frame_scale, 1.2 * frame_scale))
        text = f"{d.digit} {100 * d.confidence:.0f}%"
        if cv2.getTextSize(text, font, scale, 1)[0][0] > 1.6 * d.w + 6:
            text = str(d.digit)
        label(canvas, text, (d.x, d.y - 2), scale, colour, max(1, thickness - 1))
    if show_lines:
        for number, text in enumerate(reading.lines):
            members = [d for d in reading.digits if d.line == number]
            if members:
                scale = float(np.clip(np.median([d.h for d in members]) / 35.0, 0.45 * frame_scale, 1.4 * frame_scale))
                x, y = min(d.x for d in members), max(d.y + d.h for d in members)
                label(canvas, text, (x, y + int(30 * scale) + 4), scale, (90, 60, 20), thickness)
    if fps is not None:
        label(canvas, f"{fps:.0f} FPS", (8, int(28 * frame_scale)), 0.7 * frame_scale, (40, 40, 40), thickness)
    return canvas


# -- frames ---------------------------------------------------------------------------------------
def frames(mnist, size, digits, count, seed=0):
    """(image, Reading) pairs: generated pages read as their truth, confidences drawn from 0.5-1. Pages
    are generated at 640x480 or 1280x720 (as benchmarks/bench.py does) and resized to other sizes."""
    width, height = size
    made = (640, 480) if width * 3 == height * 4 else (1280, 720)
    lines, per_line = {10: (2, 5), 40: (4, 10)}[digits]
    rng = np.random.default_rng(seed)
    found = []
    for i in range(count):
        scene = make_scene(mnist.x_test, mnist.y_test, seed + i, *made, lines=lines, digits_per_line=per_line,
                           paper=("plain", "ruled", "squared")[i % 3])
        image = scene.image if made == size else cv2.resize(scene.image, size, interpolation=cv2.INTER_AREA)
        f = width / made[0]
        found.append((image, Reading([Digit(int(d.x * f), int(d.y * f), max(1, int(d.w * f)), max(1, int(d.h * f)),
                                            d.digit, float(rng.uniform(0.5, 1.0)), d.line) for d in scene.digits])))
    return found


def hand_held(image, reading, count, seed, fps=30.0):
    """``count`` frames of a page filmed by a hand-held camera at ``fps``: every box moved by the
    tremor of benchmarks' generated videos (livedigits.synthetic.video: a few slow sines moving the
    view up to 7 px, zooming by up to 1.2 % and rolling by up to 0.4 degree), each confidence
    jittering by a point or two. The frame's pixels stay those of the page: drawing does not depend
    on them."""
    rng = np.random.default_rng(seed)
    height, width = image.shape[:2]
    freqs, phases = rng.uniform(0.2, 1.6, (3, 4)), rng.uniform(0, 2 * np.pi, (3, 4))
    amps = np.array([4.0, 3.0, 0.012, 0.4]) * rng.uniform(0.5, 1.0, (3, 4))
    corners = np.float64([[(d.x, d.y), (d.x + d.w, d.y), (d.x + d.w, d.y + d.h), (d.x, d.y + d.h)]
                          for d in reading.digits]).reshape(-1, 1, 2)
    found = []
    for k in range(count):
        wobble = (amps * np.sin(2 * np.pi * freqs * k / fps + phases)).sum(axis=0)
        pose = np.array([width / 2, height / 2, 1.0, 0.0, 0.0, 0.0]) + np.r_[wobble, 0.0, 0.0]
        seen = cv2.perspectiveTransform(corners, homography(pose, width, height)).reshape(-1, 4, 2)
        low, high = np.round(seen.min(axis=1)).astype(int), np.round(seen.max(axis=1)).astype(int)
        found.append((image, Reading([Digit(int(a[0]), int(a[1]), max(1, int(b[0] - a[0])), max(1, int(b[1] - a[1])),
                                            d.digit, float(np.clip(d.confidence + rng.normal(0, 0.01), 0.5, 1.0)),
                                            d.line) for d, a, b in zip(reading.digits, low, high)])))
    return found


def other_checkout(path: str):
    """The livedigits package of another checkout (``git worktree add DIR COMMIT``), imported under
    its own name beside this one, so that both overlays are timed in one process taking turns."""
    init = Path(path).resolve() / "livedigits" / "__init__.py"
    if not init.is_file():
        raise SystemExit(f"--against: no livedigits package in {path}")
    spec = importlib.util.spec_from_file_location("livedigits_against", init,
                                                  submodule_search_locations=[str(init.parent)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package
    spec.loader.exec_module(package)
    return package


def timed_clips(clips, repeats, against=None) -> tuple[dict, float]:
    """Milliseconds per frame drawn on the live frame through a clip, each clip with its own
    LayoutCache ("moved") and without one ("fresh"), and by the other checkout's draw (with its own
    LayoutCache where it has one), taking turns on each frame; and the share of frames whose layout
    was moved."""
    times = {"moved": [], "fresh": []} | ({"against": []} if against else {})
    other_cache = getattr(getattr(against, "overlay", None), "LayoutCache", None)
    moved = total = 0
    for rep in range(repeats + 1):
        for clip in clips:
            caches = {"moved": LayoutCache(), "fresh": None, "against": other_cache() if other_cache else None}
            for image, reading in clip:
                for name in times:
                    function = against.draw if name == "against" else draw
                    options = {"cache": caches[name]} if caches[name] is not None else {}
                    frame = image.copy()
                    started = time.perf_counter()
                    function(frame, reading, copy=False, **options)
                    if rep:
                        times[name].append(1000 * (time.perf_counter() - started))
            cache = caches["moved"]
            moved, total = moved + cache.moved, total + cache.moved + cache.fresh
    return ({name: (statistics.median(t), float(np.percentile(t, 10)), float(np.percentile(t, 90)))
             for name, t in times.items()}, moved / max(1, total))


def timed(functions: dict, pairs, repeats) -> dict:
    """Milliseconds per call of each function: (median, 10th, 90th percentile). Every call is timed
    on its own, the functions taking turns on each page (so that a busy machine slows all alike),
    after one warm-up pass."""
    times = {name: [] for name in functions}
    for rep in range(repeats + 1):
        for image, reading in pairs:
            for name, function in functions.items():
                # "live" draws on the frame itself, as the run loop does with the frame it just read:
                # its fresh copy of the page is made before the clock starts
                frame = image.copy() if name == "live" else image
                started = time.perf_counter()
                function(frame, reading)
                if rep:
                    times[name].append(1000 * (time.perf_counter() - started))
    return {name: (statistics.median(t), float(np.percentile(t, 10)), float(np.percentile(t, 90)))
            for name, t in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_mnist_option(parser)
    parser.add_argument("--frames", type=int, default=30, help="pages per case (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=20, help="draws of each page (default %(default)s)")
    parser.add_argument("--clip", type=int, default=30,
                        help="frames of each page's hand-held clip (default %(default)s)")
    parser.add_argument("--case", action="append", metavar="WxH:DIGITS",
                        choices=[f"{w}x{h}:{n}" for (w, h), n in CASES],
                        help="only this frame size and digit count (repeatable; default: all of them)")
    parser.add_argument("--against", metavar="DIR",
                        help="also time the overlay of another checkout DIR in the same runs (an A/B)")
    args = parser.parse_args(argv)
    mnist = load_mnist_for(parser, args.mnist)
    cv2.setNumThreads(1)
    against = other_checkout(args.against) if args.against else None
    ab = []

    video = ["| frame | digits | drawn with the clip's LayoutCache ms | without it ms | with / without "
             "| layouts moved | collisions |", "|---|---|---|---|---|---|---|"]
    print("A new page every frame:\n")
    print("| frame | digits | new draw ms | on the live frame ms | layout alone ms | old draw ms | new / old | label font scale |"
          " collisions | labels: full / digit only / hidden | banners with a leader |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, digits in CASES:
        if args.case and f"{size[0]}x{size[1]}:{digits}" not in args.case:
            continue
        pairs = frames(mnist, size, digits, args.frames)
        functions = {"new": draw, "live": lambda frame, reading: draw(frame, reading, copy=False),
                     "layout": lambda image, reading: layout(reading.digits, size[0], size[1]), "old": old_draw}
        if against:
            functions["against"] = lambda frame, reading: against.draw(frame, reading, copy=False)
        t = timed(functions, pairs, args.repeats)
        new, alone, old = t["new"], t["layout"], t["old"]
        live = t["live"][0]
        plans = [layout(reading.digits, size[0], size[1]) for _, reading in pairs]
        broken = sum(len(collisions(plan)) for plan in plans)
        kinds = Counter("hidden" if label.box is None else ("full" if "%" in label.box.text else "digit")
                        for plan in plans for label in plan.labels)
        total = sum(kinds.values())
        banners = [banner for plan in plans for banner in plan.banners]
        print(f"| {size[0]}×{size[1]} | {digits} | **{new[0]:.3f}** ({new[1]:.3f}-{new[2]:.3f}) "
              f"| **{live:.3f}** | {alone[0]:.3f} | {old[0]:.3f} ({old[1]:.3f}-{old[2]:.3f}) | {new[0] / old[0]:.2f} "
              f"| {plans[0].style.label.scale} | {broken} | {100 * kinds['full'] / total:.0f} % / "
              f"{100 * kinds['digit'] / total:.0f} % / {100 * kinds['hidden'] / total:.1f} % "
              f"| {sum(b.leader is not None for b in banners)} of {len(banners)} |", flush=True)

        clips = [hand_held(image, reading, args.clip, seed) for seed, (image, reading) in enumerate(pairs)]
        if against:
            ab.append((size, digits, t["live"][0], t["against"][0]))
        t, moved = timed_clips(clips, args.repeats, against)
        if against:
            ab[-1] += (t["moved"][0], t["against"][0])
        broken = 0
        for clip in clips:
            cache = LayoutCache()
            broken += sum(len(collisions(cache.layout(reading.digits, size[0], size[1]))) for _, reading in clip)
        video.append(f"| {size[0]}×{size[1]} | {digits} "
                     f"| **{t['moved'][0]:.3f}** ({t['moved'][1]:.3f}-{t['moved'][2]:.3f}) "
                     f"| {t['fresh'][0]:.3f} ({t['fresh'][1]:.3f}-{t['fresh'][2]:.3f}) "
                     f"| {t['moved'][0] / t['fresh'][0]:.2f} | {100 * moved:.0f} % | {broken} |")
    print(f"\nLive video: each page filmed for {args.clip} frames by a hand-held camera at 30 fps, drawn on the "
          "frame (copy=False) as the run loop draws:\n")
    print("\n".join(video))
    if against:
        print(f"\nA/B against {args.against} (both drawing on the frame, taking turns on each frame):\n")
        print("| frame | digits | new page: this ms | that ms | this / that | live video: this ms | that ms "
              "| this / that |")
        print("|---|---|---|---|---|---|---|---|")
        for size, digits, cold, cold_other, live, live_other in ab:
            print(f"| {size[0]}×{size[1]} | {digits} | {cold:.3f} | {cold_other:.3f} | {cold / cold_other:.2f} "
                  f"| {live:.3f} | {live_other:.3f} | {live / live_other:.2f} |")


if __name__ == "__main__":
    main()
