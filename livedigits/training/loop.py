"""Train the digit CNN, export it for LiteRT, write the model card.

Data: MNIST, synthetic non-digits, and the real-data mix (mix.py: European pen digits, USPS,
cheque digits, sudoku cells, printed digits, letters and blank cells as non-digits, hard cases).
Split: the first 55,000 MNIST training images train, the last 5,000 validate (early stopping,
learning rate schedule, best epoch); each real source's held-out groups are only reported; the
10,000 MNIST test images are used once, for the final report.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..classify import NOT_A_DIGIT, NUM_CLASSES, NUM_DIGITS
from .augment import AugmentSettings
from .data import load_mnist
from .mix import HARD_CASES, REPEATS, hard_cases
from .negatives import KINDS, make_negatives

VALIDATION_SIZE = 5000
QUICK_TRAIN, QUICK_VAL, QUICK_TEST = 2000, 500, 2000


@dataclass
class TrainConfig:
    out_dir: str = "models"
    data: str | None = None
    arch: str = "cnn"               # "cnn" (shipped) or "mlp" (tutorial baseline)
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 2e-3     # cosine decay from this to min_learning_rate over `epochs`
    min_learning_rate: float = 1e-5
    patience: int = 12              # early stopping on validation accuracy
    negatives_ratio: float = 0.12   # "not a digit" examples per training digit
    seed: int = 1
    quick: bool = False
    baseline: bool = True           # also train the MLP baseline for the model card
    training_data: str | None = None  # ../shared/data/training: pen digits, sudoku cells, letters
    realworld: str | None = None      # ../shared/data/realworld: USPS, cheque digits, sudoku photos
    real_mix: bool = True           # add the real sources found there (see mix.py)
    sources: dict = field(default_factory=dict)  # source name -> path, where one lies elsewhere
    mix_cache: str | None = None    # .npz: the normalised mix, reused when it exists
    init: str | None = None         # start from these weights (.keras) instead of random ones
    from_gpu: str | None = None     # weights trained by gpu.py on a GPU machine: no fit here
    distill_from: str | None = None  # .keras teacher whose softened outputs join MNIST's labels (see soft_targets)
    distill_share: float = 0.5      # ... with this share of the target
    augment: AugmentSettings = field(default_factory=AugmentSettings)


def _machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tensorflow as tf
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpus or None, "platform": platform.platform(),
            "python": platform.python_version(), "tensorflow": tf.__version__}


def _as_input(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0)[..., None]


def _dataset(tf, x, y, config: TrainConfig, training: bool):
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if training:
        from .augment import augment_batch
        ds = ds.shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        ds = ds.batch(config.batch_size)
        ds = ds.map(lambda images, labels: (augment_batch(images, config.augment), labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.batch(512)
    return ds.prefetch(tf.data.AUTOTUNE)


def digit_predictions(probabilities: np.ndarray) -> np.ndarray:
    """The digit read: argmax over 0-9 (the not-a-digit column only matters for rejection)."""
    return probabilities[:, :NUM_DIGITS].argmax(axis=1)


# Dynamic-range quantisation: int8 weights, activations quantised per crop at run time. It reads
# MNIST and the real-photo dev sets exactly as the float32 model does (measured: same test
# accuracy, same scene and page results), is 4x faster on a 2-core CPU and 4x smaller. Unlike full
# int8 it keeps a float softmax, so confidences are not rounded to 1/256, and each crop's result
# does not depend on the other crops in its batch.
TFLITE_QUANTISATION = "dynamic range (int8 weights, float32 input/output)"


def export_tflite(model, path: Path) -> None:
    """TFLite with a dynamic batch dimension, so the pipeline batches all crops of a frame."""
    import tempfile

    import tensorflow as tf

    # Via a SavedModel: converting a Keras 3 model's concrete function directly drops its weights.
    with tempfile.TemporaryDirectory() as saved_model:
        model.export(saved_model, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        path.write_bytes(converter.convert())


def save_without_optimizer(model, path: Path) -> None:
    """The shipped .keras holds weights only: optimizer state would triple its size for nothing."""
    import keras

    fresh = keras.models.clone_model(model)
    fresh.set_weights(model.get_weights())
    fresh.save(path)
    deflate_zip(path)


def deflate_zip(path: Path) -> None:
    """Keras stores the zip's members uncompressed; the HDF5 weights inside shrink ~3x deflated."""
    import zipfile

    packed = path.with_suffix(".deflating")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            target.writestr(item.filename, source.read(item.filename))
    packed.replace(path)


