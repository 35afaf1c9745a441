"""Grids: found with their rows and columns (sudokus, tables, one row of boxes), read cell by cell,
digits mapped back to the picture with their row and column; no grid, no change."""
import cv2
import numpy as np
import pytest

from conftest import ROOT
from livedigits import Recognizer, draw
from livedigits.grid import Grid, GridFusion, find_grids, outside_grids
from livedigits.overlay.grid import grid_segments
from livedigits.synthetic.grids import make_grid_picture


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def _corner_error(grid: Grid, truth: np.ndarray) -> float:
    return float(np.abs(np.float32(grid.corners) - truth).max())


@pytest.mark.parametrize("rows, cols, thick_every", [(9, 9, 3), (4, 6, 0), (1, 8, 0), (7, 3, 0)])
def test_grids_of_any_shape_are_found_with_their_rows_and_columns(rows, cols, thick_every):
    for seed in range(3):
        picture = make_grid_picture(rows, cols, seed=seed, thick_every=thick_every)
        grids = find_grids(picture.image)
        assert [(g.rows, g.cols) for g in grids] == [(rows, cols)], seed
        side = min(np.ptp(picture.corners, axis=0))
        assert _corner_error(grids[0], picture.corners) < 0.03 * side + 3


def test_every_printed_cell_of_a_sudoku_is_read_in_its_row_and_column(recognizer):
    picture = make_grid_picture(9, 9, seed=11, fill=0.45)
    reading = recognizer.recognize(picture.image)
    assert len(reading.grids) == 1
    grid = reading.grids[0]
    assert grid.table == picture.table
    in_grid = [d for d in reading.digits if d.row is not None]
    assert sorted((d.row, d.col, str(d.digit)) for d in in_grid) == sorted(
        (r, c, text) for r, row in enumerate(picture.table) for c, text in enumerate(row) if text)
    # each digit's box is in picture pixels, inside its cell's quadrilateral
    quad = np.float32(grid.corners)
    for d in in_grid:
        centre = (d.x + d.w / 2, d.y + d.h / 2)
        assert cv2.pointPolygonTest(quad.reshape(-1, 1, 2), centre, False) > 0
    # one line per grid row that holds a digit, top to bottom
    assert reading.lines == ["".join(t for t in row if t) for row in picture.table if any(row)]


@pytest.mark.parametrize("rows, cols, size, cell", [(9, 9, (640, 480), 36), (1, 8, (640, 480), 36),
                                                    (9, 9, (2000, 1500), 100)])
def test_grids_in_video_frames_and_photos_are_found_by_the_recogniser(recognizer, rows, cols, size, cell):
    """At 640x480 a sudoku's web is as tall as the writing the page reader expects: the web
    itself, not the line search, must tell the recogniser to look for a grid. A photo larger
    than the page reader's working size is searched before it is read as a page."""
    picture = make_grid_picture(rows, cols, seed=3, cell=cell, size=size)
    assert [(g.rows, g.cols) for g in recognizer.recognize(picture.image).grids] == [(rows, cols)]


def test_a_grid_expected_in_a_video_is_read_the_same(recognizer):
    """The run loop tells the recogniser that the video's last frames held a grid: searched first,
    the same grid and digits; and the grid fusion says when it holds one."""
    picture = make_grid_picture(9, 9, seed=6, fill=0.4, cell=36, size=(640, 480))
    plain, expected = recognizer.recognize(picture.image), recognizer.recognize(picture.image, grids_expected=True)
    assert [g.table for g in expected.grids] == [g.table for g in plain.grids] == [picture.table]
    assert [(d.digit, d.x, d.y, d.row, d.col) for d in expected.digits] == [(d.digit, d.x, d.y, d.row, d.col) for d in plain.digits]
    blank = np.full((480, 640, 3), 235, np.uint8)
    assert recognizer.recognize(blank, grids_expected=True).digits == []
    fusion = GridFusion()
    assert not fusion.holds_grids
    fusion.update(plain.grids)
    assert fusion.holds_grids
    for _ in range(fusion.forget + 1):
        fusion.update([])
    assert not fusion.holds_grids


def test_a_form_with_one_row_of_boxes_reads_each_box(recognizer):
    picture = make_grid_picture(1, 8, seed=4, fill=0.7, thick_every=0)
    grid, = recognizer.recognize(picture.image).grids
    assert (grid.rows, grid.cols) == (1, 8)
    assert grid.table == picture.table


def test_candidate_marks_are_read_as_candidates_not_as_one_digit(recognizer):
    picture = make_grid_picture(4, 5, seed=2, fill=0.3, candidates=0.4, thick_every=0)
    grid, = recognizer.recognize(picture.image).grids
    kinds = {(c.row, c.col): c.kind for c in grid.cells}
    marked = [(r, c) for r in range(4) for c in range(5) if picture.kinds[r][c] == "candidates"]
    assert marked
    right = sum(kinds[rc] == "candidates" and grid.table[rc[0]][rc[1]] == picture.table[rc[0]][rc[1]]
                for rc in marked)
    assert right >= 0.75 * len(marked)
    assert all(kinds[(r, c)] != "candidates" for r in range(4) for c in range(5) if picture.kinds[r][c] != "candidates")


