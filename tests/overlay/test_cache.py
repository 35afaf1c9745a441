"""LayoutCache: a video's layout moved with its digits keeps every promise of a fresh layout, labels stay
by their digits, and anything that decided the layout (digits, lines, sizes, options) makes a fresh one."""
from dataclasses import replace

import numpy as np
import pytest

from livedigits import Digit, Reading
from livedigits.overlay import LayoutCache, collisions, draw, layout
from livedigits.overlay.placement import _gap

from .test_placement import packed_pages, scene_pages


def filmed(digits, width, height, frames, seed):
    """The digits over ``frames`` frames of a hand-held camera: the whole view drifting a few pixels
    (slow sines), zooming by up to 1 % and rolling by up to 0.3 degree about the frame's centre; box
    corners rounded, confidences wavering by a point or two (percentages cross 99/100 now and then)."""
    rng = np.random.default_rng(seed)
    freqs, phases = rng.uniform(0.2, 1.6, (2, 4)), rng.uniform(0, 2 * np.pi, (2, 4))
    amps = np.array([4.0, 3.0, 0.01, 0.3]) * rng.uniform(0.5, 1.0, (2, 4))
    corners = np.float64([[(d.x, d.y), (d.x + d.w, d.y), (d.x + d.w, d.y + d.h), (d.x, d.y + d.h)] for d in digits])
    centre = np.array([width / 2, height / 2])
    for k in range(frames):
        dx, dy, zoom, roll = (amps * np.sin(2 * np.pi * freqs * k / 30 + phases)).sum(axis=0)
        c, s = np.cos(np.radians(roll)) * (1 + zoom), np.sin(np.radians(roll)) * (1 + zoom)
        seen = (corners - centre) @ np.array([[c, s], [-s, c]]) + centre + (dx, dy)
        low, high = np.round(seen.min(axis=1)).astype(int), np.round(seen.max(axis=1)).astype(int)
        yield [Digit(int(a[0]), int(a[1]), max(1, int(b[0] - a[0])), max(1, int(b[1] - a[1])), d.digit,
                     float(np.clip(d.confidence + rng.normal(0, 0.01), 0.0, 1.0)), d.line)
               for d, a, b in zip(digits, low, high)
               if a[0] >= 0 and a[1] >= 0 and b[0] < width and b[1] < height]


@pytest.fixture(scope="module")
def videos(mnist):
    """Dense generated pages and boxes packed tighter than handwriting, each filmed for 12 frames."""
    return scene_pages(mnist, 40, seed=5) + packed_pages(40, seed=9)


@pytest.mark.parametrize("labels", ["full", "digit"])
def test_moved_layouts_keep_every_promise_and_labels_stay_by_their_digits(videos, labels):
    broken, frames, moved = [], 0, 0
    for k, (page, width, height) in enumerate(videos):
        cache = LayoutCache()
        for n, digits in enumerate(filmed(page, width, height, 12, seed=k)):
            plan = cache.layout(digits, width, height, labels=labels, fps=25.0 + n if k % 3 == 0 else None)
            broken += [f"video {k} frame {n}: {p}" for p in collisions(plan)]
            assert len(plan.labels) == len(digits) and plan.boxes == layout(digits, width, height).boxes
            label_height = plan.style.label.scale * 40
            for label in plan.labels:
                if label.box is not None:
                    assert label.box.text.split()[0] == str(digits[label.index].digit)
                    assert _gap(label.box.rect, plan.boxes[label.index]) <= plan.style.gap + label_height
                    if "%" in label.box.text:  # the percentage of this frame
                        d = digits[label.index]
                        assert label.box.text == f"{d.digit} {100 * d.confidence:.0f}%"
            for banner in plan.banners:
                assert banner.box.text == "".join(str(d.digit) for d in digits if d.line == banner.line)
        frames += cache.fresh + cache.moved
        moved += cache.moved
    print(f"\n{len(videos)} videos, {frames} frames, {moved} layouts moved")
    assert broken == [], broken[:10]
    assert moved >= 0.6 * frames  # the point of it: most frames of a steady camera reuse the layout


