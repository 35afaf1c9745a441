"""The GPU path's hand-offs: packed data, weights in Keras order, the Keras twin that exports them.

(PyTorch itself is not installed here: the torch and Keras networks were checked to give the same
outputs on the same weights, to 1e-6, when gpu.py was written; these tests hold the parts around it.)
"""
import subprocess
import sys

import numpy as np

from conftest import ROOT
from livedigits.training.gpu import load_weights, save_weights
from livedigits.training.loop import TrainConfig, fit_examples, pack_for_gpu
from livedigits.training.strings import _flat, _unflat


def test_packed_digits_rebuild_every_fitted_example(tmp_path, mnist):
    config = TrainConfig(quick=True)
    path = tmp_path / "digits_data.npz"
    summary = pack_for_gpu(config, path)
    _, _, x_fit, y_fit, x_v, y_v, _, _, _ = fit_examples(config, mnist)
    with np.load(path) as packed:
        rebuilt = packed["pictures"][packed["fit_index"]]
        assert np.array_equal(rebuilt, np.round(x_fit[..., 0] * 255).astype(np.uint8))
        assert np.array_equal(packed["fit_labels"], y_fit)
        assert np.array_equal(packed["val_y"], y_v) and packed["val_x"].shape == (len(y_v), 28, 28)
        assert len(packed["test_y"]) == 2000
    assert summary["examples"] == len(y_fit) and summary["distinct"] <= len(y_fit)


def test_weights_load_into_the_keras_twin_in_order(tmp_path):
    import keras

    from livedigits.training.model import build_cnn

    source = build_cnn()
    weights = [np.random.default_rng(i).normal(size=w.shape).astype(np.float32) for i, w in enumerate(source.get_weights())]
    weights = [np.abs(w) + 0.5 if "variance" in v.path else w for w, v in zip(weights, source.weights)]
    save_weights(tmp_path / "w.npz", weights, {"best_epoch": 3, "history": {"loss": [1.0, 0.5]}})
    loaded, history = load_weights(tmp_path / "w.npz")
    assert history["best_epoch"] == 3 and history["history"]["loss"] == [1.0, 0.5]
    twin = build_cnn()
    twin.set_weights(loaded)
    x = np.random.default_rng(9).random((4, 28, 28, 1)).astype(np.float32)
    source.set_weights(weights)
    assert np.allclose(twin(x, training=False), source(x, training=False), atol=1e-6)
    assert keras.backend.backend() == "tensorflow"


def test_pictures_of_many_sizes_survive_the_flat_packing():
    rng = np.random.default_rng(2)
    pictures = [rng.integers(0, 256, size=(h, w), dtype=np.uint8) for h, w in ((3, 5), (10, 1), (7, 7))]
    packed = _flat(pictures, "p")
    assert set(packed) == {"p_flat", "p_shapes"}
    assert all(np.array_equal(a, b) for a, b in zip(_unflat(packed, "p"), pictures))


def test_gpu_trainer_without_its_data_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "livedigits.training.gpu", "digits", "--data", str(tmp_path)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "train.py pack" in result.stderr


def test_pack_with_a_missing_mnist_is_a_one_line_error(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "pack", "--data", str(tmp_path / "nope"),
                             "--out", str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not exist" in result.stderr.strip().splitlines()[-1]


def test_both_networks_run_side_by_side_each_with_its_own_log(tmp_path):
    from livedigits.training.gpu import DIGITS_FILE, STRINGS_FILE, train_both

    (tmp_path / DIGITS_FILE).write_bytes(b"")
    missing = subprocess.run([sys.executable, "-m", "livedigits.training.gpu", "both", "--data", str(tmp_path)],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode == 2 and STRINGS_FILE in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / STRINGS_FILE).write_bytes(b"")
    out = tmp_path / "out"
    # here each child stops at once with its own one-line error (no PyTorch, or empty data): the parent
    # waits for both, keeps their logs and answers with the worse status
    assert train_both(["--data", str(tmp_path), "--out", str(out)], out) != 0
    for network in ("digits", "strings"):
        text = (out / f"{network}.log").read_text()
        assert text.strip() and "gpu" in text.lower()
