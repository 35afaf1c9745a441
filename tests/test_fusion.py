"""Page-level fusion (livedigits/fusion.py): the geometry, the keyframe, the layout and the evidence
rules on small made-up frames. End to end on generated and real-photo clips: tests/test_video_steady.py."""
import math

import cv2
import numpy as np

from livedigits.fusion import (FusionSettings, Keyframe, PageFusion, PageRegistry, PageSummary, SlotBoard, _layout,
                               fit_page_to_frame, map_boxes, pair_nearest)
from livedigits.pipeline import Digit, Reading
from livedigits.track import Detection, FrameView


def similarity(angle_deg, scale, dx, dy):
    c, s = math.cos(math.radians(angle_deg)) * scale, math.sin(math.radians(angle_deg)) * scale
    return np.array([[c, -s, dx], [s, c, dy], [0, 0, 1.0]])


def test_pair_nearest_is_one_to_one_nearest_first():
    predicted = np.array([[0.0, 0], [10, 0], [100, 100]])
    found = np.array([[1.0, 0], [9, 0], [4, 0]])
    pairs = pair_nearest(predicted, found, np.full((3, 3), 5.0))
    assert sorted(pairs) == [(0, 0), (1, 1)]   # (0, 2) is farther than (0, 0); 2 has nothing near


def test_fit_recovers_a_similarity_despite_a_wrong_pair():
    truth = similarity(3.0, 1.2, 40, -25)
    page = np.array([[100.0, 100], [160, 102], [220, 98], [100, 180], [160, 182], [220, 178], [280, 100]])
    frame = cv2.perspectiveTransform(page.reshape(-1, 1, 2), truth).reshape(-1, 2)
    frame[3] += (45, 0)   # one digit paired with its neighbour
    matrix, inliers = fit_page_to_frame(page, frame, 4.0, np.eye(3))
    assert not inliers[3] and inliers.sum() == 6
    assert np.allclose(matrix[:2], truth[:2], atol=1e-2)


def test_fit_with_one_or_two_pairs_shifts_the_prior():
    prior = similarity(2.0, 1.0, 5, 5)
    page = np.array([[50.0, 60]])
    frame = cv2.perspectiveTransform(page.reshape(-1, 1, 2), prior).reshape(-1, 2) + (7, -3)
    matrix, inliers = fit_page_to_frame(page, frame, 2.0, prior)
    assert inliers.all() and np.allclose(matrix[:2, :2], prior[:2, :2])
    assert np.allclose(matrix[:2, 2], prior[:2, 2] + (7, -3))


def test_map_boxes_bounds_the_mapped_corners():
    boxes = map_boxes(similarity(90.0, 2.0, 0, 0), [(10, 20, 4, 6)])
    assert np.allclose(boxes, [[-52, 20, 12, 8]])


def test_layout_reads_a_tilted_page_line_by_line():
    """Two lines of digits written 6 degrees uphill: each line stays one line, read left to right."""
    class S:
        def __init__(self, id, box):
            self.id, self.box = id, box
    slope = math.tan(math.radians(-6))
    slots, id = [], 1
    for line, y0 in enumerate((100, 160)):
        for k in range(9):
            x = 50 + 45 * k
            slots.append(S(id, [x, y0 + slope * x, 25, 38]))
            id += 1
    rng = np.random.default_rng(1)
    order = _layout([slots[i] for i in rng.permutation(len(slots))])
    assert [order[s.id][0] for s in slots] == [0] * 9 + [1] * 9
    assert sorted(slots, key=lambda s: order[s.id]) == slots


def textured_page(seed=0, size=(480, 640)):
    rng = np.random.default_rng(seed)
    page = np.full(size, 235, np.uint8)
    for _ in range(120):  # strokes of ink: corners and blobs that features lock on
        x, y = rng.integers(20, size[1] - 20), rng.integers(20, size[0] - 20)
        cv2.line(page, (int(x), int(y)), (int(x + rng.integers(-15, 15)), int(y + rng.integers(-15, 15))), 40, 2)
    return page


