"""--cluster (#18) on a real Ray instance: a head node started here with 2 CPUs (``ray start --head``),
reached by address, and ``--cluster local``. The records equal a local run's; an actor killed in the
middle of a run changes nothing; an interrupted run finished with --resume holds each picture once.
Also: without Ray the command says how to install it, in one line.

The commands run as processes of their own, as a user runs them.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import cv2
import pytest

from conftest import ROOT
from livedigits.synthetic.scenes import make_scene

if not os.environ.get("CI"):  # CI installs requirements-dev.txt, Ray included: there these always run
    pytest.importorskip("ray.data", reason='Ray is an extra: pip install "livedigits[cluster]"')

PICTURES = 36
COMMAND = [sys.executable, "-m", "livedigits"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, mnist) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    for i in range(PICTURES):  # large enough that a run lasts while an actor is killed
        scene = make_scene(mnist.x_test, mnist.y_test, seed=1818 + i, width=960, height=720)
        cv2.imwrite(str(folder / f"scan{i:02d}.jpg"), scene.image)
    return folder


@pytest.fixture(scope="module")
def local_run(folder, tmp_path_factory) -> tuple[dict[str, dict], Counter]:
    """Records and CSV rows of the local worker pool."""
    out = tmp_path_factory.mktemp("local")
    done = run([folder, "--jsonl", out / "r.jsonl", "--csv", out / "r.csv", "-q"])
    assert done.returncode == 0, done.stderr
    return records(out / "r.jsonl"), Counter((out / "r.csv").read_text().splitlines())


@pytest.fixture(scope="module")
def head():
    """A Ray head node with 2 CPUs, in a session of its own: ended with its whole process group, so
    that nothing of it outlives the tests (``ray stop`` would stop every Ray on the machine)."""
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ld-ray-")
    ports = [f"--{name}={free_port()}" for name in ("ray-client-server-port", "dashboard-agent-listen-port",
                                                     "dashboard-agent-grpc-port", "metrics-export-port",
                                                     "runtime-env-agent-port", "node-manager-port",
                                                     "object-manager-port")]
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--object-store-memory=200000000",
         f"--temp-dir={temp}", *ports],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        said = []
        for line in process.stdout:  # ready once it says so (it then only waits for SIGTERM)
            said.append(line)
            if "Ray runtime started" in line:
                break
        assert process.poll() is None, "ray start --head ended:\n" + "".join(said)
        threading.Thread(target=process.stdout.read, daemon=True).start()  # never blocks on a full pipe
        yield f"127.0.0.1:{port}", process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # ray start --block stops its node's processes on SIGTERM
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for pid in descendants(process.pid):  # workers that were not waited for
            os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          **kwargs)


def records(path: Path) -> dict[str, dict]:
    lines = path.read_text().splitlines()
    found = [json.loads(line) for line in lines]
    repeated = [source for source, n in Counter(r["source"] for r in found).items() if n > 1]
    assert not repeated, f"recorded more than once: {repeated}"
    return {r["source"]: r for r in found}


def descendants(root: int) -> list[str]:
    """Processes below ``root`` (from /proc): the head's Ray processes and workers."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[entry.name] = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                pass
    found, frontier = [], {str(root)}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found.extend(children)
        frontier = children
    return found


def actor_processes(root: int) -> list[int]:
    actors = []
    for pid in descendants(root):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"PictureActor" in title:
            actors.append(int(pid))
    return actors


