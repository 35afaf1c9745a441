"""A --quick training run does everything the full run does, on 2,000 images and one epoch."""
import json
import subprocess
import sys

from conftest import ROOT


def test_quick_run_trains_exports_and_writes_card(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--seed", "3", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("digits.keras", "digits.tflite", "model_card.json", "training_curves.png",
                 "confusion_matrix.png", "misclassified.png"):
        assert (tmp_path / name).stat().st_size > 1000, name
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["training"]["quick"] is True and card["data"]["train"] == 2000
    assert card["test"]["tflite_accuracy"] > 0.6  # chance is 0.1
    assert card["test"]["tflite_keras_agreement"] >= 0.99
    assert card["architecture"]["parameters"] <= 1_500_000
    assert card["architecture"]["multiply_adds_per_digit"] <= 25_000_000
    assert card["augmentation"]["rotation_deg"] > 0 and "baseline_mlp" in card

    # a blend of trained networks (here the run with itself) is exported with a card of its own
    from livedigits.training.blend import main as blend

    soup = tmp_path / "soup"
    assert blend([str(tmp_path / "digits.keras")] * 2 + ["--shares", "0.3", "0.7", "--out", str(soup / "digits.keras")]) == 0
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--export-only", "--out", str(soup)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    blended = json.loads((soup / "model_card.json").read_text())
    assert blended["blend"]["shares"] == [0.3, 0.7] and len(blended["blend"]["networks"]) == 2
    # the same network, read on the whole test set (the quick run read a part)
    assert blended["test"]["tflite_accuracy"] > 0.6 and blended["test"]["tflite_keras_agreement"] >= 0.99
    assert blended["previous_model"]["test"]["tflite_accuracy"] == json.loads((ROOT / "models" / "model_card.json").read_text())["test"]["tflite_accuracy"]
    assert 0.5 < blended["blend"]["mnist_validation_litert"] == blended["validation_accuracy"]
    assert "validation_by_source" not in blended  # no mix given: numbers of another network are not kept
    assert (soup / "digits.tflite").stat().st_size > 1000 and (soup / "confusion_matrix.png").is_file()


def test_missing_data_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--data", str(tmp_path / "nope"),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr


def test_soft_targets_mix_the_teachers_softened_view_into_chosen_rows_only():
    import numpy as np

    from livedigits.training.loop import NUM_CLASSES, soft_targets

    labels = np.array([3, 7, 10])
    teacher = np.full((3, NUM_CLASSES), 0.001, np.float32)
    teacher[:, 8] = 1 - 0.001 * (NUM_CLASSES - 1)  # the teacher sees an 8 everywhere
    targets = soft_targets(labels, teacher[[0]], np.array([0]), share=0.5)
    assert np.allclose(targets.sum(axis=1), 1.0)
    assert targets[1, 7] == 1.0 and targets[2, 10] == 1.0  # rows not chosen keep their one-hot label
    assert 0.5 < targets[0, 3] < 0.55 and 0.3 < targets[0, 8] < 0.5  # half label, half the softened teacher
    softer = soft_targets(labels, teacher[[0]], np.array([0]), share=0.5, temperature=4.0)
    assert softer[0, 8] < targets[0, 8] and softer[0, 0] > targets[0, 0]  # a higher temperature spreads it


def test_mnist_rows_are_where_fit_examples_puts_mnist(mnist):
    import numpy as np
    import pytest

    from livedigits.training.loop import TrainConfig, _as_input, fit_examples, mnist_rows

    config = TrainConfig(quick=True)
    x_train, _, x_fit, _, _, _, _, _, _ = fit_examples(config, mnist)
    rows = mnist_rows(x_fit, x_train, int(config.negatives_ratio * len(x_train)), 0)
    assert np.array_equal(x_fit[rows], _as_input(x_train))
    doubled = np.concatenate([x_fit, _as_input(x_train)])  # one more copy after the negatives, as the mix does
    assert len(mnist_rows(doubled, x_train, len(x_fit) - len(x_train), 1)) == 2 * len(x_train)
    with pytest.raises(ValueError):
        mnist_rows(x_fit, x_train, 5, 1)  # nothing there: an error, not wrong rows


def test_a_missing_teacher_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--distill-from", str(tmp_path / "nope.keras"),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"train.py: error: --distill-from: {tmp_path / 'nope.keras'} does not exist"


def test_distilled_targets_give_every_copy_of_a_mnist_digit_the_same_target(tmp_path, mnist):
    import keras
    import numpy as np

    from livedigits.training.loop import TrainConfig, _as_input, _distilled_targets
    from livedigits.training.model import build_cnn

    build_cnn().save(tmp_path / "teacher.keras")
    x_train, y_train = mnist.x_train[:40], mnist.y_train[:40].astype(np.int32)
    negatives = int(TrainConfig().negatives_ratio * len(x_train))
    x_fit = np.concatenate([_as_input(x_train), np.zeros((negatives, 28, 28, 1), np.float32), _as_input(x_train)])
    y_fit = np.concatenate([y_train, np.full(negatives, 10, np.int32), y_train])
    config = TrainConfig(distill_from=str(tmp_path / "teacher.keras"), distill_share=0.5)
    targets = _distilled_targets(keras, config, x_fit, y_fit, x_train, repeated=True)  # the mix repeats MNIST once
    assert np.allclose(targets.sum(axis=1), 1.0)
    assert np.array_equal(targets[:40], targets[40 + negatives:])
    assert (targets[np.arange(40), y_train] < 1.0).all() and (targets[np.arange(40), y_train] >= 0.5).all()
    assert (targets[40:40 + negatives, 10] == 1.0).all()  # the negatives keep their one-hot label
