"""The real-data training mix: group splits, missing sources reported, printed renders, hard cases."""
import numpy as np

from livedigits.classify import NOT_A_DIGIT
from livedigits.training.mix import build_mix, font_files, hard_cases, render_printed
from livedigits.training.realdata import DigitSource, in_validation, source_paths


def test_split_is_by_group_and_stable():
    groups = np.repeat([f"writer{i}" for i in range(200)], 5)
    source = DigitSource("pen", [np.zeros((4, 4), np.uint8)] * len(groups), np.zeros(len(groups)), groups)
    train, held = source.part(False), source.part(True)
    assert not set(train.groups) & set(held.groups)  # no writer on both sides
    assert 0.08 < len(held) / len(source) < 0.25
    assert all(in_validation("pen", g) for g in held.groups)
    assert in_validation("pen", "writer7") == in_validation("pen", "writer7")


def test_missing_sources_are_reported_and_skipped(tmp_path):
    messages = []
    paths = source_paths(tmp_path / "no-training", tmp_path / "no-realworld")
    mix = build_mix(paths, log=lambda *a, **k: messages.append(a[0]), renders=0)
    for name in ("european_pen", "usps", "cheque", "letters", "sudoku_cells", "printed_cells", "digit_photos"):
        assert any(line.startswith(name) for line in mix.skipped), name
        assert any(name in message and "skipped" in message for message in messages), name
    assert len(mix.y) == 0


def test_printed_renders_are_digits_from_real_fonts():
    assert font_files(), "no usable font installed (fonts-dejavu-core)"
    pictures, labels, groups = render_printed(30, seed=3)
    assert len(pictures) == 30 and set(labels) <= set(range(10))
    assert all(p.dtype == np.uint8 and p.shape == (64, 64) for p in pictures)
    assert all(p.min() < p.max() - 40 for p in pictures)  # ink on paper, not an empty cell


def test_hard_cases_keep_labels_and_mnist_format(mnist):
    x, y = mnist.x_train[:200], mnist.y_train[:200].astype(np.int32)
    y = np.where(np.arange(200) % 10 == 0, NOT_A_DIGIT, y)
    out_x, out_y = hard_cases(x, y, 40, seed=1)
    assert out_x.shape == (40, 28, 28) and out_x.dtype == np.uint8
    assert (out_y < NOT_A_DIGIT).all()  # only digits are varied
    assert (out_x.reshape(40, -1).max(axis=1) > 0).all()
