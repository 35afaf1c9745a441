"""--cluster: the pictures of a run read on a Ray cluster, the outputs written here as results arrive.

A Ray Data pipeline: the jobs (path, rotation, where the annotated copy goes) are blocks of a dataset;
an actor pool (``map_batches`` with a class) holds one Recognizer per actor, loaded once, and each
actor reads its pictures from the file system, decodes, recognises and writes the --save copy itself,
so only the small Reading travels back. Results stream to this process, which writes the sinks as
they arrive (Ray Data's backpressure keeps at most a few blocks in flight, whatever the run's size).

Reading and decoding happen in the actors rather than in tasks of a stage of their own: a decoded
scan is 10-30 times its file, and moving it through the object store costs more than decoding it
where it is read; on few cores a separate stage also competes with the actors for CPUs.

Every picture once: an actor that dies (killed, out of memory, a node lost) is restarted by Ray and
its block read again; this process writes a picture's records only the first time its result comes
back. A block that still fails after its retries is dropped by Ray Data (``max_errored_blocks``), and
its pictures are read once more, one per block, so that a picture that kills its reader every time
costs only itself: it is reported and skipped. A picture that cannot be decoded is an answer, not an
error: it is reported and skipped at once, never retried.

Ray is imported only here, and only for a --cluster run: the default install stays lean.
"""
from __future__ import annotations

import hashlib
import importlib
import logging
import os
import pickle
import signal
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from ..classify import available_cores, default_model_path
from ..sources import SourceError
from .batch import PictureJob, PictureOutcome, RecognizerSpec, read_picture

RAY_MISSING = 'reading on a cluster needs Ray, which is not installed here; pip install "livedigits[cluster]"'
ADDRESS_HELP = "give --cluster local (Ray on this machine), auto (the cluster this machine belongs to) or ray://HOST:10001"
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # only small readings and job descriptions travel through it
MOST_PICTURES_PER_BLOCK = 8    # a block is what a retry reads again; fewer blocks cost less scheduling
PICTURES_PER_DATASET = 20_000  # an archive is read in windows of this many pictures, one dataset each
TASK_RETRIES = 3               # a block whose actor died is read again this many times, then dropped


class ClusterError(SourceError):
    """The cluster cannot be used; the message is one line: what is wrong; what to do."""


def check_ray(address: str | None) -> None:
    """ClusterError when ``--cluster ADDRESS`` cannot be used: no address, or Ray (with Ray Data) is missing."""
    _import_ray(resolve_address(address))


def _import_ray(address: str):
    # Ray reads its settings from the environment as it is imported: they are set first
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # Ray's C++ core writes notes for its developers to stderr
    if address != "local" and "RAY_AUTH_MODE" not in os.environ and _auth_token_available():
        # a cluster started with `ray start` uses token authentication and refuses a driver without
        # it; Ray's own command line turns it on whenever a token is there: so does this
        os.environ["RAY_AUTH_MODE"] = "token"
    try:
        ray = importlib.import_module("ray")
        importlib.import_module("ray.data")
    except ImportError:
        raise ClusterError(RAY_MISSING) from None
    return ray


def resolve_address(address: str | None) -> str:
    """``--cluster ADDRESS``; without one, $RAY_ADDRESS."""
    address = (address or os.environ.get("RAY_ADDRESS") or "").strip()
    if not address:
        raise ClusterError(f"--cluster needs an address and RAY_ADDRESS is not set; {ADDRESS_HELP}")
    return address


