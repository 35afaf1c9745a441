"""livedigits.draw: what it draws lies where the layout says, any picture is accepted, and the old
call draw(image, reading[, fps, show_lines]) keeps working."""
import io
import os

import cv2
import numpy as np
import pytest

from conftest import ROOT
import livedigits
from livedigits import Digit, Reading, Recognizer
from livedigits.overlay import confidence_colour, draw, layout, render
from livedigits.overlay.placement import FONT, Font, text_box


def page(n=12, width=640, height=480, confidence=0.95):
    digits = [Digit(30 + 45 * (i % 12), 80 + 90 * (i // 12), 30, 50, i % 10, confidence - 0.01 * i, i // 12)
              for i in range(n)]
    return Reading(digits), np.full((height, width, 3), 230, np.uint8)


def test_same_function_everywhere_and_the_old_call_still_works():
    from livedigits.overlay import draw as from_overlay
    assert livedigits.draw is from_overlay is draw
    reading, image = page()
    before = image.copy()
    for annotated in (draw(image, reading), draw(image, reading, 12.0), draw(image, reading, None, False),
                      draw(image, reading, fps=30, show_lines=True, labels="digit")):
        assert annotated.shape == image.shape and annotated.dtype == np.uint8
        assert not np.array_equal(annotated, image)
    assert np.array_equal(image, before)  # the input is never drawn on
    with pytest.raises(ValueError, match="labels"):
        draw(image, reading, labels="big")


@pytest.mark.parametrize("kind", ["grey", "bgra", "uint16", "float"])
def test_any_picture_is_drawn_on_as_bgr(kind):
    reading, image = page(4)
    picture = {"grey": image[:, :, 0], "bgra": cv2.cvtColor(image, cv2.COLOR_BGR2BGRA),
               "uint16": image.astype(np.uint16) * 200, "float": image.astype(np.float32) / 255}[kind]
    annotated = draw(picture, reading)
    assert annotated.shape == image.shape and annotated.dtype == np.uint8


def test_copy_false_draws_on_the_frame_itself_when_it_can():
    """The live loop's path: the same pixels as a drawn copy, on the frame it was given; a picture
    that is not writable BGR uint8 is still converted, never drawn on."""
    reading, image = page()
    expected = draw(image, reading, 30.0)
    frame = image.copy()
    assert draw(frame, reading, 30.0, copy=False) is frame
    assert np.array_equal(frame, expected)
    grey = image[:, :, 0].copy()
    locked = image.copy()
    locked.flags.writeable = False
    for picture in (grey, locked):
        before = picture.copy()
        annotated = draw(picture, reading, copy=False)
        assert annotated is not picture and np.array_equal(picture, before)


def test_nothing_to_draw_gives_a_plain_copy():
    _, image = page()
    annotated = draw(image, Reading([]))
    assert np.array_equal(annotated, image) and annotated is not image


def test_every_drawn_pixel_lies_where_the_layout_says():
    """Boxes inside their layout boxes, texts inside their rectangles, leaders and marks where planned:
    nothing spills over a digit or another label."""
    digits = [Digit(4 + 26 * i, 40 + 48 * line, 22, 40, (i + line) % 10, (0.95, 0.8, 0.5)[i % 3], line)
              for line in range(4) for i in range(12)]
    seen = set()
    for width, height, fps in ((320, 240, None), (320, 240, 25.0), (640, 480, 9.0)):
        plan = layout(digits, width, height, fps=fps)
        canvas = render(np.zeros((height, width, 3), np.uint8), digits, plan)
        allowed = np.zeros((height, width), bool)
        for x0, y0, x1, y1 in plan.boxes:
            allowed[max(0, y0):y1, max(0, x0):x1] = True
        for box in plan.texts():
            x0, y0, x1, y1 = box.rect
            allowed[y0:y1, x0:x1] = True
        for banner in plan.banners:
            if banner.leader is not None:
                cv2.line(allowed.view(np.uint8), *banner.leader, 1, 3)
        drawn = canvas.any(axis=2)
        assert not (drawn & ~allowed).any()
        seen |= {"mark" for b in plan.banners if b.marks} | {"leader" for b in plan.banners if b.leader}
    assert seen == {"mark", "leader"}  # the pages were dense enough to need both


@pytest.mark.parametrize("scale", [0.4, 0.55, 0.8, 1.2, 1.8, 2.7, 5.4])
@pytest.mark.parametrize("text", ["0 100%", "1 7%", "7", "4 44%", "30 FPS", "0123456789"])
def test_text_ink_stays_inside_its_rectangle(scale, text):
    font = Font(scale, max(1, int(round(1.5 * scale))), max(1, int(round(3 * scale))))
    box = text_box(text, font, 50, 50)
    canvas = np.zeros((box.rect[3] + 100, box.rect[2] + 100), np.uint8)
    cv2.putText(canvas, text, box.origin, FONT, font.scale, 255, font.thickness, cv2.LINE_AA)
    x0, y0, x1, y1 = box.rect
    inside = canvas[y0:y1, x0:x1]
    assert canvas.sum() == inside.sum() > 0
    # the padding keeps the ink off the rectangle's edges
    assert not inside[0].any() and not inside[-1].any() and not inside[:, 0].any()


def test_labels_show_digit_and_confidence_in_its_colour():
    reading, image = page(1)
    digit = reading.digits[0]
    plan = layout(reading.digits, 640, 480)
    label = plan.labels[0]
    assert label.box.text == f"{digit.digit} {100 * digit.confidence:.0f}%" and label.place == "above"
    annotated = draw(image, reading)
    x0, y0, x1, y1 = label.box.rect
    assert tuple(int(v) for v in annotated[y0, x0]) == confidence_colour(digit.confidence)
    assert (annotated[y0:y1, x0:x1] == 255).all(axis=2).any()  # white text on it


def test_labels_none_leaves_only_boxes_and_banners():
    reading, image = page(6)
    bare = draw(image, reading, show_lines=False, labels="none")
    plan = layout(reading.digits, 640, 480, labels="none", show_lines=False)
    outside = np.ones(image.shape[:2], bool)
    for x0, y0, x1, y1 in plan.boxes:
        outside[y0:y1, x0:x1] = False
    assert np.array_equal(bare[outside], image[outside])


@pytest.mark.parametrize("mode", ["digit", "none"])
def test_labels_option_of_the_command(tmp_path, mode):
    """`livedigits PICTURE --save DIR --labels MODE` saves what draw(..., labels=MODE) draws."""
    from livedigits.app import cli
    picture = ROOT / "samples" / "ruled.png"
    code = cli.main([str(picture), "--save", str(tmp_path), "--labels", mode, "--workers", "1", "-q"],
                    stdout=io.StringIO(), stderr=io.StringIO())
    assert code == 0
    image = cv2.imread(str(picture))
    reading = Recognizer(os.environ.get("LIVEDIGITS_MODEL") or None).recognize(image)
    assert np.array_equal(cv2.imread(str(tmp_path / "ruled.png")), draw(image, reading, labels=mode))
