"""Odd inputs on the command line (#14 items 7, 10, 12, 13, 15, 16 and 19): link loops under a glob,
a palette PNG with a transparent colour, messages of the native libraries, names with control
characters, labels files as spreadsheets write them, huge pictures, odd numbers in options.

Pictures are small copies of samples/plain.jpg (five digits on two lines), so each run takes a
fraction of a second; runs that could hang or write past Python (native stderr) are real processes.
"""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT
from livedigits import Recognizer
from livedigits.app import cli
from livedigits.sources import load_picture

SAMPLES = ROOT / "samples"


def run_main(*args):
    """The command in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def run_process(*args, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "livedigits", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def error_line(stderr: str) -> str:
    """The one line a bad input gives, with nothing else on stderr."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("livedigits: error: "), stderr
    return lines[0]


def small_page(path: Path, size=(160, 120)) -> Path:
    """samples/plain.jpg at ``size``, in the format of ``path``'s suffix (written by Python: OpenCV's own
    writer crashes on a name that is not UTF-8)."""
    page = cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(path.suffix, page)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


@pytest.fixture(scope="module")
def page_text(tmp_path_factory) -> str:
    """What a small page reads as (a picture's lines joined by a space, as stdout prints it)."""
    image = load_picture(small_page(tmp_path_factory.mktemp("page") / "page.png"))
    text = " ".join(Recognizer().recognize(image).lines)
    assert len(text) >= 5
    return text


# -- item 7: link loops ------------------------------------------------------------------------------

