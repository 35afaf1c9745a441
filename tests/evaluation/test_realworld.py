"""Real photos and scans (../shared/data/realworld, never used for training): issue #3's minimums."""
import pytest

from livedigits import Recognizer
from livedigits.evaluation.scoring import score_folder


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def test_digit_photos_read_digit(recognizer, realworld):
    assert score_folder(recognizer, realworld / "digit_photos", "read_digit").exact >= 0.95


def test_digit_photos_recognize(recognizer, realworld):
    assert score_folder(recognizer, realworld / "digit_photos", "recognize").exact >= 0.95


def test_page_photos_character_error_rate(recognizer, realworld):
    # measured 7.75 %; the remaining errors are long-descender 9s read as 1s and touching pairs
    assert score_folder(recognizer, realworld / "page_photos", "recognize").cer <= 0.10


def test_cheque_amounts(recognizer, realworld):
    score = score_folder(recognizer, realworld / "cheque_amounts", "recognize")
    assert score.exact >= 0.50 and score.cer <= 0.20, (score.exact, score.cer)


def test_usps_read_digit(recognizer, realworld):
    assert score_folder(recognizer, realworld / "usps_train", "read_digit").exact >= 0.97


def test_sudoku_photos_character_error_rate(recognizer, realworld):
    # 12-16 MP photos with a printed grid as dark as the writing: measured 26.3 % (69 % before
    # such lines were erased ahead of growing and labelling). No issue target; a regression guard.
    assert score_folder(recognizer, realworld / "sudoku_photos", "recognize").cer <= 0.35
