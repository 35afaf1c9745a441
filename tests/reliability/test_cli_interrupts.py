"""The command under signals (#14 items 6 and 14): SIGTERM to the whole process group during a folder
run with worker processes, and Ctrl-C or SIGTERM while the command is still importing its modules.

These run the real command in processes of their own, each in a new session (its own process group),
so that a signal to the group reaches the command and its workers and nothing else.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import pytest

from conftest import ROOT
from livedigits.app.batch import PictureJob, PictureReader, RecognizerSpec
from livedigits.app import batch

SAMPLES = ROOT / "samples"
COMMAND = [sys.executable, "-m", "livedigits"]


def group_members(group: int) -> list[str]:
    """Processes of process group ``group`` that have not exited (zombies count as gone), from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        state, process_group = fields[0], int(fields[2])
        if process_group == group and state != "Z":
            members.append(entry.name)
    return members


def wait_for(condition, process: subprocess.Popen, timeout: float = 60.0, poll: float = 0.005) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the run ended before the signal (status {process.returncode})")
        if time.monotonic() > deadline:
            raise AssertionError("the run never reached the moment to signal")
        time.sleep(poll)


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return -1


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """60 small pictures (links to one 320x240 page): a run long enough to be stopped in the middle."""
    folder = tmp_path_factory.mktemp("pages")
    page = cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), (320, 240), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(folder / ".page.png"), page)  # hidden: not read itself
    for k in range(60):
        os.symlink(folder / ".page.png", folder / f"p{k:02d}.png")
    return folder


def test_sigterm_to_the_process_group_ends_a_parallel_folder_run(tmp_path, folder):
    """Item 6: `kill -- -PGID` (what timeout and systemd send) during a folder run with 4 worker
    processes: 10 of 10 runs exit within 2 s with status 143, their JSONL and CSV hold complete records
    in input order, and no process of the group is left. The moment varies from the pool's start to
    several pictures in (the hang needed a worker killed while it held a lock shared with the others)."""
    for trial in range(10):
        jsonl, table = tmp_path / f"r{trial}.jsonl", tmp_path / f"r{trial}.csv"
        process = subprocess.Popen([*COMMAND, folder, "--jsonl", jsonl, "--csv", table, "--workers", "4", "-q"],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   start_new_session=True)
        try:
            wanted = trial % 4  # 0: as soon as the outputs exist (the workers are starting), then 1-3 lines
            wait_for(lambda: lines_in(jsonl) >= wanted, process)
            os.killpg(process.pid, signal.SIGTERM)
            signalled = time.monotonic()
            try:
                _, stderr = process.communicate(timeout=2.0)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"trial {trial}: still running 2 s after SIGTERM to the group "
                                     f"(status {process.poll()}, {group_members(process.pid)})") from None
            took = time.monotonic() - signalled
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert process.returncode == 143, (trial, process.returncode, stderr.decode()[-2000:])
        assert took < 2.0
        assert b"Traceback" not in stderr, stderr.decode()
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert [r["source"] for r in records] == [str(folder / f"p{k:02d}.png") for k in range(len(records))]
        rows = table.read_text().splitlines()
        assert rows[0].startswith("source,frame") and all(row.count(",") == rows[0].count(",") for row in rows)
        assert len(rows) - 1 == sum(len(r["digits"]) for r in records)
        deadline = time.monotonic() + 1.0
        while group_members(process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert group_members(process.pid) == [], f"trial {trial}: processes left over"


def test_a_worker_that_dies_costs_only_its_picture(tmp_path, monkeypatch):
    """The pool behind item 6: a worker killed in the middle of a picture (a decoder crash, a kill) is
    reported for that picture and replaced; the other pictures are read, in order."""
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), (320, 240)))
    jobs = [PictureJob(page if k != 3 else tmp_path / "crash.png") for k in range(8)]
    reading = batch.read_picture

    def crashing(recognizer, job):  # runs in the forked workers: the crash takes the whole process
        if job.path.name == "crash.png":
            os.kill(os.getpid(), signal.SIGKILL)
        return reading(recognizer, job)

    monkeypatch.setattr(batch, "read_picture", crashing)
    # forked workers, whatever threads earlier tests left: they must inherit the crashing read_picture
    monkeypatch.setattr(batch, "_pool_context", lambda: multiprocessing.get_context("fork"))
    with PictureReader(RecognizerSpec(None, 0.5), 2, expected_jobs=len(jobs)) as reader:
        outcomes = []  # read in a thread, so that a pool that waits for ever fails the test instead
        reading_thread = threading.Thread(target=lambda: outcomes.extend(reader.read(jobs)), daemon=True)
        reading_thread.start()
        reading_thread.join(timeout=60)
        assert not reading_thread.is_alive(), "the pool waits for ever for the dead worker's picture"
        workers = [w.process for w in reader._workers]
        assert len(workers) == 2 and all(p.is_alive() for p in workers)  # the dead one was replaced
    assert [o.job for o in outcomes] == jobs
    assert "killed by SIGKILL" in outcomes[3].error
    assert all(o.error is None and o.reading.text for k, o in enumerate(outcomes) if k != 3)
    assert not any(p.is_alive() for p in workers)  # all ended on exit


def mapped(pid: int, needle: str) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("signal_number, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_while_importing_is_quiet(signal_number, status):
    """Item 14: Ctrl-C (or SIGTERM) in the command's first moments, while numpy, OpenCV and the
    pipeline are still being imported, ends it with 130 (143) and one short line, no traceback. The
    signal is sent as soon as numpy's library is mapped into the process (imports under way), and
    then a little later in further trials."""
    for delay in (0.0, 0.03, 0.08, 0.15):
        process = subprocess.Popen([*COMMAND, "samples/plain.jpg", "-q"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, start_new_session=True)
        try:
            wait_for(lambda: mapped(process.pid, "_multiarray_umath"), process, poll=0.001)
            time.sleep(delay)
            process.send_signal(signal_number)
            _, stderr = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert b"Traceback" not in stderr and b"KeyboardInterrupt" not in stderr, (delay, stderr.decode())
        assert process.returncode == status, (delay, process.returncode, stderr.decode())


def test_workers_end_as_soon_as_the_run_does(tmp_path, monkeypatch):
    """At the end of a run the workers see their pipe close and exit at once (a forked worker held a
    copy of the main process's end of its own pipe, and closing waited 2 s for it), and while it runs
    every picture is read by a worker, none in the main process."""
    page = tmp_path / "page.png"
    cv2.imwrite(str(page), cv2.resize(cv2.imread(str(SAMPLES / "plain.jpg")), (160, 120)))
    read_here = []
    monkeypatch.setattr(PictureReader, "_read_here", lambda self, job, starting: read_here.append(job))
    monkeypatch.setattr(batch, "_pool_context", lambda: multiprocessing.get_context("fork"))
    reader = PictureReader(RecognizerSpec(None, 0.5), 2, expected_jobs=12).start()
    try:
        outcomes = list(reader.read([PictureJob(page)] * 12))
    finally:
        started = time.monotonic()
        reader.close()
        took = time.monotonic() - started
    assert read_here == [] and len(outcomes) == 12 and all(o.reading.text for o in outcomes)
    assert took < 1.0, f"closing took {took:.1f} s"
