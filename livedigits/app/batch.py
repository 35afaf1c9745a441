"""Folders and globs of pictures, decoded and read in parallel, results kept in input order.

Each worker process builds its own Recognizer once (a LiteRT interpreter cannot be shared between
processes) and does the whole job for a picture: decode, recognise, and draw and write the annotated
copy for --save, so only the small Reading travels back. Results are handed on in input order as they
complete, so the main process writes CSV/JSONL lines as they arrive.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from ..overlay import draw
from ..pipeline import Reading, Recognizer
from ..sources import PictureError, load_picture
from .outputs import OutputError, remove_partial, write_picture
from .picture_headers import HeaderError, Refused, read_header


@dataclass(frozen=True)
class RecognizerSpec:
    """What a worker needs to build its own Recognizer."""
    model: str | None
    min_confidence: float
    reader: str = "auto"

    def build(self) -> Recognizer:
        return Recognizer(self.model, min_confidence=self.min_confidence, num_threads=1, reader=self.reader)


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


def declared_size(path: Path) -> tuple[int, int] | None:
    """(width, height) that a picture file's header declares, without decoding it; None when unknown."""
    try:
        with open(path, "rb") as handle:
            header = read_header(handle.read(HEADER_BYTES))
    except (OSError, HeaderError, Refused):
        return None
    return (header.width, header.height) if header is not None else None


HEADER_BYTES = 256 * 1024  # enough for a JPEG's size after a large EXIF block (64 KB at most) and more


# Per-process state of a worker: set once as the worker starts. Only worker processes set it; the main
# process never reads it.
_worker_recognizer: Recognizer | None = None
_worker_error: str | None = None


def _start_worker(spec: RecognizerSpec) -> None:
    global _worker_recognizer, _worker_error
    cv2.setNumThreads(1)  # one process per core already: OpenCV's own threads would only compete
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        _worker_recognizer = spec.build()
    except Exception as err:  # reported with the first picture: the run stops with this one line
        _worker_error = f"the worker could not load the model: {err}"


def _work(job: PictureJob) -> PictureOutcome:
    if _worker_recognizer is None:
        return PictureOutcome(job, output_error=_worker_error or "the worker has no recognizer")
    return read_picture(_worker_recognizer, job)


def _serve(connection, spec: RecognizerSpec, inherited: list) -> None:
    """A worker process: reads the pictures sent on ``connection`` until the main process closes it.

    Ctrl-C reaches the whole process group: the main process decides what happens, so workers ignore
    it. SIGTERM keeps its default and ends a worker at once: it shares no lock with the main process
    or the other workers (each has a pipe of its own), so however it ends, nothing is left held."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _set_signals_blocked(False)  # blocked by the main process around the fork: no handler ran in between
    for other in inherited:  # the main process's ends of the pipes, inherited by fork
        other.close()
    _start_worker(spec)
    while True:
        try:
            job = connection.recv()
            if job is None:
                return
            connection.send(_work(job))
        except (EOFError, OSError):  # the main process has gone or closed the pipe
            return


_STOPPING = (signal.SIGINT, signal.SIGTERM)


def _set_signals_blocked(blocked: bool) -> None:
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK if blocked else signal.SIG_UNBLOCK, _STOPPING)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block ends, then act as they would have: a worker is started
    and recorded, or all workers are ended, as one step. Python runs signal handlers in the main thread
    whichever thread the signal reached (the libraries' own threads do not block it), so the handlers
    are swapped for one that only notes the signal; the mask keeps it from a child forked meanwhile."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = {number: signal.signal(number, lambda number, _frame: noted.append(number)) for number in _STOPPING}
    _set_signals_blocked(True)
    try:
        yield
    finally:
        _set_signals_blocked(False)
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        for number in dict.fromkeys(noted):
            signal.raise_signal(number)


@contextmanager
def _opencv_threads_stopped(context: multiprocessing.context.BaseContext) -> Iterator[None]:
    """OpenCV's own thread pool stopped while a worker is forked. A child that inherits it with threads
    waiting on its conditions (this process read a picture or a frame before) hangs for ever when it
    sets its own thread count: the threads are not there to wake."""
    if context.get_start_method() != "fork":
        yield
        return
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


class _Worker:
    """One worker process, the main process's end of its pipe, and the job it is reading."""

    def __init__(self, context: multiprocessing.context.BaseContext, spec: RecognizerSpec, others: list["_Worker"]):
        here, there = context.Pipe()
        # a forked child holds copies of this process's ends of the pipes, its own included: it closes
        # them, so that it sees the end of its pipe when this process closes it (or dies)
        inherited = [here, *(w.connection for w in others)] if context.get_start_method() == "fork" else []
        self.process = context.Process(target=_serve, args=(there, spec, inherited), daemon=True,
                                       name="livedigits-worker")
        self.process.start()
        there.close()
        self.connection = here
        self.job: int | None = None  # index of the job being read

    def how_it_ended(self) -> str:
        self.process.join(timeout=1.0)
        code = self.process.exitcode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}" if code is not None else "it stopped answering"

    def end(self) -> None:
        self.connection.close()
        if self.process.is_alive():
            self.process.terminate()


