#!/usr/bin/env python3
"""Which of a training run's checkpoints to ship as the string reader: each one read as the
runtime reads (``Recognizer``: the line crops, the vote), on the tuning sets only.

- the string reader's 77 tuning cheques (``training/strings.py`` ``tuning_cheque``; never trained on);
- generated scenes (MNIST *test* digits, ``--tuning-seed``, not the scenes benchmark's seed).

Checkpoints are .keras files saved by ``python train.py strings --eval-every N`` (converted to
LiteRT here, in a temporary folder, with TensorFlow) or .tflite files (the shipped model).
``--reader strings`` reads every line with the string reader; auto needs a calibration per model,
so it is left to ``train.py strings --calibrate-only`` once a checkpoint is chosen.

    python benchmarks/string_checkpoints.py models/strings.tflite runs/ft1/checkpoints/*.keras
"""
import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.evaluation.scoring import read_labels, score_folder, score_scenes  # noqa: E402
from livedigits.synthetic.scenes import make_scenes  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.training.realdata import cheque_validation_paths  # noqa: E402
from livedigits.training.strings import tuning_cheque  # noqa: E402


def as_tflite(path: Path, folder: Path) -> Path:
    if path.suffix == ".tflite":
        return path
    import keras

    from livedigits.training.strings import export_tflite

    target = folder / f"{path.stem}.tflite"
    export_tflite(keras.models.load_model(path, compile=False), target)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help=".keras checkpoints or .tflite models")
    parser.add_argument("--data", default=os.environ.get("LIVEDIGITS_REALWORLD", "../shared/data/realworld"))
    parser.add_argument("--tuning-scenes", type=int, default=150)
    parser.add_argument("--tuning-seed", type=int, default=7)
    parser.add_argument("--reader", choices=["strings", "auto"], default="strings")
    add_mnist_option(parser)
    args = parser.parse_args()
    missing = [str(p) for p in args.models if not p.is_file()]
    if missing:
        parser.error(f"not found: {', '.join(missing)}")
    mnist = load_mnist_for(parser, args.mnist)
    folder = Path(args.data) / "cheque_amounts"
    held = cheque_validation_paths(folder)
    tuning = {r["relative_path"] for r in read_labels(folder / "labels.csv")
              if r["relative_path"] not in held and tuning_cheque(r["relative_path"])}
    scenes = make_scenes(mnist.x_test, mnist.y_test, args.tuning_scenes, seed=args.tuning_seed)
    print(f"reader {args.reader}: tuning cheques ({len(tuning)}) CER % / exact %, "
          f"tuning scenes ({len(scenes)}, seed {args.tuning_seed}) text exact % / recall % / precision %")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.models:
            started = time.perf_counter()
            recognizer = Recognizer(reader=args.reader, string_model=as_tflite(path, Path(tmp)))
            cheques = score_folder(recognizer, folder, "recognize", only=tuning)
            result = score_scenes(recognizer, scenes)
            print(f"{path}: cheques {100 * cheques.cer:5.2f} / {100 * cheques.exact:5.1f} | scenes {100 * result['text_exact']:5.1f} / "
                  f"{100 * result['recall']:.2f} / {100 * result['precision']:.2f} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
