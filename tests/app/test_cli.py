"""The livedigits command end to end: samples/ through every SOURCE kind into CSV/JSONL/annotated files,
the live loop on an injected frame source, eval, and every kind of bad input (including interrupted runs
whose outputs are then parsed).

The model is the shipped one, or $LIVEDIGITS_MODEL. Checks against the samples' ground truth are
tolerant (a reader makes some mistakes) but meaningful; checks against the Python API are exact.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT
from livedigits import Recognizer
from livedigits.app import cli, display, runner
from livedigits.app.outputs import CSV_FIELDS
from livedigits.evaluation.scoring import edit_distance, match_boxes
from livedigits.sources import LatestFrameReader, is_truncated, load_picture

SAMPLES = ROOT / "samples"
TRUTH = json.loads((SAMPLES / "ground_truth.json").read_text())
PICTURES = TRUTH["pictures"]
VIDEO = TRUTH["videos"]["panning.mp4"]
MODEL = os.environ.get("LIVEDIGITS_MODEL") or None


# -- helpers -----------------------------------------------------------------------------------------

def run_main(args, **injected):
    """The command in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([str(a) for a in args], stdout=out, stderr=err, **injected)
    return code, out.getvalue(), err.getvalue()


def run_process(args, **kwargs):
    """The command as a user runs it: python -m livedigits ... from the repository root."""
    return subprocess.run([sys.executable, "-m", "livedigits", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kwargs)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == CSV_FIELDS
        return list(reader)


def flat(text: str) -> str:
    return text.replace("\n", "")


def character_error_rate(pairs) -> float:
    """pairs of (expected, got) texts -> edit distance over label length."""
    edits = sum(edit_distance(flat(e), flat(g)) for e, g in pairs)
    return edits / sum(len(flat(e)) for e, _ in pairs)


def boxes(digits) -> list[tuple]:
    return [(d["x"], d["y"], d["w"], d["h"]) for d in digits]


def assert_reads_like_ground_truth(texts: dict[str, str]) -> None:
    """At least 3 of 4 sample pictures read exactly, under 10 % character errors over all of them."""
    exact = [name for name, got in texts.items() if got == PICTURES[name]["text"]]
    cer = character_error_rate([(PICTURES[name]["text"], got) for name, got in texts.items()])
    assert len(exact) >= 3 and cer < 0.10, f"exact {exact}, CER {cer:.3f}: {texts}"


def one_error_line(stderr: str, *needles: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO:")]
    assert len(lines) == 1 and lines[0].startswith("livedigits: error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer(MODEL)


@pytest.fixture(scope="module")
def api_texts(recognizer):
    """What the Python API reads in each sample picture: the command must print exactly this."""
    return {name: recognizer.recognize(load_picture(SAMPLES / name)).text for name in PICTURES}


@pytest.fixture(scope="module")
def video_frames():
    capture = cv2.VideoCapture(str(SAMPLES / "panning.mp4"))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == VIDEO["frames"]
    return frames


class FakeCamera:
    """A camera stand-in (the capture factory's product): ``frames`` frames at ``fps``, each with its
    sequence number stamped into the top-left pixels, then it 'disconnects' (read fails)."""

    def __init__(self, images, frames=40, fps=60.0):
        self.images, self.frames, self.fps = images, frames, fps
        self.sent = 0
        self.released = False
        self._next_at = time.monotonic()

    def isOpened(self):
        return True

    def read(self):
        if self.sent >= self.frames:
            return False, None
        self._next_at += 1.0 / self.fps
        time.sleep(max(0.0, self._next_at - time.monotonic()))
        image = self.images[self.sent % len(self.images)].copy()
        stamp(image, self.sent)
        self.sent += 1
        return True, image

    def grab(self):
        return self.read()[0]

    def get(self, prop):
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        self.released = True


def stamp(image, number: int) -> None:
    bits = [(number >> k) & 1 for k in range(16)]
    image[0, :16] = np.array(bits, np.uint8)[:, None] * 255


def stamped(image) -> int:
    return sum(int(v > 127) << k for k, v in enumerate(image[0, :16, 0]))


class FakeWindow:
    """--show without a display: records what is shown and presses the scripted keys."""

    def __init__(self, keys=None):
        self.shown, self.keys, self.closed = [], dict(keys or {}), False

    def show(self, image, wait_ms=1):
        self.shown.append(image)
        return self.keys.get(len(self.shown), display.Key.NONE)

    def wait(self, wait_ms):
        return display.Key.PAUSE

    def close(self):
        self.closed = True


# -- samples end to end --------------------------------------------------------------------------------

def test_samples_folder_end_to_end(tmp_path, api_texts):
    csv_path, jsonl_path = tmp_path / "out" / "digits.csv", tmp_path / "out" / "frames.jsonl"
    save = tmp_path / "annotated"
    done = run_process(["samples/", "--csv", csv_path, "--jsonl", jsonl_path, "--save", save, "--every", "3",
                        "--workers", "2"])
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    records = read_jsonl(jsonl_path)
    pictures = {Path(r["source"]).name: r for r in records if r["time_s"] is None}
    frames = [r for r in records if Path(r["source"]).name == "panning.mp4"]
    assert sorted(pictures) == sorted(PICTURES)
    assert [r["frame"] for r in frames] == list(range(0, VIDEO["frames"], 3))
    assert all(r["time_s"] == pytest.approx(r["frame"] / VIDEO["fps"], abs=1e-3) for r in frames)

    # the command reads exactly what the API reads, and that is close to the ground truth
    assert {name: r["text"] for name, r in pictures.items()} == api_texts
    assert_reads_like_ground_truth({name: r["text"] for name, r in pictures.items()})
    found = sum(len(match_boxes(boxes(PICTURES[n]["digits"]), boxes(r["digits"]))) for n, r in pictures.items())
    assert found >= 0.9 * sum(len(p["digits"]) for p in PICTURES.values())
    video_cer = [character_error_rate([(VIDEO["text"], r["text"])]) for r in frames]
    assert np.median(video_cer) < 0.10 and np.mean([c == 0 for c in video_cer]) >= 0.6, video_cer

    # one CSV row per digit of every record, same values
    rows = read_csv(csv_path)
    expected_rows = [(r["source"], str(r["frame"]), "" if r["time_s"] is None else str(r["time_s"]),
                      *(str(d.get(k, "")) for k in CSV_FIELDS[3:])) for r in records for d in r["digits"]]
    assert [tuple(row[k] for k in CSV_FIELDS) for row in rows] == expected_rows

    # stdout: source<TAB>text per picture, a picture's lines joined by a space
    lines = dict(line.split("\t") for line in done.stdout.splitlines() if "#" not in line.split("\t")[0])
    assert lines == {str(Path("samples") / n): api_texts[n].replace("\n", " ") for n in PICTURES}
    for name in ("README.md", "ground_truth.json", "labels.csv", "make_samples.py"):
        assert name in done.stderr  # named once as not a picture or video

    # annotated pictures, and an annotated video with the source's size, rate and length
    for name in PICTURES:  # WebP is saved as JPEG (its encoder is 20-150 times slower)
        annotated = cv2.imread(str(save / (name.replace(".webp", ".jpg"))))
        assert annotated is not None
        assert annotated.shape[:2] == (PICTURES[name]["height"], PICTURES[name]["width"])
    capture = cv2.VideoCapture(str(save / "panning.mp4"))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(VIDEO["fps"])
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (640, 480)
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == VIDEO["frames"]
    assert capture.read()[0]
    capture.release()


def test_single_picture_honours_exif_orientation(tmp_path, api_texts):
    name = "squared_sideways.jpg"
    raw = cv2.imread(str(SAMPLES / name), cv2.IMREAD_UNCHANGED)
    assert raw.shape[:2] == (640, 480)  # stored sideways: EXIF turns it upright
    code, out, err = run_main([SAMPLES / name, "--jsonl", tmp_path / "one.jsonl", "--quiet"])
    assert code == 0, err
    [record] = read_jsonl(tmp_path / "one.jsonl")
    assert record["text"] == api_texts[name] and record["frame"] == 0 and record["time_s"] is None
    truth = PICTURES[name]["digits"]
    assert len(match_boxes(boxes(truth), boxes(record["digits"]))) >= 0.9 * len(truth)
    assert out == f"{SAMPLES / name}\t{api_texts[name].replace(chr(10), ' ')}\n"
    assert err == ""  # --quiet: nothing but problems on stderr


def test_rotate_option_turns_pictures(tmp_path, api_texts):
    upright = cv2.imread(str(SAMPLES / "plain.jpg"))
    cv2.imwrite(str(tmp_path / "turned.png"), cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE))
    code, out, err = run_main([tmp_path / "turned.png", "--rotate", "90", "--csv", "-", "-q"])
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))  # --csv - : CSV on stdout instead of the text lines
    assert "".join(r["digit"] for r in rows) == flat(api_texts["plain.jpg"])
    assert all(int(r["x"]) + int(r["w"]) <= 640 and int(r["y"]) + int(r["h"]) <= 480 for r in rows)


