"""Tracker, evidence combination and steady readings on hand-made detections (no model, no MNIST)."""
import csv
import json

import cv2
import numpy as np
import pytest

from livedigits import Digit, Reading
from livedigits.track import (Detection, FrameView, Stabilizer, SummaryCollector, TrackedDigit, Tracker,
                              TrackSettings, camera_shift, write_summary)

SIZE = (640, 480)


def probs(digit, p=0.95):
    """Classifier output that reads `digit` with probability p (digit 10: "not a digit")."""
    out = np.full(11, (1 - p) / 10)
    out[digit] = p
    return out


def det(digit, x=100, y=100, p=0.95, sharpness=1.0, w=30, h=40):
    return Detection((x, y, w, h), probs(digit, p), sharpness, contrast=1000.0)


def shown_digits(tracks):
    return sorted((t.id, t.digit) for t in tracks)


def test_a_digit_misread_in_one_blurred_frame_stays_steady():
    tracker = Tracker()
    frames = [[det(7)]] * 4 + [[det(1, p=0.99, sharpness=0.2)]] + [[det(7)]] * 3
    seen = [shown_digits(tracker.step(f, SIZE)) for f in frames]
    assert seen[0] == []                       # one frame's digit is never shown
    assert all(s == [(1, 7)] for s in seen[1:]), seen
    assert tracker.tracks[0].confidence > 0.8


def test_a_blurred_frame_neither_confirms_nor_outweighs_sharp_sightings():
    tracker = Tracker()
    for _ in range(3):  # blurred sightings of a "3" (the first one sets the track's best sharpness)
        tracker.step([det(3, p=0.9, sharpness=0.3)], SIZE, blurred=True)
    assert not tracker.tracks[0].confirmed     # blurred frames do not confirm
    for _ in range(2):  # sharp sightings of an 8: these count, and rescale the blurred evidence down
        shown = tracker.step([det(8, p=0.7, sharpness=1.0)], SIZE)
    assert shown_digits(shown) == [(1, 8)]


def test_a_digit_seen_in_one_frame_only_is_never_confirmed():
    tracker = Tracker()
    frames = [[], [det(4, x=300)], [], [], [det(4, x=100, y=300)], []] + [[]] * 5
    assert all(tracker.step(f, SIZE) == [] for f in frames)


def test_an_undetected_digit_in_view_coasts_then_is_dropped():
    s = TrackSettings(coast_frames=3, drop_after=5)
    tracker = Tracker(s)
    for _ in range(3):
        tracker.step([det(5)], SIZE)
    shown = [len(tracker.step([], SIZE)) for _ in range(s.drop_after + 1)]
    assert shown == [1] * s.coast_frames + [0] * (s.drop_after + 1 - s.coast_frames)
    assert tracker.tracks == []


def test_a_digit_leaving_the_view_is_hidden_at_once_and_dropped_after_the_set_frames():
    s = TrackSettings(coast_frames=4)
    tracker = Tracker(s)
    for _ in range(3):
        tracker.step([det(2, x=600)], SIZE)
    # the camera pans: the digit's box moves out of the frame; nothing else is in view
    assert tracker.step([], SIZE, shift=(60, 0)) == []
    for _ in range(s.coast_frames - 1):   # out of view for coast_frames frames: still remembered
        assert tracker.step([], SIZE) == [] and len(tracker.tracks) == 1
    tracker.step([], SIZE)
    assert tracker.tracks == []


def test_a_digit_out_of_view_is_remembered_while_the_rest_of_the_page_is_seen():
    s = TrackSettings(coast_frames=2, drop_out_of_view=8)
    tracker = Tracker(s)
    page = lambda dx: [det(1, x=50 + dx), det(9, x=560 + dx)]  # noqa: E731
    for _ in range(3):
        tracker.step(page(0), SIZE)
    ids = {t.digit: t.id for t in tracker.tracks}
    # the picture moves 100 px right: the 9 goes out of view, the 1 stays in view and is seen
    shown = tracker.step(page(100)[:1], SIZE, shift=(100, 0))
    assert shown_digits(shown) == [(ids[1], 1)]
    for _ in range(5):
        tracker.step(page(100)[:1], SIZE)
    shown = tracker.step(page(0), SIZE, shift=(-100, 0))  # back: the 9 is shown again, same track
    assert shown_digits(shown) == sorted([(ids[1], 1), (ids[9], 9)])
    for k in range(s.drop_out_of_view + 1):                # out of view for longer than remembered
        tracker.step(page(100)[:1], SIZE, shift=(100, 0) if k == 0 else (0, 0))
    assert [t.digit for t in tracker.tracks] == [1]


