"""The public API on pictures made for the purpose: shapes, dtypes, polarity, empties, rejection."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

import livedigits
from livedigits import Digit, Reading, Recognizer


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def mnist_on_paper(digit_image: np.ndarray, size=200) -> np.ndarray:
    """An MNIST digit drawn as dark ink on a light page, like a phone photo of one digit."""
    ink = cv2.resize(digit_image, (size // 2, size // 2), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    page = np.full((size, size), 230.0, np.float32)
    page[size // 4:size // 4 + size // 2, size // 4:size // 4 + size // 2] -= 190 * ink
    return np.clip(page, 0, 255).astype(np.uint8)


def test_read_digit_accepts_any_layout_dtype_and_polarity(recognizer, mnist):
    for index in range(20):
        gray = mnist_on_paper(mnist.x_test[index])
        expected = int(mnist.y_test[index])
        variants = {
            "grey": gray, "bgr": cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR),
            "bgra": cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA), "uint16": gray.astype(np.uint16) * 257,
            "inverted": 255 - gray, "small": cv2.resize(gray, (40, 40), interpolation=cv2.INTER_AREA),
        }
        for name, image in variants.items():
            digit, confidence = recognizer.read_digit(image)
            assert digit == expected, (index, name)
            assert 0.0 <= confidence <= 1.0


def test_module_level_functions_use_the_shipped_model(mnist):
    image = mnist_on_paper(mnist.x_test[0])
    assert livedigits.read_digit(image)[0] == mnist.y_test[0]
    reading = livedigits.recognize(image)
    assert isinstance(reading, Reading) and reading.text == str(mnist.y_test[0])
    annotated = livedigits.draw(image, reading)
    assert annotated.shape == image.shape + (3,) and not np.array_equal(annotated[..., 0], image)


def test_reading_fields_and_text(recognizer, mnist):
    row = np.hstack([mnist_on_paper(mnist.x_test[i]) for i in range(4)])
    page = np.vstack([row, np.hstack([mnist_on_paper(mnist.x_test[i]) for i in range(4, 8)])])
    reading = recognizer.recognize(page)
    expected = "".join(map(str, mnist.y_test[:4])) + "\n" + "".join(map(str, mnist.y_test[4:8]))
    assert reading.text == expected
    assert all(isinstance(d, Digit) for d in reading.digits)
    first = reading.digits[0]
    assert first.line == 0 and 40 < first.x < 110 and 40 < first.y < 110 and 40 < first.h < 120
    assert reading.digits[-1].line == 1
    assert all(0.5 <= d.confidence <= 1.0 for d in reading.digits)


@pytest.mark.parametrize("picture", [np.zeros((0, 0), np.uint8)], ids=["empty-array"])
def test_empty_input_is_a_value_error(recognizer, picture):
    with pytest.raises(ValueError):
        recognizer.recognize(picture)


@pytest.mark.parametrize("picture", [np.full((480, 640, 3), 255, np.uint8), np.zeros((480, 640), np.uint8),
                                     np.random.default_rng(1).integers(0, 256, (480, 640), dtype=np.uint8)],
                         ids=["white", "black", "noise"])
def test_blank_and_noise_frames_read_nothing(recognizer, picture):
    assert len(recognizer.recognize(picture).digits) <= 2


def test_min_confidence_filters(mnist):
    image = mnist_on_paper(mnist.x_test[0])
    assert Recognizer(min_confidence=1.01).recognize(image).digits == []


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(livedigits.ModelError, match="not found"):
        Recognizer(tmp_path / "nope.tflite")


def test_importing_livedigits_does_not_import_tensorflow():
    code = ("import sys, numpy as np, livedigits; r = livedigits.Recognizer(); "
            "r.recognize(np.full((100, 100), 255, np.uint8)); print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr[-500:]