def cosine_learning_rate(config: TrainConfig, epoch: int, epochs: int) -> float:
    """Half a cosine from learning_rate down to min_learning_rate: small steps at the end settle the
    weights better than a fixed decay that stops while the rate is still high."""
    progress = epoch / max(1, epochs - 1)
    low, high = config.min_learning_rate, config.learning_rate
    return float(low + 0.5 * (high - low) * (1 + math.cos(math.pi * progress)))


def BestEpoch(keras, patience: int):
    """Early stopping that keeps the weights of the best epoch by validation accuracy, ties going to
    the lower validation loss. (Loss alone picks a mid-schedule epoch: the low-rate tail of a cosine
    schedule reads better but grows a little overconfident.)"""

    class _BestEpoch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.best, self.best_weights, self.waited = None, None, 0

        def on_epoch_end(self, epoch, logs=None):
            score = (round(float(logs["val_accuracy"]), 5), -float(logs["val_loss"]))
            if self.best is None or score >= self.best:
                self.best, self.best_weights, self.waited = score, self.model.get_weights(), 0
                self.best_epoch = epoch + 1
            else:
                self.waited += 1
                if self.waited > patience:
                    self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.best_weights is not None:
                self.model.set_weights(self.best_weights)

    return _BestEpoch()


DISTILL_TEMPERATURE = 2.0  # a teacher's outputs are softened by this before they join the labels


def soft_targets(labels: np.ndarray, teacher_probabilities: np.ndarray, rows: np.ndarray, share: float,
                 temperature: float = DISTILL_TEMPERATURE) -> np.ndarray:
    """One-hot targets, except in ``rows``: there ``share`` of the target is the teacher's output
    softened by ``temperature`` (its runner-up classes: which other digit a picture resembles),
    the rest the label. Used to keep what a network trained on MNIST alone knows of MNIST's
    digits while the real-data mix teaches the rest."""
    targets = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    softened = np.power(np.clip(teacher_probabilities, 1e-12, 1.0), 1.0 / temperature)
    softened /= softened.sum(axis=1, keepdims=True)
    targets[rows] = (1.0 - share) * targets[rows] + share * softened
    return targets


def _fit(tf, keras, model, train_ds, val_ds, config: TrainConfig, epochs: int, soft: bool = False):
    loss = "categorical_crossentropy" if soft else "sparse_categorical_crossentropy"
    metrics = [keras.metrics.CategoricalAccuracy(name="accuracy")] if soft else ["accuracy"]
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss, metrics=metrics)
    callbacks = [
        keras.callbacks.LearningRateScheduler(lambda epoch: cosine_learning_rate(config, epoch, epochs)),
        BestEpoch(keras, config.patience),
    ]
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks,
                        verbose=2)
    return history.history


