"""livedigits: find and read every handwritten digit in a picture, video or camera frame.

    import livedigits
    reading = livedigits.recognize(image)          # every digit, its box, confidence and line
    print(reading.text)
    digit, confidence = livedigits.read_digit(img)  # a picture of one digit (None: no digit)
    annotated = livedigits.draw(image, reading)

Inference runs on LiteRT; importing livedigits never imports TensorFlow.
"""
from __future__ import annotations

from . import _quiet_start  # noqa: F401  first: the command's Ctrl-C during the imports below is quiet
from functools import lru_cache

from .classify import Classifier, ModelError
from .overlay import draw
from .pipeline import DEFAULT_MIN_CONFIDENCE, Digit, Reading, Recognizer

__all__ = ["Recognizer", "Reading", "Digit", "Classifier", "ModelError", "recognize", "read_digit", "draw",
           "DEFAULT_MIN_CONFIDENCE"]
__version__ = "0.1.0"


@lru_cache(maxsize=1)
def _shared_recognizer() -> Recognizer:
    """The shipped model, loaded once on first use by the convenience functions."""
    return Recognizer()


def recognize(image) -> Reading:
    """Every digit in ``image`` (a numpy array as OpenCV loads it), with the shipped model."""
    return _shared_recognizer().recognize(image)


def read_digit(image) -> tuple[int | None, float]:
    """(digit, confidence) for a picture holding one digit: any size, grey/BGR/BGRA, uint8/uint16, either
    polarity. ``(None, p)`` when it holds no digit (blank, a letter, a scrap): ``p`` is the probability
    of "not a digit"."""
    return _shared_recognizer().read_digit(image)
