"""The shipped model: LiteRT accuracy on the full MNIST test set and agreement with its Keras twin."""
import json

import numpy as np
import pytest

from conftest import ROOT
from livedigits.classify import Classifier
from livedigits.training.loop import digit_predictions

MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def test_inputs(mnist):
    return (mnist.x_test.astype(np.float32) / 255.0)[..., None], mnist.y_test


@pytest.fixture(scope="module")
def lite_probabilities(test_inputs):
    return Classifier(MODELS / "digits.tflite").predict_in_chunks(test_inputs[0])


def test_tflite_reaches_99_70_percent_on_mnist_test(lite_probabilities, test_inputs):
    # issue #13's floor. 99.70 % measured: a blend of the model trained on real data (99.63 %), the
    # same fine-tuned with the MNIST-only model as teacher (99.66 %) and that MNIST-only model
    # (99.70 % on its own, 72 % on held-out real digits); see the card's "blend"
    accuracy = (digit_predictions(lite_probabilities) == test_inputs[1]).mean()
    assert accuracy >= 0.9970, f"{100 * accuracy:.2f} %"


def test_tflite_agrees_with_keras(lite_probabilities, test_inputs):
    keras_model = Classifier(MODELS / "digits.keras")
    keras_probabilities = keras_model.predict_in_chunks(test_inputs[0])
    agreement = (digit_predictions(keras_probabilities) == digit_predictions(lite_probabilities)).mean()
    assert agreement >= 0.999


def test_model_card_matches_the_shipped_files(lite_probabilities, test_inputs):
    card = json.loads((MODELS / "model_card.json").read_text())
    measured = (digit_predictions(lite_probabilities) == test_inputs[1]).mean()
    assert abs(card["test"]["tflite_accuracy"] - measured) < 1e-4
    assert card["training"]["quick"] is False and card["data"]["train"] == 55000
    assert card["architecture"]["parameters"] <= 1_500_000
    assert card["architecture"]["multiply_adds_per_digit"] <= 25_000_000
    assert card["inference_contract"]["input_shape"] == [None, 28, 28, 1]
    assert card["baseline_mlp"]["test_accuracy"] < card["test"]["tflite_accuracy"]
    assert sum(f.stat().st_size for f in MODELS.iterdir()) < 8_000_000