def train(config: TrainConfig) -> dict:
    """Train, evaluate once on the test set, export, and write everything into ``config.out_dir``."""
    mnist = load_mnist(config.data)  # first: a bad path is reported before TensorFlow's slow, chatty import
    import keras
    import tensorflow as tf

    from .model import build_cnn, build_mlp, multiply_adds

    started = time.time()
    keras.utils.set_random_seed(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    epochs = config.epochs
    if config.quick:
        epochs = 1
        config = TrainConfig(**{**asdict(config), "augment": config.augment, "batch_size": 32})
    num_classes = NUM_CLASSES if config.arch == "cnn" else NUM_DIGITS
    x_train, y_train, x_fit, y_fit, x_v, y_v, x_test, y_test, mix = fit_examples(config, mnist)
    n_val = QUICK_VAL if config.quick else VALIDATION_SIZE  # x_v's MNIST digits; synthetic non-digits follow

    model = build_cnn(num_classes) if config.arch == "cnn" else build_mlp(num_classes)
    if config.init:
        model.set_weights(keras.models.load_model(config.init, compile=False).get_weights())
    fit_started = time.time()
    if config.from_gpu:  # trained by gpu.py (PyTorch) on these same examples: load, then as after a fit
        from .gpu import load_weights

        weights, gpu_run = load_weights(Path(config.from_gpu))
        model.set_weights(weights)
        history = {k: v for k, v in gpu_run["history"].items() if k != "seconds"}
    else:
        targets, val_targets = y_fit, y_v
        if config.distill_from:  # MNIST's rows: the label and the teacher's view of the picture
            targets = _distilled_targets(keras, config, x_fit, y_fit, x_train, repeated=mix is not None)
            val_targets = np.eye(NUM_CLASSES, dtype=np.float32)[y_v]
        train_ds = _dataset(tf, x_fit, targets, config, training=config.arch == "cnn")
        if config.arch != "cnn":  # the tutorial baseline trains on plain MNIST
            train_ds = _dataset(tf, x_fit, y_fit, config, training=False)
        history = _fit(tf, keras, model, train_ds, _dataset(tf, x_v, val_targets, config, False), config, epochs,
                       soft=bool(config.distill_from))
    fit_seconds = time.time() - fit_started
    best_epoch = max(range(len(history["val_accuracy"])),
                     key=lambda e: (round(history["val_accuracy"][e], 5), -history["val_loss"][e])) + 1
    if config.from_gpu:
        best_epoch = gpu_run["best_epoch"]  # its weights are those of the epoch it kept

    # The test set, once.
    x_t = _as_input(x_test)
    keras_probs = model.predict(x_t, batch_size=512, verbose=0)
    name = "digits" if config.arch == "cnn" else "mlp"
    keras_path, tflite_path = out / f"{name}.keras", out / f"{name}.tflite"
    save_without_optimizer(model, keras_path)
    export_tflite(model, tflite_path)
    neg_test = make_negatives(x_test, y_test, 1000 if not config.quick else 200, config.seed + 2)
    lite = tflite_results(tflite_path, keras_probs, x_t, y_test, neg_test if num_classes == NUM_CLASSES else None)

    card = {
        "name": f"livedigits {config.arch}",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": {"keras": keras_path.name, "tflite": tflite_path.name,
                  "tflite_bytes": tflite_path.stat().st_size, "tflite_quantisation": TFLITE_QUANTISATION},
        "data": _card_data(mnist, len(x_train), n_val, len(x_test), y_fit),
        "architecture": {"name": model.name, "layers": [layer.__class__.__name__ for layer in model.layers],
                         "parameters": int(model.count_params()), "multiply_adds_per_digit": multiply_adds(model)},
        "augmentation": config.augment.as_dict() if config.arch == "cnn" else None,
        "training": _card_training(config, history, epochs, best_epoch, fit_seconds),
        "validation_accuracy": round(float(history["val_accuracy"][best_epoch - 1]), 5),
        "test": lite["test"],
        "inference_contract": _inference_contract(num_classes),
    }
    if mix is not None:
        card["data"]["real_mix"] = _card_real_mix(mix)
        card["validation_by_source"] = per_source_results(tflite_path, mix.validation)
    if config.init:
        card["training"]["initial_weights"] = str(config.init)
    if config.distill_from:
        card["training"]["distillation"] = {"teacher": str(config.distill_from), "share": config.distill_share,
                                            "temperature": DISTILL_TEMPERATURE, "rows": "MNIST's training digits"}
    if config.from_gpu:
        card["training"].update(
            epochs_run=gpu_run["epochs_run"], epochs_max=gpu_run["epochs_run"], best_epoch=gpu_run["best_epoch"],
            batch_size=gpu_run["batch_size"], fit_seconds=gpu_run["fit_seconds"],
            learning_rate={"schedule": "half-epoch warm-up, then cosine", "start": gpu_run["learning_rate"],
                           "end": 0.005 * gpu_run["learning_rate"]},
            gpu={"device": gpu_run["device"], "torch": gpu_run["torch"], "weights": str(config.from_gpu),
                 "trainer": "livedigits/training/gpu.py (same network, same examples, augmentation on the GPU"
                            " plus motion blur)"})
    if config.arch == "cnn" and config.baseline:
        card["baseline_mlp"] = _train_baseline(config, x_train, y_train, x_v[:n_val], y_v[:n_val], x_t, y_test)
    card["training"]["total_seconds"] = round(time.time() - started, 1)
    card["training"]["where"] = "GPU machine" if card["training"]["machine"]["gpu"] else f"CPU ({os.cpu_count()} cores)"

    card_name = "model_card.json" if config.arch == "cnn" else "mlp_card.json"
    (out / card_name).write_text(json.dumps(card, indent=2) + "\n")
    from ..evaluation.reports import training_curves_png
    prefix = "" if config.arch == "cnn" else "mlp_"
    training_curves_png(history, out / f"{prefix}training_curves.png", best_epoch)
    _test_pictures(out, prefix, x_test, y_test, lite)
    return card


