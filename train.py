#!/usr/bin/env python3
"""Train the livedigits CNN and write the shipped model, model card and report pictures.

    python train.py                      # full run into models/ (MNIST from $LIVEDIGITS_MNIST or download)
    python train.py --data ../shared/data/mnist --quick --out /tmp/quick
    python train.py --arch mlp --out runs/mlp   # the tutorial baseline, for comparison
    python train.py --export-only        # re-export models/digits.keras to TFLite, update the card
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    from livedigits.training.data import DataError
    from livedigits.training.loop import TrainConfig, reexport, train

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="MNIST folder (4 IDX .gz files) or mnist.npz; default $LIVEDIGITS_MNIST, else download")
    parser.add_argument("--out", default=defaults.out_dir, help="output folder (default: models)")
    parser.add_argument("--arch", choices=["cnn", "mlp"], default="cnn")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--quick", action="store_true", help="2,000 images, 1 epoch: a smoke test")
    parser.add_argument("--no-baseline", action="store_true", help="skip training the MLP baseline")
    parser.add_argument("--export-only", action="store_true",
                        help="no training: export OUT/digits.keras to TFLite again and update the model card")
    args = parser.parse_args(argv)
    if args.export_only:
        step, summary = (lambda: reexport(args.out, args.data, args.seed)), "re-exported: tflite {tflite} % on the MNIST test set"
    else:
        config = TrainConfig(out_dir=args.out, data=args.data, arch=args.arch, epochs=args.epochs,
                             batch_size=args.batch_size, learning_rate=args.lr, patience=args.patience,
                             seed=args.seed, quick=args.quick, baseline=not args.no_baseline)
        step, summary = (lambda: train(config)), "test accuracy: keras {keras} %, tflite {tflite} %"
    try:
        test = step()["test"]
    except (DataError, FileNotFoundError) as err:
        print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    print(summary.format(keras=f"{100 * test['keras_accuracy']:.2f}", tflite=f"{100 * test['tflite_accuracy']:.2f}")
          + f", agreement with keras {100 * test['tflite_keras_agreement']:.2f} %; wrote {args.out}/")
    return 0

if __name__ == "__main__":
    sys.exit(main())
