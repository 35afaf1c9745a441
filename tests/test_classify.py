"""Batched classification: a single crop runs on one thread, a frame's crops on several, and
every batch size and thread count reads the same probabilities."""
import numpy as np

from livedigits.classify import SMALL_BATCH, Classifier, default_threads


def test_small_and_large_batches_read_the_same_and_use_their_own_threads(capfd):
    crops = np.random.default_rng(0).random((30 * SMALL_BATCH, 28, 28, 1)).astype(np.float32)
    classifier = Classifier()
    capfd.readouterr()
    large = classifier.predict(crops)
    small = np.concatenate([classifier.predict(crops[i:i + SMALL_BATCH]) for i in range(0, len(crops), SMALL_BATCH)])
    assert np.array_equal(large, small)
    assert sorted(classifier._interpreters) == sorted({1, default_threads()})
    assert "XNNPACK" not in capfd.readouterr().err  # the second interpreter's first call is muted too


def test_threads_asked_for_are_used_for_every_batch():
    crops = np.random.default_rng(1).random((2 * SMALL_BATCH, 28, 28, 1)).astype(np.float32)
    classifier = Classifier(num_threads=2)
    assert np.array_equal(classifier.predict(crops), Classifier(num_threads=1).predict(crops))
    classifier.predict(crops[:5])
    assert sorted(classifier._interpreters) == [2]