def fit_examples(config: TrainConfig, mnist) -> tuple:
    """Everything a run trains and checks on: MNIST's training part, the fitted examples (with
    synthetic non-digits and the real-data mix), the validation examples, the test set, the mix."""
    x_train, y_train, x_val, y_val, x_test, y_test = _splits(mnist, config.quick)
    ratio = config.negatives_ratio if config.arch == "cnn" else None
    x_fit, y_fit = _with_negatives(x_train, y_train, ratio, config.seed)
    x_v, y_v = _with_negatives(x_val, y_val, ratio, config.seed + 1)
    x_fit, y_fit, mix = _with_real_mix(config, x_train, y_train, x_fit, y_fit)
    return x_train, y_train, x_fit, y_fit, x_v, y_v, x_test, y_test, mix


def _distilled_targets(keras, config: TrainConfig, x_fit, y_fit, x_train, repeated: bool) -> np.ndarray:
    """``soft_targets`` for the fitted examples with ``config.distill_from`` as the teacher. MNIST's
    copies are the same pictures, so the teacher reads each once and its view is repeated."""
    repeats = REPEATS.get("mnist", 1) - 1 if repeated else 0
    rows = mnist_rows(x_fit, x_train, int(config.negatives_ratio * len(x_train)), repeats)
    teacher = keras.models.load_model(config.distill_from, compile=False)
    taught = teacher.predict(_as_input(x_train), batch_size=512, verbose=0)
    return soft_targets(y_fit, np.tile(taught, (1 + repeats, 1)), rows, config.distill_share)


def mnist_rows(x_fit: np.ndarray, x_train: np.ndarray, negatives: int, repeats: int) -> np.ndarray:
    """Indices of the fitted examples that are MNIST's training digits: the first block, then (after
    its ``negatives``) ``repeats`` more copies, where ``fit_examples`` puts them."""
    n = len(x_train)
    starts = [0] + [n + negatives + k * n for k in range(repeats)]
    rows = np.concatenate([np.arange(start, start + n) for start in starts])
    for start in starts:  # the layout is checked, not assumed
        if start + n > len(x_fit) or not np.array_equal(x_fit[start + n - 1], _as_input(x_train[-1:])[0]):
            raise ValueError("MNIST's rows are not where fit_examples puts them")
    return rows


def pack_for_gpu(config: TrainConfig, path: Path) -> dict:
    """The examples of ``fit_examples`` as uint8 for gpu.py: each distinct picture once (MNIST and
    some sources are repeated in the mix), the fitted examples as indices into them."""
    mnist = load_mnist(config.data)
    _, _, x_fit, y_fit, x_v, y_v, x_test, y_test, mix = fit_examples(config, mnist)
    as_bytes = np.round(x_fit[..., 0] * 255).astype(np.uint8)
    distinct: dict[bytes, int] = {}
    fit_index = np.array([distinct.setdefault(p.tobytes(), len(distinct)) for p in as_bytes], np.int32)
    pictures = np.zeros((len(distinct), 28, 28), np.uint8)
    pictures[fit_index] = as_bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, pictures=pictures, fit_index=fit_index, fit_labels=y_fit.astype(np.uint8),
                        val_x=np.round(x_v[..., 0] * 255).astype(np.uint8), val_y=y_v.astype(np.uint8),
                        test_x=x_test, test_y=y_test.astype(np.uint8))
    return {"examples": len(fit_index), "distinct": len(distinct), "validation": len(y_v),
            "mix": None if mix is None else mix.counts}