def test_keyframe_finds_the_page_again():
    page = textured_page()
    key = Keyframe.of(cv2.resize(page, (320, 240), interpolation=cv2.INTER_AREA), 0.5, np.eye(3))
    truth = similarity(4.0, 1.1, -30, 12)
    frame = cv2.warpPerspective(page, truth, (640, 480), borderValue=235)
    found = key.locate(cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA), 0.5)
    assert found is not None
    probe = np.array([[[200.0, 150.0]], [[400.0, 300.0]]])
    assert np.abs(cv2.perspectiveTransform(probe, found) - cv2.perspectiveTransform(probe, truth)).max() < 3
    blank = np.full((240, 320), 235, np.uint8)
    assert key.locate(blank, 0.5) is None


def test_registry_follows_the_camera_by_phase_correlation():
    page = textured_page(3)
    registry = PageRegistry()
    registry.predict(FrameView.of(page, 320))
    registry.start()
    moved = np.roll(page, (6, -10), axis=(0, 1))
    matrix = registry.predict(FrameView.of(moved, 320))
    assert registry.measured and np.allclose(matrix[:2, 2], (-10, 6), atol=1.5)


# -- the evidence rules, on made-up frames and readings --------------------------------------------

def probs(digit, p=0.95):
    out = np.full(11, (1 - p) / 10)
    out[digit] = p
    return tuple(out)


def page_frame(blur=0):
    """A 640x480 page with strokes standing for three digits (the readings below say what they are)."""
    frame = np.full((480, 640, 3), 230, np.uint8)
    cv2.line(frame, (210, 200), (210, 240), (30, 30, 30), 3)    # "1" at x 200-220
    cv2.line(frame, (300, 200), (295, 225), (30, 30, 30), 3)    # "4" at x 290-335
    cv2.line(frame, (295, 225), (330, 225), (30, 30, 30), 3)
    cv2.line(frame, (320, 205), (320, 240), (30, 30, 30), 3)
    cv2.line(frame, (400, 200), (430, 200), (30, 30, 30), 3)    # "7" at x 395-435
    cv2.line(frame, (430, 200), (410, 240), (30, 30, 30), 3)
    return cv2.GaussianBlur(frame, (0, 0), blur) if blur else frame


ONE = Digit(200, 196, 22, 48, 1, 0.95, 0, probabilities=probs(1))
FOUR = Digit(290, 196, 45, 48, 4, 0.95, 0, probabilities=probs(4))
SEVEN = Digit(395, 196, 40, 48, 7, 0.95, 0, probabilities=probs(7))
SEVEN_BLURRED_AS_1 = Digit(395, 196, 40, 48, 1, 0.9, 0, probabilities=probs(1, 0.9))


def test_a_digit_is_shown_once_seen_sharp_twice():
    fusion = PageFusion()
    sharp = page_frame()
    first = fusion.update(sharp, Reading([ONE, FOUR, SEVEN]), 0.0)
    second = fusion.update(sharp, Reading([ONE, FOUR, SEVEN]), 0.1)
    assert first.text == "" and second.text == "147"
    third = fusion.update(sharp, Reading([ONE, FOUR, SEVEN]), 0.2)
    assert [d.track for d in second.digits] == [d.track for d in third.digits]


def test_a_lone_digit_needs_more_sightings_to_be_believed():
    """One or two digits seen for a moment may be the grain of a desk: a page with fewer than three
    is believed once one of them has been seen sharp in five frames."""
    fusion = PageFusion()
    texts = [fusion.update(page_frame(), Reading([ONE, SEVEN]), k / 15).text for k in range(6)]
    assert texts == ["", "", "", "", "17", "17"]


def test_a_digit_first_seen_blurred_waits_for_sharp_evidence():
    """Blurred frames that read a 7 as a 1 show nothing; the sharp frames that follow read 7, and
    their evidence outweighs the blurred frames'."""
    fusion = PageFusion()
    for k in range(5):  # the page (and its sharpness) is learnt on the 1 and the 4
        fusion.update(page_frame(), Reading([ONE, FOUR]), k / 15)
    blurred = page_frame(blur=3)
    for k in range(5, 11):
        steady = fusion.update(blurred, Reading([ONE, FOUR, SEVEN_BLURRED_AS_1]), k / 15)
        assert steady.text == "14"
    texts = [fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15).text for k in range(11, 14)]
    assert "141" not in texts and texts[-1] == "147"


