"""Steady readings end to end on generated hand-held videos (fixed seeds, CI-sized clips).

The clips hold everything the issue lists: pan, zoom, roll, perspective, motion-blurred stretches,
light changes, a flash, a passing shadow, blank paper or desk, the page partly out of view. The full
measurement over more clips is `python benchmarks/video.py`.
"""
import csv
import io
import json
import time

import pytest

from livedigits import Recognizer
from livedigits.app import cli
from livedigits.synthetic.video import make_video, pooled, score_video, write_video
from livedigits.fusion import PageFusion
from livedigits.synthetic.photo_video import make_photo_video, page_photos, sticky_note
from livedigits.track import Stabilizer

FPS = 15
CLIPS = [(1, 10.0), (5, 10.0)]  # (seed, seconds): one page each


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer()


def read(recognizer, frames, fps):
    """Raw, steady (tracked) and page-fused readings of every frame, and the tracking time per frame."""
    stabilizer, fusion, raw, steady, fused, seconds = Stabilizer(), PageFusion(), [], [], [], []
    for k, frame in enumerate(frames):
        reading = recognizer.recognize(frame)
        started = time.perf_counter()
        steady.append(stabilizer.update(frame, reading, k / fps))
        seconds.append(time.perf_counter() - started)
        held = fusion.inverted   # page fusion holds the page's polarity (as the command does)
        page_reading = reading if held is None or held == reading.inverted else recognizer.recognize(frame, inverted=held)
        fused.append(fusion.update(frame, page_reading, k / fps))
        raw.append(reading)
    return raw, steady, seconds, fused


@pytest.fixture(scope="module")
def clips(mnist, recognizer):
    out = []
    for seed, length in CLIPS:
        video = make_video(mnist.x_test, mnist.y_test, seed=seed, seconds=length, fps=FPS)
        out.append((video, *read(recognizer, video.frames, FPS)))
    return out


@pytest.fixture(scope="module")
def photo_clip(realworld, recognizer):
    """A sticky note cut from a real page photo (one of the photos fusion was tuned on; the README's
    numbers come from the others), filmed hand-held: pan from the desk, shake, hand shadow, light
    dimming and warming, JPEG."""
    photo = next(p for p in page_photos(realworld / "page_photos") if p.name == "0_A4.bmp")
    video = make_photo_video([sticky_note(photo)], seed=21, seconds=8.0, fps=FPS)
    return (video, *read(recognizer, video.frames, FPS))


def test_clips_hold_the_hard_parts(clips):
    for video, *_ in clips:
        truth = video.truth
        assert sum(t.full for t in truth) > 0.4 * len(truth)
        assert sum(t.blank for t in truth) >= 10 and sum(t.partial for t in truth) >= 10
        assert sum(t.full and t.blur_px > 8 for t in truth) >= 3   # motion blur with the page in view
        assert sum(t.flash for t in truth) == 1


def test_steady_text_is_right_on_full_view_frames(clips):
    steady = pooled([score_video(video.truth, s) for video, _, s, *_ in clips])
    raw = pooled([score_video(video.truth, r) for video, r, *_ in clips])
    assert steady.cer <= 0.03, steady
    assert steady.cer < raw.cer


def test_steady_text_does_not_flicker(clips):
    steady = pooled([score_video(video.truth, s) for video, _, s, *_ in clips])
    raw = pooled([score_video(video.truth, r) for video, r, *_ in clips])
    # 2.27 % here (4 of 176 frame pairs) with the model trained on real data, 1.7 % with the
    # MNIST-only one; benchmarks/video.py: 2.11 % over 12 clips. Page-level fusion (#15) is the fix.
    assert steady.flicker <= 0.03, steady
    assert steady.flicker < raw.flicker / 3  # raw frames flicker 8.5 % here (18 % with the MNIST-only model)


def test_no_digit_on_blank_paper_or_desk(clips):
    assert sum(score_video(video.truth, s).blank_digits for video, _, s, *_ in clips) == 0