def _splits(mnist, quick: bool) -> tuple[np.ndarray, ...]:
    """x/y of training, validation (the last VALIDATION_SIZE training images) and test; --quick takes a few."""
    x_train, y_train = mnist.x_train[:-VALIDATION_SIZE], mnist.y_train[:-VALIDATION_SIZE]
    x_val, y_val = mnist.x_train[-VALIDATION_SIZE:], mnist.y_train[-VALIDATION_SIZE:]
    x_test, y_test = mnist.x_test, mnist.y_test
    if quick:
        x_train, y_train = x_train[:QUICK_TRAIN], y_train[:QUICK_TRAIN]
        x_val, y_val = x_val[:QUICK_VAL], y_val[:QUICK_VAL]
        x_test, y_test = x_test[:QUICK_TEST], y_test[:QUICK_TEST]
    return x_train, y_train, x_val, y_val, x_test, y_test


def _with_negatives(x: np.ndarray, y: np.ndarray, ratio: float | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Network inputs and int32 labels; with a ratio, followed by that many synthetic "not a digit"
    examples per digit, made from these digits."""
    inputs, labels = _as_input(x), y.astype(np.int32)
    if ratio is None:
        return inputs, labels
    negatives = make_negatives(x, y, int(ratio * len(x)), seed)
    return (np.concatenate([inputs, _as_input(negatives)]),
            np.concatenate([labels, np.full(len(negatives), NOT_A_DIGIT, np.int32)]))


def _card_data(mnist, train: int, validation: int, test: int, y_fit: np.ndarray) -> dict:
    return {"source": mnist.source, "sha256": mnist.checksums, "train": train, "validation": validation, "test": test,
            "validation_split": f"last {validation} of the training set",
            "not_a_digit_examples": {"train": int((y_fit == NOT_A_DIGIT).sum()),
                                     "kinds": KINDS, "made_from": "training split only"}}


def _card_training(config: TrainConfig, history: dict, epochs: int, best_epoch: int, fit_seconds: float) -> dict:
    return {"epochs_run": len(history["loss"]), "epochs_max": epochs, "best_epoch": best_epoch,
            "batch_size": config.batch_size, "optimizer": "Adam",
            "learning_rate": {"schedule": "cosine", "start": config.learning_rate, "end": config.min_learning_rate},
            "early_stopping": {"monitor": "val_accuracy, ties to lower val_loss",
                               "patience": config.patience, "restore_best_weights": True},
            "seed": config.seed, "quick": config.quick,
            "fit_seconds": round(fit_seconds, 1), "machine": _machine(),
            "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.items()}}


def _inference_contract(num_classes: int) -> dict:
    """What the runtime feeds the model and reads from it (livedigits.normalize, livedigits.classify)."""
    return {"input_shape": [None, 28, 28, 1], "dtype": "float32", "range": [0.0, 1.0],
            "polarity": "white digit on black background",
            "preprocessing": "MNIST-style: fit in 20x20 keeping aspect, centre of mass at the centre of 28x28",
            "outputs": [str(d) for d in range(NUM_DIGITS)] + (["not_a_digit"] if num_classes == NUM_CLASSES else [])}


def _test_pictures(out: Path, prefix: str, x_test: np.ndarray, y_test: np.ndarray, lite: dict) -> None:
    """The exported model's confusion matrix and misclassified digits on the test set."""
    from ..evaluation.reports import confusion_matrix_png, misclassified_png
    confusion_matrix_png(y_test, lite["predictions"], out / f"{prefix}confusion_matrix.png")
    misclassified_png(x_test, y_test, lite["predictions"], lite["probabilities"], out / f"{prefix}misclassified.png")


def _with_real_mix(config: TrainConfig, x_train, y_train, x_fit, y_fit):
    """The training inputs plus the real-data mix and hard cases made from all training digits
    (CNN runs only; not with --quick or --mnist-only). Returns x, y and the mix (or None)."""
    if config.arch != "cnn" or not config.real_mix or config.quick:
        return x_fit, y_fit, None
    mix = load_or_build_mix(config)
    hard_x, hard_y = hard_cases(np.concatenate([x_train, mix.x]), np.concatenate([y_train, mix.y]),
                                HARD_CASES, config.seed)
    more_mnist = REPEATS.get("mnist", 1) - 1
    return (np.concatenate([x_fit] + [_as_input(x_train)] * more_mnist + [_as_input(mix.x), _as_input(hard_x)]),
            np.concatenate([y_fit] + [y_train.astype(np.int32)] * more_mnist + [mix.y.astype(np.int32), hard_y]), mix)


def _card_real_mix(mix) -> dict:
    return {"training_examples": mix.counts, "repeats": REPEATS, "hard_cases": HARD_CASES,
            "skipped": mix.skipped,
            "split": "by writer, form, puzzle, card or cheque (training/realdata.py in_validation); "
                     "held-out parts never trained on nor used to choose the epoch"}


def load_or_build_mix(config: TrainConfig):
    """The real-data mix, from ``config.mix_cache`` when it exists (normalising ~60,000 pictures
    takes minutes), else built from the source folders and cached there."""
    from .realdata import shared_data_paths, source_paths
    from .mix import Mix, build_mix

    cache = Path(config.mix_cache) if config.mix_cache else None
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=True) as data:
            return Mix(data["x"], data["y"], data["counts"].item(), data["validation"].item(), list(data["skipped"]))
    default_training, default_realworld = shared_data_paths(config.data)
    training = Path(config.training_data) if config.training_data else default_training
    realworld = Path(config.realworld) if config.realworld else default_realworld
    mix = build_mix(source_paths(training, realworld, config.sources), config.seed)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=mix.x, y=mix.y, counts=np.array(mix.counts, dtype=object),
                 validation=np.array(mix.validation, dtype=object), skipped=np.array(mix.skipped))
    return mix


