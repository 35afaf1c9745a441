"""Batch classification of normalised crops with the LiteRT interpreter (no TensorFlow import).

Falls back to the ``.keras`` model only when ``ai-edge-litert`` is not installed.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

# The model's 11 outputs: digits 0-9, then NOT_A_DIGIT ("not a single digit": pairs, pieces, dashes,
# blobs), which the pipeline uses to reject candidates and to choose cuts of touching digits.
NUM_DIGITS = 10
NOT_A_DIGIT = 10
NUM_CLASSES = 11

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "digits.tflite"
# where a regular (non-editable) `pip install .` puts the shipped model: pyproject's data-files
_INSTALLED_MODEL = Path(sys.prefix) / "share" / "livedigits" / "models" / "digits.tflite"


class ModelError(Exception):
    """The model file is missing or unreadable; the message is one line for the user."""


def default_model_path() -> Path:
    """The shipped model: ``models/`` next to the package (a source checkout) or under the
    environment's ``share/livedigits/models`` (a regular install)."""
    for candidate in (DEFAULT_MODEL, _INSTALLED_MODEL):
        if candidate.is_file():
            return candidate
    return DEFAULT_MODEL


def available_cores() -> int:
    """Cores this process may use (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "process_cpu_count"):
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def default_threads() -> int:
    """All cores, up to 4, for large batches. Folder workers ask for 1 each, since there the
    cores are shared out among processes instead."""
    return max(1, min(4, available_cores()))


# Up to this many crops are read on one thread unless more are asked for: one crop (read_digit,
# a cell) is as quick on one thread as on two, and leaves the other core free. A frame's crops go
# to all cores: with this release's network (23.6 M multiply-adds a crop) 10 crops take 0.53 ms on
# two threads against 0.91 on one, 3 crops 0.31 against 0.56 (medians, idle 2-core machine); whole
# 640x480 frames with 40 digits 0.84 of the time. Folder and cluster workers ask for one thread each.
SMALL_BATCH = 1


class Classifier:
    """Reads (N, 28, 28, 1) float32 crops -> (N, classes) probabilities in one interpreter call."""

    def __init__(self, model_path: str | os.PathLike | None = None, num_threads: int | None = None):
        self.path = Path(model_path) if model_path else default_model_path()
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} not found; pass --model PATH to a .tflite or .keras file")
        if self.path.suffix == ".keras":
            self._keras = _load_keras(self.path)
            self.num_classes = int(self._keras.output_shape[-1])
            return
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:  # LiteRT missing: use the Keras twin of the same model
            self._keras = _load_keras(self.path.with_suffix(".keras"))
            self.num_classes = int(self._keras.output_shape[-1])
            return
        self._keras = None
        self._make_interpreter = Interpreter
        # threads for small batches and for large ones; an interpreter per thread count, made
        # when first needed (a frame-by-frame run never makes the second)
        self._threads = (num_threads or 1, num_threads or default_threads())
        self._interpreters: dict[int, _Interpreter] = {}
        self.num_classes = int(self._interpreter_for(1).output_details["shape"][-1])
        self._check_contract()

    def _interpreter_for(self, count: int) -> "_Interpreter":
        threads = self._threads[count > SMALL_BATCH]
        runner = self._interpreters.get(threads)
        if runner is None:
            try:
                interpreter = self._make_interpreter(model_path=str(self.path), num_threads=threads)
            except (ValueError, RuntimeError) as err:
                raise ModelError(f"cannot load model {self.path}: {str(err).splitlines()[0]}") from None
            runner = self._interpreters[threads] = _Interpreter(interpreter)
        return runner

    def _check_contract(self) -> None:
        """One blank crop through the model now, so that a model of the wrong shape fails here with
        one line rather than on the first frame; native stderr is muted for it because LiteRT
        announces its CPU delegate on the first call ("INFO: Created TensorFlow Lite XNNPACK ...")."""
        try:
            with _native_stderr_muted():
                probabilities = self.predict(np.zeros((1, 28, 28, 1), np.float32))
        except Exception as err:  # interpreters raise many types for a model of the wrong shape
            first_line = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
            raise ModelError(f"model {self.path} cannot read 28x28 digit crops ({first_line})") from None
        if probabilities.ndim != 2 or probabilities.shape[-1] < 10:
            raise ModelError(f"model {self.path} gives {probabilities.shape[-1]} outputs per crop, not 10 digits")

    def predict(self, crops: np.ndarray) -> np.ndarray:
        crops = np.ascontiguousarray(crops, dtype=np.float32).reshape(-1, 28, 28, 1)
        if len(crops) == 0:
            return np.zeros((0, self.num_classes), np.float32)
        if self._keras is not None:
            return np.asarray(self._keras(crops, training=False), np.float32)
        return self._interpreter_for(len(crops)).run(crops)

    def predict_in_chunks(self, crops: np.ndarray, chunk: int = 1024) -> np.ndarray:
        parts = [self.predict(crops[i:i + chunk]) for i in range(0, len(crops), chunk)]
        return np.concatenate(parts) if parts else self.predict(crops)


class _Interpreter:
    """One LiteRT interpreter and the batch size its tensors are allocated for."""

    def __init__(self, interpreter):
        self.interpreter = interpreter
        self.input = interpreter.get_input_details()[0]["index"]
        self.output_details = interpreter.get_output_details()[0]
        self.batch_size = -1

    def run(self, crops: np.ndarray) -> np.ndarray:
        if self.batch_size < 0:  # LiteRT announces its CPU delegate on an interpreter's first call
            with _native_stderr_muted():
                return self._run(crops)
        return self._run(crops)

    def _run(self, crops: np.ndarray) -> np.ndarray:
        if len(crops) != self.batch_size:
            self.interpreter.resize_tensor_input(self.input, crops.shape)
            self.interpreter.allocate_tensors()
            self.batch_size = len(crops)
        self.interpreter.set_tensor(self.input, crops)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output_details["index"]).copy()


@contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Silence file descriptor 2 itself: C++ libraries write there past sys.stderr."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable fd 2 (e.g. pythonw): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _load_keras(path: Path):
    if not path.is_file():
        raise ModelError(f"LiteRT (ai-edge-litert) is not installed and no Keras model {path} exists; pip install ai-edge-litert")
    try:
        import keras
        return keras.models.load_model(path, compile=False)
    except ImportError:
        raise ModelError("neither ai-edge-litert nor TensorFlow/Keras is installed; pip install ai-edge-litert") from None
    except Exception as err:  # Keras raises many types for a corrupt file
        raise ModelError(f"cannot load model {path}: {str(err).splitlines()[0]}") from None
