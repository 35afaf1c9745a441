import gzip

import numpy as np
import pytest

from conftest import ROOT
from livedigits.training.data import ENV_VAR, DataError, load_mnist


def test_idx_folder_has_original_shapes_and_order(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_test.shape == (10000, 28, 28)
    assert mnist.x_train.dtype == np.uint8
    assert list(mnist.y_train[:5]) == [5, 0, 4, 1, 9]  # MNIST's documented first labels
    assert len(mnist.checksums) == 4


def test_npz_gives_the_same_arrays(mnist, tmp_path):
    npz = tmp_path / "mnist.npz"
    np.savez(npz, x_train=mnist.x_train[:100], y_train=mnist.y_train[:100],
             x_test=mnist.x_test[:50], y_test=mnist.y_test[:50])
    small = load_mnist(npz)
    assert np.array_equal(small.x_train, mnist.x_train[:100])
    assert np.array_equal(small.y_test, mnist.y_test[:50])


def test_path_option_wins_over_environment(mnist, tmp_path, monkeypatch):
    npz = tmp_path / "tiny.npz"
    np.savez(npz, x_train=mnist.x_train[:10], y_train=mnist.y_train[:10],
             x_test=mnist.x_test[:10], y_test=mnist.y_test[:10])
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    assert len(load_mnist(npz).x_train) == 10


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_missing_path_is_a_one_line_error(tmp_path, monkeypatch, how):
    missing = tmp_path / "no-such-mnist"
    if how == "environment":
        monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataError) as err:
        load_mnist(missing if how == "argument" else None)
    message = str(err.value)
    assert "\n" not in message and str(missing) in message
    assert (ENV_VAR in message) == (how == "environment")


def test_malformed_files_are_named(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="broken.npz"):
        load_mnist(tmp_path / "broken.npz")
    folder = tmp_path / "idx"
    folder.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(folder / f"{stem}.gz", "wb") as handle:
            handle.write(b"\x00\x00\x08\x03" + b"\x00" * 4)  # right magic, truncated body
    with pytest.raises(DataError, match="truncated|too short|magic"):
        load_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels"):
        load_mnist(folder)


def test_scripts_report_a_missing_mnist_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, ENV_VAR: str(tmp_path / "no-such-mnist")}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scenes.py"), "--count", "1"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no-such-mnist" in done.stderr.strip().splitlines()[-1]


def test_without_path_or_environment_the_shared_copy_beside_the_checkout_is_read(monkeypatch, tmp_path):
    """CI and this project's machines have no internet: ../shared/data/mnist is used before any download."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    shared = ROOT.parent / "shared" / "data" / "mnist"
    assert shared.is_dir(), "the project's checkout has ../shared/data/mnist beside it"
    loaded = load_mnist()
    assert loaded.source == str(shared.resolve()) or loaded.source == str(shared)
    assert loaded.x_test.shape == (10000, 28, 28)