def per_source_results(tflite_path: Path, validation: dict) -> dict:
    """Accuracy and confusion matrix (rows: truth 0-9 then "not a digit"; columns: answer) of the
    exported model on each source's held-out part."""
    from ..classify import Classifier

    classifier = Classifier(tflite_path)
    results = {}
    for name, (x, y) in validation.items():
        probs = classifier.predict_in_chunks(_as_input(x))
        answer = probs.argmax(1)
        confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), int)
        np.add.at(confusion, (np.asarray(y, int), answer), 1)
        digits = np.asarray(y) < NUM_DIGITS
        results[name] = {"examples": int(len(y)), "digits": int(digits.sum()),
                         "digit_accuracy": round(float((answer[digits] == np.asarray(y)[digits]).mean()), 5) if digits.any() else None,
                         "accuracy_all_classes": round(float((answer == np.asarray(y)).mean()), 5),
                         "confusion": confusion.tolist()}
    return results


def tflite_results(tflite_path: Path, keras_probs: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                   negatives: np.ndarray | None) -> dict:
    """The exported model on the test set (and its Keras twin's accuracy), checked against the twin's
    probabilities."""
    from ..classify import Classifier

    classifier = Classifier(tflite_path)
    probs = classifier.predict_in_chunks(x_test)
    keras_pred, pred = digit_predictions(keras_probs), digit_predictions(probs)
    test = {
        "keras_accuracy": round(float((keras_pred == y_test).mean()), 5),
        "tflite_accuracy": round(float((pred == y_test).mean()), 5),
        "tflite_keras_agreement": round(float((keras_pred == pred).mean()), 5),
        "tflite_max_abs_probability_difference": float(np.abs(keras_probs - probs).max()),
        "per_class_accuracy": {str(d): round(float((pred[y_test == d] == d).mean()), 5) for d in range(NUM_DIGITS)},
        "errors": int((pred != y_test).sum()),
    }
    if negatives is not None:
        negative_probs = classifier.predict_in_chunks(_as_input(negatives))
        test["mnist_digits_rejected_as_not_a_digit"] = round(float((probs.argmax(1) == NOT_A_DIGIT).mean()), 5)
        test["synthetic_negatives_rejected"] = round(float((negative_probs.argmax(1) == NOT_A_DIGIT).mean()), 5)
    return {"test": test, "predictions": pred, "probabilities": probs}


