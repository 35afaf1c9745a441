"""--resume (#18): a rerun with the same outputs reads only what they do not hold, and leaves every
picture in them once, whatever stopped the run before: a cut-off last line, CSV rows without their
JSONL line, a picture changed since. Also SOURCE as a text file listing pictures.

These run the command in this process with one worker; the same runs on a Ray cluster are in
test_cluster.py.
"""
from __future__ import annotations

import io
import json
import os
from collections import Counter
from pathlib import Path

import cv2
import pytest

from livedigits.app import cli
from livedigits.synthetic.scenes import make_scene

PICTURES = 6


def run_main(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mnist) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    for i in range(PICTURES):
        scene = make_scene(mnist.x_test, mnist.y_test, seed=1800 + i, width=640, height=480)
        cv2.imwrite(str(folder / f"scan{i}.png"), scene.image)
    return folder


@pytest.fixture(scope="module")
def complete(folder, tmp_path_factory) -> tuple[list[str], list[str]]:
    """The JSONL and CSV lines of one uninterrupted run."""
    out = tmp_path_factory.mktemp("complete")
    code, _, err = run_main(folder, "--workers", 1, "--jsonl", out / "r.jsonl", "--csv", out / "r.csv", "-q")
    assert code == 0, err
    return (out / "r.jsonl").read_text().splitlines(), (out / "r.csv").read_text().splitlines()


def records_by_source(lines: list[str]) -> dict[str, dict]:
    records = [json.loads(line) for line in lines]
    sources = Counter(r["source"] for r in records)
    assert max(sources.values()) == 1, f"pictures recorded more than once: {sources.most_common(3)}"
    return {r["source"]: r for r in records}


def test_records_carry_the_file_size_and_time(folder, complete):
    for record in map(json.loads, complete[0]):
        status = os.stat(record["source"])
        assert (record["file_bytes"], record["file_mtime"]) == (status.st_size, status.st_mtime)


def test_resume_after_a_kill_reads_only_the_rest(folder, complete, tmp_path):
    jsonl, csv_lines = complete
    # what a run killed while writing its fourth picture leaves: three records, then half a line; the
    # CSV (written just before the JSONL) has the fourth picture's rows already
    fourth = json.loads(jsonl[3])["source"]
    (tmp_path / "r.jsonl").write_text("\n".join(jsonl[:3]) + "\n" + jsonl[3][:40])
    done = {json.loads(line)["source"] for line in jsonl[:4]}
    kept_csv = [csv_lines[0]] + [row for row in csv_lines[1:] if row.split(",")[0] in done]
    assert any(row.startswith(fourth + ",") for row in kept_csv)
    (tmp_path / "r.csv").write_text("\n".join(kept_csv) + "\n")

    code, out, err = run_main(folder, "--workers", 1, "--jsonl", tmp_path / "r.jsonl", "--csv", tmp_path / "r.csv",
                              "--resume")
    assert code == 0, err
    assert f"3 pictures of {PICTURES} read before" in err
    assert f"read {PICTURES - 3} pictures" in err and "3 pictures read before (--resume)" in err
    assert len(out.splitlines()) == PICTURES - 3  # stdout: only the pictures read now
    resumed = (tmp_path / "r.jsonl").read_text().splitlines()
    assert records_by_source(resumed) == records_by_source(jsonl)
    assert Counter((tmp_path / "r.csv").read_text().splitlines()) == Counter(csv_lines)


def test_resume_with_everything_done_reads_nothing(folder, complete, tmp_path):
    (tmp_path / "r.jsonl").write_text("\n".join(complete[0]) + "\n")
    (tmp_path / "r.csv").write_text("\n".join(complete[1]) + "\n")
    before = (tmp_path / "r.jsonl").read_bytes(), (tmp_path / "r.csv").read_bytes()
    code, out, err = run_main(folder, "--workers", 1, "--jsonl", tmp_path / "r.jsonl", "--csv", tmp_path / "r.csv",
                              "--resume")
    assert code == 0, err
    assert out == "" and f"read 0 pictures" in err and f"{PICTURES} pictures read before" in err
    assert ((tmp_path / "r.jsonl").read_bytes(), (tmp_path / "r.csv").read_bytes()) == before


def test_a_changed_picture_is_read_again_and_recorded_once(folder, complete, tmp_path):
    pictures = tmp_path / "scans"
    pictures.mkdir()
    for path in folder.iterdir():
        (pictures / path.name).write_bytes(path.read_bytes())
    code, _, err = run_main(pictures, "--workers", 1, "--jsonl", tmp_path / "r.jsonl", "-q")
    assert code == 0, err
    changed = pictures / "scan2.png"
    cv2.imwrite(str(changed), cv2.flip(cv2.imread(str(changed)), 1))  # another picture under the same name
    code, out, err = run_main(pictures, "--workers", 1, "--jsonl", tmp_path / "r.jsonl", "--resume")
    assert code == 0, err
    assert out.startswith(f"{changed}\t") and len(out.splitlines()) == 1
    records = records_by_source((tmp_path / "r.jsonl").read_text().splitlines())
    assert len(records) == PICTURES
    assert records[str(changed)]["file_bytes"] == changed.stat().st_size


def test_resume_needs_a_jsonl_file(folder, tmp_path):
    for extra in ([], ["--csv", tmp_path / "r.csv"], ["--jsonl", "-"]):
        code, _, err = run_main(folder, "--resume", *extra)
        assert code == 2
        assert err.startswith("livedigits: error: --resume") and "--jsonl FILE" in err and len(err.splitlines()) == 1


def test_resume_of_a_run_that_never_started_reads_everything(folder, complete, tmp_path):
    code, _, err = run_main(folder, "--workers", 1, "--jsonl", tmp_path / "new" / "r.jsonl", "--resume", "-q")
    assert code == 0, err
    assert records_by_source((tmp_path / "new" / "r.jsonl").read_text().splitlines()) == records_by_source(complete[0])


def test_a_text_file_lists_the_pictures_to_read(folder, complete, tmp_path, monkeypatch):
    monkeypatch.chdir(folder)  # relative paths start from the current folder
    listing = tmp_path / "scans.txt"
    listing.write_text(f"# scans to read\nscan3.png\n\n{folder / 'scan1.png'}\nmissing.png\n")
    code, out, err = run_main(listing, "--workers", 1, "--jsonl", tmp_path / "r.jsonl")
    assert code == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == ["scan3.png", str(folder / "scan1.png")]
    assert "skipped missing.png: cannot open it" in err and "skipped 1 file" in err
    texts = {Path(r["source"]).name: r["text"] for r in map(json.loads, complete[0])}
    assert [json.loads(line)["text"] for line in (tmp_path / "r.jsonl").read_text().splitlines()] == [
        texts["scan3.png"], texts["scan1.png"]]