def lines_in(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_cluster_local_records_equal_a_local_run(folder, local_run, tmp_path):
    done = run([folder, "--cluster", "local", "--jsonl", tmp_path / "r.jsonl", "--csv", tmp_path / "r.csv",
                "--save", tmp_path / "annotated"])
    assert done.returncode == 0, done.stderr
    assert records(tmp_path / "r.jsonl") == local_run[0]
    assert Counter((tmp_path / "r.csv").read_text().splitlines()) == local_run[1]
    assert sorted(p.name for p in (tmp_path / "annotated").iterdir()) == sorted(p.name for p in folder.iterdir())
    assert sorted(done.stdout.splitlines()) == sorted(f"{s}\t{' '.join(r['text'].splitlines())}"
                                                      for s, r in local_run[0].items())
    assert f"read {PICTURES} pictures" in done.stderr and "Traceback" not in done.stderr


def test_an_actor_killed_mid_run_changes_nothing(folder, local_run, head, tmp_path):
    address, head_pid = head
    jsonl = tmp_path / "r.jsonl"
    process = subprocess.Popen([*COMMAND, str(folder), "--cluster", address, "--jsonl", str(jsonl), "-q"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and process.poll() is None and time.monotonic() < deadline:
        actors = actor_processes(head_pid)
        if actors and lines_in(jsonl) >= 2:  # reading has begun: the actor is in the middle of a block
            killed = actors[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.01)
    _, stderr = process.communicate(timeout=180)
    assert killed is not None, f"the run ended before an actor could be killed: {stderr}"
    assert process.returncode == 0, stderr
    assert not Path(f"/proc/{killed}").exists() or b"PictureActor" not in Path(f"/proc/{killed}/cmdline").read_bytes()
    assert records(jsonl) == local_run[0]


def test_an_interrupted_cluster_run_finished_with_resume(folder, local_run, head, tmp_path):
    address, _ = head
    jsonl, csv = tmp_path / "r.jsonl", tmp_path / "r.csv"
    args = [*COMMAND, str(folder), "--cluster", address, "--jsonl", str(jsonl), "--csv", str(csv)]
    process = subprocess.Popen(args + ["-q"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while lines_in(jsonl) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGTERM)  # what timeout and systemd send: to the whole process group
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    first = lines_in(jsonl)
    assert 5 <= first < PICTURES, "the run was not interrupted in the middle"

    done = run([*args[3:], "--resume"])
    assert done.returncode == 0, done.stderr
    assert f"resuming: {first} pictures of {PICTURES} read before" in done.stderr
    assert f"read {PICTURES - first} pictures" in done.stderr
    assert records(jsonl) == local_run[0]
    assert Counter(csv.read_text().splitlines()) == local_run[1]


POISON_SCRIPT = """
import json, os, pickle, sys
from pathlib import Path
from livedigits.app.batch import PictureJob, RecognizerSpec
from livedigits.app.cluster import ClusterReader, PictureActor

folder, address = Path(sys.argv[1]), sys.argv[2]
poison = folder / "scan05.jpg"

class CrashingActor(PictureActor):  # defined in __main__: Ray sends the class itself to the workers
    def __call__(self, batch):
        if any(pickle.loads(job).path == poison for job in batch["job"]):
            os._exit(1)
        return super().__call__(batch)

class Reader(ClusterReader):
    actor = CrashingActor

jobs = [PictureJob(path) for path in sorted(folder.iterdir())[:8]]
with Reader(address, RecognizerSpec(None, 0.5), workers=2, expected_jobs=len(jobs)) as reader:
    outcomes = list(reader.read(jobs))
print(json.dumps([[str(o.job.path), o.error, o.reading.text if o.reading else None] for o in outcomes]))
"""


def test_a_picture_that_kills_its_reader_every_time_is_skipped_alone(folder, local_run, head):
    """A picture whose reading ends the actor's process (a decoder's crash) each time: after Ray's
    retries its block is dropped, the block's other pictures are read one by one, and only it is
    reported as skipped."""
    done = subprocess.run([sys.executable, "-c", POISON_SCRIPT, str(folder), head[0]], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    outcomes = json.loads(done.stdout.splitlines()[-1])
    poison = str(folder / "scan05.jpg")
    assert sorted(path for path, _, _ in outcomes) == sorted(str(p) for p in sorted(folder.iterdir())[:8])
    assert [(path, "died 4 times" in error) for path, error, _ in outcomes if error] == [(poison, True)]
    for path, _, text in outcomes:
        if path != poison:
            assert text == local_run[0][path]["text"]


def test_without_ray_the_command_says_how_to_install_it(folder, tmp_path):
    code = ("import sys; sys.modules['ray'] = None; from livedigits.app.cli import main; "
            f"sys.exit(main([{str(folder)!r}, '--cluster', 'local', '--jsonl', {str(tmp_path / 'r.jsonl')!r}]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == 'livedigits: error: reading on a cluster needs Ray, which is not installed here; ' \
                          'pip install "livedigits[cluster]"\n'
    assert not (tmp_path / "r.jsonl").exists()


def test_cluster_refuses_what_it_cannot_do(folder):
    for args, needle in (([folder, "--cluster", "local", "--show"], "--show cannot be used with --cluster"),
                         (["0", "--cluster", "local"], "--cluster reads pictures from a folder"),
                         ([folder, "--cluster"], "RAY_ADDRESS is not set")):
        done = run(args, env={**os.environ, "RAY_ADDRESS": ""})
        assert done.returncode == 2 and needle in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


def test_a_run_without_cluster_never_imports_ray(folder, tmp_path):
    code = ("import sys; from livedigits.app.cli import main; "
            f"status = main([{str(folder / 'scan00.jpg')!r}, '--resume', '--jsonl', {str(tmp_path / 'r.jsonl')!r}]); "
            "assert status == 0, status; assert 'ray' not in sys.modules, 'ray was imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