def reexport(out_dir: str, data: str | None = None, seed: int = 1, mix_cache: str | None = None,
             card_from: str | Path = Path("models") / "model_card.json") -> dict:
    """Export the trained ``digits.keras`` in ``out_dir`` to TFLite again (after a change to the
    export, e.g. quantisation, or for a network made by ``train.py blend``) and update the model
    card's TFLite numbers and report pictures, without training. The test set is only used to check
    the conversion and to report.

    Without a card in ``out_dir`` (a blend), the card of ``card_from`` (the shipped model's, which the
    blend grew from) is the start; the blend's record (``digits.keras.blend.json``) goes into it, with
    the MNIST validation digits read through LiteRT, which is what a blend is chosen on. With
    ``mix_cache`` (the real-data mix, built there first if missing), every source's held-out part is
    read again (``validation_by_source``); without it, a re-export keeps the card's numbers and a
    new network drops them (they were its predecessor's)."""
    mnist = load_mnist(data)
    import keras

    from .blend import blend_record_path

    out = Path(out_dir)
    card_path = out / "model_card.json"
    new_network = not card_path.is_file()
    card = json.loads((card_path if not new_network else Path(card_from)).read_text())
    if new_network:  # the card it starts from describes its predecessor
        card["previous_model"] = {"date": card["date"], "test": {k: card["test"][k] for k in ("keras_accuracy", "tflite_accuracy")}}
    keras_path = out / card["files"]["keras"]
    model = keras.models.load_model(keras_path, compile=False)
    tflite_path = out / card["files"]["tflite"]
    export_tflite(model, tflite_path)
    x_t = _as_input(mnist.x_test)
    keras_probs = model.predict(x_t, batch_size=512, verbose=0)
    negatives = make_negatives(mnist.x_test, mnist.y_test, 1000, seed + 2)
    lite = tflite_results(tflite_path, keras_probs, x_t, mnist.y_test, negatives)
    card["files"].update(tflite_bytes=tflite_path.stat().st_size, tflite_quantisation=TFLITE_QUANTISATION)
    card["test"].update(lite["test"])
    card["exported"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    record = blend_record_path(keras_path)
    if record.is_file():
        from ..classify import Classifier

        _, _, x_val, y_val, _, _ = _splits(mnist, quick=False)
        val_probs = Classifier(tflite_path).predict_in_chunks(_as_input(x_val))
        card["date"] = card["exported"]
        card["blend"] = {**json.loads(record.read_text()),
                         "made_by": f"python train.py blend ... --out {keras_path}: the networks' weights "
                                    "averaged tensor by tensor with these shares",
                         "mnist_validation_litert": round(float((digit_predictions(val_probs) == y_val).mean()), 5)}
        card["validation_accuracy"] = card["blend"]["mnist_validation_litert"]
        card["training"]["note"] = ("a blend of trained networks (see blend); the training fields are those of "
                                    "the first of them")
    if mix_cache:  # the cached mix (built and cached there first when missing, as training does)
        mix = load_or_build_mix(TrainConfig(out_dir=str(out), data=data, mix_cache=mix_cache))
        card["validation_by_source"] = per_source_results(tflite_path, mix.validation)
    elif new_network and "validation_by_source" in card:
        del card["validation_by_source"]  # they were another network's
        print("reexport: no --mix-cache, so no per-source validation for this network", file=sys.stderr)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    _test_pictures(out, "", mnist.x_test, mnist.y_test, lite)
    return card


def _train_baseline(config, x_train, y_train, x_val, y_val, x_test, y_test) -> dict:
    """The dense network of the classic tutorials, trained on plain MNIST, for comparison only."""
    import keras
    import tensorflow as tf

    from .model import build_mlp

    model = build_mlp(NUM_DIGITS)
    epochs = 1 if config.quick else 15
    history = _fit(tf, keras, model, _dataset(tf, _as_input(x_train), y_train.astype(np.int32), config, False),
                   _dataset(tf, x_val, y_val.astype(np.int32), config, False), config, epochs)
    pred = model.predict(x_test, batch_size=512, verbose=0).argmax(1)
    return {"architecture": "Flatten-Dense512-Dropout-Dense512-Dropout-Dense10", "augmentation": None,
            "parameters": int(model.count_params()), "epochs_run": len(history["loss"]),
            "test_accuracy": round(float((pred == y_test).mean()), 5)}
