"""Generated scenes (MNIST test digits on paper): detection and reading at CI size.

The full 300-scene measurement is `python benchmarks/scenes.py --count 300`.
"""
import pytest

from livedigits import Recognizer
from livedigits.evaluation.scoring import score_scenes
from livedigits.synthetic.scenes import PAPERS, blank_scene, make_scenes


@pytest.fixture(scope="module")
def result(mnist):
    scenes = make_scenes(mnist.x_test, mnist.y_test, 60, seed=7)
    return score_scenes(Recognizer(), scenes)


def test_detection_recall_and_precision(result):
    assert result["recall"] >= 0.98, result["recall"]
    assert result["precision"] >= 0.98, result["precision"]


def test_digit_accuracy_on_detected(result):
    assert result["accuracy_on_detected"] >= 0.97


def test_text_exact_on_most_scenes(result):
    # Issue #3 asks for 90 % on 300 scenes: measured 90.7 % (benchmarks/scenes.py --count 300).
    # This 60-scene sample reads 81.7 % (a harder draw: 60 scenes vary by several points), so
    # the regression guard sits just below it.
    assert result["text_exact"] >= 0.80, result["failures"][:5]


@pytest.mark.parametrize("paper", PAPERS)
def test_blank_paper_gives_no_digits(paper):
    recognizer = Recognizer()
    found = sum(len(recognizer.recognize(blank_scene(seed, paper=paper)).digits) for seed in range(3))
    assert found <= 1


@pytest.mark.parametrize("paper", ["ruled", "squared"])
def test_blank_lined_pages_at_hd_give_no_digits(paper):
    """Faint, tilted and perspective grids: the pieces a threshold breaks them into must not
    read as "1"s (seed 11 is a grid in perspective that used to give dozens)."""
    recognizer = Recognizer()
    found = sum(len(recognizer.recognize(blank_scene(seed, 1280, 720, paper=paper)).digits) for seed in range(12))
    assert found <= 1
