#!/usr/bin/env python3
"""Speed of livedigits, stage by stage, against the naive loop of the digit tutorials.

    python benchmarks/bench.py                 # everything; writes benchmarks/RESULTS.md
    python benchmarks/bench.py --only frames   # one section: frames, steady, throughput, cold, memory, folder, live
    python benchmarks/bench.py --only against --against ../main   # this checkout against another, frame by frame

All numbers are medians over many runs after a warm-up; spreads are the 10th-90th percentiles.
Frames come from the scene generator (MNIST test digits on paper), so no data is needed but MNIST.
"""
from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from results_file import RESULTS, replace_sections  # benchmarks/, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from livedigits import Recognizer, draw  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.synthetic.scenes import blank_scene, make_scene  # noqa: E402

SCENARIOS = [((640, 480), 0), ((640, 480), 10), ((640, 480), 40), ((1280, 720), 0), ((1280, 720), 10),
             ((1280, 720), 40)]


# -- frames ---------------------------------------------------------------------------------------
def scenario_frames(mnist, size, digits, count, seed=0):
    width, height = size
    if digits == 0:
        return [blank_scene(seed + i, width, height, paper=("plain", "ruled", "squared")[i % 3]) for i in range(count)]
    lines, per_line = (2, 5) if digits == 10 else (4, 10)
    return [make_scene(mnist.x_test, mnist.y_test, seed + i, width, height, lines=lines,
                       digits_per_line=per_line).image for i in range(count)]


def percentiles(values):
    values = np.asarray(values)
    return float(np.median(values)), float(np.percentile(values, 10)), float(np.percentile(values, 90))


def time_frames(recognizer, frames, repeats):
    """Per-frame stage times (ms) over `repeats` passes, after one warm-up pass."""
    for frame in frames:
        draw(frame, recognizer.recognize(frame))
    rows = []
    for _ in range(repeats):
        for frame in frames:
            stages = {}
            started = time.perf_counter()
            reading = recognizer.recognize(frame, stages)
            drawn = time.perf_counter()
            draw(frame, reading)
            stages["draw"] = time.perf_counter() - drawn
            stages["total"] = time.perf_counter() - started
            stages["digits"] = len(reading.digits)
            rows.append(stages)
    return rows


class NaiveTutorialReader:
    """The loop of the usual tutorials, on the same shipped model: Otsu threshold, external contours,
    each box resized straight to 28x28, one Keras ``model.predict`` per crop."""

    def __init__(self, keras_path: Path):
        import keras
        self.model = keras.models.load_model(keras_path, compile=False)

    def read(self, image):
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
        contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        found = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h < 100:
                continue
            crop = cv2.resize(binary[y:y + h, x:x + w], (28, 28)).astype(np.float32) / 255.0
            probabilities = self.model.predict(crop[None, ..., None], verbose=0)[0]
            found.append((x, y, w, h, int(np.argmax(probabilities[:10]))))
        return found


def section_frames(args, mnist, report):
    recognizer = Recognizer(num_threads=args.threads, reader=args.reader)
    naive = NaiveTutorialReader(ROOT / "models" / "digits.keras") if not args.no_naive else None
    report.append("## Frames (end to end: segment + normalise + classify + draw)\n")
    report.append("Stage medians per frame, except grids and strings: their means (most frames skip them).\n")
    report.append("| frame | digits | found | segment ms | grids ms | normalise ms | classify ms | strings ms | draw ms | total ms (p10-p90) | frames/s | naive frames/s | ratio |")
    report.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for size, digits in SCENARIOS:
        frames = scenario_frames(mnist, size, digits, args.distinct)
        rows = time_frames(recognizer, frames, args.repeats)
        med = {k: statistics.median(r[k] for r in rows) * 1000 for k in ("segment", "normalise", "classify", "draw")}
        med.update({k: statistics.mean(r.get(k, 0.0) for r in rows) * 1000 for k in ("grids", "strings")})
        total, p10, p90 = percentiles([r["total"] * 1000 for r in rows])
        fps = 1000.0 / total
        naive_fps = ratio = ""
        if naive is not None:
            naive_frames = frames[:args.naive_frames]
            naive.read(naive_frames[0])  # warm-up
            times = []
            for frame in naive_frames:
                started = time.perf_counter()
                naive.read(frame)
                times.append(time.perf_counter() - started)
            naive_rate = 1.0 / statistics.median(times)
            naive_fps, ratio = f"{naive_rate:.1f}", f"{fps / naive_rate:.0f}x"
        found = statistics.median(r["digits"] for r in rows)
        report.append(f"| {size[0]}x{size[1]} | {digits} | {found:.0f} | {med['segment']:.2f} | {med['grids']:.2f} | "
                      f"{med['normalise']:.2f} | {med['classify']:.2f} | {med['strings']:.2f} | {med['draw']:.2f} | "
                      f"{total:.2f} ({p10:.2f}-{p90:.2f}) | {fps:.0f} | "
                      f"{naive_fps} | {ratio} |")
        print(report[-1], flush=True)
    report.append("")


