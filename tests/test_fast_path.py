"""The fast path (all crops in one LiteRT call) reads exactly what a slow reference reads: the same
pipeline with the shipped model called once per crop, as the tutorials do. The shipped TFLite model
is quantised (int8 weights); its float Keras twin must read the same digits."""
import numpy as np
import pytest

from conftest import ROOT
from livedigits import Recognizer
from livedigits.classify import Classifier
from livedigits.synthetic.scenes import make_scenes


class OneCropAtATime:
    """Reference classifier: one call per crop (the shipped model by default)."""

    def __init__(self, path=None):
        self.model = Classifier(path)
        self.calls = 0

    def predict(self, crops):
        self.calls += len(crops)
        rows = [self.model.predict(crop[None]) for crop in crops]
        return np.concatenate(rows) if rows else np.zeros((0, 11), np.float32)


@pytest.fixture(scope="module")
def scenes(mnist):
    return make_scenes(mnist.x_test, mnist.y_test, 8, seed=11)


def test_fast_path_matches_the_one_crop_reference(scenes):
    fast, reference = Recognizer(), Recognizer(OneCropAtATime())
    for scene in scenes:
        quick, slow = fast.recognize(scene.image), reference.recognize(scene.image)
        assert quick.text == slow.text
        assert [(d.x, d.y, d.w, d.h, d.digit) for d in quick.digits] == [(d.x, d.y, d.w, d.h, d.digit) for d in slow.digits]
        for a, b in zip(quick.digits, slow.digits):
            assert abs(a.confidence - b.confidence) < 1e-4
    assert reference.classifier.calls > 0


def test_batched_classification_equals_single_calls(mnist):
    classifier = Classifier()
    crops = (mnist.x_test[:64].astype(np.float32) / 255.0)[..., None]
    batched = classifier.predict(crops)
    single = np.concatenate([classifier.predict(crop[None]) for crop in crops])
    assert np.abs(batched - single).max() < 1e-4


def test_quantised_model_reads_like_its_float_keras_twin(scenes):
    """Quantisation is no shortcut: the same digits as the float model, confidences within 0.05."""
    quantised, float_twin = Recognizer(), Recognizer(OneCropAtATime(ROOT / "models" / "digits.keras"))
    for scene in scenes:
        fast, slow = quantised.recognize(scene.image), float_twin.recognize(scene.image)
        assert [(d.x, d.y, d.digit) for d in fast.digits] == [(d.x, d.y, d.digit) for d in slow.digits]
        for a, b in zip(fast.digits, slow.digits):
            assert abs(a.confidence - b.confidence) < 0.05