def test_a_flash_keeps_the_last_steady_reading(clips):
    for video, _, steady, *_ in clips:
        k = next(i for i, t in enumerate(video.truth) if t.flash)
        assert steady[k].held
        assert steady[k].text == steady[k - 1].text == video.truth[k].text


def test_each_digit_keeps_its_track_id(clips):
    for video, _, steady, *_ in clips:
        for k in range(1, len(steady)):
            if video.truth[k].full and steady[k].text == steady[k - 1].text == video.truth[k].text:
                assert [d.track for d in steady[k].digits] == [d.track for d in steady[k - 1].digits]
                assert all(d.as_dict()["track"] == d.track for d in steady[k].digits)


def test_page_fusion_reads_generated_clips(clips):
    fused = pooled([score_video(video.truth, f) for video, *_, f in clips])
    raw = pooled([score_video(video.truth, r) for video, r, *_ in clips])
    assert fused.cer <= 0.02 and fused.flicker <= 0.02 and fused.blank_digits == 0, fused
    assert fused.flicker < raw.flicker / 4


def test_page_fusion_reads_a_filmed_real_page(photo_clip):
    video, raw, steady, _, fused = photo_clip
    truth = video.truth
    assert sum(t.full for t in truth) > 30 and sum(t.blank for t in truth) >= 5
    f, r, s = score_video(truth, fused), score_video(truth, raw), score_video(truth, steady)
    assert f.cer <= 0.05 and f.flicker <= 0.10 and f.blank_digits == 0, f
    assert f.cer < min(r.cer, s.cer) and f.flicker < s.flicker, (f, r, s)


def test_page_fusion_keeps_each_digits_slot_id(clips):
    for video, *_, fused in clips:
        for k in range(1, len(fused)):
            if video.truth[k].full and fused[k].text == fused[k - 1].text == video.truth[k].text:
                assert [d.track for d in fused[k].digits] == [d.track for d in fused[k - 1].digits]


def test_summary_of_two_pages_filmed_one_after_the_other(mnist, tmp_path):
    """`livedigits pages.mp4 --summary FILE`: each page's number once, with when it was in view."""
    video = make_video(mnist.x_test, mnist.y_test, seed=3, seconds=16, fps=FPS, pages=2, partial=False)
    path = write_video(video, tmp_path / "pages.mp4")
    summary, records = tmp_path / "summary.csv", tmp_path / "frames.jsonl"
    status = cli.main([str(path), "--summary", str(summary), "--jsonl", str(records), "--quiet"],
                      stdout=io.StringIO(), stderr=io.StringIO())
    assert status == 0
    rows = list(csv.DictReader(open(summary, newline="", encoding="utf-8")))
    assert [r["text"] for r in rows] == [t.replace("\n", " ") for t in video.texts]
    for page, row in enumerate(rows):  # within the time the page was in view (give or take 0.5 s)
        shown = [k / FPS for k, t in enumerate(video.truth) if t.page == page and not t.blank]
        assert shown[0] - 0.5 <= float(row["first_s"]) < float(row["last_s"]) <= shown[-1] + 0.5
        assert float(row["last_s"]) - float(row["first_s"]) >= 3.0
    assert float(rows[0]["last_s"]) < float(rows[1]["first_s"])
    frames = [json.loads(line) for line in open(records, encoding="utf-8")]
    assert len(frames) == len(video.frames)
    tracked = [d for f in frames for d in f["digits"]]
    assert tracked and all(isinstance(d["track"], int) for d in tracked)


def test_raw_reads_every_frame_on_its_own(mnist, tmp_path):
    video = make_video(mnist.x_test, mnist.y_test, seed=4, seconds=3, fps=FPS, pages=1, partial=False)
    path = write_video(video, tmp_path / "clip.mp4")
    records = tmp_path / "raw.jsonl"
    assert cli.main([str(path), "--raw", "--jsonl", str(records), "--quiet"],
                    stdout=io.StringIO(), stderr=io.StringIO()) == 0
    frames = [json.loads(line) for line in open(records, encoding="utf-8")]
    assert len(frames) == len(video.frames)
    assert all("track" not in d for f in frames for d in f["digits"])