def test_a_sharp_digit_replaces_a_smeared_view_of_it():
    """A blurred frame read the top of the 7 as a squashed digit (too far from the 7's centre to pair
    with it): the sharp 7 takes that slot over instead of being kept out by it."""
    fusion = PageFusion()
    fusion.update(page_frame(), Reading([ONE, FOUR]), 0.0)
    squashed = Digit(395, 188, 40, 14, 7, 0.6, 0, probabilities=probs(7, 0.6))
    fusion.update(page_frame(blur=3), Reading([ONE, FOUR, squashed]), 1 / 15)
    texts = [fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15).text for k in (2, 3)]
    assert texts[-1] == "147"
    assert len(fusion.page.board.slots) == 3


def test_digits_unread_with_their_ink_in_place_stay_shown():
    """A hand's shadow: the reader finds nothing for a while, but the page has not moved and its
    digits' ink is where it was: the reading stays."""
    fusion = PageFusion()
    for k in range(4):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    texts = [fusion.update(page_frame(), Reading([]), k / 15).text for k in range(4, 12)]
    assert texts == ["147"] * 8


def test_a_digit_shown_from_blurred_frames_gives_way_to_the_sharp_digit():
    """Blurred frames read the top of the 7 surely, as a squashed 7, three times: it is shown. The
    sharp 7 (too far from that squashed box's centre to pair with it) takes its slot over instead of
    being kept out of the page by it."""
    fusion = PageFusion()
    frame = page_frame()
    cv2.line(frame, (500, 200), (500, 240), (30, 30, 30), 3)    # a second "1": three digits to register on
    other = Digit(490, 196, 22, 48, 1, 0.97, 0, probabilities=probs(1, 0.97))
    for k in range(5):
        fusion.update(frame, Reading([ONE, FOUR, other]), k / 15)
    squashed = Digit(395, 188, 40, 14, 7, 0.97, 0, probabilities=probs(7, 0.97))
    for k in range(5, 8):
        fusion.update(cv2.GaussianBlur(frame, (0, 0), 3), Reading([ONE, FOUR, squashed, other]), k / 15)
    texts = [fusion.update(frame, Reading([ONE, FOUR, SEVEN, other]), k / 15).text for k in range(8, 11)]
    assert texts[-1] == "1471"
    seven = [sl for sl in fusion.page.board.slots if sl.digit == 7]
    assert len(seven) == 1 and seven[0].box[3] > 40


def test_a_digit_new_to_a_page_read_for_a_while_needs_more_sharp_sightings():
    """Once every digit of a page has been read in many sharp frames, something new read once or
    twice (a smear, a piece of a digit, a speck) is not shown; read in a third sharp frame, it is."""
    fusion = PageFusion()
    for k in range(12):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    frame = page_frame()
    cv2.line(frame, (500, 200), (500, 240), (30, 30, 30), 3)
    another = Digit(490, 196, 22, 48, 1, 0.97, 0, probabilities=probs(1, 0.97))
    texts = [fusion.update(frame, Reading([ONE, FOUR, SEVEN, another]), k / 15).text for k in range(12, 15)]
    assert texts == ["147", "147", "1471"]


def test_a_digit_read_in_few_of_the_sharp_frames_that_show_it_goes():
    """Ink in place keeps a digit the reader misses (a shadow) only if it is read in most sharp frames
    that show it: a slot read twice and then never again, the rest of the page being read, goes."""
    fusion = PageFusion()
    for k in range(2):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    texts = [fusion.update(page_frame(), Reading([ONE, FOUR]), k / 15).text for k in range(2, 30)]
    assert texts[0] == "147" and texts[-1] == "14"


def test_a_digit_the_reader_stopped_finding_comes_back_only_once_read_again_clearly():
    """The 7 goes unread while the rest of the page is read: it is hidden; one sighting does not bring
    it back (a digit found now and then would blink), three clear ones do."""
    fusion = PageFusion()
    for k in range(12):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    texts = [fusion.update(page_frame(), Reading([ONE, FOUR]), k / 15).text for k in range(12, 50)]
    assert texts[0] == "147" and texts[-1] == "14"
    texts = [fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15).text for k in range(50, 53)]
    assert texts == ["14", "14", "147"]