def section_throughput(args, mnist, report):
    from livedigits.classify import Classifier
    crops = (mnist.x_test[:256].astype(np.float32) / 255.0)[..., None]
    report.append("## Classification throughput (LiteRT, crops per second)\n")
    report.append("| batch | 1 thread | 2 threads |")
    report.append("|---|---|---|")
    for batch in (1, 10, 256):
        rates = []
        for threads in (1, 2):
            classifier = Classifier(num_threads=threads)
            data = crops[:batch]
            classifier.predict(data)
            times = []
            for _ in range(max(5, 2000 // batch)):
                started = time.perf_counter()
                classifier.predict(data)
                times.append(time.perf_counter() - started)
            rates.append(batch / statistics.median(times))
        report.append(f"| {batch} | {rates[0]:,.0f} | {rates[1]:,.0f} |")
        print(report[-1], flush=True)
    report.append("")


def run_measured(command):
    """Run a command; return (seconds to its first stdout line, total seconds, peak RSS in MB).

    Peak memory comes from GNU time: this process's own rusage would count the child's copy of
    the benchmark (TensorFlow included) between fork and exec."""
    started = time.perf_counter()
    process = subprocess.Popen(["/usr/bin/time", "-f", "maxrss_kb=%M", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = None
    for _ in process.stdout:
        if first is None:
            first = time.perf_counter() - started
    stderr = process.stderr.read()
    process.wait()
    total = time.perf_counter() - started
    peak_kb = [int(line.split("=", 1)[1]) for line in stderr.splitlines() if line.startswith("maxrss_kb=")]
    return first if first is not None else total, total, (peak_kb[-1] / 1024.0 if peak_kb else float("nan"))


def section_cold(args, mnist, report):
    with tempfile.TemporaryDirectory() as folder:
        image = Path(folder) / "image.png"
        cv2.imwrite(str(image), make_scene(mnist.x_test, mnist.y_test, 1, lines=2, digits_per_line=5).image)
        command = [sys.executable, "-m", "livedigits", str(image)]
        run_measured(command)  # warm the file cache, as a second run by a user would be
        runs = [run_measured(command) for _ in range(args.cold_runs)]
    first, _, _ = percentiles([r[0] for r in runs])
    rss = statistics.median(r[2] for r in runs)
    report.append("## Cold start: `livedigits image.png` (640x480, 10 digits)\n")
    report.append(f"- process start to first printed result: median {first:.3f} s over {args.cold_runs} runs")
    report.append(f"- peak resident memory: {rss:.0f} MB\n")
    print("\n".join(report[-3:]), flush=True)


def write_video(path: Path, mnist, seconds: float, fps: int = 15):
    """A page panning slowly under the camera, 640x480."""
    scene = make_scene(mnist.x_test, mnist.y_test, 5, 800, 600, lines=3, digits_per_line=6).image
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for i in range(int(seconds * fps)):
        phase = i / (seconds * fps)
        x, y = int(80 * (1 + np.sin(2 * np.pi * phase))), int(60 * (1 + np.cos(2 * np.pi * phase)))
        writer.write(np.ascontiguousarray(scene[y:y + 480, x:x + 640]))
    writer.release()


def section_memory(args, mnist, report):
    report.append("## Memory of video runs (`livedigits video.mp4 --jsonl out.jsonl`, 640x480, 15 fps)\n")
    report.append("| video | frames | wall s | frames/s | peak RSS MB |")
    report.append("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for seconds in (10, 30):
            video = Path(folder) / f"video{seconds}.mp4"
            write_video(video, mnist, seconds)
            command = [sys.executable, "-m", "livedigits", str(video), "--quiet", "--jsonl", str(Path(folder) / "out.jsonl")]
            _, total, rss = run_measured(command)
            frames = int(seconds * 15)
            report.append(f"| {seconds} s | {frames} | {total:.1f} | {frames / total:.0f} | {rss:.0f} |")
            print(report[-1], flush=True)
    report.append("")


def section_folder(args, mnist, report):
    report.append(f"## Folder of {args.folder_size} scanned-size pictures (1920x1200 = 2.3 MP JPEG, 10-40 digits each)\n")
    report.append("| workers | wall s | pictures/s |")
    report.append("|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.folder_size):
            scene = make_scene(mnist.x_test, mnist.y_test, 1000 + i, 1920, 1200, digits_per_line=(3, 10))
            cv2.imwrite(str(Path(folder) / f"scan_{i:04d}.jpg"), scene.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        for workers in (1, os.cpu_count() or 1):
            command = [sys.executable, "-m", "livedigits", folder, "--quiet", "--workers", str(workers),
                       "--csv", str(Path(folder) / "out.csv")]
            _, total, _ = run_measured(command)
            report.append(f"| {workers} | {total:.1f} | {args.folder_size / total:.1f} |")
            print(report[-1], flush=True)
    report.append("")


class SyntheticCamera:
    """A camera stand-in delivering frames at a fixed rate, each stamped with its capture time."""

    def __init__(self, frames, fps=30.0, count=300):
        self.frames, self.period, self.remaining = frames, 1.0 / fps, count
        self.stamps: dict[int, float] = {}
        self._next = time.perf_counter()
        self._index = 0

    def isOpened(self):
        return True

    def read(self):
        if self.remaining <= 0:
            return False, None
        self._next += self.period
        time.sleep(max(0.0, self._next - time.perf_counter()))
        self.remaining -= 1
        self.stamps[self._index] = time.perf_counter()
        self._index += 1
        return True, self.frames[self._index % len(self.frames)]

    def grab(self):
        return True

    def get(self, prop):
        return 1.0 / self.period if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self):
        pass


def section_live(args, mnist, report):
    from livedigits.sources import LatestFrameReader
    recognizer = Recognizer(num_threads=args.threads)
    frames = scenario_frames(mnist, (640, 480), 10, 10)
    recognizer.recognize(frames[0])
    camera = SyntheticCamera(frames, fps=30.0, count=300)
    reader = LatestFrameReader(camera, "synthetic camera").start()
    latencies = []
    for frame in reader.frames():
        draw(frame.image, recognizer.recognize(frame.image))
        latencies.append((time.perf_counter() - camera.stamps[frame.index]) * 1000)
    reader.close()
    median, p10, p90 = percentiles(latencies[10:])
    report.append("## Live camera (synthetic 30 fps camera, 640x480, 10 digits)\n")
    report.append(f"- capture to drawn overlay: median {median:.1f} ms (p10-p90 {p10:.1f}-{p90:.1f} ms)")
    report.append(f"- frames processed {reader.handed_over} of {reader.captured} captured; the newest frame is always the one read\n")
    print("\n".join(report[-3:]), flush=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def section_empty(args, mnist, report):
    """Issue #3: an empty frame (blank page, lined page, noise) costs no more than ten digits."""
    recognizer = Recognizer(num_threads=args.threads)
    report.append("## Empty frames against ten-digit frames of the same paper (end to end, ms)\n")
    report.append("| frame | paper | empty: median (max) | digits found on empty | ten digits: median (max) |")
    report.append("|---|---|---|---|---|")

    def timed(frames, repeats=5):
        rows = time_frames(recognizer, frames, repeats)  # per frame: warm-up, then `repeats` passes
        totals = [1000 * r["total"] for r in rows]
        return statistics.median(totals), max(totals), sum(r["digits"] for r in rows) // repeats

    for width, height in ((640, 480), (1280, 720)):
        for paper in ("plain", "ruled", "squared", "noise"):
            if paper == "noise":
                rng = np.random.default_rng(0)
                empty = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(6)]
                ten = scenario_frames(mnist, (width, height), 10, 12)
            else:
                empty = [blank_scene(seed, width, height, paper=paper) for seed in range(12)]
                ten = [make_scene(mnist.x_test, mnist.y_test, seed, width, height, paper=paper, lines=2,
                                  digits_per_line=5).image for seed in range(12)]
            e_med, e_max, found = timed(empty)
            t_med, t_max, _ = timed(ten)
            report.append(f"| {width}x{height} | {paper if paper != 'noise' else 'pure noise (vs. mixed papers)'} | "
                          f"{e_med:.2f} ({e_max:.2f}) | {found} in {len(empty)} | {t_med:.2f} ({t_max:.2f}) |")
            print(report[-1], flush=True)
    report.append("")


def section_steady(args, mnist, report):
    """Issue #15: what the steady reading adds per video frame: the digit tracker and page fusion,
    given the recogniser's readings (read once, then replayed), on generated hand-held clips."""
    from livedigits.fusion import PageFusion
    from livedigits.synthetic.video import make_video
    from livedigits.track import Stabilizer
    recognizer = Recognizer(num_threads=args.threads)
    report.append("## Steady reading per video frame (hand-held clips, 15 fps, the recogniser's readings replayed)\n")
    report.append("| frame | frames | tracker ms: median (p10-p90) | page fusion ms: median (p10-p90) |")
    report.append("|---|---|---|---|")
    for width, height in ((640, 480), (1280, 720)):
        clips = [make_video(mnist.x_test, mnist.y_test, seed=seed, seconds=8.0, width=width, height=height)
                 for seed in (1, 2)]
        readings = [[recognizer.recognize(frame) for frame in clip.frames] for clip in clips]
        times = {"track": [], "page": []}
        for _ in range(max(1, args.repeats // 3)):
            for clip, clip_readings in zip(clips, readings):
                for kind, reader in (("track", Stabilizer()), ("page", PageFusion())):
                    for k, (frame, reading) in enumerate(zip(clip.frames, clip_readings)):
                        started = time.perf_counter()
                        reader.update(frame, reading, k / clip.fps)
                        times[kind].append(1000 * (time.perf_counter() - started))
        cells = ["{:.2f} ({:.2f}-{:.2f})".format(*percentiles(times[kind])) for kind in ("track", "page")]
        report.append(f"| {width}x{height} | {sum(len(c.frames) for c in clips)} | {cells[0]} | {cells[1]} |")
        print(report[-1], flush=True)
    report.append("")


def load_other_checkout(path: Path):
    """The livedigits package of another checkout (a previous release, main before a change), under
    its own name beside this one: both run in one process."""
    import importlib.util
    package = Path(path).resolve() / "livedigits"
    spec = importlib.util.spec_from_file_location("livedigits_other", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["livedigits_other"] = module
    spec.loader.exec_module(module)
    return module


def _recognizer_of(package, threads: int | None, reader: str):
    """A Recognizer of another checkout; one from before the string reader has no ``reader`` (it
    reads every line by cut and classify) nor, earlier still, ``num_threads``."""
    accepted = inspect.signature(package.Recognizer).parameters
    options = {"num_threads": threads, "reader": reader}
    return package.Recognizer(**{name: value for name, value in options.items() if name in accepted})


def section_against(args, mnist, report):
    """This checkout against another (``--against PATH``) on the same frames, alternating frame by
    frame in one process: on a machine shared with other jobs, runs minutes apart differ by more
    than most changes, while a frame read by both within milliseconds meets the same load. The CPU
    time the process spent on each frame (every thread's) is compared too: it leaves out the waits
    for a core that other jobs cause, though not the slowing from sharing caches."""
    if args.against is None:
        raise SystemExit("--only against needs --against PATH (another checkout of livedigits)")
    if not (Path(args.against) / "livedigits" / "__init__.py").is_file():
        raise SystemExit(f"--against: {args.against} is not a checkout of livedigits (no livedigits/__init__.py)")
    other = load_other_checkout(args.against)
    readers = {"this": (Recognizer(num_threads=args.threads, reader=args.reader), draw),
               "other": (_recognizer_of(other, args.threads, args.reader), other.draw)}
    report.append(f"## This checkout against `{args.against}` (alternating frame by frame, end to end)\n")
    report.append("Per frame: the median over the passes, and the best pass (closest to an idle machine); "
                  "means over the frames.\n")
    report.append("| frame | digits | other: median ms (best) | this: median ms (best) | this / other, median of per-frame ratios "
                  "| CPU ms, other / this (median) | this / other, CPU time |")
    report.append("|---|---|---|---|---|---|---|")
    for size, digits in SCENARIOS:
        frames = scenario_frames(mnist, size, digits, args.distinct)
        times = {name: [[] for _ in frames] for name in readers}
        cpu = {name: [[] for _ in frames] for name in readers}
        for name, (recognizer, drawer) in readers.items():
            for frame in frames:
                drawer(frame, recognizer.recognize(frame))  # warm-up
        for repeat in range(args.repeats):
            for index, frame in enumerate(frames):
                for name in (("this", "other") if (repeat + index) % 2 else ("other", "this")):
                    recognizer, drawer = readers[name]
                    started, used = time.perf_counter(), time.process_time()
                    drawer(frame, recognizer.recognize(frame))
                    times[name][index].append(time.perf_counter() - started)
                    cpu[name][index].append(time.process_time() - used)
        cells = {name: (1000 * statistics.mean(statistics.median(t) for t in per_frame),
                        1000 * statistics.mean(min(t) for t in per_frame)) for name, per_frame in times.items()}
        ratio, cpu_ratio = (statistics.median(a / b for this, that in zip(measured["this"], measured["other"])
                                              for a, b in zip(this, that) if b > 0) for measured in (times, cpu))
        cpu_ms = {name: 1000 * statistics.median(t for per_frame in cpu[name] for t in per_frame) for name in cpu}
        report.append(f"| {size[0]}x{size[1]} | {digits} | {cells['other'][0]:.2f} ({cells['other'][1]:.2f}) | "
                      f"{cells['this'][0]:.2f} ({cells['this'][1]:.2f}) | {ratio:.3f} | "
                      f"{cpu_ms['other']:.2f} / {cpu_ms['this']:.2f} | {cpu_ratio:.3f} |")
        print(report[-1], flush=True)
    report.append("")


SECTIONS = {"frames": section_frames, "against": section_against, "steady": section_steady, "empty": section_empty, "throughput": section_throughput, "cold": section_cold,
            "memory": section_memory, "folder": section_folder, "live": section_live}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--distinct", type=int, default=20, help="distinct frames per scenario")
    parser.add_argument("--repeats", type=int, default=10, help="passes over them")
    parser.add_argument("--naive-frames", type=int, default=5)
    parser.add_argument("--no-naive", action="store_true", help="skip the Keras reference (needs TensorFlow)")
    parser.add_argument("--reader", choices=["auto", "digits", "strings"], default="auto",
                        help="the recogniser's reader in the frames section (default auto, as the command)")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads for the frame sections (default: all cores, up to 4)")
    parser.add_argument("--against", type=Path, metavar="PATH",
                        help="another checkout to time against this one (section against, run with --only against)")
    parser.add_argument("--cold-runs", type=int, default=7)
    parser.add_argument("--folder-size", type=int, default=200)
    parser.add_argument("--results", type=Path, help="write the markdown here (default: benchmarks/RESULTS.md when running everything)")
    add_mnist_option(parser)
    args = parser.parse_args()
    mnist = load_mnist_for(parser, args.mnist)
    sections = args.only or [name for name in SECTIONS if name != "against"]
    report = ["# livedigits benchmark results\n", f"Machine: {machine()}  ",
              f"Command: `python benchmarks/bench.py {' '.join(sys.argv[1:])}`  ",
              f"Date: {time.strftime('%Y-%m-%d')}\n"]
    for name in sections:
        SECTIONS[name](args, mnist, report)
    results = args.results or (RESULTS if not args.only else None)
    if results:  # its own sections replaced; the overlay's, web server's and cluster's kept
        replace_sections("\n".join(report) + "\n", results, preamble=True)
        print(f"wrote {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