class PictureActor:
    """One actor of the pool: loads the model once, then reads blocks of pictures. The model is the
    worker's own file (--model PATH as for the pictures: a path every node reaches; else the worker's
    installed model), checked against the one this run was started with: every worker reads alike."""

    def __init__(self, model: str | None, checksum: str, min_confidence: float, reader: str = "auto"):
        cv2.setNumThreads(1)  # one actor per CPU already
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        path = Path(model) if model else default_model_path()
        try:
            found = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as err:
            raise ClusterError(f"a worker cannot read the model {path}: {err.strerror or err}; give --model a "
                               "path every node reaches, or install the same livedigits on every node") from None
        if found != checksum:
            raise ClusterError(f"a worker's model {path} differs from this machine's; install the same livedigits "
                               "(or give --model a file on a shared folder) on every node")
        self.recognizer = RecognizerSpec(model, min_confidence, reader).build()

    def __call__(self, batch: dict) -> dict:
        outcomes = []
        for job in batch["job"]:
            outcome = read_picture(self.recognizer, pickle.loads(job))
            outcomes.append(pickle.dumps((outcome.reading, outcome.error, outcome.output_error)))
        column = np.empty(len(outcomes), dtype=object)
        column[:] = outcomes
        return {"index": batch["index"], "outcome": column}


