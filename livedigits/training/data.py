"""Load MNIST from a local copy (IDX folder or Keras ``mnist.npz``) or the Keras download.

Order of precedence: an explicit path, then the ``LIVEDIGITS_MNIST`` environment variable, then
the project's shared copy (``../shared/data/mnist`` beside the checkout or the current folder), then
``keras.datasets.mnist.load_data()`` (download and cache, needs internet and TensorFlow).
"""
from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "LIVEDIGITS_MNIST"

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_IMAGE_MAGIC, _LABEL_MAGIC = 2051, 2049


class DataError(Exception):
    """A local MNIST copy is missing or malformed; the message is one line for the user."""


@dataclass(frozen=True)
class Mnist:
    x_train: np.ndarray  # (60000, 28, 28) uint8, white digit on black
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where it came from, for the model card
    checksums: dict  # file name -> sha256 of what was read


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_idx(path: Path, expected_magic: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read MNIST file {path}: {err}") from None
    if len(raw) < 8:
        raise DataError(f"{path} is not an IDX file (too short)")
    magic = int.from_bytes(raw[0:4], "big")
    count = int.from_bytes(raw[4:8], "big")
    if magic != expected_magic:
        raise DataError(f"{path} is not an IDX file of the expected kind (magic {magic}, expected {expected_magic})")
    if magic == _IMAGE_MAGIC:
        rows, cols = int.from_bytes(raw[8:12], "big"), int.from_bytes(raw[12:16], "big")
        shape, offset = (count, rows, cols), 16
    else:
        shape, offset = (count,), 8
    expected_bytes = offset + int(np.prod(shape))
    if len(raw) != expected_bytes:
        raise DataError(f"{path} is truncated or padded ({len(raw)} bytes, expected {expected_bytes})")
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape).copy()


def _find_idx_file(folder: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx") + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    raise DataError(f"MNIST folder {folder} has no {stem}.gz (expected the four original IDX files)")


def _load_idx_folder(folder: Path) -> Mnist:
    paths = {key: _find_idx_file(folder, stem) for key, stem in IDX_FILES.items()}  # all present first
    arrays, checksums = {}, {}
    for key, path in paths.items():
        arrays[key] = _read_idx(path, _IMAGE_MAGIC if key.startswith("x") else _LABEL_MAGIC)
        checksums[path.name] = _sha256(path)
    return _checked(arrays, str(folder), checksums)


def _load_npz(path: Path) -> Mnist:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in IDX_FILES}
    except KeyError as err:
        raise DataError(f"{path} lacks array {err} (expected x_train, y_train, x_test, y_test as in Keras' mnist.npz)") from None
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read {path} as a Keras mnist.npz: {err}") from None
    return _checked(arrays, str(path), {path.name: _sha256(path)})


def _checked(arrays: dict, source: str, checksums: dict) -> Mnist:
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
            raise DataError(f"MNIST {split} split in {source} has shape {x.shape} with {len(y)} labels, expected (N, 28, 28) and N labels")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise DataError(f"MNIST {split} labels in {source} are outside 0-9")
    return Mnist(**{k: np.ascontiguousarray(v, dtype=np.uint8) for k, v in arrays.items()},
                 source=source, checksums=checksums)


def shared_mnist() -> Path | None:
    """The shared MNIST folder beside this checkout (or beside the current folder), if there is one:
    a machine without internet (CI) then needs no download."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        folder = root.parent / "shared" / "data" / "mnist"
        if folder.is_dir():
            return folder
    return None


def load_mnist(path: str | os.PathLike | None = None) -> Mnist:
    """Load MNIST: from ``path``, else ``$LIVEDIGITS_MNIST``, else the shared copy beside the
    checkout, else the Keras download and cache."""
    chosen = path if path not in (None, "") else os.environ.get(ENV_VAR) or shared_mnist()
    if chosen is None:
        return _load_keras_download()
    location = Path(chosen).expanduser()
    if location.is_dir():
        return _load_idx_folder(location)
    if location.is_file():
        return _load_npz(location)
    origin = "the path option" if path not in (None, "") else ENV_VAR
    raise DataError(f"MNIST path {location} (from {origin}) does not exist; give a folder with the four IDX .gz files or an mnist.npz")


def add_mnist_option(parser, flag: str = "--mnist") -> None:
    """The command-line path option of every script that reads MNIST (pass its value to load_mnist)."""
    parser.add_argument(flag, metavar="PATH", type=_existing_path,
                        help=f"MNIST folder (the four IDX .gz files) or mnist.npz; default ${ENV_VAR}, else "
                             "../shared/data/mnist beside the checkout, else the Keras download")


def load_mnist_for(parser, path: str | os.PathLike | None) -> Mnist:
    """load_mnist for a command-line script: a failure is the parser's one-line error, no traceback."""
    try:
        return load_mnist(path)
    except DataError as err:
        parser.error(str(err))


def _load_keras_download() -> Mnist:
    try:
        from keras.datasets import mnist  # deferred: TensorFlow is only needed for training
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
    except Exception as err:  # download failures come in many types; the user needs one line
        raise DataError(f"no local MNIST given (the path option or {ENV_VAR}) and the Keras download failed: {err}") from None
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"
    checksums = {cache.name: _sha256(cache)} if cache.is_file() else {}
    return _checked(dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test),
                    "keras.datasets.mnist", checksums)


def require_files(parser, **options) -> None:
    """A usage error (one line, exit 2) for the first option naming a file that does not exist;
    ``options`` maps an option's flag, written with underscores (``distill_from``), to its value."""
    for name, path in options.items():
        if path and not Path(path).expanduser().is_file():
            parser.error(f"--{name.replace('_', '-')}: {path} does not exist")


def _existing_path(value: str) -> str:
    if not Path(value).expanduser().exists():
        import argparse
        raise argparse.ArgumentTypeError(f"MNIST path {value} does not exist")
    return value
