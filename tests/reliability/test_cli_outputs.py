"""What the command writes, checked before it reads and named so that nothing is lost (#14 items 8, 9,
11, 17, 18 and 19): late outputs (--summary, a video's .mp4, eval --report) tried up front, copies of
inputs that share a name, --workers capped, the documented columns and lines, WebP saved as JPEG, and a
note before a huge picture.

Pictures and videos are small (160 x 120) copies of samples/plain.jpg, so each run takes well under a
second.
"""
from __future__ import annotations

import io
import os
import re
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT
from livedigits.app import cli, runner
from livedigits.app.outputs import CSV_FIELDS
from livedigits.classify import available_cores

SAMPLES = ROOT / "samples"


def run_main(*args, **injected):
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], stdout=out, stderr=err, **injected)
    return code, out.getvalue(), err.getvalue()


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livedigits: error: "), stderr
    return lines[0]


def page(size=(160, 120)) -> np.ndarray:
    return cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), size, interpolation=cv2.INTER_AREA)


def write_video(path: Path, frames: int = 4, fourcc: str = "mp4v") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (160, 120))
    for _ in range(frames):
        writer.write(page())
    writer.release()
    return path


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        capture.release()


# -- item 8: late outputs are tried before anything is read ---------------------------------------------

def test_summary_is_checked_and_its_folder_made_before_the_run(tmp_path):
    video = write_video(tmp_path / "clip.mp4")
    (tmp_path / "a_file").write_text("in the way")
    for summary in (tmp_path / "a_file" / "summary.csv", tmp_path):  # no folder can be made there; a folder
        code, out, err = run_main(video, "--summary", summary, "-q")
        assert code == 2 and out == "", (summary, out)  # refused before the first frame was read
        assert "--summary" in error_line(err)
    summary = tmp_path / "new" / "deeper" / "summary.csv"
    code, out, err = run_main(video, "--summary", summary, "-q")
    assert code == 0, err
    assert summary.read_text().startswith("source,text,first_s,last_s")


@pytest.mark.parametrize("where", ["copy's name is a folder", "folder nobody may write"])
def test_save_of_a_video_is_tried_before_the_first_frame(tmp_path, where):
    video = write_video(tmp_path / "clip.mp4")
    jsonl = tmp_path / "frames.jsonl"
    if where == "copy's name is a folder":
        save = tmp_path / "saved"
        (save / "clip.mp4").mkdir(parents=True)
    else:
        save = Path("/proc")  # exists, and no one (root included) may create files in it
    code, out, err = run_main(video, "--save", save, "--jsonl", jsonl, "-q")
    assert code == 2
    assert "--save" in error_line(err)
    assert out == "" and not jsonl.exists()  # nothing read, nothing written


def test_eval_report_is_checked_and_made_before_reading(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), page())
    (tmp_path / "labels.csv").write_text("relative_path,label\na.png,57229341\n")
    (tmp_path / "a_file").write_text("in the way")
    code, out, err = run_main("eval", tmp_path, "--report", tmp_path / "a_file" / "report", "-q", "--workers", "1")
    assert code == 2 and out == ""  # refused before scoring, not after
    assert "--report" in error_line(err)
    code, out, err = run_main("eval", tmp_path, "--report", tmp_path / "new" / "report", "-q", "--workers", "1")
    assert code == 0, err
    assert (tmp_path / "new" / "report" / "confusion_matrix.png").is_file()


# -- item 9: inputs that share a name keep both copies ------------------------------------------------------

def test_save_keeps_both_copies_when_inputs_share_a_name(tmp_path):
    """clip.avi and clip.mp4 both became clip.mp4 (the second overwrote the first); scan.webp, saved as
    JPEG, would become scan.jpg, which scan.jpg's copy has."""
    folder = tmp_path / "in"
    folder.mkdir()
    write_video(folder / "clip.avi", frames=3, fourcc="MJPG")
    write_video(folder / "clip.mp4", frames=5)
    cv2.imwrite(str(folder / "scan.jpg"), page())
    cv2.imwrite(str(folder / "scan.webp"), page())
    save = tmp_path / "saved"
    code, out, err = run_main(folder, "--save", save, "--workers", "1")
    assert code == 0, err
    assert sorted(p.name for p in save.iterdir()) == ["clip.avi.mp4", "clip.mp4", "scan.jpg", "scan.webp.jpg"]
    assert frame_count(save / "clip.avi.mp4") == 3 and frame_count(save / "clip.mp4") == 5
    [note] = [line for line in err.splitlines() if "longer" in line]
    assert "clip.avi -> clip.avi.mp4" in note and "scan.webp -> scan.webp.jpg" in note


# -- item 11: --workers is capped ---------------------------------------------------------------------------------