class ClusterReader:
    """``with ClusterReader(address, spec, workers, messages) as reader: reader.read(jobs)``: the same
    protocol as batch.PictureReader, but outcomes come back in the order they finish.

    ``workers`` is the number of actors (None: one per CPU of the cluster). Connects on entry (``local``
    starts Ray on this machine with its cores, and stops it on exit); on exit, also on Ctrl-C, the
    pipeline is stopped and this process leaves the cluster."""

    actor: type = PictureActor  # tests put in one that fails

    def __init__(self, address: str | None, spec: RecognizerSpec, workers: int | None = None, messages=None,
                 expected_jobs: int = 0):
        self.address = resolve_address(address)
        self.spec, self.workers, self.messages = spec, workers, messages
        self.expected_jobs = expected_jobs
        self._ray = None
        self._started_ray = False

    # -- connecting --------------------------------------------------------------------------------
    def start(self) -> "ClusterReader":
        if self._ray is not None or self.expected_jobs == 0:
            return self
        ray = _import_ray(self.address)
        self._ray = ray
        if ray.is_initialized():  # a program that connected itself (tests, notebooks): use its cluster
            return self
        quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                     namespace="livedigits")
        try:
            with _stderr_muted(), _signal_handlers_kept():
                if self.address == "local":
                    ray.init(address="local", num_cpus=available_cores(),
                             object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
                else:
                    ray.init(address=self.address, **quiet)
        except Exception as err:  # ConnectionError, ValueError for a malformed address, RuntimeError...
            raise ClusterError(f"cannot start or reach Ray at {self.address}: {_first_line(err)}; "
                               f"{ADDRESS_HELP}") from None
        self._started_ray = True
        if self.messages is not None:
            resources = ray.cluster_resources()
            where = "on this machine" if self.address == "local" else f"at {self.address}"
            nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
            self.messages.say(f"reading on the Ray cluster {where}: {int(resources.get('CPU', 0))} CPUs on "
                              f"{nodes} node{'s' if nodes != 1 else ''}")
        return self

    def close(self, interrupted: bool = False) -> None:
        if self._ray is not None and self._started_ray:
            self._ray.shutdown()  # leaves the cluster; a local one is stopped, with its workers
        self._ray, self._started_ray = None, False

    def __enter__(self) -> "ClusterReader":
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        self.close(interrupted=exc_type is not None)

    # -- reading -----------------------------------------------------------------------------------
    def read(self, jobs: Iterable[PictureJob],
             starting: Callable[[PictureJob], None] = lambda job: None) -> Iterator[PictureOutcome]:
        """The outcomes of ``jobs``, each once, in the order they are read. ``starting`` is not called:
        this process does not see a picture start on another machine."""
        jobs = list(jobs)
        if not jobs:
            return iter(())
        self.start()
        return self._read(jobs)

    def _read(self, jobs: list[PictureJob]) -> Iterator[PictureOutcome]:
        # an archive is read in windows: the rows of a dataset are held by this process and Ray's object
        # store from the start, and a few thousand blocks are what Ray Data schedules well
        for first in range(0, len(jobs), PICTURES_PER_DATASET):
            yield from self._read_window(jobs, range(first, min(len(jobs), first + PICTURES_PER_DATASET)))

    def _read_window(self, jobs: list[PictureJob], window: range) -> Iterator[PictureOutcome]:
        left = set(window)
        # first pass: blocks of several pictures; second: the pictures of blocks that failed, one per block
        for per_block in (None, 1):
            if not left:
                break
            for index, outcome in self._pass(jobs, sorted(left), per_block):
                if index in left:  # a block read again after its actor died may bring a picture twice
                    left.discard(index)
                    yield outcome
        for index in sorted(left):
            yield PictureOutcome(jobs[index], error=f"its reader died {TASK_RETRIES + 1} times while reading it")

    def _pass(self, jobs: list[PictureJob], indices: list[int], per_block: int | None):
        ray = self._ray
        data = importlib.import_module("ray.data")
        context = data.DataContext.get_current()
        context.enable_progress_bars = False      # the run's own bar counts pictures
        context.print_on_execution_start = False
        context.enable_auto_log_stats = False
        context.max_errored_blocks = -1           # a block that fails after its retries is dropped, not the run
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # a dropped block is reported here, by picture
        actors = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        per_block = per_block or max(1, min(MOST_PICTURES_PER_BLOCK, len(indices) // (4 * actors)))
        rows = [{"index": i, "job": pickle.dumps(_worker_job(jobs[i]))} for i in indices]
        model = Path(self.spec.model) if self.spec.model else default_model_path()
        checksum = hashlib.sha256(model.read_bytes()).hexdigest()
        dataset = data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // per_block)))
        with warnings.catch_warnings():  # retries are still set through the remote arguments
            warnings.simplefilter("ignore", DeprecationWarning)
            dataset = _map_batches(dataset, self.actor, self.spec, checksum, actors, len(rows))
        try:
            for row in dataset.iter_rows():
                index = int(row["index"])
                reading, error, output_error = pickle.loads(row["outcome"])
                yield index, PictureOutcome(jobs[index], reading=reading, error=error, output_error=output_error)
        except (ray.exceptions.RayError, ValueError, RuntimeError) as err:
            raise ClusterError(f"the cluster could not read the pictures: {_first_line(err)}") from None


def _auth_token_available() -> bool:
    return bool(os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                or (Path.home() / ".ray" / "auth_token").is_file())


@contextmanager
def _signal_handlers_kept() -> Iterator[None]:
    """ray.init sets a SIGTERM handler that exits at once: the run's own (app/interrupts.py) is put
    back, so that SIGTERM closes the outputs as after Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    kept = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in kept.items():
            if handler is not None:
                signal.signal(number, handler)


@contextmanager
def _stderr_muted() -> Iterator[None]:
    """File descriptor 2 sent to the null device (what native code writes there included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _first_line(err: Exception) -> str:
    """The cause's own message: Ray wraps a worker's error in lines of its own."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    named = [line for line in lines if line.startswith(("ClusterError:", "ModelError:"))]
    return (named or lines or [type(err).__name__])[-1 if named else 0].split(": ", 1)[-1]


def _map_batches(dataset, actor: type, spec: RecognizerSpec, checksum: str, actors: int, rows: int):
    return dataset.map_batches(
        actor, fn_constructor_kwargs=dict(model=spec.model, checksum=checksum, min_confidence=spec.min_confidence,
                                    reader=spec.reader),
        batch_size=None, batch_format="numpy", concurrency=min(actors, rows), num_cpus=1,
        max_restarts=-1, max_task_retries=TASK_RETRIES)


def _worker_job(job: PictureJob) -> PictureJob:
    """The job as a worker reads it: absolute paths (a worker's current folder is not this one's), no
    annotated picture sent back."""
    return replace(job, path=Path(os.path.abspath(job.path)), keep_annotated=False,
                   save_to=Path(os.path.abspath(job.save_to)) if job.save_to is not None else None)