def test_a_returning_track_does_not_take_another_digit():
    s = TrackSettings(coast_frames=1, drop_out_of_view=20)
    tracker = Tracker(s)
    first = [det(1, x=50), det(7, x=560)]
    for _ in range(3):
        tracker.step(first, SIZE)
    seven = next(t.id for t in tracker.tracks if t.digit == 7)
    tracker.step([det(1, x=150)], SIZE, shift=(100, 0))
    tracker.step([det(1, x=150)], SIZE)
    # back in view, but where the 7 was predicted there is a confident 3 (another page): a new track
    tracker.step([det(1, x=50), det(3, p=0.99, x=560)], SIZE, shift=(-100, 0))
    assert not any(t.id == seven and t.missed == 0 for t in tracker.tracks)


def test_not_a_digit_evidence_ends_a_track():
    tracker = Tracker()
    for _ in range(3):
        tracker.step([det(6)], SIZE)
    assert tracker.tracks[0].shown
    for _ in range(12):
        tracker.step([det(10, p=0.9)], SIZE)
    assert tracker.tracks == [] or not tracker.tracks[0].shown


def test_unreadable_frames_keep_what_is_shown():
    tracker = Tracker(TrackSettings(coast_frames=2))
    for _ in range(3):
        tracker.step([det(8)], SIZE)
    for _ in range(6):  # longer than the coast: unreadable frames say nothing about the digit
        assert shown_digits(tracker.step([det(3)], SIZE, readable=False)) == [(1, 8)]


def test_one_digit_tracked_twice_is_merged():
    tracker = Tracker(TrackSettings(min_iou=0.6))
    for _ in range(3):
        tracker.step([det(4)], SIZE)
    first = tracker.tracks[0].id
    shown = tracker.step([det(4, x=110)], SIZE)   # too little overlap to match: a second track, merged
    assert [t.id for t in tracker.tracks] == [first] and shown_digits(shown) == [(first, 4)]
    assert tracker.tracks[0].box[0] == 110


# -- measuring frames ---------------------------------------------------------------------------

