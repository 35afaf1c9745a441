"""Training the string reader (``livedigits/strings.py``): a small CNN + 1-D convolutions + CTC.

Data (built once and cached, ``--cache``):
- synthetic handwritten strings composed from the real digit pools' *training* parts (MNIST's first
  55,000, European pen digits, USPS and the cheque digits of ``digit_boxes.csv``, all split by
  writer/form/cheque as in ``realdata``) on paper and cheque backgrounds (``synthetic/strings.py``);
- printed strings rendered from the installed fonts;
- the real cheque amounts of the training split, each in several crops and small distortions.
The cheques split by ``realdata.in_validation`` (the digit model's held-out cheques) are never read
here. Of the remaining cheques, a further 10 % (by another hash of the image) choose the epoch and
the reader's calibration ("tuning"); the page photos are not read at all.

    python train.py strings --out models --minutes 50
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from livedigits.evaluation.scoring import edit_distance
from livedigits.strings import HEIGHT, NUM_OUTPUTS, STRIDE, ctc_greedy, line_input
from livedigits.synthetic.strings import DigitPool, compose, ink_from_dark, ink_from_light, paper_from_cheque, printed
from livedigits.training.realdata import (SourceMissing, cheque_digits, european_pen_digits, in_validation,
                                          usps_digits)

TRAIN_WIDTH = 192        # every training line is padded (or squeezed) to this width
MAX_LABEL = 16
TUNING_SHARE = 0.10
CHEQUE_COPIES = 16       # crops and distortions of each training cheque per dataset


def tuning_cheque(path: str) -> bool:
    digest = hashlib.sha256(f"cheque-strings-tuning/{path}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2 ** 32 < TUNING_SHARE


def cheque_amounts(folder: Path) -> list[dict]:
    """Every cheque amount with its label, digit-box union and split: validation (the digit model's
    held-out cheques), tuning, or train."""
    boxes: dict[str, list] = {}
    with open(folder / "digit_boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes.setdefault(row["relative_path"], []).append([int(row[k]) for k in ("x", "y", "w", "h")])
    items = []
    with open(folder / "labels.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            path = row["relative_path"]
            split = "validation" if in_validation("cheque", path) else "tuning" if tuning_cheque(path) else "train"
            b = np.array(boxes.get(path, []))
            union = None if b.size == 0 else (b[:, 0].min(), b[:, 1].min(), (b[:, 0] + b[:, 2]).max(), (b[:, 1] + b[:, 3]).max())
            items.append({"path": path, "label": row["label"], "split": split, "union": union})
    return items


def digit_pools(mnist_x: np.ndarray, mnist_y: np.ndarray, paths: dict, log=print) -> list[DigitPool]:
    pools = [DigitPool("mnist", *_inks([ink_from_light(x) for x in mnist_x], mnist_y))]
    for name, load, dark in (("european_pen", european_pen_digits, True), ("usps", usps_digits, False),
                             ("cheque", cheque_digits, True)):
        try:
            source = load(paths[name]).part(False)
        except (SourceMissing, KeyError, TypeError) as err:
            log(f"strings: skipped {name} ({err})", file=sys.stderr)
            continue
        if name == "cheque":  # the tuning cheques' digits stay out too: they choose the epoch
            source = source.part_where(np.array([not tuning_cheque(g) for g in source.groups], bool))
        convert = ink_from_dark if dark else ink_from_light
        pools.append(DigitPool(name, *_inks([convert(p) for p in source.pictures], source.labels)))
        log(f"strings: pool {name}: {len(pools[-1].inks)} digits", file=sys.stderr)
    return pools


def _inks(inks: list, labels) -> tuple[list, np.ndarray]:
    keep = [i for i, ink in enumerate(inks) if ink is not None and ink.shape[0] >= 6]
    return [inks[i] for i in keep], np.asarray(labels)[keep]


def cheque_crop(gray: np.ndarray, union, rng) -> np.ndarray:
    """A training cheque as the recogniser may crop it: the whole scan or the digits' box with a
    random margin, with a small rotation, shear and contrast change."""
    h, w = gray.shape
    if union is not None and rng.random() < 0.7:
        x0, y0, x1, y1 = union
        ink_h = y1 - y0
        mx0, mx1 = (rng.uniform(0.03, 0.5, 2) * ink_h).astype(int)
        my0, my1 = (rng.uniform(0.03, 0.3, 2) * ink_h).astype(int)
        gray = gray[max(0, y0 - my0):min(h, y1 + my1), max(0, x0 - mx0):min(w, x1 + mx1)]
    h, w = gray.shape
    shear = rng.normal(0, 0.08)
    angle = rng.normal(0, 1.5)
    rot = np.vstack([cv2.getRotationMatrix2D((w / 2, h / 2), angle, rng.uniform(0.95, 1.05)), [0, 0, 1]])
    matrix = rot @ np.array([[1, shear, -shear * h / 2], [0, 1, 0], [0, 0, 1]])
    gray = cv2.warpAffine(gray, matrix[:2], (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:
        gray = cv2.GaussianBlur(gray, (0, 0), rng.uniform(0.3, 1.0))
    gray = gray.astype(np.float32) * rng.uniform(0.8, 1.1) + rng.uniform(-20, 20)
    return np.clip(gray, 0, 255).astype(np.uint8)


def to_training_row(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """A grey line -> (HEIGHT, TRAIN_WIDTH) uint8 ink map (squeezed if wider) and its used width."""
    line = line_input(gray)
    if line.shape[1] > TRAIN_WIDTH:
        line = cv2.resize(line, (TRAIN_WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    row = np.zeros((HEIGHT, TRAIN_WIDTH), np.uint8)
    row[:, :line.shape[1]] = np.round(line * 255).astype(np.uint8)
    return row, line.shape[1]


def build_dataset(mnist, paths: dict, cheque_folder: Path, synthetic: int, printed_count: int, seed: int,
                  log=print) -> dict:
    rng = np.random.default_rng(seed)
    fit = slice(0, 55000)  # MNIST's last 5,000 training images and the test set are left alone
    pick = rng.choice(55000, 25000, replace=False)
    pools = digit_pools(mnist.x_train[fit][pick], mnist.y_train[fit][pick], paths, log)
    weights = {"mnist": 0.3, "european_pen": 0.2, "usps": 0.1, "cheque": 0.4}
    pool_weights = np.array([weights[p.name] for p in pools])
    pool_weights /= pool_weights.sum()
    amounts = cheque_amounts(cheque_folder)
    train_cheques = [a for a in amounts if a["split"] == "train"]
    backgrounds = []
    for item in train_cheques[:300]:
        gray = cv2.imread(str(cheque_folder / item["path"]), cv2.IMREAD_GRAYSCALE)
        if gray is not None:
            backgrounds.append(paper_from_cheque(gray))
    from livedigits.training.mix import font_files

    fonts = font_files()
    rows, widths, labels, kinds = [], [], [], []

    def add(gray, text, kind):
        row, width = to_training_row(gray)
        rows.append(row)
        widths.append(width)
        labels.append(text)
        kinds.append(kind)

    started = time.time()
    for i in range(synthetic):
        add(*compose(pools, pool_weights, backgrounds, rng), "synthetic")
        if i % 10000 == 0:
            log(f"strings: synthetic {i}/{synthetic} ({time.time() - started:.0f} s)", file=sys.stderr)
    for _ in range(printed_count if fonts else 0):
        add(*printed(fonts, backgrounds, rng), "printed")
    for item in train_cheques:
        gray = cv2.imread(str(cheque_folder / item["path"]), cv2.IMREAD_GRAYSCALE)
        if gray is None or not item["label"].isdigit():
            continue
        for _ in range(CHEQUE_COPIES):
            add(cheque_crop(gray, item["union"], rng), item["label"], "cheque")
    log(f"strings: {len(rows)} lines built in {time.time() - started:.0f} s", file=sys.stderr)
    label_array = np.full((len(labels), MAX_LABEL), -1, np.int32)
    for i, text in enumerate(labels):
        digits = [int(c) for c in text[:MAX_LABEL]]
        label_array[i, :len(digits)] = digits
    return {"x": np.stack(rows), "width": np.array(widths, np.int32), "y": label_array,
            "kind": np.array(kinds), "counts": json.dumps({k: kinds.count(k) for k in set(kinds)}),
            "pools": json.dumps({p.name: len(p.inks) for p in pools}), "fonts": len(fonts)}


def _flat(pictures: list[np.ndarray], prefix: str) -> dict:
    """Pictures of different sizes as one flat uint8 array and their shapes (an .npz without pickles)."""
    shapes = np.array([p.shape for p in pictures], np.int32).reshape(-1, 2)
    flat = np.concatenate([p.ravel() for p in pictures]) if pictures else np.zeros(0, np.uint8)
    return {f"{prefix}_flat": flat, f"{prefix}_shapes": shapes}


def _unflat(stored, prefix: str) -> list[np.ndarray]:
    flat, shapes = stored[f"{prefix}_flat"], stored[f"{prefix}_shapes"]
    ends = np.cumsum(shapes[:, 0] * shapes[:, 1])
    return [flat[end - h * w:end].reshape(h, w) for end, (h, w) in zip(ends, shapes)]


def pack_ingredients(mnist, paths: dict, cheque_folder: Path, printed_count: int, seed: int, path: Path,
                     log=print) -> dict:
    """What ``build_dataset`` composes its lines from, small enough to travel to a GPU machine (the
    built lines would not: ~3 kB each): the digit pools' inks, the paper backgrounds, the training
    cheques with their labels and digit-box unions, the printed lines (rendered here: the fonts stay
    here) and the tuning cheques' lines. ``lines_from_ingredients`` builds the lines there."""
    rng = np.random.default_rng(seed)
    fit = slice(0, 55000)
    pick = rng.choice(55000, 25000, replace=False)
    pools = digit_pools(mnist.x_train[fit][pick], mnist.y_train[fit][pick], paths, log)
    amounts = cheque_amounts(cheque_folder)
    cheques = [(cv2.imread(str(cheque_folder / a["path"]), cv2.IMREAD_GRAYSCALE), a) for a in amounts
               if a["split"] == "train" and a["label"].isdigit()]
    cheques = [(gray, a) for gray, a in cheques if gray is not None]
    backgrounds = [paper_from_cheque(gray) for gray, _ in cheques[:300]]
    from livedigits.training.mix import font_files

    fonts = font_files()
    printed_rows, printed_labels = [], []
    for _ in range(printed_count if fonts else 0):
        gray, text = printed(fonts, backgrounds, rng)
        printed_rows.append(to_training_row(gray))
        printed_labels.append(text[:MAX_LABEL])
    tune_lines, tune_truth = tuning_lines(cheque_folder)
    tune_width = np.array([line.shape[1] for line in tune_lines], np.int32)
    tune_x = np.zeros((len(tune_lines), HEIGHT, int(-(-tune_width.max() // 4) * 4)), np.uint8)
    for k, line in enumerate(tune_lines):
        tune_x[k, :, :line.shape[1]] = np.round(line * 255).astype(np.uint8)
    weights = {"mnist": 0.3, "european_pen": 0.2, "usps": 0.1, "cheque": 0.4}
    arrays = {"pool_names": np.array([p.name for p in pools]),
              "pool_weights": np.array([weights[p.name] for p in pools], np.float64),
              "backgrounds_count": np.array(len(backgrounds)),
              "cheque_labels": np.array([a["label"] for _, a in cheques]),
              "cheque_unions": np.array([a["union"] if a["union"] is not None else (-1, -1, -1, -1)
                                         for _, a in cheques], np.int32),
              "printed_x": np.stack([r for r, _ in printed_rows]) if printed_rows else np.zeros((0, HEIGHT, TRAIN_WIDTH), np.uint8),
              "printed_width": np.array([w for _, w in printed_rows], np.int32),
              "printed_labels": np.array(printed_labels), "fonts": np.array(len(fonts)),
              "tune_x": tune_x, "tune_width": tune_width, "tune_truth": np.array(tune_truth),
              **_flat(backgrounds, "backgrounds"), **_flat([g for g, _ in cheques], "cheques")}
    for pool in pools:
        arrays.update(_flat([np.round(ink * 255).astype(np.uint8) for ink in pool.inks], f"pool_{pool.name}"))
        arrays[f"pool_{pool.name}_labels"] = pool.labels.astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return {"pools": {p.name: len(p.inks) for p in pools}, "cheques": len(cheques), "printed": len(printed_rows),
            "tuning": len(tune_lines)}


def _compose_part(args) -> tuple:
    """One worker's share of the synthetic lines (a pool of processes builds them in parallel)."""
    path, count, seed = args
    with np.load(path) as stored:
        names = [str(n) for n in stored["pool_names"]]
        pools = [DigitPool(n, [ink.astype(np.float32) / 255 for ink in _unflat(stored, f"pool_{n}")],
                           stored[f"pool_{n}_labels"]) for n in names]
        weights = stored["pool_weights"] / stored["pool_weights"].sum()
        backgrounds = _unflat(stored, "backgrounds")
    rng = np.random.default_rng(seed)
    rows, widths, labels = [], [], []
    for _ in range(count):
        gray, text = compose(pools, weights, backgrounds, rng)
        row, width = to_training_row(gray)
        rows.append(row)
        widths.append(width)
        labels.append(text)
    return np.stack(rows), np.array(widths, np.int32), labels


def _cheque_part(args) -> tuple:
    path, copies, seed, part, parts = args
    with np.load(path) as stored:
        cheques = _unflat(stored, "cheques")
        labels, unions = [str(t) for t in stored["cheque_labels"]], stored["cheque_unions"]
    rng = np.random.default_rng(seed)
    rows, widths, texts = [], [], []
    for k in range(part, len(cheques), parts):
        union = None if unions[k][0] < 0 else tuple(int(v) for v in unions[k])
        for _ in range(copies):
            row, width = to_training_row(cheque_crop(cheques[k], union, rng))
            rows.append(row)
            widths.append(width)
            texts.append(labels[k])
    return np.stack(rows), np.array(widths, np.int32), texts


def lines_from_ingredients(path: Path, synthetic: int, cheque_copies: int = CHEQUE_COPIES, workers: int = 8,
                           seed: int = 1, log=print) -> dict:
    """The training lines of ``build_dataset``, built from ``pack_ingredients``'s file by ``workers``
    processes: ``synthetic`` composed lines, the printed lines, each training cheque ``cheque_copies``
    times; plus the tuning lines. Keys as ``build_dataset``'s, and tune_x / tune_width / tune_truth."""
    from multiprocessing import get_context

    started = time.time()
    share = -(-synthetic // workers)
    jobs = [(str(path), share, seed * 1000 + k) for k in range(workers)]
    cheque_jobs = [(str(path), cheque_copies, seed * 1000 + 500 + k, k, workers) for k in range(workers)]
    with get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_compose_part, jobs) + pool.map(_cheque_part, cheque_jobs)
    with np.load(path) as stored:
        printed_x, printed_width = stored["printed_x"], stored["printed_width"]
        printed_labels = [str(t) for t in stored["printed_labels"]]
        tune = {k: stored[k] for k in ("tune_x", "tune_width", "tune_truth")}
    # the printed lines twice: rendered here, few (their size limits what travels), augmented anew each time
    x = np.concatenate([p[0] for p in parts] + [printed_x] * 2)
    widths = np.concatenate([p[1] for p in parts] + [printed_width] * 2)
    texts = [t for p in parts for t in p[2]] + printed_labels * 2
    y = np.full((len(texts), MAX_LABEL), -1, np.int32)
    for i, text in enumerate(texts):
        digits = [int(c) for c in text[:MAX_LABEL]]
        y[i, :len(digits)] = digits
    n_cheques = sum(len(p[2]) for p in parts[workers:])
    counts = {"synthetic": share * workers, "cheque": n_cheques, "printed": 2 * len(printed_labels)}
    log(f"strings: {len(x)} lines built from {path} in {time.time() - started:.0f} s: {counts}", file=sys.stderr)
    return {"x": x, "width": widths, "y": y, "counts": json.dumps(counts), **tune}


def build_model(keras, dropout: float = 0.2):
    layers = keras.layers

    def conv(x, filters, kernel=(3, 3), dilation=(1, 1), padding="same"):
        x = layers.Conv2D(filters, kernel, padding=padding, dilation_rate=dilation, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = keras.Input((HEIGHT, None, 1))
    x = conv(inputs, 24)
    x = layers.MaxPooling2D((2, 2))(x)                 # 16 x W/2
    x = conv(x, 32)
    x = layers.MaxPooling2D((2, 2))(x)                 # 8 x W/4
    x = conv(x, 48)
    x = conv(x, 48)
    x = layers.MaxPooling2D((2, 1))(x)                 # 4 x W/4
    x = conv(x, 80)
    x = layers.MaxPooling2D((2, 1))(x)                 # 2 x W/4
    x = conv(x, 128, kernel=(2, 1), padding="valid")   # 1 x W/4: one column of features per frame
    for dilation in (1, 2, 4):                         # context along the line
        y = conv(x, 128, kernel=(1, 5), dilation=(1, dilation))
        x = layers.Add()([x, y])
    x = layers.Dropout(dropout)(x)
    x = layers.Conv2D(NUM_OUTPUTS, (1, 1))(x)
    outputs = layers.Reshape((-1, NUM_OUTPUTS))(x)
    return keras.Model(inputs, outputs, name="digit_strings")


def keras_from_tflite(keras, path: Path):
    """The Keras model of a shipped ``strings.tflite`` (when its .keras was not kept): the LiteRT
    file holds each convolution with its batch normalisation folded in (int8 weights, one scale per
    output channel), so each convolution takes the dequantised folded kernel and its normalisation
    becomes the identity plus the folded bias. The normalisations are frozen (trainable=False: Keras
    then runs them as at inference), so a fine-tuning from here trains the folded network as it is."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    tensors = {d["name"]: d for d in interpreter.get_tensor_details()}

    def value(name: str) -> np.ndarray:
        detail = tensors[name]
        v = interpreter.get_tensor(detail["index"])
        if v.dtype == np.int8:
            scales = detail["quantization_parameters"]["scales"]
            v = v.astype(np.float32) * scales.reshape(-1, *[1] * (v.ndim - 1))
        return v.astype(np.float32)

    def vector(prefix: str) -> np.ndarray:
        hits = [n for n, d in tensors.items() if n.startswith(prefix) and len(d["shape"]) == 1]
        if len(hits) != 1:
            raise ValueError(f"{path}: not a string model of this architecture ({prefix}: {len(hits)} tensors)")
        return value(hits[0])

    model = build_model(keras)
    # the converter's names: the k-th convolution (in layer order) is conv2d_{suffix(k)}
    suffix = lambda k: "1" if k == 0 else "1_2" if k == 1 else f"{k}_1"  # noqa: E731
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for k, conv in enumerate(convs):
        kernel = np.transpose(value(f"digit_strings_1/conv2d_{suffix(k)}/convolution"), (1, 2, 3, 0))
        if k == 9:
            conv.set_weights([kernel, vector("digit_strings_1/conv2d_9_1/BiasAdd")])
            continue
        conv.set_weights([kernel])
        norm = norms[k]
        n = kernel.shape[-1]
        if k in (7, 8):  # the dilated convolutions' normalisations stay apart: y = x * mul + sub
            scale = value(f"digit_strings_1/batch_normalization_{k}_1/batchnorm/mul")
            shift = value(f"digit_strings_1/batch_normalization_{k}_1/batchnorm/sub")
        else:
            scale, shift = np.ones(n, np.float32), vector(f"digit_strings_1/re_lu_{suffix(k)}/Relu;")
        norm.set_weights([scale, shift, np.zeros(n, np.float32), np.full(n, 1 - norm.epsilon, np.float32)])
        norm.trainable = False
    return model


def keras_read(model, lines: list[np.ndarray], batch: int = 64) -> list[str]:
    """Greedy readings of ink-map lines with the Keras model, batched by padded width."""
    out = [""] * len(lines)
    order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1])
    for start in range(0, len(order), batch):
        chunk = order[start:start + batch]
        width = -(-max(lines[i].shape[1] for i in chunk) // 32) * 32
        x = np.zeros((len(chunk), HEIGHT, width, 1), np.float32)
        for k, i in enumerate(chunk):
            x[k, :, :lines[i].shape[1], 0] = lines[i]
        logits = model(x, training=False).numpy()
        for k, i in enumerate(chunk):
            frames = -(-lines[i].shape[1] // STRIDE)
            z = logits[k, :frames] - logits[k, :frames].max(axis=1, keepdims=True)
            p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
            out[i] = ctc_greedy(p, 1.0).text
    return out


def score(readings: list[str], truths: list[str]) -> dict:
    errors = sum(edit_distance(r, t) for r, t in zip(readings, truths))
    return {"n": len(truths), "exact": float(np.mean([r == t for r, t in zip(readings, truths)])),
            "cer": errors / max(1, sum(len(t) for t in truths))}


def augment_batch(rows: np.ndarray, widths: np.ndarray, rng) -> np.ndarray:
    """On the fly, per line: thinner or thicker strokes (fine pens, felt tips), a horizontal stretch
    or squeeze (narrow and wide hands), a shift within the padding (position must not matter)."""
    out = np.zeros(rows.shape, np.float32)
    kernel = np.ones((2, 2), np.uint8)
    for i, (row, width) in enumerate(zip(rows, widths)):
        line = row[:, :width]
        pick = rng.random()
        if pick < 0.25:
            line = cv2.erode(line, kernel)
        elif pick < 0.4:
            line = cv2.dilate(line, kernel)
        if rng.random() < 0.3:
            line = cv2.resize(line, (max(8, min(TRAIN_WIDTH, int(width * rng.uniform(0.75, 1.3)))), HEIGHT),
                              interpolation=cv2.INTER_LINEAR)
        shift = int(rng.integers(0, max(1, min(16, TRAIN_WIDTH - line.shape[1]) + 1)))
        out[i, :, shift:shift + line.shape[1]] = line[:, :TRAIN_WIDTH - shift]
    return out / 255.0


def distillation_loss(teacher_logits, student_logits, temperature: float = 2.0):
    """Mean over lines of the summed per-frame KL(teacher || student) of the outputs softened by
    ``temperature`` (scaled by its square, so the gradients' size does not depend on it)."""
    import tensorflow as tf

    taught = tf.nn.softmax(teacher_logits / temperature)
    drift = tf.reduce_sum(taught * (tf.math.log(taught + 1e-8) - tf.nn.log_softmax(student_logits / temperature)), -1)
    return temperature ** 2 * tf.reduce_mean(tf.reduce_sum(drift, 1))


def train(data: dict, tuning: tuple[list, list], out: Path, minutes: float, batch_size: int = 64,
          lr: float = 2e-3, seed: int = 1, init: str | None = None, eval_every: int = 0,
          distill_from: str | None = None, distill_weight: float = 1.0, temperature: float = 2.0, log=print) -> dict:
    """Train for ``minutes`` (a cosine schedule over them); the tuning cheques are read at the end
    of each pass over the data and every ``eval_every`` steps, and the best state is kept (each
    one looked at is saved in OUT/checkpoints/ for a later choice with the crops and the vote).

    With ``distill_from`` (a .keras or shipped .tflite string reader, frozen) the loss adds the
    frame-by-frame KL divergence from that teacher's softened outputs ("learning without
    forgetting"): a fine-tuning then learns what the new lines teach while its readings of
    everything else stay near the teacher's, instead of drifting with the new lines' priors."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if init:  # a .keras model (as saved: a fine-tuning's frozen normalisations stay frozen) or a shipped .tflite
        from .blend import load_network

        model = load_network(keras, Path(init))
    else:
        model = build_model(keras)
    teacher = None
    if distill_from:
        from .blend import load_network

        teacher = load_network(keras, Path(distill_from))
        teacher.trainable = False
    x_all, widths, y_all = data["x"], data["width"], data["y"]
    steps_per_epoch = len(x_all) // batch_size
    budget = minutes * 60
    # the schedule needs a length: estimate epochs from the first epoch's speed (cosine over it)
    optimizer = keras.optimizers.Adam(lr, clipnorm=5.0)
    frames = TRAIN_WIDTH // STRIDE

    @tf.function(reduce_retracing=True)
    def step(x, labels):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            sparse = tf.sparse.from_dense(labels + 1)  # 0 = padding for from_dense
            sparse = tf.SparseTensor(sparse.indices, sparse.values - 1, sparse.dense_shape)
            loss = tf.reduce_mean(tf.nn.ctc_loss(sparse, logits, None, tf.fill([tf.shape(x)[0]], frames),
                                                 logits_time_major=False, blank_index=-1))
            if teacher is not None:
                loss += distill_weight * distillation_loss(teacher(x, training=False), logits, temperature)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    tune_lines, tune_truth = tuning
    history, best = [], (-np.inf, None)
    started = time.time()
    epoch, total_steps, planned_steps = 0, 0, None
    while True:
        order = rng.permutation(len(x_all))
        losses = []
        for s in range(steps_per_epoch):
            idx = np.sort(order[s * batch_size:(s + 1) * batch_size])
            x = augment_batch(x_all[idx], widths[idx], rng)[..., None]
            if planned_steps:
                progress = min(1.0, total_steps / planned_steps)
                optimizer.learning_rate.assign(lr * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * progress))))
            losses.append(float(step(tf.constant(x), tf.constant(y_all[idx]))))
            total_steps += 1
            if total_steps == 50 and planned_steps is None:
                per_step = (time.time() - started) / 50
                planned_steps = max(50, int(budget / per_step))  # a tiny budget still ends
                log(f"strings: {per_step * 1000:.0f} ms/step -> {planned_steps} steps "
                    f"({planned_steps / steps_per_epoch:.1f} epochs) in {minutes} min", file=sys.stderr)
            if total_steps % 200 == 0:
                log(f"strings: step {total_steps} loss {np.mean(losses[-200:]):.3f} "
                    f"({time.time() - started:.0f} s)", file=sys.stderr)
            done = bool(planned_steps and total_steps >= planned_steps)
            if done or s == steps_per_epoch - 1 or (eval_every and total_steps % eval_every == 0):
                epoch += s == steps_per_epoch - 1
                best = _look(model, tune_lines, tune_truth, history, best, out, epoch, total_steps,
                             float(np.mean(losses[-eval_every or None:])), started, log)
            if done:
                break
        if planned_steps and total_steps >= planned_steps:
            break
    model.set_weights(best[1])
    return {"history": history, "best": history[int(np.argmax([h["tuning"]["exact"] - h["tuning"]["cer"] for h in history]))],
            "train_seconds": round(time.time() - started), "parameters": int(model.count_params()), "model": model}


def _look(model, tune_lines, tune_truth, history, best, out: Path, epoch: int, steps: int, loss: float,
          started: float, log) -> tuple:
    """Read the tuning cheques, log, save the state as a checkpoint; the best so far (by exact
    minus character errors) -> (its score, its weights)."""
    tuned = score(keras_read(model, tune_lines), tune_truth)
    history.append({"epoch": epoch, "steps": steps, "loss": loss, "tuning": tuned, "seconds": round(time.time() - started)})
    log(f"strings: step {steps} (epoch {epoch}) loss {loss:.3f} tuning cheques exact {100 * tuned['exact']:.1f} % "
        f"CER {100 * tuned['cer']:.2f} %", file=sys.stderr)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    model.save(out / "checkpoints" / f"step{steps:06d}.keras")
    if tuned["exact"] - tuned["cer"] > best[0]:
        best = (tuned["exact"] - tuned["cer"], model.get_weights())
        model.save(out / "strings.keras")
    return best


def export_tflite(model, path: Path) -> None:
    """LiteRT with a dynamic width (and batch): the network is fully convolutional. The digit
    model's export (via a SavedModel, int8 weights) keeps the input's unknown width."""
    from livedigits.training.loop import export_tflite as export

    export(model, path)


def tuning_lines(cheque_folder: Path, split: str = "tuning") -> tuple[list, list]:
    lines, truths = [], []
    for item in cheque_amounts(cheque_folder):
        if item["split"] != split:
            continue
        gray = cv2.imread(str(cheque_folder / item["path"]), cv2.IMREAD_GRAYSCALE)
        if gray is not None:
            lines.append(line_input(gray))
            truths.append(item["label"])
    return lines, truths


def calibration_lines(cheque_folder: Path, mnist, count: int = 300, seed: int = 7) -> list[tuple[np.ndarray, str]]:
    """Pictures of one line with their truth, none of them trained on: the tuning cheques, and
    lines composed from MNIST *test* digits on paper (each framed by a paper margin, as on a page)."""
    items = []
    for item in cheque_amounts(cheque_folder):
        if item["split"] == "tuning":
            items.append((cv2.imread(str(cheque_folder / item["path"]), cv2.IMREAD_COLOR), item["label"]))
    rng = np.random.default_rng(seed)
    pool = DigitPool("mnist_test", *_inks([ink_from_light(x) for x in mnist.x_test[:5000]], mnist.y_test[:5000]))
    for _ in range(count):
        gray, text = compose([pool], np.array([1.0]), [], rng)
        pad = gray.shape[0]
        paper = int(np.percentile(gray, 90))
        framed = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=paper)
        items.append((cv2.cvtColor(framed, cv2.COLOR_GRAY2BGR), text))
    return items


def calibrate(model_path: Path, lines: list[tuple[np.ndarray, str]], log=print) -> dict:
    """The per-line choice of ``reader="auto"``, fitted on ``lines`` read by both readers: where
    the two readings differ, P(the string reading is the right one) as a logistic function of
    both readings' summed log confidences (``choice``: bias, string weight, digit weight)."""
    from livedigits import Recognizer

    readings = {}
    for reader in ("digits", "strings"):
        recognizer = Recognizer(reader=reader, string_model=model_path)
        readings[reader] = [recognizer.recognize(image) for image, _ in lines]
    truth = [text for _, text in lines]
    texts = {k: [r.text.replace("\n", "") for r in v] for k, v in readings.items()}
    sums = {k: np.array([float(np.sum(np.log(np.maximum([d.confidence for d in r.digits], 1e-6)))) for r in v])
            for k, v in readings.items()}
    differ = np.array([a != b for a, b in zip(texts["digits"], texts["strings"])])
    strings_right = np.array([t == s for t, s in zip(truth, texts["strings"])], float)
    design = np.stack([sums["strings"], sums["digits"]], axis=1)[differ]
    weights = fit_logistic_many(design, strings_right[differ])
    chosen = [s if (weights[0] + weights[1] * ss + weights[2] * ds) > 0 else d
              for s, d, ss, ds in zip(texts["strings"], texts["digits"], sums["strings"], sums["digits"])]
    exact = {name: float(np.mean([t == x for t, x in zip(truth, values)]))
             for name, values in (("digits", texts["digits"]), ("strings", texts["strings"]), ("chosen", chosen))}
    log(f"strings: choice fitted on {int(differ.sum())} of {len(lines)} lines where the readers differ: "
        f"weights {np.round(weights, 3).tolist()}; exact: " + ", ".join(f"{k} {100 * v:.1f} %" for k, v in exact.items()),
        file=sys.stderr)
    return {"choice": [float(w) for w in weights], "calibration_lines": len(lines), "calibration_exact": exact}


def fit_logistic_many(x: np.ndarray, y: np.ndarray, steps: int = 50, ridge: float = 1e-2) -> np.ndarray:
    """Weights (bias first) of P(y) = sigmoid(w0 + x @ w[1:]) by Newton's method with a little ridge."""
    design = np.concatenate([np.ones((len(x), 1)), x], axis=1)
    w = np.zeros(design.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + ridge * w
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + ridge * np.eye(len(w))
        w -= np.linalg.solve(hessian, gradient)
    return w


def _finish_from_gpu(weights_path: Path, out: Path, cheque_folder: Path, mnist, argv) -> int:
    """Weights trained by ``gpu.py`` -> the Keras twin -> LiteRT, card and calibration as after a run here."""
    import keras

    from livedigits.training.gpu import load_weights

    weights, run = load_weights(weights_path)
    model = build_model(keras)
    model.set_weights(weights)
    tune_lines, tune_truth = tuning_lines(cheque_folder)
    tuned = score(keras_read(model, tune_lines), tune_truth)
    print(f"strings: Keras twin on the tuning cheques: exact {100 * tuned['exact']:.1f} %, CER {100 * tuned['cer']:.2f} %",
          file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "strings.keras")
    export_tflite(model, out / "strings.tflite")
    card = {"name": "digit strings (CNN + dilated 1-D convolutions + CTC)", "input": f"(1, {HEIGHT}, W, 1) float32 ink map "
            "0-1 from livedigits.strings.line_input; W any multiple of 4", "output": f"(1, W/{STRIDE}, {NUM_OUTPUTS}) logits: "
            "digits 0-9, CTC blank", "parameters": int(model.count_params()), "train_width": TRAIN_WIDTH,
            "data": {"lines": run.get("lines"), "synthetic_from": "training parts only (split by writer/form/cheque)",
                     "cheques": "training split only; the digit model's held-out cheques never read; 10 % of the rest "
                                "(tuning) chose the epoch"},
            "training": {**run, "where": f"GPU machine ({run['device']}, PyTorch {run['torch']}; livedigits/training/gpu.py)",
                         "tuning_keras_twin": tuned},
            "command": "python train.py strings " + " ".join(argv or sys.argv[2:])}
    (out / "strings.json").write_text(json.dumps(card, indent=1))
    card.update(calibrate(out / "strings.tflite", calibration_lines(cheque_folder, mnist)))
    (out / "strings.json").write_text(json.dumps(card, indent=1))
    print(f"strings: wrote {out}/strings.tflite and strings.json", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """``train.py strings``: build (or load) the cached data, train, export, write the card."""
    import argparse

    from livedigits.training.data import add_mnist_option, load_mnist_for, require_files
    from livedigits.training.realdata import shared_data_paths, source_paths

    parser = argparse.ArgumentParser(prog="train.py strings", description="Train the digit-string reader.")
    add_mnist_option(parser, "--data")
    parser.add_argument("--out", default="models", help="output folder (default: models)")
    parser.add_argument("--cache", default="runs/strings/data.npz", help="the built training lines (.npz)")
    parser.add_argument("--synthetic", type=int, default=60000, help="synthetic handwritten lines")
    parser.add_argument("--printed", type=int, default=8000, help="printed lines")
    parser.add_argument("--minutes", type=float, default=50.0, help="training time budget")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--init", help="start from this model's weights (.keras, or a shipped .tflite)")
    parser.add_argument("--eval-every", type=int, default=0, help="also read the tuning cheques (and save a "
                        "checkpoint) every this many steps")
    parser.add_argument("--distill-from", metavar="MODEL", help="keep the readings near this frozen string reader "
                        "(.keras or .tflite, e.g. models/strings.tflite with --init): KL of its softened outputs added to the loss")
    parser.add_argument("--distill-weight", type=float, default=1.0, help="weight of --distill-from's term (default 1)")
    parser.add_argument("--from-gpu", metavar="WEIGHTS", help="no training here: export these weights (from "
                        "`python -m livedigits.training.gpu strings`), write the card, calibrate")
    parser.add_argument("--from-keras", metavar="MODEL", help="no training: export this .keras (a checkpoint, or a "
                        "blend from `train.py blend`) to OUT/strings.tflite, keep OUT/strings.json's card, calibrate")
    parser.add_argument("--calibrate-only", action="store_true",
                        help="no training: fit OUT/strings.tflite's calibration again and update OUT/strings.json")
    args = parser.parse_args(argv)
    training, realworld = shared_data_paths(args.data)
    paths = source_paths(training, realworld)
    cheque_folder = paths["cheque"]
    out = Path(args.out)
    require_files(parser, init=args.init, distill_from=args.distill_from)
    if args.from_keras:
        import keras

        if not Path(args.from_keras).is_file():
            parser.error(f"{args.from_keras} does not exist")
        out.mkdir(parents=True, exist_ok=True)
        export_tflite(keras.models.load_model(args.from_keras, compile=False), out / "strings.tflite")
    if args.calibrate_only or args.from_keras:
        card_path = out / "strings.json"
        card = json.loads(card_path.read_text()) if card_path.is_file() else {}
        if args.from_keras:
            card["command"] = "python train.py strings " + " ".join(argv or sys.argv[2:])
        card.update(calibrate(out / "strings.tflite", calibration_lines(cheque_folder, load_mnist_for(parser, args.data))))
        card_path.write_text(json.dumps(card, indent=1))
        return 0
    if args.from_gpu:
        return _finish_from_gpu(Path(args.from_gpu), out, cheque_folder, load_mnist_for(parser, args.data), argv)
    cache = Path(args.cache)
    if cache.is_file():
        with np.load(cache) as stored:
            data = {k: stored[k] for k in stored.files}
    else:
        mnist = load_mnist_for(parser, args.data)
        data = build_dataset(mnist, paths, cheque_folder, args.synthetic, args.printed, args.seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **data)
    print(f"strings: {len(data['x'])} lines: {data['counts']}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    result = train(data, tuning_lines(cheque_folder), out, args.minutes, args.batch_size, args.lr, args.seed, args.init,
                   args.eval_every, args.distill_from, args.distill_weight)
    export_tflite(result.pop("model"), out / "strings.tflite")
    card = {"name": "digit strings (CNN + dilated 1-D convolutions + CTC)", "input": f"(1, {HEIGHT}, W, 1) float32 ink map "
            "0-1 from livedigits.strings.line_input; W any multiple of 4", "output": f"(1, W/{STRIDE}, {NUM_OUTPUTS}) logits: "
            "digits 0-9, CTC blank", "parameters": result["parameters"], "train_width": TRAIN_WIDTH,
            "data": {"lines": json.loads(str(data["counts"])), "digit_pools": json.loads(str(data["pools"])),
                     "fonts": int(data["fonts"]), "synthetic_from": "training parts only (split by writer/form/cheque)",
                     "cheques": "training split only; the digit model's held-out cheques never read; 10 % of the rest "
                                "(tuning) chose the epoch"},
            "training": {k: v for k, v in result.items()}, "command": "python train.py strings " + " ".join(argv or sys.argv[2:])}
    (out / "strings.json").write_text(json.dumps(card, indent=1))
    card.update(calibrate(out / "strings.tflite", calibration_lines(cheque_folder, load_mnist_for(parser, args.data))))
    (out / "strings.json").write_text(json.dumps(card, indent=1))
    print(f"strings: wrote {out}/strings.tflite and strings.json", file=sys.stderr)
    return 0
