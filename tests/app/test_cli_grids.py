"""The command on a picture holding a grid: --grid-csv writes its table, JSONL records carry it."""
import csv
import io
import json

import cv2

from livedigits.app import cli
from livedigits.synthetic.grids import make_grid_picture


def test_grid_csv_and_jsonl_carry_the_grid(tmp_path):
    picture = make_grid_picture(9, 9, seed=11, fill=0.45)
    cv2.imwrite(str(tmp_path / "sudoku.png"), picture.image)
    cv2.imwrite(str(tmp_path / "blank.png"), picture.image[:40, :40])
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(tmp_path), "--grid-csv", str(tmp_path / "out" / "grids.csv"), "--jsonl",
                     str(tmp_path / "out" / "r.jsonl"), "--workers", "1", "-q"], stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    rows = list(csv.reader(open(tmp_path / "out" / "grids.csv", newline="")))
    assert rows[0] == ["source", "frame", "grid", "row", "cells"]
    assert [row[4:] for row in rows[1:]] == picture.table
    assert {row[0] for row in rows[1:]} == {str(tmp_path / "sudoku.png")}
    records = {json.loads(line)["source"]: json.loads(line) for line in open(tmp_path / "out" / "r.jsonl")}
    grid, = records[str(tmp_path / "sudoku.png")]["grids"]
    assert (grid["rows"], grid["columns"], grid["table"]) == (9, 9, picture.table)
    assert len(grid["corners"]) == 4
    assert all("row" in d and "col" in d for d in records[str(tmp_path / "sudoku.png")]["digits"])
    assert records[str(tmp_path / "blank.png")]["grids"] == []


def test_grid_csv_and_csv_cannot_share_stdout_or_a_file(tmp_path):
    picture = tmp_path / "p.png"
    cv2.imwrite(str(picture), make_grid_picture(2, 3, seed=1).image)
    for args, message in ((["--grid-csv", "-", "--csv", "-"], "cannot both go to stdout"),
                          (["--grid-csv", str(tmp_path / "a.csv"), "--csv", str(tmp_path / "a.csv")], "name the same file")):
        out, err = io.StringIO(), io.StringIO()
        assert cli.main([str(picture), *args], stdout=out, stderr=err) == 2
        assert message in err.getvalue() and len(err.getvalue().strip().splitlines()) == 1