class PictureReader:
    """``with PictureReader(spec, workers, recognizer, expected_jobs=n) as reader: reader.read(jobs)``.

    With workers > 1 and more than one picture to come, the worker processes start on entry: before
    this process starts threads (progress bars, captures) or OpenCV's thread pool, so that forking is
    safe. Otherwise pictures are read in this process with ``recognizer``. Each worker has a pipe of its
    own and reads one picture at a time; results come back in input order. A worker that dies (a crash
    in a decoder, a kill) costs only its picture, reported as skipped, and is replaced. On exit, also
    on Ctrl-C and SIGTERM, every worker is ended and waited for, and a half-written annotated copy is
    removed, so that no worker outlives the command."""

    def __init__(self, spec: RecognizerSpec, workers: int, recognizer: Recognizer | None = None,
                 expected_jobs: int = 0):
        self.spec, self.workers, self.recognizer = spec, max(1, int(workers)), recognizer
        self.expected_jobs = expected_jobs
        self._workers: list[_Worker] = []
        self._jobs: list[PictureJob] = []

    def start(self) -> "PictureReader":
        if not self._workers and self.workers > 1 and self.expected_jobs > 1:
            context = _pool_context()
            try:
                for _ in range(min(self.workers, self.expected_jobs) if context is not None else 0):
                    self._add_worker(context)
            except BaseException:
                self.close(interrupted=True)
                raise
        return self

    def _add_worker(self, context) -> None:
        with _signals_held(), _opencv_threads_stopped(context):
            self._workers.append(_Worker(context, self.spec, self._workers))

    def read(self, jobs: Iterable[PictureJob],
             starting: Callable[[PictureJob], None] = lambda job: None) -> Iterator[PictureOutcome]:
        """The outcomes of ``jobs``, in their order; ``starting(job)`` is called here as a picture's
        reading begins (in a worker or in this process)."""
        jobs = list(jobs)
        if not self._workers or len(jobs) <= 1:
            return (self._read_here(job, starting) for job in jobs)
        return self._read_in_workers(jobs, starting)

    def _read_here(self, job: PictureJob, starting: Callable[[PictureJob], None]) -> PictureOutcome:
        starting(job)
        return read_picture(self._local_recognizer(), job)

    def _local_recognizer(self) -> Recognizer:
        if self.recognizer is None:
            self.recognizer = self.spec.build()
        return self.recognizer

    def _read_in_workers(self, jobs: list[PictureJob],
                         starting: Callable[[PictureJob], None]) -> Iterator[PictureOutcome]:
        self._jobs = jobs
        waiting = deque(range(len(jobs)))       # not handed to a worker yet
        done: dict[int, PictureOutcome] = {}    # read, not yet handed on (a later picture finished first)
        window = 2 * len(self._workers)         # bounds ``done``: annotated pictures for --show are large
        next_index = 0
        while next_index < len(jobs):
            for worker in [w for w in self._workers if w.job is None]:
                if waiting and waiting[0] < next_index + window:
                    self._hand_over(worker, waiting, starting)
            if next_index in done:
                yield done.pop(next_index)
                next_index += 1
                continue  # to hand the next pictures over before waiting
            if not self._workers:  # every worker died and none could be started: read the rest here
                index = waiting.popleft()
                done[index] = self._read_here(jobs[index], starting)
                continue
            busy = {w.connection: w for w in self._workers if w.job is not None}
            for connection in wait(list(busy)) if busy else []:
                worker = busy[connection]
                index, worker.job = worker.job, None
                try:
                    done[index] = connection.recv()
                except (EOFError, OSError):
                    done[index] = PictureOutcome(jobs[index], error=f"the process reading it ended "
                                                                    f"({worker.how_it_ended()})")
                    self._replace(worker)

    def _hand_over(self, worker: _Worker, waiting: deque, starting: Callable[[PictureJob], None]) -> None:
        try:
            worker.connection.send(self._jobs[waiting[0]])
        except OSError:  # it died while idle: the job waits for the next worker
            self._replace(worker)
            return
        worker.job = waiting.popleft()
        starting(self._jobs[worker.job])

    def _replace(self, worker: _Worker) -> None:
        with _signals_held():
            worker.end()
            self._workers.remove(worker)
        context = _pool_context()
        if context is not None:
            self._add_worker(context)

    def close(self, interrupted: bool = False) -> None:
        """Ends the workers: at once when ``interrupted``, else once they have seen their pipe close."""
        if not self._workers:
            return
        with _signals_held():
            for worker in self._workers:
                worker.connection.close()
            deadline = time.monotonic() + (0.0 if interrupted else 2.0)
            for worker in self._workers:
                worker.process.join(timeout=max(0.0, deadline - time.monotonic()))
                if worker.process.is_alive():
                    worker.process.terminate()
            for worker in self._workers:
                worker.process.join(timeout=2.0)
                if worker.process.is_alive():
                    worker.process.kill()
                    worker.process.join()
                if worker.job is not None and self._jobs[worker.job].save_to is not None:
                    remove_partial(self._jobs[worker.job].save_to)
            self._workers = []

    def __enter__(self) -> "PictureReader":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.close(interrupted=exc_type is not None)


def _pool_context() -> multiprocessing.context.BaseContext | None:
    """fork on Linux while this process has no other threads (cheap: workers start with everything
    imported); spawn otherwise (forking a threaded process can deadlock the child, and macOS system
    libraries do not survive fork at all)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is None or not os.path.exists(main_file):
        # spawned workers re-import __main__; from a REPL or stdin they would die at start: read in
        # this process instead
        return None
    return multiprocessing.get_context("spawn")