def test_glob_in_parallel_keeps_order(tmp_path, api_texts):
    for k in range(6):  # enough pictures for both workers
        shutil.copy(SAMPLES / "plain.jpg", tmp_path / f"scan{k + 1}.jpg")
    shutil.copy(SAMPLES / "coloured.webp", tmp_path / "scan10.webp")
    code, out, err = run_main([f"{tmp_path}/scan*", "--csv", tmp_path / "d.csv", "--jsonl", tmp_path / "d.jsonl",
                               "--workers", "2", "-q"])
    assert code == 0, err
    records = read_jsonl(tmp_path / "d.jsonl")
    names = [Path(r["source"]).name for r in records]
    assert names == [f"scan{k}.jpg" for k in range(1, 7)] + ["scan10.webp"]  # natural order, kept by imap
    assert [r["text"] for r in records] == [api_texts["plain.jpg"]] * 6 + [api_texts["coloured.webp"]]
    rows = read_csv(tmp_path / "d.csv")
    assert len(rows) == sum(len(r["digits"]) for r in records)
    assert [line.split("\t")[0] for line in out.splitlines()] == [r["source"] for r in records]


def test_glob_of_samples_against_ground_truth(tmp_path, api_texts):
    code, out, err = run_main(["samples/*.jpg", "--csv", tmp_path / "g.csv", "--workers", "2", "-q"])
    assert code == 0, err
    rows = read_csv(tmp_path / "g.csv")
    assert [Path(r["source"]).name for r in rows] == sorted((Path(r["source"]).name for r in rows),
                                                             key=["plain.jpg", "squared_sideways.jpg"].index)
    for name in ("plain.jpg", "squared_sideways.jpg"):
        mine = [r for r in rows if Path(r["source"]).name == name]
        lines = {}
        for r in mine:  # rebuild the text from the rows: digits in order, a new line where `line` changes
            lines.setdefault(int(r["line"]), []).append(r["digit"])
        assert "\n".join("".join(lines[k]) for k in sorted(lines)) == api_texts[name]
        truth = PICTURES[name]
        assert character_error_rate([(truth["text"], api_texts[name])]) < 0.15
        found = match_boxes(boxes(truth["digits"]), boxes([{k: int(r[k]) for k in "xywh"} for r in mine]))
        assert len(found) >= 0.85 * len(truth["digits"])
        assert np.mean([truth["digits"][t]["digit"] == int(mine[f]["digit"]) for t, f in found]) >= 0.9


