#!/usr/bin/env python3
"""The local worker pool against `--cluster local` (Ray Data on this machine) on the same folder of
scanned-size pictures: pictures per second, and what Ray costs per picture.

    python benchmarks/cluster.py                    # 200 pictures of 1700x2200 (A4 at 200 dpi), 3 runs each
    python benchmarks/cluster.py --write            # the same, and the "Cluster" section of RESULTS.md replaced
    python benchmarks/cluster.py --count 40 --runs 1 --size 1240x1754

The pictures are generated scenes (livedigits.synthetic: MNIST test digits on every kind of paper,
several lines of 3-10 digits) written as JPEG into a temporary folder (DISTINCT scenes, each copied
under several names: a scanned-size scene takes seconds to generate). Each run is the real command as
a user runs it, timed from process start to exit (so Ray's start and stop are counted):

    python -m livedigits FOLDER --quiet --jsonl OUT [--cluster local]

The two kinds alternate, RUNS times each; medians are reported. Both must write the same records.
Ray's fixed cost (starting Ray and the actors, stopping them) is measured the same way on a folder of
SMALL pictures, and its overhead per picture on a folder of TINY pictures (320x240, one line of
digits: read in a few milliseconds, so that what a picture costs Ray is not lost in reading time):
(cluster - local - fixed cost) / TINY.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
from results_file import RESULTS, replace_sections  # benchmarks/, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SECTION = "## Cluster"

from livedigits.classify import available_cores  # noqa: E402
from livedigits.synthetic.scenes import make_scene  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402


def make_folder(folder: Path, count: int, width: int, height: int, mnist, distinct: int) -> None:
    """``count`` JPEG files: ``distinct`` generated scenes (a large one takes seconds to make), each
    written under several names."""
    for i in range(min(count, distinct)):
        small = width < 640  # the tiny pictures: one short line
        scene = make_scene(mnist.x_test, mnist.y_test, 1800 + i, width, height, lines=1 if small else (i % 6) + 3,
                           digits_per_line=(3, 6) if small else (3, 10))
        cv2.imwrite(str(folder / f"scan_{i:04d}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    for i in range(distinct, count):
        shutil.copyfile(folder / f"scan_{i % distinct:04d}.jpg", folder / f"scan_{i:04d}.jpg")


def timed_run(folder: Path, out: Path, cluster: bool) -> tuple[float, dict[str, str]]:
    """Seconds from process start to exit, and the texts it wrote by picture."""
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "livedigits", str(folder), "--quiet", "--jsonl", str(out)]
    if cluster:
        command += ["--cluster", "local"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    texts = {record["source"]: record["text"] for record in map(json.loads, out.read_text().splitlines())}
    return seconds, texts


def compare(folder: Path, out: Path, runs: int) -> tuple[list[float], list[float]]:
    local, cluster, reference = [], [], None
    for run in range(runs):
        for kind, times in (("local", local), ("cluster", cluster)) if run % 2 == 0 else \
                (("cluster", cluster), ("local", local)):
            seconds, texts = timed_run(folder, out, kind == "cluster")
            reference = reference or texts
            if texts != reference:
                raise SystemExit(f"the {kind} run wrote other records than the first run")
            times.append(seconds)
            print(f"  {folder.name}: {kind} run {run + 1}: {seconds:.1f} s", flush=True)
    return local, cluster


def report(args, width: int, height: int, megabytes: float, load: tuple[float, float], fixed_local, fixed_cluster,
           tiny_local, tiny_cluster, local, cluster) -> str:
    """The RESULTS.md section from the run times (seconds; lists of runs)."""
    median = statistics.median
    local_rate, cluster_rate = args.count / median(local), args.count / median(cluster)
    fixed = median(fixed_cluster) - median(fixed_local)           # Ray's start and stop, and the actors'
    # once running: the tiny folder less the small one, per picture, with Ray and without
    once_cluster = (median(tiny_cluster) - median(fixed_cluster)) / (args.tiny - args.small) * 1000
    once_local = (median(tiny_local) - median(fixed_local)) / (args.tiny - args.small) * 1000
    per_picture_ms = once_cluster - once_local
    cores = available_cores()
    lines = [
        SECTION, "",
        f"`python benchmarks/cluster.py --count {args.count} --size {args.size} --runs {args.runs}`: "
        f"{args.count} generated scans of {width}x{height} (JPEG, {megabytes:.1f} MB each, 9-60 digits; "
        f"{min(args.distinct, args.count)} distinct scenes, each under up to {-(-args.count // args.distinct)} names), "
        f"the command timed from start to exit, medians of {args.runs} runs of each kind, alternating. "
        f"Machine: {cores} cores, {platform.processor() or platform.machine()}, shared with other work "
        f"(load average {load[0]:.1f} before, {load[1]:.1f} after), so single runs vary.", "",
        "| | seconds (median; all runs) | pictures/s | of the local pool |",
        "|---|---|---|---|",
        f"| local worker pool ({cores} workers) | {median(local):.1f} ({', '.join(f'{t:.1f}' for t in local)}) | "
        f"{local_rate:.2f} | 100 % |",
        f"| `--cluster local` (Ray Data, {cores} actors) | {median(cluster):.1f} "
        f"({', '.join(f'{t:.1f}' for t in cluster)}) | {cluster_rate:.2f} | **{cluster_rate / local_rate:.0%}** |",
        "",
        f"Ray's fixed cost (start Ray, start the actors and load the model, stop it all): **{fixed:.1f} s** per "
        f"run (the same command on {args.small} pictures: {median(fixed_cluster):.1f} s with Ray, "
        f"{median(fixed_local):.1f} s without). Once running, on {args.tiny} pictures of 320x240 that take "
        f"milliseconds to read ({median(tiny_cluster):.1f} s with Ray, {median(tiny_local):.1f} s without, "
        f"less the {args.small}-picture runs), a picture costs **{once_cluster:.1f} ms** of wall time with Ray "
        f"and {once_local:.1f} ms in the local pool: Ray's overhead per picture is **{per_picture_ms:+.1f} ms** "
        f"({per_picture_ms / (median(local) / args.count * 1000):+.1%} of the local pool's time per "
        f"{width}x{height} picture).", "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="pictures in the folder (default 200)")
    parser.add_argument("--size", default="1700x2200", help="WIDTHxHEIGHT of each picture (default 1700x2200)")
    parser.add_argument("--small", type=int, default=4, help="pictures in the folder that measures Ray's fixed cost")
    parser.add_argument("--tiny", type=int, default=2000, help="tiny pictures for Ray's overhead per picture")
    parser.add_argument("--distinct", type=int, default=20, help="distinct scenes among the pictures (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3; medians reported)")
    parser.add_argument("--write", action="store_true", help="replace the Cluster section of benchmarks/RESULTS.md")
    add_mnist_option(parser)
    args = parser.parse_args()
    width, height = map(int, args.size.lower().split("x"))
    mnist = load_mnist_for(parser, args.mnist)

    with tempfile.TemporaryDirectory(prefix="livedigits-cluster-bench-") as temp:
        full, small, tiny, out = (Path(temp) / name for name in ("full", "small", "tiny", "out.jsonl"))
        for folder in (full, small, tiny):
            folder.mkdir()
        print(f"writing {args.count} pictures of {width}x{height} ...", flush=True)
        make_folder(full, args.count, width, height, mnist, args.distinct)
        make_folder(small, args.small, width, height, mnist, args.distinct)
        make_folder(tiny, args.tiny, 320, 240, mnist, args.distinct)
        megabytes = sum(p.stat().st_size for p in full.iterdir()) / args.count / 1e6
        load_before = os.getloadavg()[0]
        fixed_local, fixed_cluster = compare(small, out, args.runs)
        tiny_local, tiny_cluster = compare(tiny, out, args.runs)
        local, cluster = compare(full, out, args.runs)
        load_after = os.getloadavg()[0]
    text = report(args, width, height, megabytes, (load_before, load_after), fixed_local, fixed_cluster, tiny_local,
                  tiny_cluster, local, cluster)
    print(text)
    if args.write:
        replace_sections(text + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
