"""Scoring steady readings of a video against its per-frame truth (livedigits/synthetic/video.py)."""
from dataclasses import dataclass

from livedigits.synthetic.video import FrameTruth, error_breakdown, recovery_frames, score_video


@dataclass
class Text:
    text: str
    digits: tuple = ()


def frames(kinds: str, text: str = "12\n3") -> list[FrameTruth]:
    """Truth from a string: F full view, P partial, B blank (page 0)."""
    return [FrameTruth(0, k == "F", k == "B", text if k == "F" else "", ()) for k in kinds]


def test_breakdown_counts_error_kinds_phases_and_characters():
    truth = frames("BF" + "F" * 16)
    got = ["", "1\n3", "12\n3", "13\n3"] + ["12\n3"] * 12 + ["12\n3", "12\n34"]
    raw = ["", "12\n3"] + ["1\n3"] * 16
    b = error_breakdown(truth, [Text(t) for t in got], [Text(t) for t in raw], entry=15)
    assert (b.substitutions, b.deletions, b.insertions) == (1, 1, 1)
    # frames 2-16 are the first 15 in view (14 pairs: 1->2, 2->3, 3->4 changed), 17 the rest (one change)
    assert (b.entry_changes, b.entry_pairs, b.steady_changes, b.steady_pairs) == (3, 14, 1, 2)
    assert b.wrong == {(0, 1): 2} and b.full_frames == {0: 17}
    assert b.raw_right[(0, 1)] == 1 and b.raw_right[(0, 0)] == 17


def test_score_and_recovery_count_full_view_frames_only():
    truth = frames("FFFPFF")
    got = [Text(t) for t in ("12\n3", "12\n3", "2\n3", "99", "12\n3", "12\n3")]
    score = score_video(truth, got)
    assert score.full_frames == 5 and score.chars == 20
    assert score.cer == 1 / 20 and score.pairs == 3 and score.flicker == 1 / 3
    assert recovery_frames(truth, got, min_run=3) == (0,)
