"""Folders and globs of pictures, decoded and read in parallel, results kept in input order.

Each worker process builds its own Recognizer once (a LiteRT interpreter cannot be shared between
processes) and does the whole job for a picture: decode, recognise, and draw and write the annotated
copy for --save, so only the small Reading travels back. ``imap`` hands results back in input order
as they complete, so the main process writes CSV/JSONL lines as they arrive.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..overlay import draw
from ..pipeline import Reading, Recognizer
from ..sources import PictureError, load_picture
from .outputs import OutputError, write_picture


@dataclass(frozen=True)
class RecognizerSpec:
    """What a worker needs to build its own Recognizer."""
    model: str | None
    min_confidence: float

    def build(self) -> Recognizer:
        return Recognizer(self.model, min_confidence=self.min_confidence, num_threads=1)


@dataclass(frozen=True)
class PictureJob:
    path: Path
    rotate: int = 0                 # degrees counter-clockwise
    save_to: Path | None = None     # where the annotated copy goes (--save)
    keep_annotated: bool = False    # send the annotated picture back (--show)
    labels: str = "full"            # the overlay's label on each digit (--labels)


@dataclass
class PictureOutcome:
    job: PictureJob
    reading: Reading | None = None
    error: str | None = None               # why the picture was skipped
    output_error: str | None = None        # the annotated copy could not be written: stops the run
    annotated: np.ndarray | None = None


def read_picture(recognizer: Recognizer, job: PictureJob) -> PictureOutcome:
    """Decode, recognise and (for --save/--show) annotate one picture; never raises for a bad picture."""
    try:
        image = load_picture(job.path, job.rotate)
    except PictureError as err:
        return PictureOutcome(job, error=str(err))
    try:
        reading = recognizer.recognize(image)
    except Exception as err:  # one odd picture must not end a run over thousands: name it and go on
        return PictureOutcome(job, error=f"recognition failed ({type(err).__name__}: {err})")
    outcome = PictureOutcome(job, reading=reading)
    if job.save_to is not None or job.keep_annotated:
        annotated = draw(image, reading, labels=job.labels)
        if job.save_to is not None:
            try:
                write_picture(job.save_to, annotated)
            except OutputError as err:
                outcome.output_error = str(err)
        if job.keep_annotated:
            outcome.annotated = annotated
    return outcome


# Per-process state of a pool worker: the pool initializer can only hand it over through a module
# variable. Only worker processes set it; the main process never reads it.
_worker_recognizer: Recognizer | None = None
_worker_error: str | None = None


def _start_worker(spec: RecognizerSpec) -> None:
    global _worker_recognizer, _worker_error
    # Ctrl-C reaches the whole process group: the main process decides what happens, workers ignore it;
    # SIGTERM keeps its default so that Pool.terminate() ends them at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cv2.setNumThreads(1)  # one process per core already: OpenCV's own threads would only compete
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        _worker_recognizer = spec.build()
    except Exception as err:  # raising here would make the pool restart the worker forever
        _worker_error = f"the worker could not load the model: {err}"


def _work(job: PictureJob) -> PictureOutcome:
    if _worker_recognizer is None:
        return PictureOutcome(job, output_error=_worker_error or "the worker has no recognizer")
    return read_picture(_worker_recognizer, job)


class PictureReader:
    """``with PictureReader(spec, workers, recognizer, expected_jobs=n) as reader: reader.read(jobs)``.

    With workers > 1 and more than one picture to come, the pool starts on entry: before this process
    starts threads (progress bars, captures) or OpenCV's thread pool, so that forking is safe. Otherwise
    pictures are read in this process with ``recognizer``. The pool is ended on exit, also on Ctrl-C,
    so that no worker outlives the command."""

    def __init__(self, spec: RecognizerSpec, workers: int, recognizer: Recognizer | None = None,
                 expected_jobs: int = 0):
        self.spec, self.workers, self.recognizer = spec, max(1, int(workers)), recognizer
        self.expected_jobs = expected_jobs
        self._pool = None

    def start(self) -> "PictureReader":
        if self._pool is None and self.workers > 1 and self.expected_jobs > 1:
            context = _pool_context()
            if context is not None:
                self._pool = context.Pool(min(self.workers, self.expected_jobs), initializer=_start_worker,
                                          initargs=(self.spec,))
        return self

    def read(self, jobs: Iterable[PictureJob]) -> Iterator[PictureOutcome]:
        jobs = list(jobs)
        if self._pool is None or len(jobs) <= 1:
            recognizer = self.recognizer or self.spec.build()
            self.recognizer = recognizer
            return (read_picture(recognizer, job) for job in jobs)
        return self._pool.imap(_work, jobs, chunksize=1)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "PictureReader":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """fork on Linux while this process has no other threads (cheap: workers start with everything
    imported); spawn otherwise (forking a threaded process can deadlock the child, and macOS system
    libraries do not survive fork at all)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is None or not os.path.exists(main_file):
        # spawned workers re-import __main__; from a REPL or stdin they would die at start and the pool
        # would restart them for ever: read in this process instead
        return None
    return multiprocessing.get_context("spawn")
