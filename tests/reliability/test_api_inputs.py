"""The Python API on odd arrays (issue 14, items 20-21, and fuzzing): every array either reads
(a Reading, a (digit or None, confidence) pair) or raises one ValueError naming what is wrong;
never an OpenCV assertion."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from livedigits import Reading, Recognizer
from livedigits.segment import to_gray


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def digit_picture(dtype=np.uint8, peak=255):
    """A dark 7 on light paper, 60x60, with values up to ``peak`` in ``dtype``."""
    import cv2

    paper = np.full((60, 60), 230, np.uint8)
    cv2.polylines(paper, [np.array([(15, 12), (45, 12), (25, 50)], np.int32)], False, 20, 5, cv2.LINE_AA)
    return (paper.astype(np.float64) * (peak / 255)).astype(dtype)


READABLE_SHAPES = {
    "grey + alpha (H, W, 2)": np.dstack([digit_picture(), np.full((60, 60), 255, np.uint8)]),
    "channels first (3, H, W)": np.stack([digit_picture()] * 3),
    "channels first (1, H, W)": digit_picture()[None],
    "1 x 100000 strip": np.full((1, 100000), 200, np.uint8),
    "100000 x 1 strip": np.full((100000, 1), 200, np.uint8),
    "2 x 6000 noise": np.random.default_rng(0).integers(0, 256, (2, 6000)).astype(np.uint8),
}


@pytest.mark.parametrize("name", list(READABLE_SHAPES))
def test_odd_shapes_are_read(recognizer, name):
    image = READABLE_SHAPES[name]
    assert isinstance(recognizer.recognize(image), Reading)
    digit, confidence = recognizer.read_digit(image)
    assert 0.0 <= confidence <= 1.0


def test_channels_first_reads_like_channels_last(recognizer):
    picture = digit_picture()
    assert recognizer.read_digit(np.stack([picture] * 3))[0] == recognizer.read_digit(picture)[0] == 7


@pytest.mark.parametrize("image, words", [
    (np.zeros((20, 20, 5), np.uint8), "(20, 20, 5)"),
    (np.zeros((0, 5), np.uint8), "(0, 5)"),
    (np.zeros(7, np.uint8), "(7,)"),
    (np.zeros((2, 3, 4, 5), np.uint8), "(2, 3, 4, 5)"),
    (np.array([["a", "b"]]), "dtype"),
    (np.array([[None]]), "dtype"),
])
def test_unreadable_arrays_raise_a_value_error_naming_the_problem(recognizer, image, words):
    for read in (recognizer.recognize, recognizer.read_digit):
        with pytest.raises(ValueError) as error:
            read(image)
        assert words in str(error.value)


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.int64, np.uint32])
def test_sixteen_bit_values_in_any_integer_type_are_read(recognizer, dtype):
    picture = digit_picture(dtype, peak=65535)
    assert int(to_gray(picture).max()) >= 200  # not clipped to a blank picture
    assert recognizer.read_digit(picture)[0] == 7
    assert recognizer.recognize(picture).text == "7"


@pytest.mark.parametrize("dtype, peak", [(np.float32, 1.0), (np.float64, 255.0), (np.float32, 65535.0)])
def test_float_pictures_are_read_by_their_range(recognizer, dtype, peak):
    assert recognizer.read_digit(digit_picture(dtype, peak) if peak > 1 else digit_picture(np.float64, 1.0))[0] == 7


def test_nan_and_inf_do_not_break_reading(recognizer):
    picture = digit_picture(np.float32, 255.0)
    picture[0, :5] = np.nan
    picture[1, :5] = np.inf
    assert recognizer.read_digit(picture)[0] == 7


DTYPES = st.sampled_from([np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64, np.float32, np.float64, np.bool_])


@st.composite
def arrays(draw):
    dtype = draw(DTYPES)
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 40), min_size=ndim, max_size=ndim)))
    return draw(hnp.arrays(dtype, shape, elements=hnp.from_dtype(np.dtype(dtype), allow_nan=True, allow_infinity=True)
                           if np.dtype(dtype).kind == "f" else None))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(image=arrays())
def test_fuzz_any_array_reads_or_raises_value_error(recognizer, image):
    for read in (recognizer.recognize, recognizer.read_digit):
        try:
            answer = read(image)
        except ValueError as err:
            assert "shape" in str(err) or "dtype" in str(err)
            continue
        if isinstance(answer, Reading):
            assert all(0 <= d.digit <= 9 for d in answer.digits)
        else:
            digit, confidence = answer
            assert digit is None or 0 <= digit <= 9
            assert 0.0 <= confidence <= 1.0
