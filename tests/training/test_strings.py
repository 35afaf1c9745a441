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


def test_the_shipped_lite_model_gives_back_its_keras_twin():
    import cv2
    import keras

    from livedigits.strings import StringReader, default_string_model_path, line_input
    from livedigits.training.strings import keras_from_tflite

    path = default_string_model_path()
    model = keras_from_tflite(keras, path)
    picture = np.full((48, 200), 235, np.uint8)
    cv2.putText(picture, "4071", (10, 38), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 30, 3)
    line = line_input(picture)
    x = np.zeros((1, HEIGHT, 64 * -(-line.shape[1] // 64), 1), np.float32)
    x[0, :, :line.shape[1], 0] = line
    ours = model(x, training=False).numpy()[0][:-(-line.shape[1] // STRIDE)]
    lite = np.log(StringReader(path).probabilities(line))
    assert np.mean(ours.argmax(axis=1) == lite.argmax(axis=1)) > 0.95
    ours_log = ours - np.log(np.exp(ours - ours.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)) - ours.max(axis=1, keepdims=True)
    assert np.abs(np.maximum(ours_log, -20) - np.maximum(lite, -20)).max() < 2.0  # int8 weights, as shipped
    assert not any(layer.trainable for layer in model.layers if "batch_normalization" in layer.name)


def test_no_digit_of_a_tuning_or_held_out_cheque_is_composed_into_training_lines(mnist, realworld):
    import csv

    from livedigits.training.strings import digit_pools, tuning_cheque

    pools = digit_pools(mnist.x_train[:50], mnist.y_train[:50], {"cheque": realworld / "cheque_amounts"},
                        log=lambda *a, **k: None)
    with open(realworld / "cheque_amounts" / "digit_boxes.csv", newline="") as handle:
        cheques = [row["relative_path"] for row in csv.DictReader(handle)]
    kept = [p for p in cheques if not in_validation("cheque", p) and not tuning_cheque(p)]
    assert 0 < len(kept) < len(cheques) - 300
    assert [len(p.inks) for p in pools if p.name == "cheque"] == [len(kept)]  # none too small to keep here


def test_from_keras_exports_and_calibrates_keeping_the_card(tmp_path, realworld):
    import json

    import keras

    from livedigits.strings import StringReader
    from livedigits.training.strings import main

    model = build_model(keras)
    model.save(tmp_path / "blend.keras")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "strings.json").write_text(json.dumps({"name": "kept", "choice": [0.0, 0.0, 0.0]}))
    assert main(["--from-keras", str(tmp_path / "blend.keras"), "--out", str(tmp_path / "out")]) == 0
    card = json.loads((tmp_path / "out" / "strings.json").read_text())
    assert card["name"] == "kept" and "--from-keras" in card["command"]
    assert card["choice"] != [0.0, 0.0, 0.0] and card["calibration_lines"] > 77
    reader = StringReader(tmp_path / "out" / "strings.tflite")
    assert reader.choice == tuple(card["choice"])


def test_distillation_loss_is_zero_for_the_teacher_and_grows_with_the_drift():
    from livedigits.training.strings import distillation_loss

    rng = np.random.default_rng(0)
    teacher = rng.normal(size=(3, 12, NUM_OUTPUTS)).astype(np.float32)
    near = teacher + 0.1 * rng.normal(size=teacher.shape).astype(np.float32)
    far = teacher + 2.0 * rng.normal(size=teacher.shape).astype(np.float32)
    assert abs(float(distillation_loss(teacher, teacher))) < 1e-4
    assert 0 < float(distillation_loss(teacher, near)) < float(distillation_loss(teacher, far))
    assert abs(float(distillation_loss(teacher, teacher + 5.0))) < 1e-4  # a shift of every logit changes nothing


def test_training_with_a_teacher_stays_nearer_to_it(tmp_path):
    import keras

    from livedigits.training.strings import MAX_LABEL, distillation_loss, train

    keras.utils.set_random_seed(3)
    teacher = build_model(keras)
    teacher.save(tmp_path / "teacher.keras")
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 255, (128, HEIGHT, TRAIN_WIDTH), dtype=np.uint8)
    labels = np.full((128, MAX_LABEL), -1, np.int32)
    labels[:, :3] = rng.integers(0, 10, (128, 3))
    data = {"x": rows, "width": np.full(128, TRAIN_WIDTH, np.int32), "y": labels}
    tuning = ([np.zeros((HEIGHT, 64), np.float32)] * 2, ["1", "2"])
    probe = rng.random((4, HEIGHT, TRAIN_WIDTH, 1)).astype(np.float32)
    taught = teacher(probe, training=False)
    drifts = []
    for weight in (0.0, 30.0):
        result = train(data, tuning, tmp_path / f"w{weight}", minutes=0.001, batch_size=8, lr=3e-3,
                       init=str(tmp_path / "teacher.keras"), distill_from=str(tmp_path / "teacher.keras"),
                       distill_weight=weight, log=lambda *a, **k: None)
        drifts.append(float(distillation_loss(taught, result["model"](probe, training=False))))
    assert drifts[1] < drifts[0]
