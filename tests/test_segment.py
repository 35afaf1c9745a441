"""Segmentation on small hand-made pictures: polarity, holes, fragments, lines, order, empties."""
import cv2
import numpy as np
import pytest

from livedigits.segment import (Box, Region, _histogram, _pieces, binarize, drop_small_in_line, ink_levels, ink_map,
                                merge_fragments, order_lines, piece_stats, remove_lines, segment, to_gray)

PAPER, INK = 225, 40


def page(h=300, w=400):
    return np.full((h, w), PAPER, np.uint8)


def put_text(image, text, origin, scale=2.0, thickness=4):
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, INK, thickness, cv2.LINE_AA)
    return image


def boxes(image):
    seg = segment(image)
    return [seg.to_input(r.box) for r in seg.regions], seg


def test_dark_ink_on_light_and_light_on_dark_find_the_same_boxes():
    image = put_text(page(), "2 7", (100, 150))
    dark_on_light, seg = boxes(image)
    light_on_dark, seg_inv = boxes(255 - image)
    assert len(dark_on_light) == 2 and not seg.inverted
    assert seg_inv.inverted
    assert [(b.x // 3, b.w // 3) for b in dark_on_light] == [(b.x // 3, b.w // 3) for b in light_on_dark]


def test_holes_of_0_6_8_9_are_not_digits():
    image = page()
    for i, centre in enumerate((60, 150, 240, 330)):
        cv2.ellipse(image, (centre, 150), (25, 45), 0, 0, 360, INK, 6)  # a "0" with a big hole
    found, _ = boxes(image)
    assert len(found) == 4
    assert all(b.h > 80 for b in found)  # the rings, not their holes


def test_broken_stroke_and_detached_bar_merge_into_one_digit():
    image = page()
    cv2.line(image, (200, 100), (200, 145), INK, 6)   # a "1" broken in the middle
    cv2.line(image, (200, 152), (200, 200), INK, 6)
    cv2.line(image, (100, 95), (135, 95), INK, 6)     # a "5"-like: bar detached from the body
    cv2.ellipse(image, (112, 165), (22, 30), 0, -120, 160, INK, 6)
    cv2.line(image, (100, 104), (100, 135), INK, 6)
    found, _ = boxes(image)
    assert len(found) == 2


def test_ruled_lines_are_removed_but_digits_crossing_them_stay():
    image = page(300, 500)
    for y in range(40, 300, 50):
        cv2.line(image, (0, y), (499, y), 150, 2)
    put_text(image, "4 7 5 2", (80, 160), scale=2.2, thickness=5)
    found, seg = boxes(image)
    assert len(found) == 4
    assert all(b.w < 100 for b in found)


def test_squared_paper_with_nothing_written_gives_nothing():
    image = page(480, 640)
    for v in range(0, 640, 24):
        cv2.line(image, (v, 0), (v, 479), 170, 1)
    for y in range(0, 480, 24):
        cv2.line(image, (0, y), (639, y), 170, 1)
    found, _ = boxes(image)
    assert len(found) <= 1


@pytest.mark.parametrize("picture", [np.full((480, 640), 200, np.uint8), np.zeros((480, 640, 3), np.uint8),
                                     np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)])
def test_blank_dark_and_noise_frames_give_few_candidates(picture):
    found, _ = boxes(picture)
    assert len(found) <= 150  # capped: noise never floods the classifier
    if picture.std() < 1:
        assert found == []


def test_lines_are_grouped_and_ordered_left_to_right():
    regions = [Region(Box(200, 210, 20, 40), (1,)), Region(Box(20, 12, 20, 40), (2,)),
               Region(Box(100, 8, 20, 40), (3,)), Region(Box(30, 200, 20, 40), (4,)),
               Region(Box(60, 15, 20, 40), (5,))]
    ordered = order_lines(regions)
    assert [r.labels[0] for r in ordered] == [2, 5, 3, 4, 1]
    assert [r.line for r in ordered] == [0, 0, 0, 1, 1]


def test_two_columns_of_writing_are_two_lines_but_spaced_digits_one():
    def row(xs, y=100):
        return [Region(Box(x, y, 20, 40), (x,)) for x in xs]
    ordered = order_lines(row([20, 45, 70, 95]) + row([300, 325, 350]) + row([20, 45, 70], 200) + row([400], 200))
    assert [(r.labels[0], r.line) for r in ordered] == [(20, 0), (45, 0), (70, 0), (95, 0), (300, 1), (325, 1),
                                                        (350, 1), (20, 2), (45, 2), (70, 2), (400, 3)]
    spaced = order_lines(row([20, 140, 260, 380]))  # digits written 3 heights apart: still one line
    assert {r.line for r in spaced} == {0}


def test_fragments_stacked_in_one_column_merge_but_neighbours_do_not():
    regions = [Region(Box(10, 10, 20, 15), (1,)), Region(Box(12, 28, 18, 22), (2,)),  # one digit in two
               Region(Box(45, 10, 20, 40), (3,))]
    merged = merge_fragments(regions, digit_height=40)
    assert sorted(len(r.labels) for r in merged) == [1, 2]


def test_to_gray_accepts_every_layout_and_depth():
    bgr = np.full((10, 10, 3), 200, np.uint8)
    assert to_gray(bgr).shape == (10, 10)
    assert to_gray(np.full((10, 10), 50000, np.uint16)).max() == 50000 >> 8
    rgba = np.zeros((10, 10, 4), np.uint8)  # fully transparent: white paper
    assert to_gray(rgba).min() == 255
    assert to_gray(np.ones((10, 10), np.float32)).max() == 255
    with pytest.raises(ValueError):
        to_gray(np.zeros((0, 5), np.uint8))


def faint_tilted_grid(h=480, w=640, level=192, step=22, tilt=0.05):
    """Squared paper photographed at an angle: grid lines barely darker than the paper, tilted ~3 degrees."""
    image = page(h, w)
    for v in range(-40, w + 40, step):
        cv2.line(image, (v, 0), (int(v + tilt * h), h - 1), level, 2, cv2.LINE_AA)
    for y in range(-40, h + 40, step):
        cv2.line(image, (0, y), (w - 1, int(y - tilt * w)), level, 2, cv2.LINE_AA)
    return image


def test_faint_tilted_grid_with_nothing_written_gives_nothing():
    found, _ = boxes(faint_tilted_grid())
    assert len(found) <= 1


def test_digits_on_a_faint_tilted_grid_survive_line_removal():
    image = put_text(faint_tilted_grid(), "7 4 5 2", (150, 260), scale=2.0, thickness=4)
    found, _ = boxes(image)
    assert len(found) == 4


def test_ink_far_darker_than_a_line_is_kept_where_it_crosses_it():
    mask = np.zeros((100, 300), np.uint8)
    ink = np.zeros((100, 300), np.uint8)
    ink[50:52, :] = 40    # a faint ruled line
    ink[30:70, 100:104] = 200  # a dark stroke crossing it
    mask[ink > 30] = 255
    cleaned, removed = remove_lines(mask, 150, 150, source=mask, ink=ink)
    assert cleaned[50:52, 100:104].all()  # the stroke is whole
    assert not cleaned[50:52, 150:250].any() and removed[50:52, 150:250].all()


def test_stray_slivers_go_but_ones_beside_digits_stay():
    dh = 40
    digits = [Region(Box(x, 100, 24, 40), (i,)) for i, x in enumerate((100, 130, 160))]
    one = Region(Box(190, 102, 6, 38), (3,))            # a thin "1" in the line: stays
    hairline = Region(Box(220, 110, 2, 22), (4,))       # thinner than any pen, short: goes
    apart = Region(Box(400, 105, 6, 24), (5,))          # short, far from the line: goes
    alone = Region(Box(100, 300, 5, 20), (6,))          # a short scrap in a line of its own: goes
    kept = drop_small_in_line(order_lines(digits + [one, hairline, apart, alone], columns=False), dh)
    assert sorted(r.labels[0] for r in kept) == [0, 1, 2, 3]


@pytest.mark.parametrize("ink_share", [0.01, 0.05, 0.3])  # sparse (from the ink pixels) and dense (OpenCV)
def test_piece_stats_equal_opencv_statistics(ink_share):
    mask = ((np.random.default_rng(1).random((240, 320)) < ink_share) * 255).astype(np.uint8)
    cv2.line(mask, (10, 200), (300, 220), 255, 2)  # one long piece among the specks
    labelled = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
    labels, stats = piece_stats(mask, labelled)
    _, expected_labels, expected, _ = cv2.connectedComponentsWithStats(mask, connectivity=8, ltype=cv2.CV_32S)
    assert np.array_equal(labels, expected_labels)
    assert np.array_equal(stats[1:], expected[1:])


def dark_grid_hd(cell=64):
    """1280x720 squared paper whose grid is as dark as the writing (a printed sudoku's)."""
    image = page(720, 1280)
    for v in range(20, 1280, cell):
        cv2.line(image, (v, 0), (v, 719), 60, 2)
    for y in range(20, 720, cell):
        cv2.line(image, (0, y), (1279, y), 60, 2)
    return image


def test_big_frame_with_a_grid_as_dark_as_the_ink():
    assert boxes(dark_grid_hd())[0] == []  # blank: the grid is erased, nothing is left
    image = dark_grid_hd()
    for i, text in enumerate("4725"):  # one digit per cell, well inside it
        put_text(image, text, (20 + 64 * (3 + 2 * i) + 18, 20 + 64 * 5 - 14), scale=1.5, thickness=4)
    found, seg = boxes(image)
    assert len(found) == 4
    assert all(b.w < 64 and b.h < 64 for b in found)  # each digit alone, no grid attached


def test_only_pictures_with_lines_or_a_web_of_boxes_are_lined():
    """The recogniser searches a picture for grids only when the page reader says it may hold one."""
    assert not segment(put_text(page(480, 640), "1 2 3 4", (100, 250))).lined  # digits alone
    ruled = put_text(page(480, 640), "1 2 3 4", (100, 250))
    for y in range(60, 480, 60):
        cv2.line(ruled, (0, y), (639, y), 150, 1)
    assert segment(ruled).lined
    boxes_form = page(480, 640)  # one row of five boxes, shorter than the line search looks for
    for x in range(120, 521, 80):
        cv2.line(boxes_form, (x, 200), (x, 280), INK, 2)
    cv2.rectangle(boxes_form, (120, 200), (520, 280), INK, 2)
    assert segment(boxes_form).lined


def test_a_web_of_boxes_stops_the_page_reading_only_when_asked_and_not_on_squared_paper():
    form = page(480, 640)
    for x in range(120, 521, 80):
        cv2.line(form, (x, 200), (x, 280), INK, 2)
    cv2.rectangle(form, (120, 200), (520, 280), INK, 2)
    put_text(form, "7 1", (150, 400))
    stopped, full = segment(form, stop_at_web=True), segment(form)
    assert stopped.lined and not stopped.complete and stopped.regions == []
    assert full.complete and full.regions
    squared = page(480, 640)  # a web across the whole view: read to the end
    for v in range(0, 640, 24):
        cv2.line(squared, (v, 0), (v, 479), INK, 1)
    for y in range(0, 480, 24):
        cv2.line(squared, (0, y), (639, y), INK, 1)
    assert segment(squared, stop_at_web=True).complete


@pytest.mark.parametrize("picture", ["page", "noise"])
def test_pieces_counted_by_contours_or_labels_agree_and_grow_the_same_strokes(picture):
    rng = np.random.default_rng(3)
    image = put_text(page(480, 640), "5 0 8", (120, 260)) if picture == "page" else \
        rng.integers(0, 256, (480, 640), dtype=np.uint8)
    ink, _ = ink_map(image)
    levels = ink_levels(ink)
    sure = cv2.threshold(ink, levels[0], 255, cv2.THRESH_BINARY)[1]
    labelled = cv2.connectedComponents(sure, connectivity=8, ltype=cv2.CV_32S)
    pieces = _pieces(sure)
    assert pieces.count == labelled[0]
    assert (pieces.contours is None) == (picture == "noise")  # noise is labelled, never traced
    assert np.array_equal(binarize(ink, levels=levels, sure=sure, sure_pieces=pieces),
                          binarize(ink, levels=levels, sure=sure, sure_pieces=type(pieces)(*labelled)))


@pytest.mark.parametrize("zeros", [0.0, 0.5, 0.9, 1.0])
def test_histogram_of_a_mostly_blank_ink_map_equals_opencv(zeros):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    image[rng.random(image.shape) < zeros] = 0
    expected = cv2.calcHist([image], [0], None, [256], [0, 256]).ravel()
    assert np.array_equal(_histogram(image, None), expected)


def _grown_everywhere(ink, levels, sure, keep_out=None):
    """binarize's hysteresis done over the whole frame, as it was before it kept to the seeds' window."""
    threshold, faint = levels
    seed_side = max(6, int(0.018 * min(ink.shape)))
    contours, hierarchy = cv2.findContours(sure, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [c for c, link in zip(contours, hierarchy[0]) if link[3] < 0] if contours else []
    seeds = [c for c in outer if max(cv2.boundingRect(c)[2:]) >= seed_side]
    grown = np.zeros_like(sure)
    cv2.drawContours(grown, seeds, -1, 255, thickness=cv2.FILLED)
    grown &= sure
    allowed = cv2.threshold(ink, faint, 255, cv2.THRESH_BINARY)[1]
    if keep_out is not None:
        allowed = cv2.subtract(allowed, keep_out)
    for _ in range(4):
        grown = cv2.dilate(grown, np.ones((5, 5), np.uint8)) & allowed
    return grown | sure


@pytest.mark.parametrize("where", ["middle", "corners", "nothing"])
def test_strokes_grown_around_their_seeds_equal_growing_over_the_whole_frame(where):
    image = page(480, 640)
    if where == "middle":
        put_text(image, "3 8", (250, 260))
    elif where == "corners":  # seeds touching every edge: the window is clipped to the frame
        for origin in ((-5, 40), (590, 40), (-5, 478), (590, 478), (300, 250)):
            put_text(image, "8", origin)
    cv2.line(image, (0, 300), (639, 330), 175, 1)  # a faint stroke the seeds may grow into
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)
    ink, _ = ink_map(blurred)
    levels = ink_levels(ink)
    sure = cv2.threshold(ink, levels[0], 255, cv2.THRESH_BINARY)[1]
    keep_out = np.zeros_like(sure)
    keep_out[310:330] = 255
    for blocked in (None, keep_out):
        assert np.array_equal(binarize(ink, levels=levels, sure=sure, keep_out=blocked),
                              _grown_everywhere(ink, levels, sure, blocked))


def test_page_grown_across_shadows_equals_the_plain_region_growing():
    from livedigits.segment import _grown_by_fading

    def grown(paper, core, step):  # the growing written plainly, one pixel ring a pass
        region, levels = core.copy(), paper.astype(np.int16)
        for _ in range(max(paper.shape)):
            brightest = cv2.dilate(np.where(region, levels, 0).astype(np.int16), np.ones((3, 3), np.uint8))
            new = ~region & (brightest > 0) & (levels >= brightest - step)
            if not new.any():
                break
            region |= new
        return region

    rng = np.random.default_rng(5)
    for trial in range(60):
        h, w = (int(v) for v in rng.integers(5, 80, 2))
        paper = cv2.GaussianBlur(rng.integers(0, 256, (h, w)).astype(np.float32), (0, 0), 1 + trial % 5).astype(np.uint8)
        core = paper > np.percentile(paper, 90)
        step = float(rng.uniform(0, 30)) if trial % 4 else float(trial % 3)
        assert np.array_equal(_grown_by_fading(paper, core, step), grown(paper, core, step))


def test_ink_map_keeps_the_paper_floor_on_dark_paper():
    dark = np.full((240, 320), 12, np.uint8)  # paper darker than the floor of 16
    put_text(dark, "7", (140, 150))
    ink, _ = ink_map(dark, polarity=False)
    background = cv2.resize(cv2.GaussianBlur(cv2.morphologyEx(cv2.resize(dark, (40, 30), interpolation=cv2.INTER_AREA),
                                                              cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))),
                                             (3, 3), 0), (320, 240), interpolation=cv2.INTER_LINEAR)
    expected = cv2.divide(cv2.subtract(background, dark), cv2.max(background, 16), scale=255)
    assert np.array_equal(ink, expected)


