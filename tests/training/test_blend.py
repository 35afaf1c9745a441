"""Weight-space blends of two networks (train.py blend)."""
import numpy as np
import pytest

from livedigits.training.blend import blend_weights, main, mean_weights


def test_blend_is_the_weighted_mean_tensor_by_tensor():
    first = [np.zeros((2, 3), np.float32), np.full(4, 2.0, np.float32)]
    second = [np.ones((2, 3), np.float32), np.full(4, 6.0, np.float32)]
    blended = blend_weights(first, second, 0.25)
    np.testing.assert_allclose(blended[0], 0.25)
    np.testing.assert_allclose(blended[1], 3.0)
    assert blended[0].dtype == np.float32
    np.testing.assert_array_equal(blend_weights(first, second, 0.0)[1], first[1])
    np.testing.assert_array_equal(blend_weights(first, second, 1.0)[1], second[1])


def test_blend_refuses_other_architectures_and_alphas_outside_0_1():
    with pytest.raises(ValueError, match="architecture"):
        blend_weights([np.zeros(3)], [np.zeros(4)], 0.5)
    with pytest.raises(ValueError, match="architecture"):
        blend_weights([np.zeros(3)], [np.zeros(3), np.zeros(1)], 0.5)
    with pytest.raises(ValueError, match="alpha"):
        blend_weights([np.zeros(3)], [np.zeros(3)], 1.5)


def test_mean_of_several_networks():
    networks = [[np.full(2, v, np.float32)] for v in (1.0, 2.0, 6.0)]
    np.testing.assert_allclose(mean_weights(networks)[0], 3.0)
    np.testing.assert_allclose(mean_weights(networks, [0.5, 0.5, 0.0])[0], 1.5)


def _dense(keras, value: float):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])
    return model


def test_blend_command_writes_the_blended_model(tmp_path, capsys):
    import keras

    _dense(keras, 1.0).save(tmp_path / "a.keras")
    _dense(keras, 3.0).save(tmp_path / "b.keras")
    assert main([str(tmp_path / "a.keras"), str(tmp_path / "b.keras"), "--alpha", "0.75",
                 "--out", str(tmp_path / "c.keras")]) == 0
    blended = keras.models.load_model(tmp_path / "c.keras", compile=False)
    for weights in blended.get_weights():
        np.testing.assert_allclose(weights, 2.5)
    # another architecture: one line, exit 2
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]).save(tmp_path / "d.keras")
    assert main([str(tmp_path / "a.keras"), str(tmp_path / "d.keras"), "--alpha", "0.5",
                 "--out", str(tmp_path / "e.keras")]) == 2
    assert "architecture" in capsys.readouterr().err
    assert not (tmp_path / "e.keras").exists()
    # without --alpha: the mean
    assert main([str(tmp_path / "a.keras"), str(tmp_path / "b.keras"), "--out", str(tmp_path / "m.keras")]) == 0
    for weights in keras.models.load_model(tmp_path / "m.keras", compile=False).get_weights():
        np.testing.assert_allclose(weights, 2.0)


def test_blend_command_takes_shares_and_records_the_recipe(tmp_path, capsys):
    import json

    import keras

    from livedigits.training.blend import blend_record_path

    for name, value in (("a", 1.0), ("b", 3.0), ("c", 5.0)):
        _dense(keras, value).save(tmp_path / f"{name}.keras")
    paths = [str(tmp_path / f"{name}.keras") for name in "abc"]
    assert main(paths[:2] + ["--alpha", "0.5", "--out", str(tmp_path / "ab.keras")]) == 0
    assert main([str(tmp_path / "ab.keras"), paths[2], "--shares", "0.75", "0.25", "--out", str(tmp_path / "abc.keras")]) == 0
    for weights in keras.models.load_model(tmp_path / "abc.keras", compile=False).get_weights():
        np.testing.assert_allclose(weights, 0.75 * 2.0 + 0.25 * 5.0)
    record = json.loads(blend_record_path(tmp_path / "abc.keras").read_text())
    assert record["shares"] == [0.75, 0.25] and record["networks"][1] == paths[2]
    assert record["blends"][str(tmp_path / "ab.keras")]["networks"] == paths[:2]  # the blend inside, too
    # shares that do not fit: a usage error (exit 2), nothing written
    for bad in (["--shares", "0.5"], ["--shares", "0.7", "0.7"], ["--shares", "0.5", "0.5", "--alpha", "0.5"]):
        with pytest.raises(SystemExit) as stop:
            main(paths[:2] + bad + ["--out", str(tmp_path / "bad.keras")])
        assert stop.value.code == 2
    assert not (tmp_path / "bad.keras").exists()
