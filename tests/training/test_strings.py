"""Training the string reader: the network's frames, the cheque split, the training rows."""
import numpy as np

from livedigits.strings import HEIGHT, NUM_OUTPUTS, STRIDE
from livedigits.training.realdata import in_validation
from livedigits.training.strings import TRAIN_WIDTH, build_model, cheque_amounts, to_training_row


def test_model_gives_one_frame_per_stride_for_any_width():
    import keras

    model = build_model(keras)
    for width in (64, 96, 320):
        out = model(np.zeros((2, HEIGHT, width, 1), np.float32), training=False)
        assert tuple(out.shape) == (2, width // STRIDE, NUM_OUTPUTS)


def test_held_out_cheques_are_never_training_or_tuning(realworld):
    amounts = cheque_amounts(realworld / "cheque_amounts")
    splits = {item["split"] for item in amounts}
    assert splits == {"train", "tuning", "validation"}
    for item in amounts:
        assert (item["split"] == "validation") == in_validation("cheque", item["path"])


def test_training_rows_fit_the_training_width():
    row, width = to_training_row(np.full((40, 400), 200, np.uint8))
    assert row.shape == (HEIGHT, TRAIN_WIDTH) and width == TRAIN_WIDTH
    row, width = to_training_row(np.full((40, 80), 200, np.uint8))
    assert width == 64 and not row[:, width:].any()