def test_video_stride_max_frames_and_save(tmp_path):
    code, out, err = run_main([SAMPLES / "panning.mp4", "--every", "5", "--max-frames", "6", "--jsonl",
                               tmp_path / "v.jsonl", "--save", tmp_path / "saved", "-q"])
    assert code == 0, err
    records = read_jsonl(tmp_path / "v.jsonl")
    assert [r["frame"] for r in records] == [0, 5, 10, 15, 20, 25]
    assert [r["time_s"] for r in records] == pytest.approx([f / 15 for f in (0, 5, 10, 15, 20, 25)], abs=1e-3)
    # frames print when the steady text changes, from nothing: the first line is the first frame with digits
    first, text = out.splitlines()[0].split("\t")
    assert first.startswith(f"{SAMPLES / 'panning.mp4'}#") and text
    assert np.median([character_error_rate([(VIDEO["text"], r["text"])]) for r in records]) < 0.10
    capture = cv2.VideoCapture(str(tmp_path / "saved" / "panning.mp4"))
    # each read frame stands for the 5 it represents: same rate and timing as the source
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 30 and capture.get(cv2.CAP_PROP_FPS) == pytest.approx(15)
    capture.release()


# -- live sources ------------------------------------------------------------------------------------------

class GatedCamera:
    """A camera whose frames arrive only when the test allows them: deterministic hand-over checks."""

    def __init__(self):
        self.tokens, self.sent, self.unplugged, self.released = threading.Semaphore(0), 0, False, False

    def isOpened(self):
        return True

    def read(self):
        self.tokens.acquire()
        if self.unplugged:
            return False, None
        image = np.zeros((4, 32, 3), np.uint8)
        stamp(image, self.sent)
        self.sent += 1
        return True, image

    def get(self, prop):
        return 0.0

    def release(self):
        self.released = True

    def allow(self, count):
        for _ in range(count):
            self.tokens.release()

    def unplug(self):
        self.unplugged = True
        self.tokens.release()


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_latest_frame_reader_hands_over_newest_frame_once():
    camera = GatedCamera()
    reader = LatestFrameReader(camera, "camera 0").start()
    try:
        camera.allow(5)
        wait_until(lambda: reader.captured == 5)
        frame = reader.next_frame()
        assert frame.index == 4 and stamped(frame.image) == 4  # the newest; 0-3 are dropped, not queued
        camera.allow(3)
        wait_until(lambda: reader.captured == 8)
        assert reader.next_frame().index == 7
        camera.allow(1)  # nothing new yet when asked: it waits for frame 8 instead of repeating 7
        frame = reader.next_frame()
        assert frame.index == 8 and stamped(frame.image) == 8
        camera.unplug()
        assert reader.next_frame() is None
        assert "camera 0 stopped sending frames" in reader.end_reason
        assert (reader.captured, reader.handed_over, reader.dropped) == (9, 3, 6)
    finally:
        camera.unplug()
        reader.close()
    assert camera.released


