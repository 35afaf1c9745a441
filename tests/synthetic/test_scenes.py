"""Scene generator: determinism, layout and ground truth that matches the pixels."""
import os

import cv2
import numpy as np
import pytest

from livedigits.synthetic.scenes import PAPERS, Scene, TruthDigit, blank_scene, make_scene, make_scenes
from livedigits.training.data import ENV_VAR, load_mnist


@pytest.fixture(scope="module")
def mnist():
    if not os.environ.get(ENV_VAR):
        pytest.skip(f"set {ENV_VAR} to a local MNIST copy")
    m = load_mnist()
    return m.x_test, m.y_test


@pytest.fixture(scope="module")
def scenes(mnist):
    # two rounds of every paper, at the default and the hardest difficulty
    return (make_scenes(*mnist, 12, seed=3)
            + make_scenes(*mnist, 12, seed=4, difficulty=1.0))


def _gray(scene):
    return cv2.cvtColor(scene.image, cv2.COLOR_BGR2GRAY).astype(np.float32)


def test_same_seed_same_scene(mnist):
    a, b = make_scene(*mnist, seed=11), make_scene(*mnist, seed=11)
    assert np.array_equal(a.image, b.image)
    assert a.digits == b.digits and a.paper == b.paper
    c = make_scene(*mnist, seed=12)
    assert not np.array_equal(a.image, c.image)


def test_make_scenes_cycles_papers_and_seeds(mnist):
    batch = make_scenes(*mnist, 7, seed=5, difficulty=0.3)
    assert [s.paper for s in batch] == list(PAPERS) + [PAPERS[0]]
    again = make_scene(*mnist, seed=5 * 100003 + 2, paper=PAPERS[2], difficulty=0.3)
    assert np.array_equal(batch[2].image, again.image)


@pytest.mark.parametrize("paper", PAPERS)
def test_every_paper_renders(mnist, paper):
    scene = make_scene(*mnist, seed=1, paper=paper)
    assert isinstance(scene, Scene) and scene.paper == paper
    assert scene.image.shape == (480, 640, 3) and scene.image.dtype == np.uint8
    assert scene.digits and all(isinstance(d, TruthDigit) for d in scene.digits)


def test_other_frame_size(mnist):
    scene = make_scene(*mnist, seed=2, width=320, height=240, lines=2, digits_per_line=5)
    assert scene.image.shape == (240, 320, 3)
    assert len(scene.digits) == 10


def test_boxes_inside_and_on_ink(scenes):
    for scene in scenes:
        gray, (h, w) = _gray(scene), scene.image.shape[:2]
        boxes = np.zeros((h, w), bool)
        for d in scene.digits:
            boxes[d.y:d.y + d.h, d.x:d.x + d.w] = True
        for d in scene.digits:
            assert d.w > 0 and d.h > 0 and d.x >= 0 and d.y >= 0 and d.x + d.w <= w and d.y + d.h <= h
            m = d.h // 4
            ring = np.zeros_like(boxes)
            ring[max(d.y - m, 0):d.y + d.h + m, max(d.x - m, 0):d.x + d.w + m] = True
            ring &= ~boxes  # neighbours' ink would make the surroundings look dark too
            inside = gray[d.y:d.y + d.h, d.x:d.x + d.w].mean()
            assert inside < gray[ring].mean() - 8, (scene.paper, d)


def test_text_follows_lines(scenes):
    for scene in scenes:
        lines = [d.line for d in scene.digits]
        assert lines == sorted(lines) and sorted(set(lines)) == list(range(max(lines) + 1))
        expected = ["".join(str(d.digit) for d in scene.digits if d.line == k) for k in sorted(set(lines))]
        assert scene.text == "\n".join(expected)
        assert all(2 <= len(t) <= 10 for t in expected) and 1 <= len(expected) <= 4


def test_digits_in_a_line_are_ordered_and_apart(scenes):
    for scene in scenes:
        for a, b in zip(scene.digits, scene.digits[1:]):
            if a.line == b.line:
                assert a.x + a.w <= b.x, (scene.paper, a, b)


def test_layout_arguments_are_obeyed(mnist):
    scene = make_scene(*mnist, seed=8, lines=3, digits_per_line=(4, 6), digit_height=40, difficulty=0.0)
    rows = scene.text.split("\n")
    assert len(rows) == 3 and all(4 <= len(r) <= 6 for r in rows)
    assert all(32 <= d.h <= 46 for d in scene.digits)  # +-10 % size, finer pens lose an edge pixel
    # upright scene: lines are stacked without touching
    for k in range(2):
        above = max(d.y + d.h for d in scene.digits if d.line == k)
        below = min(d.y for d in scene.digits if d.line == k + 1)
        assert above < below


def test_bad_arguments(mnist):
    with pytest.raises(ValueError):
        make_scene(*mnist, seed=0, paper="papyrus")
    with pytest.raises(ValueError):
        make_scene(*mnist, seed=0, lines=4, digits_per_line=10, digit_height=200)


@pytest.mark.parametrize("paper", PAPERS)
def test_blank_scene_has_no_ink(mnist, paper):
    a, b = blank_scene(6, paper=paper), blank_scene(6, paper=paper)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    if paper != "desk":  # the desk itself is dark; the page must be free of anything ink-dark
        assert cv2.cvtColor(blank_scene(6, paper=paper, difficulty=0.0), cv2.COLOR_BGR2GRAY).min() > 150
        inked = make_scene(*mnist, seed=6, paper=paper, difficulty=0.0)
        assert _gray(inked).min() < 130
