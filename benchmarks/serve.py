#!/usr/bin/env python3
"""Throughput and latency of the web server (`livedigits serve`, on waitress) under concurrent clients.

    python benchmarks/serve.py                  # the table in benchmarks/RESULTS.md ("Web server")
    python benchmarks/serve.py --write          # the same, and that section of RESULTS.md replaced
    python benchmarks/serve.py --picture samples/plain.jpg --threads 4 --requests 200 --clients 8

Each row starts the real server in a process of its own (python -m livedigits serve --port 0 --threads N)
and, once it listens, sends REQUESTS POSTs of one picture to /api/recognize from CLIENTS threads at once
(urllib, a connection per request, as a page or a script would). Every answer is checked: HTTP 200 and
the same text as the first. Reported: requests per second (all requests over the wall-clock time),
latency p50 and p99 (ms, from sending a request to its full answer), errors, and the server's peak
memory (VmHWM). Pictures are read one at a time whatever the threads: more threads overlap the rest
(receiving, parsing, encoding the answer, other pages).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
from results_file import replace_sections  # benchmarks/, beside this script

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Web server"


def drawing() -> bytes:
    """What the page sends for a drawn number: a 400 x 400 PNG of black strokes on white."""
    canvas = np.full((400, 400, 3), 255, np.uint8)
    for i, stroke in enumerate(([(40, 90), (80, 60), (80, 180)], [(150, 80), (210, 70), (160, 180), (220, 180)],
                                [(260, 70), (340, 70), (290, 180)])):
        cv2.polylines(canvas, [np.array(stroke, np.int32) + [0, 60 * (i % 2)]], False, (0, 0, 0), 14, cv2.LINE_AA)
    return cv2.imencode(".png", canvas)[1].tobytes()


def photo(width: int, height: int) -> bytes:
    """A page photo of ``width`` x ``height`` as a JPEG: 40 written digits on grey-white paper."""
    page = np.full((height // 4, width // 4, 3), 235, np.uint8)
    for i in range(40):
        x, y = page.shape[1] * (1 + i % 10) // 12, page.shape[0] * (1 + i // 10) // 5
        cv2.putText(page, str(i % 10), (x, y), cv2.FONT_HERSHEY_SIMPLEX, page.shape[0] / 350, (40, 40, 40),
                    max(2, page.shape[0] // 120), cv2.LINE_AA)
    page = cv2.resize(page, (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", page, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


ROWS = [  # (picture, its name in the table, server threads)
    ("samples/plain.jpg", "photo 640x480 JPEG (samples/plain.jpg)", 1),
    ("samples/plain.jpg", "photo 640x480 JPEG (samples/plain.jpg)", 4),
    ("drawing", "drawing 400x400 PNG (as the page sends)", 4),
    ("photo-12mp", "photo 4000x3000 JPEG, 40 digits", 4),
]


def picture(spec: str) -> bytes:
    if spec == "drawing":
        return drawing()
    if spec == "photo-12mp":
        return photo(4000, 3000)
    return (ROOT / spec).read_bytes() if not Path(spec).is_absolute() else Path(spec).read_bytes()


def start_server(threads: int) -> tuple[subprocess.Popen, int]:
    server = subprocess.Popen([sys.executable, "-m", "livedigits", "serve", "--port", "0", "--threads", str(threads)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = server.stderr.readline()  # "livedigits: serving on http://127.0.0.1:PORT/ ..." once it listens
    found = re.search(r"serving on http://[^ ]+:(\d+)/", first)
    if not found:
        server.kill()
        raise SystemExit(f"the server did not start: {first}{server.stderr.read()}")
    threading.Thread(target=server.stderr.read, daemon=True).start()  # keep its log from filling the pipe
    return server, int(found.group(1))


def form(data: bytes) -> tuple[bytes, str]:
    boundary = "benchmark-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="picture"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def measure(data: bytes, threads: int, requests: int, clients: int) -> dict:
    server, port = start_server(threads)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight to the server
    body, kind = form(data)
    url = f"http://127.0.0.1:{port}/api/recognize"

    def send() -> tuple[float, int, bytes]:
        started = time.perf_counter()
        call = urllib.request.Request(url, data=body, headers={"Content-Type": kind}, method="POST")
        try:
            with opener.open(call, timeout=300) as answer:
                return time.perf_counter() - started, answer.status, answer.read()
        except OSError as err:
            return time.perf_counter() - started, getattr(err, "code", 0), b""

    try:
        _, status, first = send()  # warm-up: the model's first run, and the text every answer must give
        if status != 200:
            raise SystemExit(f"the server answered {status} to the picture")
        expected = re.search(rb'"text":"([^"]*)"', first).group(1)
        latencies, errors, lock, left = [], [], threading.Lock(), [requests]

        def client() -> None:
            while True:
                with lock:
                    if not left[0]:
                        return
                    left[0] -= 1
                seconds, status, answer = send()
                with lock:
                    latencies.append(seconds)
                    if status != 200 or re.search(rb'"text":"([^"]*)"', answer).group(1) != expected:
                        errors.append(status)

        started = time.perf_counter()
        workers = [threading.Thread(target=client) for _ in range(clients)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        wall = time.perf_counter() - started
        peak = peak_memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait(10)
    latencies.sort()
    return {"requests/s": requests / wall, "p50": 1000 * statistics.median(latencies),
            "p99": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], "errors": len(errors),
            "peak": peak, "wall": wall}


def peak_memory_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # not Linux
        return None
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def table(rows: list[tuple[str, int, dict]], requests: int, clients: int) -> list[str]:
    lines = [SECTION, "",
             f"`python benchmarks/serve.py`: {requests} POSTs to /api/recognize from {clients} client threads at once, "
             f"against `livedigits serve` (waitress) in its own process; {os.cpu_count()} cores, Python "
             f"{platform.python_version()}. Every answer was checked (200, same text).", "",
             "| picture | server threads | requests/s | p50 ms | p99 ms | errors | server peak MB |",
             "|---|---|---|---|---|---|---|"]
    for name, threads, r in rows:
        peak = f"{r['peak']:.0f}" if r["peak"] is not None else "n/a"
        lines.append(f"| {name} | {threads} | {r['requests/s']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | "
                     f"{r['errors']} | {peak} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, help="server threads (with --picture; default 4)")
    parser.add_argument("--picture", help="one picture file instead of the table's rows")
    parser.add_argument("--write", action="store_true", help='replace the "Web server" section of RESULTS.md')
    args = parser.parse_args()
    plan = [(args.picture, args.picture, args.threads or 4)] if args.picture else ROWS
    rows = []
    for spec, name, threads in plan:
        result = measure(picture(spec), threads, args.requests, args.clients)
        rows.append((name, threads, result))
        print(f"{name}, {threads} threads: {result['requests/s']:.1f} requests/s, p50 {result['p50']:.0f} ms, "
              f"p99 {result['p99']:.0f} ms, {result['errors']} errors ({result['wall']:.1f} s)", file=sys.stderr)
    lines = table(rows, args.requests, args.clients)
    print("\n".join(lines))
    if args.write:
        replace_sections("\n".join(lines) + "\n")
    return 1 if any(r["errors"] for _, _, r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
