#!/usr/bin/env python3
"""Detection and reading quality on generated scenes (MNIST *test* digits on paper).

    python benchmarks/scenes.py --count 300 --seed 2026      # issue #3's acceptance numbers
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from livedigits import Recognizer  # noqa: E402
from livedigits.training.data import add_mnist_option, load_mnist_for  # noqa: E402
from livedigits.evaluation.scoring import score_scenes  # noqa: E402
from livedigits.synthetic.scenes import make_scenes  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--model")
    parser.add_argument("--min-confidence", type=float)
    parser.add_argument("--show-failures", type=int, default=10)
    add_mnist_option(parser)
    args = parser.parse_args()
    mnist = load_mnist_for(parser, args.mnist)
    kwargs = {} if args.min_confidence is None else {"min_confidence": args.min_confidence}
    recognizer = Recognizer(args.model, **kwargs)
    scenes = make_scenes(mnist.x_test, mnist.y_test, args.count, seed=args.seed)
    started = time.perf_counter()
    result = score_scenes(recognizer, scenes)
    took = time.perf_counter() - started
    print(f"{result['scenes']} scenes, {result['digits']} digits ({took:.1f} s)")
    print(f"detection recall {100 * result['recall']:.2f} %, precision {100 * result['precision']:.2f} %")
    print(f"digit accuracy on detected {100 * result['accuracy_on_detected']:.2f} %")
    print(f"text exactly right {100 * result['text_exact']:.2f} %  by paper: "
          + ", ".join(f"{p} {100 * v:.0f} %" for p, v in sorted(result["text_exact_by_paper"].items())))
    for index, paper, expected, got in result["failures"][:args.show_failures]:
        print(f"  scene {index} ({paper}): expected {expected} got {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