def test_latest_frame_reader_with_a_slow_consumer():
    camera = FakeCamera([np.zeros((8, 32, 3), np.uint8)], frames=60, fps=200.0)
    reader = LatestFrameReader(camera, "camera 0").start()
    indices = []
    try:
        for frame in reader.frames():
            assert stamped(frame.image) == frame.index
            indices.append(frame.index)
            time.sleep(0.02)  # a slow consumer: the reader must drop frames, not queue them
    finally:
        reader.close()
    assert indices == sorted(set(indices))  # no frame twice, never backwards
    assert len(indices) < 45 and indices[-1] >= 55  # frames were dropped, yet the last ones were seen
    assert reader.dropped == 60 - len(indices) and camera.released


def test_live_loop_on_injected_camera(tmp_path, video_frames, monkeypatch):
    fps_shown = []
    real_draw = runner.draw

    def spy_draw(image, reading, fps=None, **kw):
        fps_shown.append(fps)
        return real_draw(image, reading, fps=fps, **kw)

    monkeypatch.setattr(runner, "draw", spy_draw)
    camera = FakeCamera(video_frames[::2], frames=45, fps=30.0)
    started = time.perf_counter()
    code, out, err = run_main(["0", "--jsonl", tmp_path / "live.jsonl", "--csv", tmp_path / "live.csv",
                               "--save", tmp_path / "saved"], capture_factory=lambda index: camera)
    elapsed = time.perf_counter() - started
    assert code == 0, err
    assert "camera 0 stopped sending frames" in err  # the camera 'disconnected' after 45 frames
    records = read_jsonl(tmp_path / "live.jsonl")
    indices = [r["frame"] for r in records]
    assert indices == sorted(set(indices)) and indices[-1] >= 40
    assert all(r["source"] == "0" for r in records)
    assert [r["time_s"] for r in records] == sorted(r["time_s"] for r in records)
    assert np.median([character_error_rate([(VIDEO["text"], r["text"])]) for r in records]) < 0.10
    assert len(read_csv(tmp_path / "live.csv")) == sum(len(r["digits"]) for r in records)
    # the overlay shows the rate frames were really processed at
    measured = [f for f in fps_shown if f is not None]
    assert len(measured) == len(records) - 1
    assert 0.4 * len(records) / elapsed < np.median(measured) < 3 * len(records) / elapsed
    # the saved video covers every camera frame from the first read to the last, at the camera's rate
    [saved] = list((tmp_path / "saved").glob("camera0_*.mp4"))
    capture = cv2.VideoCapture(str(saved))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == indices[-1] - indices[0] + 1
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    capture.release()


