#!/usr/bin/env python3
"""Build the files in samples/ from MNIST test digits with livedigits.synthetic.scenes, deterministically.

    python samples/make_samples.py --mnist path/to/mnist     # or LIVEDIGITS_MNIST=path/to/mnist

Writes four pictures, one short video, ground_truth.json and labels.csv next to this script.
The seeds below are fixed; the same MNIST copy and OpenCV build give the same files.
"""
from __future__ import annotations

import argparse
import csv
import json
import struct
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.synthetic.scenes import make_scene  # noqa: E402

DIFFICULTY = 0.35
LAYOUT = dict(lines=None, digits_per_line=(4, 8))
# name, paper, seed, size, how it is stored
PICTURES = (
    ("plain.jpg", "plain", 101, (640, 480), "jpeg"),
    ("ruled.png", "ruled", 102, (800, 600), "png"),
    ("squared_sideways.jpg", "squared", 103, (640, 480), "jpeg-exif-sideways"),
    ("coloured.webp", "coloured", 104, (640, 480), "webp"),
)
VIDEO = dict(name="panning.mp4", paper="textured", seed=105, size=(640, 480), fps=15, seconds=6, pan_px=14)


def jpeg_with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """The JPEG with an EXIF APP1 segment holding only the Orientation tag (0x0112)."""
    tiff = (b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", 1)
            + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0))
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def encode(image: np.ndarray, kind: str) -> bytes:
    if kind == "png":
        return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()
    if kind == "webp":
        return cv2.imencode(".webp", image, [cv2.IMWRITE_WEBP_QUALITY, 92])[1].tobytes()
    if kind == "jpeg":
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    if kind == "jpeg-exif-sideways":
        # pixels stored turned a quarter counter-clockwise, as a phone held sideways stores them;
        # EXIF orientation 6 ("turn 90 degrees clockwise to view") makes viewers show it upright
        sideways = cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
        return jpeg_with_orientation(encode(sideways, "jpeg"), 6)
    raise ValueError(kind)


def truth_of(scene, shift=(0, 0)) -> list[dict]:
    return [{"x": d.x + shift[0], "y": d.y + shift[1], "w": d.w, "h": d.h, "digit": d.digit, "line": d.line}
            for d in scene.digits]


def make_pictures(mnist, truth: dict, labels: list) -> None:
    for name, paper, seed, (width, height), kind in PICTURES:
        scene = make_scene(mnist.x_test, mnist.y_test, seed=seed, width=width, height=height, paper=paper,
                           difficulty=DIFFICULTY, **LAYOUT)
        (HERE / name).write_bytes(encode(scene.image, kind))
        truth[name] = {"paper": paper, "seed": seed, "width": width, "height": height, "stored_as": kind,
                       "text": scene.text, "digits": truth_of(scene)}
        labels.append((name, scene.text.replace("\n", "")))


def make_video(mnist, truth: dict, labels: list) -> None:
    width, height = VIDEO["size"]
    scene = make_scene(mnist.x_test, mnist.y_test, seed=VIDEO["seed"], width=width, height=height,
                       paper=VIDEO["paper"], difficulty=DIFFICULTY, **LAYOUT)
    boxes = np.array([(d.x, d.y, d.x + d.w, d.y + d.h) for d in scene.digits])
    # the pan never takes a digit within 8 px of the frame edge
    room_x = min(boxes[:, 0].min(), width - boxes[:, 2].max()) - 8
    room_y = min(boxes[:, 1].min(), height - boxes[:, 3].max()) - 8
    amp_x, amp_y = max(0, min(VIDEO["pan_px"], room_x)), max(0, min(VIDEO["pan_px"] // 2, room_y))
    count = VIDEO["fps"] * VIDEO["seconds"]
    rng = np.random.default_rng(VIDEO["seed"])
    path = HERE / VIDEO["name"]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), VIDEO["fps"], (width, height))
    offsets = []
    for index in range(count):
        phase = 2 * np.pi * index / count
        dx, dy = amp_x * np.sin(phase), amp_y * np.sin(2 * phase)
        shift = np.float32([[1, 0, dx], [0, 1, dy]])
        frame = cv2.warpAffine(scene.image, shift, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0, 2.0, frame.shape).astype(np.float32)  # sensor noise: no two frames alike
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
        offsets.append([round(float(dx), 2), round(float(dy), 2)])
    writer.release()
    truth[VIDEO["name"]] = {"paper": VIDEO["paper"], "seed": VIDEO["seed"], "width": width, "height": height,
                            "fps": VIDEO["fps"], "frames": count, "text": scene.text,
                            "digits_at_rest": truth_of(scene),
                            "offsets": offsets}
    labels.append((VIDEO["name"], scene.text.replace("\n", "")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mnist_option(parser)
    mnist = load_mnist_for(parser, parser.parse_args().mnist)
    pictures, videos, labels = {}, {}, []
    make_pictures(mnist, pictures, labels)
    make_video(mnist, videos, [])
    (HERE / "ground_truth.json").write_text(json.dumps(
        {"made_by": "samples/make_samples.py", "difficulty": DIFFICULTY, "digits_from": "MNIST test set (t10k images), picked by each seed",
         "pictures": pictures, "videos": videos}, indent=1) + "\n")
    with open(HERE / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["relative_path", "label"])
        writer.writerows(labels)
    for name in [p[0] for p in PICTURES] + [VIDEO["name"]]:
        print(f"{name:22s} {(HERE / name).stat().st_size / 1024:7.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