def test_empty_cells_stay_empty(recognizer):
    picture = make_grid_picture(9, 9, seed=5, fill=0.0)
    grid, = recognizer.recognize(picture.image).grids
    assert all(c.kind == "empty" for c in grid.cells)
    assert grid.table == [[""] * 9 for _ in range(9)]


@pytest.mark.parametrize("name", ["plain.jpg", "ruled.png", "squared_sideways.jpg", "coloured.webp"])
def test_pages_without_a_grid_are_read_as_before(recognizer, name):
    image = cv2.imread(str(ROOT / "samples" / name))
    assert find_grids(image) == []
    assert recognizer.recognize(image).grids == []


def test_blank_and_tiny_pictures_have_no_grid():
    for image in (np.full((480, 640), 255, np.uint8), np.zeros((20, 30, 3), np.uint8), np.full((1, 1), 9, np.uint8)):
        assert find_grids(image) == []


def test_digits_outside_the_grid_are_read_as_a_page(recognizer):
    picture = make_grid_picture(3, 3, seed=8, fill=1.0, thick_every=0, size=(900, 900))
    image = picture.image.copy()
    bottom = int(picture.corners[:, 1].max()) + 40
    cv2.putText(image, "42", (60, min(image.shape[0] - 10, bottom + 60)), cv2.FONT_HERSHEY_DUPLEX, 2.2, (20, 20, 20), 4)
    reading = recognizer.recognize(image)
    assert len(reading.grids) == 1
    outside = [d for d in reading.digits if d.row is None]
    assert "".join(str(d.digit) for d in outside) == "42"
    assert reading.lines[-1] == "42"


def test_outside_grids_covers_the_grid_with_paper():
    picture = make_grid_picture(9, 9, seed=1)
    gray = cv2.cvtColor(picture.image, cv2.COLOR_BGR2GRAY)
    grids = find_grids(gray)
    covered = outside_grids(gray, grids)
    assert find_grids(covered) == []
    assert covered.shape == gray.shape and not np.shares_memory(covered, gray)


def test_the_overlay_draws_the_grid_lines(recognizer):
    picture = make_grid_picture(4, 4, seed=3, fill=0.5, thick_every=0)
    reading = recognizer.recognize(picture.image)
    segments = grid_segments(reading.grids[0])
    assert segments.shape == (10, 2, 2)
    drawn = draw(picture.image, reading)
    plain = draw(picture.image, type(reading)(reading.digits))
    assert (drawn != plain).any(axis=2).sum() > 500


def test_grid_records_for_jsonl():
    grid = Grid(((0, 0), (90, 0), (90, 30), (0, 30)), (0.0, 1.0), (0.0, 1 / 3, 2 / 3, 1.0))
    record = grid.as_dict()
    assert (record["rows"], record["columns"]) == (1, 3)
    assert record["corners"] == [[0, 0], [90, 0], [90, 30], [0, 30]]
    assert record["table"] == [["", "", ""]]


def test_light_lines_on_dark_paper_are_a_grid_too():
    picture = make_grid_picture(6, 6, seed=9, thick_every=3)
    grids = find_grids(255 - picture.image)
    assert [(g.rows, g.cols) for g in grids] == [(6, 6)]


def _frame_grid(shift: float, cells) -> Grid:
    corners = tuple((x + shift, y) for x, y in ((10, 10), (100, 10), (100, 100), (10, 100)))
    lines = (0.0, 1 / 3, 2 / 3, 1.0)
    return Grid(corners, lines, lines, tuple(cells))


def test_a_grid_in_video_keeps_each_cell_as_most_frames_read_it():
    from livedigits.grid import Cell, GridFusion
    fusion = GridFusion()
    steady = [Cell(0, 0, "digit", (7,), 0.95), Cell(1, 1, "empty")]
    glitch = [Cell(0, 0, "digit", (1,), 0.9), Cell(1, 1, "digit", (4,), 0.6)]  # a blurred frame
    for frame in range(6):
        fused, = fusion.update([_frame_grid(2 * frame, glitch if frame == 4 else steady)])
    assert fused.table[0][0] == "7" and fused.table[1][1] == ""
    assert fused.corners == _frame_grid(10, steady).corners  # drawn where the grid is now
    # another grid (other rows and columns) is another grid; one out of view is forgotten
    other = Grid(((300, 300), (400, 300), (400, 340), (300, 340)), (0.0, 1.0), (0.0, 0.5, 1.0), (Cell(0, 1, "digit", (3,), 0.9),))
    assert [g.table for g in fusion.update([other])] == [[["", "3"]]]
    for _ in range(20):
        fusion.update([])
    fused, = fusion.update([_frame_grid(0, glitch)])
    assert fused.table[0][0] == "1"  # nothing remembered: this frame's reading