def test_show_window_keys_snapshot_and_quit(tmp_path, video_frames):
    window = FakeWindow({3: display.Key.SNAPSHOT, 5: display.Key.PAUSE, 6: display.Key.QUIT})
    camera = FakeCamera(video_frames, frames=500, fps=30.0)
    code, out, err = run_main(["0", "--show", "--jsonl", tmp_path / "s.jsonl", "--save", tmp_path / "saved"],
                              capture_factory=lambda index: camera, window_factory=lambda: window)
    assert code == 0, err
    assert len(window.shown) == 6 and window.closed
    assert len(read_jsonl(tmp_path / "s.jsonl")) == 6  # q ended the run at the 6th frame
    assert len(list((tmp_path / "saved").glob("snapshot_*.png"))) == 1
    assert camera.released


# -- eval ----------------------------------------------------------------------------------------------------

def test_eval_on_labelled_samples(tmp_path, api_texts):
    code, out, err = run_main(["eval", "samples", "--labels", "samples/labels.csv", "--report", tmp_path / "report",
                               "--workers", "1"])
    assert code == 0, err
    labels = dict(line.split(",") for line in (SAMPLES / "labels.csv").read_text().splitlines()[1:])
    exact = sum(flat(api_texts[n]) == labels[n] for n in labels)
    assert f"({exact} of 4 pictures)" in out
    assert "character errors" in out and "per-digit accuracy" in out
    image = cv2.imread(str(tmp_path / "report" / "confusion_matrix.png"))
    assert image is not None and image.shape[0] > 300 and image.std() > 10
    with open(tmp_path / "report" / "errors.csv", newline="") as handle:
        errors = list(csv.reader(handle))
    assert errors[0] == ["path", "expected", "got"]
    assert sorted(e[0] for e in errors[1:]) == sorted(n for n in labels if flat(api_texts[n]) != labels[n])


def test_eval_honours_rotate_column_unless_rotate_given(tmp_path, api_texts):
    upright = cv2.imread(str(SAMPLES / "plain.jpg"))
    cv2.imwrite(str(tmp_path / "a.png"), cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE))  # 90 ccw makes it upright
    label = flat(api_texts["plain.jpg"])
    (tmp_path / "labels.csv").write_text(f"relative_path,label,rotate_ccw_deg_to_upright\na.png,{label},90\n")
    code, out, err = run_main(["eval", tmp_path, "-q"])  # labels.csv in the folder by default
    assert code == 0, err
    assert "exact match        100.00 %" in out
    (tmp_path / "labels.csv").write_text(f"relative_path,label,rotate_ccw_deg_to_upright\na.png,{label},0\n")
    code, out, err = run_main(["eval", tmp_path, "--rotate", "90", "-q"])
    assert code == 0 and "exact match        100.00 %" in out