def test_workers_are_capped_at_the_cores(tmp_path, monkeypatch):
    started = []

    class Recording(runner.PictureReader):
        def __init__(self, spec, workers, *args, **kwargs):
            started.append(workers)
            super().__init__(spec, workers, *args, **kwargs)

    monkeypatch.setattr(runner, "PictureReader", Recording)
    for k in range(3):
        cv2.imwrite(str(tmp_path / f"p{k}.png"), page())
    code, out, err = run_main(tmp_path, "--workers", "1000")
    assert code == 0, err
    assert started == [available_cores()]
    [note] = [line for line in err.splitlines() if "--workers" in line]
    assert f"--workers 1000 is more than the {available_cores()} cores" in note
    assert len(out.splitlines()) == 3


# -- item 17: what the help and README say, what a video run prints ---------------------------------------------

def test_help_and_readme_list_the_csv_columns_and_serve():
    out = io.StringIO()
    assert cli.main(["--help"], stdout=out, stderr=io.StringIO()) == 0
    columns = ",".join(CSV_FIELDS)
    assert len(CSV_FIELDS) == 11 and columns in out.getvalue()
    assert "livedigits serve" in out.getvalue().split("\n")[0]  # in the usage line
    using_it = re.search(r"## Using it\n(.*?)\n## ", (ROOT / "README.md").read_text(), re.S).group(1)
    assert columns in using_it
    assert ",".join(CSV_FIELDS[:10]) + "`" not in using_it  # not the old ten-column list


class NoFrames:
    """A video file whose frames cannot be decoded: it opens, then the first read fails."""

    def __init__(self, name):
        pass

    def isOpened(self):
        return True

    def read(self):
        return False, None

    def grab(self):
        return False

    def get(self, prop):
        return 10.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        pass


def test_a_video_run_counts_frames_not_pictures(tmp_path):
    video = write_video(tmp_path / "clip.mp4")
    code, _, err = run_main(video, capture_factory=NoFrames)
    assert code == 0, err
    assert "read 0 frames" in err and "picture" not in err


def test_a_video_prints_its_first_line_when_digits_are_read():
    """The first line was samples/panning.mp4#0 with an empty text: the steady reading is empty until
    a digit has been seen in two sharp frames. Lines now start from nothing: the first one has digits."""
    code, out, err = run_main(SAMPLES / "panning.mp4", "--max-frames", "10", "-q")
    assert code == 0, err
    lines = out.splitlines()
    assert lines and all(line.startswith(f"{SAMPLES / 'panning.mp4'}#") for line in lines)
    assert lines[0].split("\t")[1] != "" and lines[0].split("\t")[0] != f"{SAMPLES / 'panning.mp4'}#0"


# -- item 18: WebP copies are saved as JPEG ---------------------------------------------------------------------

def test_annotated_webp_is_saved_as_jpeg(tmp_path):
    """libwebp's lossless encoder (OpenCV's default) took 5x the time of JPEG for a folder, 150x for one
    1920 x 1200 picture: the annotated copy of a WebP picture is a JPEG, page.jpg."""
    cv2.imwrite(str(tmp_path / "page.webp"), page((640, 480)))
    code, out, err = run_main(tmp_path / "page.webp", "--save", tmp_path / "saved", "-q")
    assert code == 0, err
    assert [p.name for p in (tmp_path / "saved").iterdir()] == ["page.jpg"]
    assert (tmp_path / "saved" / "page.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    assert cv2.imread(str(tmp_path / "saved" / "page.jpg")).shape == (480, 640, 3)


# -- item 19: a huge picture is announced ---------------------------------------------------------------------------

def declaring_png(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height and whose data then stops (read as truncated at once)."""
    body = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(body)) + b"IHDR" + body
            + struct.pack(">I", zlib.crc32(b"IHDR" + body)) + b"\0" * 64)


def test_a_huge_picture_is_announced_before_it_is_read(tmp_path):
    """12000 x 12000 takes 5-15 s; a note says so first (the picture here declares the size and is cut
    off, so that the test does not spend those seconds)."""
    (tmp_path / "huge.png").write_bytes(declaring_png(12000, 12000))
    cv2.imwrite(str(tmp_path / "small.png"), page())
    for args in ([tmp_path / "huge.png"], [tmp_path, "--workers", "2"]):
        code, out, err = run_main(*args)
        lines = err.splitlines()
        [note] = [k for k, line in enumerate(lines) if "144 MP picture (12000 x 12000)" in line]
        assert "huge.png" in lines[note] and "a few seconds" in lines[note]
        assert any("huge.png" in line and "truncated" in line for line in lines[note + 1:])  # before reading it
        assert "small.png" not in lines[note]
    code, out, err = run_main(tmp_path, "--workers", "1", "-q")
    assert "MP picture" not in err
