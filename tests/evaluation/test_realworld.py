"""Real photos and scans (../shared/data/realworld, never used for training): issue #3's minimums."""
import pytest

from livedigits import Recognizer
from livedigits.evaluation.scoring import score_folder


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


# The model trained on real data (#13) reads a bare vertical bar "1" (mikewu_one.png) as "not a
# digit" (0.52 against 0.39): grid-line remnants in the empty sudoku cells of its training mix look
# the same. Measured 19 of 21 (the other miss is the photo of all ten digits); was 20 of 21. A known
# regression, to be fixed by leaving sliver-shaped empty cells out of "not a digit".
def test_digit_photos_read_digit(recognizer, realworld):
    assert score_folder(recognizer, realworld / "digit_photos", "read_digit").exact >= 0.90


def test_digit_photos_recognize(recognizer, realworld):
    assert score_folder(recognizer, realworld / "digit_photos", "recognize").exact >= 0.90


def test_page_photos_character_error_rate(recognizer, realworld):
    # measured 10.85 % with the model trained on real data (7.75 % with the MNIST-only model, which
    # reads held-out real digits far worse: see README "Accuracy on real data"); the errors are
    # small touching digits left out, long-descender 9s read as 1s
    assert score_folder(recognizer, realworld / "page_photos", "recognize").cer <= 0.11


def test_cheque_amounts(recognizer, realworld):
    score = score_folder(recognizer, realworld / "cheque_amounts", "recognize")
    assert score.exact >= 0.50 and score.cer <= 0.20, (score.exact, score.cer)


def test_usps_read_digit(recognizer, realworld):
    assert score_folder(recognizer, realworld / "usps_train", "read_digit").exact >= 0.97


def test_sudoku_photos_character_error_rate(recognizer, realworld):
    # 12-16 MP photos with a printed grid as dark as the writing: measured 26.3 % (69 % before
    # such lines were erased ahead of growing and labelling). No issue target; a regression guard.
    assert score_folder(recognizer, realworld / "sudoku_photos", "recognize").cer <= 0.35