def test_a_still_reading_gets_the_fresh_layout_every_frame():
    digits = [Digit(40 + 60 * (i % 8), 60 + 80 * (i // 8), 40, 55, i % 10, 0.9, i // 8) for i in range(24)]
    cache = LayoutCache()
    fresh = layout(digits, 640, 480, fps=30.0)
    for _ in range(3):
        assert cache.layout(digits, 640, 480, fps=30.0) == fresh
    assert (cache.fresh, cache.moved) == (1, 2)


def test_what_decided_the_layout_makes_a_fresh_one():
    digits = [Digit(40 + 60 * i, 100, 40, 55, i, 0.9, 0) for i in range(6)]
    cache = LayoutCache()
    cache.layout(digits, 640, 480)
    changed = [
        ([replace(d, digit=(d.digit + 1) % 10) if i == 2 else d for i, d in enumerate(digits)], 640, 480, {}),
        (digits[:5], 640, 480, {}),                                  # a digit left the view
        ([replace(d, line=1) if i > 2 else d for i, d in enumerate(digits)], 640, 480, {}),  # lines split
        (digits, 800, 600, {}),                                      # another frame size
        (digits, 640, 480, {"labels": "digit"}),
        (digits, 640, 480, {"show_lines": False}),
        (digits, 640, 480, {"fps": 30.0}),
        ([replace(d, x=d.x + 12) if i == 3 else d for i, d in enumerate(digits)], 640, 480, {}),  # one moved alone
        ([replace(d, h=d.h * 2, w=d.w * 2) for d in digits], 640, 480, {}),  # much larger: another font
    ]
    for digits_now, width, height, options in changed:
        fresh = cache.fresh
        plan = cache.layout(digits_now, width, height, **options)
        assert cache.fresh == fresh + 1
        assert plan == layout(digits_now, width, height, **options)
        cache.layout(digits, 640, 480)  # back to the first frame: fresh again
    # the whole view moved by 7 pixels: the same layout, moved along
    shifted = [replace(d, x=d.x + 7, y=d.y - 7) for d in digits]
    before = cache.layout(digits, 640, 480)
    plan = cache.layout(shifted, 640, 480)
    assert cache.moved >= 1
    assert [l.box.rect for l in plan.labels] == [(x0 + 7, y0 - 7, x1 + 7, y1 - 7)
                                                 for x0, y0, x1, y1 in (l.box.rect for l in before.labels)]


def test_font_keeps_its_size_while_digits_waver_around_a_step():
    base = [Digit(40 + 70 * i, 100, 40, 57, i, 0.9, 0) for i in range(6)]  # median height 57: scale 0.95 at 720p
    cache = LayoutCache()
    first = cache.layout(base, 1280, 720)
    for h in (58, 60, 57, 56, 59):
        plan = cache.layout([replace(d, h=h) for d in base], 1280, 720)
        assert plan.style == first.style
    assert cache.fresh == 1


def test_a_label_in_the_way_is_placed_again_not_the_whole_layout():
    """One digit moves onto its neighbour's label: that label alone finds a new place."""
    digits = [Digit(100 + 40 * i, 200, 30, 50, i, 0.95, 0) for i in range(6)]
    cache = LayoutCache(tolerance=1.0)
    first = cache.layout(digits, 640, 480, labels="digit")
    assert [label.place for label in first.labels] == ["above"] * 6
    nudged = [replace(d, x=d.x - 19, y=d.y - 6) if i == 3 else d for i, d in enumerate(digits)]
    plan = cache.layout(nudged, 640, 480, labels="digit")
    assert cache.moved == 1 and collisions(plan) == []
    assert plan.labels[2].place == "below"
    moved = [(x0 - 19, y0 - 6, x1 - 19, y1 - 6) if i == 3 else (x0, y0, x1, y1)
             for i, (x0, y0, x1, y1) in enumerate(label.box.rect for label in first.labels)]
    assert [label.box.rect for label in plan.labels] == moved[:2] + [plan.labels[2].box.rect] + moved[3:]
    # the next frames start from the new place: nothing to place again while nothing moves
    assert cache.layout(nudged, 640, 480, labels="digit") == plan
    assert (cache.fresh, cache.moved) == (1, 2)


def test_draw_with_a_cache_draws_what_it_would_draw_without():
    digits = [Digit(40 + 60 * (i % 8), 60 + 80 * (i // 8), 40, 55, i % 10, 0.9, i // 8) for i in range(16)]
    image = np.full((480, 640, 3), 220, np.uint8)
    cache = LayoutCache()
    for shift in (0, 0, 3):  # the same reading, then the whole page moved by 3 pixels
        reading = Reading([replace(d, x=d.x + shift) for d in digits])
        assert np.array_equal(draw(image, reading, cache=cache), draw(image, reading))
    assert (cache.fresh, cache.moved) == (1, 2)