def stroke_frame(blur=0, gain=1.0, dx=0, noise=3.0):
    image = np.full((480, 640, 3), 235, np.uint8)
    for k, text in enumerate("739104"):
        cv2.putText(image, text, (60 + 90 * k + dx, 260 + 7 * (k % 3)), cv2.FONT_HERSHEY_SIMPLEX, 3, (30, 30, 30), 6)
    cv2.putText(image, "5281", (200 + dx, 400), cv2.FONT_HERSHEY_SIMPLEX, 2, (30, 30, 30), 4)
    if blur:
        kernel = np.zeros((blur, blur), np.float32)
        kernel[blur // 2, :] = 1.0 / blur
        image = cv2.filter2D(image, -1, kernel)
    grain = np.random.default_rng(blur + dx).normal(0, noise, image.shape)
    return np.clip(image.astype(np.float32) * gain + grain, 0, 255).astype(np.uint8)


def test_sharpness_falls_with_blur_but_not_with_light_and_contrast_tells_ink_from_paper():
    box = [(55, 180, 80, 90)]
    sharp, ink = FrameView.of(stroke_frame(), 320).measure(box)
    blurred, _ = FrameView.of(stroke_frame(blur=15), 320).measure(box)
    darker, _ = FrameView.of(stroke_frame(gain=0.6), 320).measure(box)
    _, paper = FrameView.of(stroke_frame(), 320).measure([(100, 350, 60, 60)])
    assert blurred[0] < 0.5 * sharp[0]
    assert darker[0] == pytest.approx(sharp[0], rel=0.3)
    assert paper[0] < 0.05 * ink[0]


def test_camera_shift_measures_the_motion_between_frames():
    before, after = FrameView.of(stroke_frame(), 320), FrameView.of(stroke_frame(dx=14), 320)
    window = cv2.createHanningWindow(before.motion.shape[::-1], cv2.CV_32F)
    shift, response = camera_shift(before, after, window)
    assert shift == pytest.approx([14, 0], abs=2.5)
    assert response > 0.3


# -- steady readings ----------------------------------------------------------------------------

def reading(digits):
    return Reading([Digit(x, y, 30, 40, d, 0.95, 0, (), tuple(probs(d))) for d, x, y in digits])


def test_stabilizer_gives_steady_lines_track_ids_and_holds_a_flash():
    frame = stroke_frame()
    layout = [(1, 60, 190), (2, 150, 190), (3, 240, 190), (4, 60, 300), (5, 150, 300)]
    stabilizer = Stabilizer()
    outs = [stabilizer.update(frame, reading(layout), i / 15) for i in range(4)]
    assert outs[0].text == ""
    assert [o.text for o in outs[1:]] == ["123\n45"] * 3
    assert all(isinstance(d, TrackedDigit) and d.track > 0 for d in outs[-1].digits)
    assert outs[-1].digits[0].as_dict()["track"] == outs[-1].digits[0].track
    ids = [d.track for d in outs[-1].digits]
    flash = stabilizer.update(np.full_like(frame, 255), reading([(7, 60, 190)]), 4 / 15)
    assert flash.held and flash.text == "123\n45" and [d.track for d in flash.digits] == ids
    after = stabilizer.update(frame, reading(layout), 5 / 15)
    assert not after.held and after.text == "123\n45"


@pytest.mark.parametrize("noise", [3.0, 0.0])  # a webcam's denoised blank paper is perfectly flat
def test_stabilizer_drops_digits_whose_ink_is_gone(noise):
    frame = stroke_frame(noise=noise)
    blank = np.clip(np.full((480, 640, 3), 235.0) + np.random.default_rng(1).normal(0, noise, (480, 640, 3)),
                    0, 255).astype(np.uint8)
    layout = [(7, 60 + 90 * k, 190) for k in range(6)]
    stabilizer = Stabilizer()
    for i in range(3):
        assert stabilizer.update(frame, Reading([Digit(x, y - 10, 60, 80, d, 0.95, 0, (), tuple(probs(d)))
                                                 for d, x, y in layout]), i / 15).text in ("", "777777")
    # the page is taken away without the camera moving: nothing is left to show
    assert stabilizer.update(blank, Reading([]), 3 / 15).digits == []


# -- summary --------------------------------------------------------------------------------------

def test_summary_keeps_texts_stable_for_long_enough_with_first_and_last_times(tmp_path):
    summary = SummaryCollector(min_stable_s=1.0)
    timeline = [("", 0.0), ("12", 0.5), ("123", 1.0), ("123", 2.5), ("", 3.0), ("45", 3.5), ("45", 5.0),
                ("4", 5.2), ("123", 6.0), ("123", 7.5)]
    for text, t in timeline:
        summary.add(text, t)
    assert [(e.text, e.first_s, e.last_s) for e in summary.entries()] == [("123", 1.0, 7.5), ("45", 3.5, 5.0)]
    write_summary(tmp_path / "s.csv", {"clip.mp4": summary})
    rows = list(csv.DictReader(open(tmp_path / "s.csv", newline="")))
    assert rows == [{"source": "clip.mp4", "text": "123", "first_s": "1.000", "last_s": "7.500"},
                    {"source": "clip.mp4", "text": "45", "first_s": "3.500", "last_s": "5.000"}]
    two_lines = SummaryCollector()
    two_lines.add("12\n34", 0.0)
    two_lines.add("12\n34", 1.5)
    write_summary(tmp_path / "s.json", {"cam": two_lines})
    assert json.loads((tmp_path / "s.json").read_text()) == [
        {"source": "cam", "text": "12\n34", "first_s": 0.0, "last_s": 1.5}]
