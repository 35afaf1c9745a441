"""The overlay's layout, measured: on dense generated pages no label covers another label, a line banner
or any digit box, and every text lies inside the picture; sizes stay readable from 320x240 to 4K."""
import numpy as np
import pytest

from livedigits import Digit
from livedigits.overlay import collisions, layout, style_for
from livedigits.overlay.placement import MIN_SCALE, _ink_rows, text_size
from livedigits.synthetic.scenes import make_scene

SIZES = [(320, 240), (640, 480), (800, 600), (1280, 720)]
PAPERS = ("ruled", "squared", "plain", "coloured")  # coloured: sticky notes among other tints


def scene_pages(mnist, count, seed=7, sizes=SIZES, most=60):
    """Generated pages of 3 to ``most`` digits in up to 6 lines (as close together as the generator
    writes them), read as their truth with random confidences."""
    rng = np.random.default_rng(seed)
    pages = []
    while len(pages) < count:
        width, height = sizes[len(pages) % len(sizes)]
        lines = int(rng.integers(1, 7))
        per_line = int(rng.integers(max(1, -(-3 // lines)), max(2, most // lines) + 1))
        try:
            scene = make_scene(mnist.x_test, mnist.y_test, int(rng.integers(1 << 30)), width, height,
                               paper=PAPERS[len(pages) % len(PAPERS)], lines=lines, digits_per_line=per_line,
                               difficulty=0.2)
        except ValueError:  # that many digits do not fit this frame
            continue
        pages.append(([Digit(d.x, d.y, d.w, d.h, d.digit, float(rng.uniform(0.3, 1.0)), d.line)
                       for d in scene.digits], width, height))
    return pages


def packed_pages(count, seed=11):
    """Readings built directly: up to 60 boxes packed tighter than handwriting (lines 1.05-1.6 digit
    heights apart, gaps from 0, slanted lines, boxes touching the frame's edges), 320x240 to 4K."""
    rng = np.random.default_rng(seed)
    sizes = SIZES + [(1920, 1080), (3840, 2160), (480, 640)]
    pages = []
    for n in range(count):
        width, height = sizes[n % len(sizes)]
        lines = int(rng.integers(1, 9))
        dh = float(rng.uniform(0.04, 0.16)) * min(width, height)
        pitch = float(rng.uniform(1.05, 1.6)) * dh
        y, digits = float(rng.uniform(0, 0.3 * dh)), []
        for line in range(lines):
            x, slope = float(rng.uniform(0, 2 * dh)), float(rng.uniform(-0.08, 0.08))
            for _ in range(int(rng.integers(1, 13))):
                w = max(2, int(dh * rng.uniform(0.25, 0.95)))
                h = max(3, int(dh * rng.uniform(0.8, 1.15)))
                top = int(y + slope * x + rng.uniform(-0.08, 0.08) * dh)
                if x + w > width or top < 0 or top + h > height or len(digits) >= 60:
                    break
                digits.append(Digit(int(x), top, w, h, int(rng.integers(10)), float(rng.uniform(0.3, 1.0)), line))
                x += w + dh * rng.uniform(0.0, 0.5)
            y += pitch
        if len(digits) >= 3:
            pages.append((digits, width, height))
    return pages


@pytest.fixture(scope="module")
def pages(mnist):
    return {"generated": scene_pages(mnist, 200), "packed": packed_pages(260)}


@pytest.mark.parametrize("labels", ["full", "digit"])
@pytest.mark.parametrize("kind, most_hidden", [("generated", 0.03), ("packed", 0.2)])
def test_no_text_covers_another_or_a_digit_and_all_lie_inside(pages, labels, kind, most_hidden):
    broken, counts = [], {"digits": 0, "hidden": 0, "lines": 0, "banners": 0, "leaders": 0}
    for k, (digits, width, height) in enumerate(pages[kind]):
        plan = layout(digits, width, height, labels=labels, fps=30.0 if k % 5 == 0 else None)
        broken += [f"page {k} ({width}x{height}, {len(digits)} digits): {p}" for p in collisions(plan)]
        counts["digits"] += len(digits)
        counts["hidden"] += sum(label.box is None for label in plan.labels)
        counts["lines"] += len({d.line for d in digits})
        counts["banners"] += len(plan.banners)
        counts["leaders"] += sum(banner.leader is not None for banner in plan.banners)
        # what collisions() checks, once more from the raw digit boxes
        raw = [(d.x, d.y, d.x + d.w, d.y + d.h) for d in digits]
        for label in plan.labels:
            if label.box is not None:
                x0, y0, x1, y1 = label.box.rect
                assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
                assert not any(x0 < b[2] and b[0] < x1 and y0 < b[3] and b[1] < y1
                               for i, b in enumerate(raw) if not (i == label.index and label.place == "inside"))
    print(f"\n{kind} pages, labels={labels}: {len(pages[kind])} pages, {counts}")
    assert len(pages[kind]) >= 200
    assert broken == [], broken[:10]
    # dense pages still keep nearly every label and every line's number
    assert counts["hidden"] <= most_hidden * counts["digits"]
    assert counts["banners"] >= 0.97 * counts["lines"]


def test_pages_of_ordinary_density_keep_every_label(mnist):
    """Up to 20 digits on 640x480 and up: every digit keeps its label, nearly all above or below it."""
    pages = scene_pages(mnist, 40, seed=3, sizes=[(640, 480), (1280, 720)], most=20)
    plans = [layout(digits, width, height) for digits, width, height in pages]
    assert all(collisions(plan) == [] for plan in plans)
    places = [label.place for plan in plans for label in plan.labels]
    assert "hidden" not in places
    assert sum(place in ("above", "below") for place in places) >= 0.95 * len(places)
    assert all(len(plan.banners) == len({d.line for d in digits}) for plan, (digits, _, _) in zip(plans, pages))


def test_hidden_labels_are_shown_in_their_line_banner():
    """Boxes packed edge to edge leave no room for labels: each hidden one is underlined in its banner."""
    digits = [Digit(10 + 22 * i, 100 + 42 * line, 22, 42, i % 10, 0.95 if i % 2 else 0.6, line)
              for line in range(3) for i in range(12)]
    plan = layout(digits, 320, 240)
    assert collisions(plan) == []
    hidden = {label.index for label in plan.labels if label.box is None}
    assert hidden, "the middle line has no room for labels"
    marked = {i for banner in plan.banners for _, i in banner.marks}
    assert hidden == marked
    for banner in plan.banners:
        x0, y0, x1, y1 = banner.box.rect
        for (a, b, c, d), _ in banner.marks:  # underlines inside the banner, in order along the text
            assert x0 <= a < c <= x1 and y0 <= b < d <= y1


def test_line_banner_moves_off_the_next_line_with_a_leader():
    """The issue's first complaint: a line's number string drawn over the next line's digits."""
    first = [Digit(100 + 60 * i, 150, 45, 42, d, 0.99, 0) for i, d in enumerate((5, 1, 8, 2))]
    second = [Digit(85 + 60 * i, 222, 45, 42, d, 0.99, 1) for i, d in enumerate((0, 9, 1, 2, 3))]
    plan = layout(first + second, 800, 600)
    assert collisions(plan) == []
    assert [b.box.text for b in plan.banners] == ["5182", "09123"]
    for banner in plan.banners:  # beside its line: no leader needed
        assert banner.leader is None
        line = [d for d in first + second if d.line == banner.line]
        assert banner.box.rect[0] > max(d.x + d.w for d in line)
    # lines that fill the width, close together: the middle one's banner goes to a margin of the page,
    # with a leader to its line; a banner right under or over its line needs none
    wide = [Digit(4 + 26 * i, 60 + 50 * line, 22, 40, i % 10, 0.99, line) for line in range(3) for i in range(12)]
    plan = layout(wide, 320, 240)
    assert collisions(plan) == []
    middle = next(b for b in plan.banners if b.line == 1)
    assert middle.leader is not None
    (x, y), (lx, ly) = middle.leader
    assert 100 <= ly <= 150 and 4 <= lx <= 316  # it ends on the middle line
    for banner in plan.banners:
        x0, y0, x1, y1 = banner.box.rect
        line = [d for d in wide if d.line == banner.line]
        touching = y1 >= min(d.y for d in line) - 8 and y0 <= max(d.y + d.h for d in line) + 8
        assert (banner.leader is None) == touching


def test_inside_the_top_edge_only_when_nothing_around_is_free():
    big = [Digit(4, 4, 390, 390, 7, 0.97, 0)]  # one digit filling a drawing pad
    plan = layout(big, 400, 400, show_lines=False)
    (label,) = plan.labels
    assert label.place == "inside" and label.box.text == "7 97%"
    x0, y0, x1, y1 = label.box.rect
    assert y1 - y0 <= 0.34 * 390 and collisions(plan) == []
    plan = layout([Digit(100, 150, 60, 90, 7, 0.97, 0)], 400, 400)
    assert plan.labels[0].place == "above"


def test_labels_modes():
    digits = [Digit(40 + 120 * i, 100, 40, 60, i, 0.95, 0) for i in range(4)]
    full = layout(digits, 640, 480, labels="full")
    assert [label.box.text for label in full.labels] == ["0 95%", "1 95%", "2 95%", "3 95%"]
    digit = layout(digits, 640, 480, labels="digit")
    assert [label.box.text for label in digit.labels] == ["0", "1", "2", "3"]
    none = layout(digits, 640, 480, labels="none")
    assert all(label.box is None for label in none.labels)
    assert [b.box.text for b in none.banners] == ["0123"] and none.banners[0].marks == ()
    assert layout(digits, 640, 480, show_lines=False).banners == ()
    with pytest.raises(ValueError, match="labels must be one of"):
        layout(digits, 640, 480, labels="some")


def test_percentages_only_where_they_fit():
    """Neighbours too close for "d nn%" keep the digit alone; a lone digit gets its percentage."""
    close = [Digit(40 + 24 * i, 100, 20, 40, i, 0.9, 0) for i in range(6)]
    texts = [label.box.text for label in layout(close, 640, 480).labels]
    assert "%" in texts[-1] and any("%" not in t for t in texts)
    assert collisions(layout(close, 640, 480)) == []


@pytest.mark.parametrize("width,height", [(320, 240), (640, 480), (1280, 720), (1920, 1080), (3840, 2160)])
def test_sizes_stay_readable_from_320x240_to_4k(width, height):
    short = min(width, height)
    for digit_height in (8, 0.05 * short, 0.1 * short, 0.3 * short, short):
        style = style_for(width, height, digit_height)
        top, bottom = _ink_rows(style.label.scale, style.label.thickness)
        ink = bottom - top + 1
        assert style.label.scale >= MIN_SCALE and ink >= 9  # the smallest readable Hershey digits
        assert ink >= short / 100  # a 4K frame shown scaled down to a screen stays readable
        assert text_size("0 99%", style.label)[1] <= max(22, 0.08 * short)  # never a wall of text
        if digit_height >= 40:  # labels follow the digits: about a third of their height, up to a cap
            assert ink <= 0.45 * digit_height
            assert ink >= 0.25 * digit_height or style.label.scale >= short / 400 - 0.05
        assert 1 <= style.box_thickness <= max(1, short / 300)
        assert style.banner.scale >= style.label.scale