def test_components_numbered_from_their_contours_are_the_labelled_components():
    from livedigits.segment import _components

    rng = np.random.default_rng(7)
    for trial in range(40):
        mask = np.zeros((120, 160), np.uint8)
        for _ in range(int(rng.integers(1, 12))):
            x, y = (int(v) for v in rng.integers(-10, 150, 2))
            r = int(rng.integers(3, 40))
            cv2.circle(mask, (x, y), r, 255, int(rng.integers(1, 4)))  # rings: holes, touching the edges
            cv2.circle(mask, (x, y), max(1, r // 3), 255, -1 if trial % 2 else 1)  # a piece inside a ring's hole
        mask[rng.random(mask.shape) < 0.002] = 255  # specks, some diagonal neighbours
        labels, ids, stats = _components(mask, 6)
        count, expected = cv2.connectedComponents(mask, connectivity=8, ltype=cv2.CV_32S)
        assert np.array_equal(labels > 0, mask > 0)
        # the same pixels share a number in both: one number of ours per labelled component and back
        pairs = np.unique(np.stack([labels[mask > 0], expected[mask > 0]]), axis=1)
        assert pairs.shape[1] == count - 1 == len(np.unique(pairs[0])) == len(np.unique(pairs[1]))
        for label, (x, y, w, h, area) in zip(ids, stats):
            own = labels == label
            assert own.sum() == area and cv2.boundingRect(own.astype(np.uint8)) == (x, y, w, h)


@pytest.mark.parametrize("shape", [(480, 640), (96, 128), (30, 50), (101, 77)])
def test_pooled_mask_marks_every_block_holding_ink(shape):
    from livedigits.segment import _pooled

    rng = np.random.default_rng(8)
    mask = np.where(rng.random(shape) < 0.002, 255, 0).astype(np.uint8)
    mask[-1, -1] = mask[0, 0] = 255  # ink in the last block too
    for factor in (2, 4):
        h, w = shape[0] // factor, shape[1] // factor
        pooled = _pooled(mask, factor)
        averaged = cv2.threshold(cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA), 0, 255, cv2.THRESH_BINARY)[1]
        assert np.array_equal(pooled, averaged)
        if shape[0] % factor == 0 and shape[1] % factor == 0:
            blocks = mask.reshape(h, factor, w, factor).max(axis=(1, 3))
            assert np.array_equal(pooled, blocks)


@pytest.mark.parametrize("across, stretch", [(5, 70), (2, 35), (5, 24), (1, 9)])
def test_runs_opened_on_the_rows_that_may_hold_them_equal_opening_the_whole_view(across, stretch):
    from livedigits.segment import _opened_along_rows

    rng = np.random.default_rng(9)
    for trial in range(30):
        h, w = (int(v) for v in rng.integers(4 * across, 260, 2)) if trial % 3 else (240, 320)
        view = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(0, 12))):  # lines of every length, some from an edge, some tilted
            y, x0 = int(rng.integers(0, h)), int(rng.integers(-20, w))
            cv2.line(view, (x0, y), (x0 + int(rng.integers(1, 2 * stretch)), y + int(rng.integers(-3, 4))), 255, 1)
        view[rng.random(view.shape) < 0.05 * (trial % 4)] = 255  # speckle and writing-like clutter
        expected = cv2.morphologyEx(cv2.dilate(view, np.ones((across, 1), np.uint8)), cv2.MORPH_OPEN,
                                    np.ones((1, stretch), np.uint8))
        assert np.array_equal(_opened_along_rows(view, across, stretch), expected)


@pytest.mark.parametrize("stretch", [1, 2, 3, 8, 35, 70, 129])
def test_runs_opened_by_doubling_equal_opencv_opening(stretch):
    from livedigits.segment import _opened_runs

    rng = np.random.default_rng(10)
    for trial in range(20):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        rows = np.where(rng.random((h, w)) < (0.5, 0.9, 0.98)[trial % 3], 255, 0).astype(np.uint8)
        expected = cv2.morphologyEx(rows, cv2.MORPH_OPEN, np.ones((1, stretch), np.uint8))
        assert np.array_equal(_opened_runs(rows, stretch), expected)