def test_globs_and_recursive_folders_read_each_file_once_through_link_loops(tmp_path, page_text):
    """`again -> .` made a picture be read 41 times; with a second loop the run never ended."""
    scans = tmp_path / "scans"
    (scans / "sub").mkdir(parents=True)
    small_page(scans / "a.png")
    small_page(scans / "sub" / "b.png")
    (scans / "again").symlink_to(".")
    (scans / "sub" / "up").symlink_to("..")
    (tmp_path / "elsewhere").mkdir()
    small_page(tmp_path / "elsewhere" / "c.png")
    (scans / "more").symlink_to(tmp_path / "elsewhere")  # a link out of the tree is followed, once
    expected = [str(scans / "a.png"), str(scans / "more" / "c.png"), str(scans / "sub" / "b.png")]
    for args in ([f"{scans}/**/*.png"], [scans, "--recursive"]):
        try:
            done = run_process(*args, "--workers", "1", timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{args}: the run does not end (it follows the link loops)") from None
        assert done.returncode == 0, done.stderr
        assert [line.split("\t")[0] for line in done.stdout.splitlines()] == expected
        assert all(line.split("\t")[1] == page_text for line in done.stdout.splitlines())
        [note] = [line for line in done.stderr.splitlines() if "not following" in line]
        assert "2 links" in note and "again" in note and "up" in note, note


# -- item 10: palette PNG with a transparent colour ----------------------------------------------------

def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def palette_png(indices: np.ndarray, palette: list[tuple[int, int, int]], alpha: list[int]) -> bytes:
    """A colour-type-3 PNG: one byte per pixel into ``palette``; ``alpha`` is its tRNS chunk."""
    height, width = indices.shape
    rows = b"".join(b"\0" + row.astype(np.uint8).tobytes() for row in indices)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", b"".join(bytes(c) for c in palette)) + _chunk(b"tRNS", bytes(alpha))
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


def test_palette_png_with_a_transparent_colour_reads_like_the_web(tmp_path):
    """Digits drawn in black on a transparent black background (palette entry 0, alpha 0): shown on
    white, as the web app and every viewer show it, they read; flattened without the alpha they are
    black on black and read as nothing."""
    grey = cv2.cvtColor(cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), (160, 120),
                                   interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    indices = (grey < 128).astype(np.uint8)  # 0: background, 1: ink
    path = tmp_path / "palette.png"
    path.write_bytes(palette_png(indices, [(0, 0, 0), (0, 0, 0)], [0, 255]))
    image = load_picture(path)
    assert image.shape == (120, 160, 4) and np.array_equal(image[..., 3] > 0, indices > 0)
    on_white = cv2.cvtColor(np.where(indices > 0, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    expected = " ".join(Recognizer().recognize(on_white).lines)
    assert len(expected) >= 5
    code, out, err = run_main(path, "-q")
    assert code == 0, err
    assert out == f"{path}\t{expected}\n"


# -- item 12: --min-confidence nan ----------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "1e999", "-1", "2"])
def test_min_confidence_must_be_a_number_from_0_to_1(value):
    code, out, err = run_main("samples/plain.jpg", "--min-confidence", value)
    assert code == 2 and out == ""
    assert "--min-confidence" in err and "between 0 and 1" in err and "Traceback" not in err


# -- item 13: native messages and hints for files that are not videos ---------------------------------------

def _bad_filter_png() -> bytes:
    """A PNG whose rows use filter type 7 (there are five): libpng says "bad adaptive filter value"."""
    rows = b"".join(b"\x07" + b"\xff" * 64 for _ in range(64))
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b""))


@pytest.mark.parametrize("name, content, hint", [
    ("empty.mp4", b"", "empty (0 bytes)"),
    ("notes.mp4", b"just some text, not a video\n" * 4, "text, not a video"),
    ("cut.mp4", None, "cut off before its end"),
])
def test_files_that_are_not_videos_get_one_line_with_the_right_hint(tmp_path, name, content, hint):
    """FFmpeg's own lines ("moov atom not found") are not shown; an empty or text file is not called
    a cut-off .mp4, while a really cut-off one still is."""
    path = tmp_path / name
    data = (SAMPLES / "panning.mp4").read_bytes()
    path.write_bytes(content if content is not None else data[:len(data) // 2])
    done = run_process(path, "-q")
    assert done.returncode == 2
    line = error_line(done.stderr)
    assert "cannot open video" in line and hint in line, line
    if content is not None:
        assert "cut off" not in line


def test_native_decoder_messages_stay_off_stderr(tmp_path):
    """libpng's "bad adaptive filter value" for a damaged PNG: one line of ours, alone, names it."""
    (tmp_path / "damaged.png").write_bytes(_bad_filter_png())
    done = run_process(tmp_path / "damaged.png", "-q")
    assert done.returncode == 2
    assert "damaged.png" in error_line(done.stderr)
    small_page(tmp_path / "good.png")
    done = run_process(tmp_path, "--workers", "2")
    assert done.returncode == 0
    assert "libpng" not in done.stderr and "filter" not in done.stderr, done.stderr
    assert [line.split("\t")[0] for line in done.stdout.splitlines()] == [str(tmp_path / "good.png")]


def test_a_stream_that_cannot_be_reached_gives_one_line():
    done = run_process("http://127.0.0.1:9/clip.mp4", "-q")
    assert done.returncode == 2
    assert "cannot open stream" in error_line(done.stderr)


# -- item 15: names with control characters ----------------------------------------------------------------

def test_names_with_newlines_and_tabs_keep_one_line_per_picture(tmp_path, page_text):
    """Control characters in a name print as \\n, \\t, \\xNN (a name that is not UTF-8 too, which
    made the CSV and JSONL writers fail); the JSONL and CSV keep the names exactly."""
    names = ["plain.png", "new\nline.png", "tab\there.png", "back\\slash.png", "bell\x07.png",
             os.fsdecode(b"latin\xe9.png")]
    for name in names:
        small_page(tmp_path / name)
    jsonl, table = tmp_path / "out" / "r.jsonl", tmp_path / "out" / "r.csv"
    code, out, err = run_main(tmp_path, "--jsonl", jsonl, "--csv", table, "-q", "--workers", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 6 and all(line.count("\t") == 1 for line in lines), out
    assert all(line.split("\t")[1] == page_text for line in lines)
    printed = {line.split("\t")[0] for line in lines}
    assert printed == {f"{tmp_path}/{name}" for name in (
        "plain.png", "back\\slash.png", "new\\nline.png", "tab\\there.png", "bell\\x07.png", "latin\\xe9.png")}
    assert {json.loads(line)["source"] for line in jsonl.read_text().splitlines()} == {str(tmp_path / n) for n in names}
    with open(table, newline="", encoding="utf-8") as handle:
        sources = {row["source"] for row in csv.DictReader(handle)}
    assert len(sources) == 6 and str(tmp_path / "new\nline.png") in sources


def test_messages_on_stderr_stay_one_line(tmp_path):
    (tmp_path / "bad\nname.png").write_bytes(b"not a picture")
    code, _, err = run_main(tmp_path / "bad\nname.png")
    assert code == 2
    assert "bad\\nname.png" in error_line(err)


# -- item 16: labels files ---------------------------------------------------------------------------------------

@pytest.fixture()
def labelled(tmp_path, page_text) -> Path:
    small_page(tmp_path / "a.png")
    small_page(tmp_path / "b.png")
    return tmp_path


def test_labels_with_a_byte_order_mark_are_read(labelled, page_text):
    """Spreadsheet programs write UTF-8 CSV with a BOM before the first column name."""
    label = page_text.replace(" ", "")
    (labelled / "labels.csv").write_bytes(f"relative_path,label\r\na.png,{label}\r\nb.png,{label}\r\n"
                                          .encode("utf-8-sig"))
    code, out, err = run_main("eval", labelled, "-q", "--workers", "1")
    assert code == 0, err
    assert "2 scored" in out and "exact match        100.00 %" in out


@pytest.mark.parametrize("row, problem", [
    ("b.png", "no label"),
    ("b.png,", "no label"),
    ("b.png,twelve", "'twelve', is not digits"),
    ("b.png,12 34", "'12 34', is not digits"),
    (",123", "no relative_path"),
])
def test_rows_without_a_digit_label_are_refused_naming_the_line(labelled, page_text, row, problem):
    label = page_text.replace(" ", "")
    (labelled / "labels.csv").write_text(f"relative_path,label\na.png,{label}\n{row}\n")
    code, out, err = run_main("eval", labelled, "-q", "--workers", "1")
    assert code == 2 and out == ""
    line = error_line(err)
    assert "labels.csv line 3" in line and problem in line, line