def test_eval_without_matplotlib_or_tensorflow(tmp_path):
    """The runtime needs neither: the report is drawn with OpenCV, inference runs on LiteRT."""
    code = ("import sys; sys.modules['matplotlib'] = None; sys.modules['tensorflow'] = None\n"
            "from livedigits.app.cli import main\n"
            f"sys.exit(main(['eval', 'samples', '--report', {str(tmp_path)!r}, '-q', '--workers', '1']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "confusion_matrix.png").is_file()


# -- bad input ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, needles", [
    (["no/such/folder/scan.jpg"], ["does not exist", "camera index"]),
    (["99"], ["cannot open camera 99", "index"]),
    (["samples/plain.jpg", "--model", "no/such/model.tflite"], ["model", "not found", "--model"]),
])
def test_bad_input_in_a_real_process(args, needles):
    done = run_process(args)
    assert done.returncode == 2
    one_error_line(done.stderr, *needles)
    assert done.stdout == ""


def test_unknown_source_kinds(tmp_path):
    (tmp_path / "notes.txt").write_text("not a picture")
    code, _, err = run_main([tmp_path / "notes.txt"])
    assert code == 2
    one_error_line(err, "neither a picture nor a video")
    code, _, err = run_main([f"{tmp_path}/*.jpg"])
    assert code == 2
    one_error_line(err, "no files match")
    code, _, err = run_main([tmp_path])
    assert code == 2
    one_error_line(err, "no pictures or videos", "--recursive")
    code, _, err = run_main([tmp_path / "notes.txt", "--every", "0"])
    assert code == 2 and "Traceback" not in err  # argparse's own usage error


@pytest.mark.parametrize("reader", ["digits", "strings"])
def test_reader_option_forces_one_path(tmp_path, reader):
    picture = SAMPLES / "plain.jpg"
    code, out, err = run_main([picture, "--reader", reader, "--jsonl", tmp_path / "r.jsonl", "--quiet"])
    expected = Recognizer(MODEL, reader=reader).recognize(cv2.imread(str(picture))).text
    assert code == 0, err
    assert read_jsonl(tmp_path / "r.jsonl")[0]["text"] == expected


def test_unknown_reader_is_one_line():
    code, out, err = run_main([SAMPLES / "plain.jpg", "--reader", "letters"])
    assert code == 2 and "--reader" in err and "Traceback" not in err


def test_unreadable_model(tmp_path):
    (tmp_path / "broken.tflite").write_bytes(b"this is no flatbuffer" * 10)
    code, out, err = run_main(["samples/plain.jpg", "--model", tmp_path / "broken.tflite", "--csv", tmp_path / "x.csv"])
    assert code == 2
    one_error_line(err, "model")
    assert not (tmp_path / "x.csv").exists()  # nothing is written before the inputs are known to work


def test_camera_that_cannot_be_opened():
    class Closed(FakeCamera):
        def isOpened(self):
            return False

    camera = Closed([np.zeros((4, 4, 3), np.uint8)])
    code, _, err = run_main(["3"], capture_factory=lambda index: camera)
    assert code == 2 and camera.released
    one_error_line(err, "cannot open camera 3")


