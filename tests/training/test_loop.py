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


def test_missing_data_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--quick", "--data", str(tmp_path / "nope"),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "does not exist" in result.stderr