def test_a_sure_sighting_much_shorter_than_the_page_digits_is_not_shown_at_once():
    """One sharp, sure sighting with the camera still shows a digit at once, unless it is far shorter
    than the page's digits: the loop of a 9 or the bar of a 7 cut off by the segmentation."""
    frame = page_frame()
    cv2.circle(frame, (510, 210), 9, (30, 30, 30), 3)
    loop = Digit(499, 199, 22, 22, 0, 0.99, 0, probabilities=probs(0, 0.99))
    fusion = PageFusion()
    for k in range(3):
        fusion.update(frame, Reading([ONE, FOUR, SEVEN]), k / 15)
    assert fusion.update(frame, Reading([ONE, FOUR, SEVEN, loop]), 3 / 15).text == "147"
    tall = Digit(499, 196, 22, 48, 0, 0.99, 0, probabilities=probs(0, 0.99))
    fusion = PageFusion()
    for k in range(3):
        fusion.update(frame, Reading([ONE, FOUR, SEVEN]), k / 15)
    assert fusion.update(frame, Reading([ONE, FOUR, SEVEN, tall]), 3 / 15).text == "1470"


def test_a_shown_digit_keeps_its_reading_through_blurred_frames():
    fusion = PageFusion()
    for k in range(4):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    blurred = page_frame(blur=4)
    texts = [fusion.update(blurred, Reading([ONE, FOUR, SEVEN_BLURRED_AS_1]), k / 15).text for k in range(4, 12)]
    assert texts == ["147"] * 8


def test_overlapping_slots_merge_unless_both_were_shown_reading_apart():
    board = SlotBoard(FusionSettings())
    nine = board.add((100, 100, 30, 50), Detection((0, 0, 1, 1), np.array(probs(9))), True)
    zero = board.add((118, 110, 20, 30), Detection((0, 0, 1, 1), np.array(probs(0))), True)
    board.merge_duplicates()
    assert board.slots == [nine]                      # a box split otherwise: one digit
    zero = board.add((118, 110, 20, 30), Detection((0, 0, 1, 1), np.array(probs(0))), True)
    nine.ever_shown = zero.ever_shown = True          # touching digits, both read and shown
    board.merge_duplicates()
    assert board.slots == [nine, zero]


def test_nothing_on_the_page_any_more_hides_its_digits_at_once():
    fusion = PageFusion()
    for k in range(4):
        assert fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15).text == ("147" if k else "")
    blank = np.full((480, 640, 3), 230, np.uint8)
    assert fusion.update(blank, Reading([]), 4 / 15).digits == []


def test_digits_that_fit_nowhere_start_a_new_page():
    fusion = PageFusion(FusionSettings(mismatch_frames=2))
    for k in range(4):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    blank = np.full((480, 640, 3), 230, np.uint8)
    for k in range(4, 30):  # the camera over blank paper: nothing measured, nothing seen
        fusion.update(blank, Reading([]), k / 15)
    other = page_frame()
    cv2.rectangle(other, (60, 330), (90, 380), (30, 30, 30), 3)
    cv2.rectangle(other, (560, 60), (590, 110), (30, 30, 30), 3)
    zeros = [Digit(58, 328, 34, 54, 0, 0.95, 0, probabilities=probs(0)),
             Digit(558, 58, 34, 54, 0, 0.95, 0, probabilities=probs(0))]
    for k in range(30, 40):
        steady = fusion.update(other, Reading(zeros), k / 15)
    assert len(fusion.pages) == 2 and steady.text == "0\n0"
    entries = PageSummary(fusion, min_shown_s=0.1).entries()
    assert [e.text for e in entries] == ["147", "0\n0"]
    assert entries[0].last_s < entries[1].first_s
    assert {d.track for d in steady.digits}.isdisjoint({1, 2, 3})   # slot ids are not reused


def test_a_new_frame_size_starts_afresh():
    fusion = PageFusion()
    for k in range(3):
        fusion.update(page_frame(), Reading([ONE, FOUR, SEVEN]), k / 15)
    small = cv2.resize(page_frame(), (320, 240))
    assert fusion.update(small, Reading([]), 0.3).digits == [] and fusion.pages == []