def test_broken_files_in_a_folder_are_named_and_skipped(tmp_path):
    good = (SAMPLES / "plain.jpg").read_bytes()
    shutil.copy(SAMPLES / "plain.jpg", tmp_path / "a_good.jpg")
    shutil.copy(SAMPLES / "ruled.png", tmp_path / "e_good.png")
    (tmp_path / "b_empty.png").write_bytes(b"")
    (tmp_path / "c_truncated.jpg").write_bytes(good[:len(good) // 2])
    (tmp_path / "d_text.png").write_text("I am not a PNG")
    (tmp_path / "notes.txt").write_text("not a picture either")
    (tmp_path / "f_truncated.png").write_bytes((SAMPLES / "ruled.png").read_bytes()[:5000])
    code, out, err = run_main([tmp_path, "--jsonl", tmp_path / "out" / "r.jsonl", "--workers", "2"])
    assert code == 0, err
    assert "Traceback" not in err
    for name, why in (("b_empty.png", "empty"), ("c_truncated.jpg", "truncated"), ("d_text.png", "not a picture"),
                      ("f_truncated.png", "truncated")):
        [line] = [line for line in err.splitlines() if name in line]
        assert "skipped" in line and why in line, line
    assert "notes.txt" in err
    assert "skipped 4 files" in err and "ignored 1 file" in err  # the closing summary counts them
    assert [Path(r["source"]).name for r in read_jsonl(tmp_path / "out" / "r.jsonl")] == ["a_good.jpg", "e_good.png"]


def test_single_broken_picture_is_an_error(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    code, _, err = run_main([tmp_path / "empty.jpg"])
    assert code == 2
    one_error_line(err, "empty.jpg", "empty")


@pytest.mark.parametrize("suffix", [".bmp", ".tiff", ".png", ".webp", ".jpg"])
def test_picture_formats(tmp_path, suffix):
    original = cv2.imread(str(SAMPLES / "ruled.png"))
    cv2.imwrite(str(tmp_path / f"page{suffix}"), original)
    loaded = load_picture(tmp_path / f"page{suffix}")
    assert loaded.shape == original.shape
    assert np.abs(loaded.astype(int) - original).mean() < 3  # lossy formats differ a little
    code, out, err = run_main([tmp_path / f"page{suffix}", "-q"])
    assert code == 0 and out.startswith(f"{tmp_path / f'page{suffix}'}\t"), err


def test_truncation_detection():
    for name in ("plain.jpg", "ruled.png", "coloured.webp", "squared_sideways.jpg"):
        data = np.fromfile(str(SAMPLES / name), np.uint8)
        assert not is_truncated(data)
        assert is_truncated(data[:len(data) * 2 // 3])


def test_video_that_breaks_off_keeps_what_was_decoded(tmp_path, video_frames):
    path = tmp_path / "clip.avi"  # AVI/MJPG decodes up to the cut (an mp4 without its index cannot be read)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    for frame in video_frames[:20]:
        writer.write(frame)
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    code, out, err = run_main([path, "--jsonl", tmp_path / "c.jsonl", "--save", tmp_path / "saved", "-q"])
    assert code == 0, err
    records = read_jsonl(tmp_path / "c.jsonl")
    assert 3 <= len(records) < 20 and [r["frame"] for r in records] == list(range(len(records)))
    assert "breaks off" in err and "clip.avi" in err
    capture = cv2.VideoCapture(str(tmp_path / "saved" / "clip.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(records)
    capture.release()


def test_unreadable_video_is_an_error(tmp_path):
    data = (SAMPLES / "panning.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:len(data) // 2])  # the mp4 index (moov) is at the end
    code, _, err = run_main([tmp_path / "cut.mp4"])
    assert code == 2
    one_error_line(err, "cannot open video")


def test_camera_disappearing_mid_stream_ends_cleanly(tmp_path, video_frames):
    camera = FakeCamera(video_frames[:5], frames=5, fps=30.0)
    code, out, err = run_main(["0", "--jsonl", tmp_path / "gone.jsonl", "--save", tmp_path / "saved"],
                              capture_factory=lambda index: camera)
    assert code == 0
    assert "camera 0 stopped sending frames" in err and "Traceback" not in err
    records = read_jsonl(tmp_path / "gone.jsonl")
    assert 1 <= len(records) <= 5
    [saved] = list((tmp_path / "saved").glob("*.mp4"))
    assert cv2.VideoCapture(str(saved)).read()[0]


def test_show_without_gui_support(monkeypatch):
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           NONE\n")
    code, _, err = run_main(["samples/plain.jpg", "--show"])
    assert code == 2
    one_error_line(err, "GUI", "--save")


def test_show_without_a_display(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           QT5\n")
    code, _, err = run_main(["samples/plain.jpg", "--show"])
    assert code == 2
    one_error_line(err, "display", "--save")


def test_show_when_the_window_cannot_open(monkeypatch):
    """A Qt build aborts the process when it cannot reach the display: a child process tries first."""
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr(cv2, "getBuildInformation", lambda: "  GUI:                           QT5\n")
    monkeypatch.setattr(display, "_PROBE", "import sys; sys.stderr.write('qt.qpa.xcb: could not connect to "
                                           "display :99\\n'); sys.exit(134)")
    code, _, err = run_main(["samples/plain.jpg", "--show"])
    assert code == 2
    one_error_line(err, "could not connect to display", "--save")


def test_save_never_overwrites_the_source(tmp_path):
    shutil.copy(SAMPLES / "plain.jpg", tmp_path / "plain.jpg")
    before = (tmp_path / "plain.jpg").read_bytes()
    code, _, err = run_main([tmp_path, "--save", tmp_path])
    assert code == 2
    one_error_line(err, "would overwrite")
    assert (tmp_path / "plain.jpg").read_bytes() == before
    # annotated copies inside the source folder are not read back on the next run
    assert run_main([tmp_path, "--save", tmp_path / "annotated", "-q"])[0] == 0
    code, out, err = run_main([tmp_path, "--save", tmp_path / "annotated", "-q", "-r"])
    assert code == 0 and len(out.splitlines()) == 1


def test_transparent_png_keeps_its_alpha(tmp_path):
    upright = cv2.imread(str(SAMPLES / "plain.jpg"))
    ink = (cv2.cvtColor(upright, cv2.COLOR_BGR2GRAY) < 128).astype(np.uint8) * 255
    rgba = np.dstack([np.zeros_like(upright), ink])  # black everywhere, only the alpha shows the digits
    cv2.imwrite(str(tmp_path / "ink.png"), rgba)
    image = load_picture(tmp_path / "ink.png")
    assert image.shape == (480, 640, 4) and np.array_equal(image[..., 3], ink)
    assert load_picture(tmp_path / "ink.png", rotate=90).shape == (640, 480, 4)


def test_serve_hands_over_to_the_web_module(monkeypatch):
    calls = []
    fake = types.ModuleType("livedigits.app.web")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "livedigits.app.web", fake)
    assert run_main(["serve", "--port", "8000"])[0] == 0
    assert calls == [["--port", "8000"]]


# -- interrupted runs -------------------------------------------------------------------------------------------

def _wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended before it could be interrupted: {process.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no output appeared")


@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_video_run_leaves_valid_outputs(tmp_path, signal_number, status):
    jsonl, table, saved = tmp_path / "v.jsonl", tmp_path / "v.csv", tmp_path / "saved"
    process = subprocess.Popen([sys.executable, "-m", "livedigits", "samples/panning.mp4", "--jsonl", jsonl,
                                "--csv", table, "--save", saved], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lines(jsonl, 5, process)
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    records = read_jsonl(jsonl)  # every line parses
    assert 5 <= len(records) < VIDEO["frames"]
    assert [r["frame"] for r in records] == list(range(len(records)))
    rows = read_csv(table)
    assert len(rows) == sum(len(r["digits"]) for r in records) and all(None not in row.values() for row in rows)
    capture = cv2.VideoCapture(str(saved / "panning.mp4"))  # finalised: it opens, knows its length, plays
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) >= len(records)
    assert capture.read()[0]
    capture.release()


def test_interrupted_parallel_folder_run(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for k in range(120):
        os.symlink(SAMPLES / "coloured.webp", folder / f"page{k:03d}.webp")
    jsonl = tmp_path / "many.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "livedigits", folder, "--jsonl", jsonl, "--workers", "2"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lines(jsonl, 3, process)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr  # workers stay quiet too
    records = read_jsonl(jsonl)
    assert 3 <= len(records) < 120
    assert [r["source"] for r in records] == [str(folder / f"page{k:03d}.webp") for k in range(len(records))]
    assert len(stdout.splitlines()) >= len(records) - 1


def test_closed_stdout_pipe_is_quiet(tmp_path):
    done = subprocess.run(f"{sys.executable} -m livedigits samples/ --every 6 --workers 1 | head -n 1",
                          shell=True, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
